"""Read queries behind the catalogue endpoints: norms, settings, taxonomy. Plain functions, plain dicts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection

from normbank.constraints import Atom, stored_atom
from normbank.scales import PROJECT_SCALES
from schema.models import (
    Behavior, ConstraintAtom, Dimension, DimensionValue, Norm, NormConstraint, NormExample, NormRow, Role, Setting,
    SettingBehavior, Source,
)


def norm_select():
    """A norm's row with its setting, behaviour and source names (add the where clause)."""
    return (
        select(Norm.id, Norm.label, Norm.support, Norm.statement, Norm.rule_text, Norm.culture, Norm.category,
               Norm.split, Norm.row_number, Norm.extra, Norm.agreement, Norm.agreement_band, Norm.attributes,
               Setting.name.label("setting"), Behavior.name.label("behavior"), Source.name.label("source"),
               Source.licence.label("licence"), Source.url.label("url"))
        .join(Behavior, Behavior.id == Norm.behavior_id)
        .join(Source, Source.id == Norm.source_id)
        .outerjoin(Setting, Setting.id == Norm.setting_id)
    )


# Built once (expanding ids): building the statement per call cost more than running it for grounding's
# 100 candidates (/v1/ground loaded them in 2.3 ms of CPU; 1.3-1.4 ms with this, fetched with all()).
_NORM_ATOMS = (
    select(NormConstraint.norm_id, ConstraintAtom.subject, ConstraintAtom.kind, ConstraintAtom.name,
           ConstraintAtom.relation, ConstraintAtom.value)
    .join(ConstraintAtom, ConstraintAtom.id == NormConstraint.atom_id)
    .where(NormConstraint.norm_id.in_(bindparam("ids", expanding=True)))
)


def norm_atoms(conn: Connection, norm_ids: list[int]) -> dict[int, list[Atom]]:
    """Each norm's atoms, in text order (an empty list for a norm without any)."""
    out: dict[int, list[Atom]] = {nid: [] for nid in norm_ids}
    if not norm_ids:
        return out
    for nid, subject, kind, name, relation, value in conn.execute(_NORM_ATOMS, {"ids": norm_ids}).all():
        out[nid].append(stored_atom(subject, kind, name, relation, value))
    for atoms in out.values():
        atoms.sort(key=lambda a: a.text)
    return out


def agreement_of(share: float | None, band: str | None) -> dict[str, Any] | None:
    """A norm's agreement as answers show it next to the label, or None when its corpus reports none."""
    if share is None and band is None:
        return None
    return {"share": share, "band": band}


def _norm_dict(row, atoms: list[Atom], rows: list[int] | None = None) -> dict[str, Any]:
    norm = row
    return {
        "id": norm.id, "setting": row.setting, "behavior": row.behavior, "label": norm.label,
        "agreement": agreement_of(norm.agreement, norm.agreement_band), "support": norm.support,
        "constraints": [a.text for a in atoms], "atoms": [a.to_json() for a in atoms], "statement": norm.statement,
        "rule_text": norm.rule_text, "culture": norm.culture, "category": norm.category, "split": norm.split,
        "source": {"name": row.source, "licence": row.licence, "url": row.url, "row": norm.row_number},
        "rows": rows if rows is not None else [norm.row_number],
        "extra": norm.extra, "attributes": norm.attributes,
    }


def _rows(conn: Connection, norm_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {nid: [] for nid in norm_ids}
    if norm_ids:
        for nid, row in conn.execute(
            select(NormRow.norm_id, NormRow.row_number).where(NormRow.norm_id.in_(norm_ids)).order_by(NormRow.row_number)
        ):
            out[nid].append(row)
    return out


EXAMPLES_SHOWN = 20


def examples(conn: Connection, norm_id: int, limit: int = EXAMPLES_SHOWN) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(NormExample.polarity, NormExample.situation, NormExample.dialogue, NormExample.row_number,
               NormExample.extra)
        .where(NormExample.norm_id == norm_id).order_by(NormExample.row_number).limit(limit)
    )
    return [{"polarity": p, "situation": s, "dialogue": d, "row": r, "extra": e} for p, s, d, r, e in rows]


def get_norm(conn: Connection, norm_id: int) -> dict[str, Any] | None:
    row = conn.execute(norm_select().where(Norm.id == norm_id)).first()
    if row is None:
        return None
    data = _norm_dict(row, norm_atoms(conn, [norm_id])[norm_id], _rows(conn, [norm_id])[norm_id])
    data["examples"] = examples(conn, norm_id)
    return data


def list_norms(
    conn: Connection,
    *,
    setting: str | None = None,
    behavior: str | None = None,
    label: str | None = None,
    source: str | None = None,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], int, int | None]:
    """(page, total matching, last id of the page when more follow). Keyset pagination on norm id."""
    filters = []
    if setting is not None:
        filters.append(Setting.name == setting)
    if behavior is not None:
        filters.append(Behavior.name == behavior)
    if label is not None:
        filters.append(Norm.label == label)
    if source is not None:
        filters.append(Source.name == source)
    count_query = (
        select(func.count()).select_from(Norm)
        .join(Behavior, Behavior.id == Norm.behavior_id).join(Source, Source.id == Norm.source_id)
        .outerjoin(Setting, Setting.id == Norm.setting_id).where(*filters)
    )
    total = int(conn.execute(count_query).scalar() or 0)
    query = norm_select().where(*filters)
    if after is not None:
        query = query.where(Norm.id > after)
    rows = conn.execute(query.order_by(Norm.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    atoms = norm_atoms(conn, [r.id for r in rows])
    source_rows = _rows(conn, [r.id for r in rows])
    page = [_norm_dict(r, atoms[r.id], source_rows[r.id]) for r in rows]
    return page, total, (rows[-1].id if more and rows else None)


def setting_counts(conn: Connection) -> list[dict[str, Any]]:
    """Every setting with its frame and behaviour counts (settings with frames first)."""
    counts = {
        sid: (frames, behaviors)
        for sid, frames, behaviors in conn.execute(
            select(Norm.setting_id, func.count(), func.count(func.distinct(Norm.behavior_id))).group_by(Norm.setting_id)
        )
    }
    out = []
    for sid, name in conn.execute(select(Setting.id, Setting.name)):
        frames, behaviors = counts.get(sid, (0, 0))
        out.append({"name": name, "frames": int(frames), "behaviors": int(behaviors)})
    out.sort(key=lambda s: (-s["frames"], s["name"]))
    return out


def setting_detail(conn: Connection, name: str) -> dict[str, Any] | None:
    sid = conn.execute(select(Setting.id).where(Setting.name == name)).scalar()
    if sid is None:
        return None
    frames, behaviors = conn.execute(
        select(func.count(), func.count(func.distinct(Norm.behavior_id))).where(Norm.setting_id == sid)
    ).one()
    roles = set(conn.execute(select(Role.name).where(Role.setting_id == sid)).scalars())
    roles |= set(conn.execute(
        select(ConstraintAtom.value).distinct()
        .join(NormConstraint, NormConstraint.atom_id == ConstraintAtom.id)
        .join(Norm, Norm.id == NormConstraint.norm_id)
        .where(Norm.setting_id == sid, ConstraintAtom.kind == "role")
    ).scalars())
    taxonomy_behaviors = conn.execute(
        select(func.count()).select_from(SettingBehavior).where(SettingBehavior.setting_id == sid)
    ).scalar()
    return {"name": name, "frames": int(frames), "behaviors": int(behaviors), "roles": sorted(roles),
            "taxonomy_behaviors": int(taxonomy_behaviors or 0)}


# The project's scales that describe a place rather than a person.
ENVIRONMENT_SCALES = frozenset({"time of day", "temperature", "noise", "day of the week", "population density"})


def taxonomy(conn: Connection) -> list[dict[str, Any]]:
    """Dimensions with their values: imported taxonomy, the project's scales, and names seen in atoms."""
    dims: dict[tuple[str, str], dict[str, Any]] = {}
    for subject, name, ordered in conn.execute(select(Dimension.subject, Dimension.name, Dimension.ordered)):
        dims[(subject, name)] = {"subject": subject, "name": name, "ordered": bool(ordered), "values": []}
    for subject, name, value, rank in conn.execute(
        select(Dimension.subject, Dimension.name, DimensionValue.value, DimensionValue.rank)
        .join(DimensionValue, DimensionValue.dimension_id == Dimension.id)
        .order_by(Dimension.subject, Dimension.name, DimensionValue.rank, DimensionValue.value)
    ):
        dims[(subject, name)]["values"].append(value)
    for subject, kind, name in conn.execute(
        select(ConstraintAtom.subject, ConstraintAtom.kind, ConstraintAtom.name).distinct()
        .where(ConstraintAtom.kind.in_(["attribute", "environment"]))
    ):
        dims.setdefault((subject, name), {"subject": subject, "name": name, "ordered": False, "values": []})
    for name in PROJECT_SCALES:
        subjects = ("environment",) if name in ENVIRONMENT_SCALES else ("person", "other")
        for subject in subjects:
            dims.setdefault((subject, name), {"subject": subject, "name": name, "ordered": True, "values": []})
    for (subject, name), entry in dims.items():
        scale = PROJECT_SCALES.get(name)
        if scale:
            entry["ordered"] = True
            ordered = sorted(scale, key=lambda v: (scale[v], v))
            entry["values"] = ordered + [v for v in entry["values"] if v not in scale]
    return sorted(dims.values(), key=lambda d: ({"person": 0, "other": 1, "environment": 2}[d["subject"]], d["name"]))
