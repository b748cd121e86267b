"""Read queries shared by the CLI, the pipeline and the API (plain functions taking a connection)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.engine import Connection

from normbank.scales import DEFAULT_SCALES, Scales
from schema.models import (
    Behavior, ConstraintAtom, Dimension, DimensionValue, ImportRun, Norm, NormConstraint, RejectedRow, Role, Setting,
    Source,
)

COMMITTED = "committed"
UNCHANGED = "unchanged"  # committed, but the run added nothing: the data version stays


def data_version(conn: Connection) -> int:
    """Changes whenever an import commits something new: caches and vector indexes are stamped with it."""
    value = conn.execute(
        select(func.max(ImportRun.id)).where(ImportRun.status == COMMITTED)
    ).scalar()
    return int(value or 0)


def _role_count(conn: Connection) -> int:
    """Roles per setting, as /v1/settings/{name} lists them: the taxonomy's and those norms' frames name."""
    listed = select(Role.setting_id.label("setting_id"), Role.name.label("name"))
    framed = (select(Norm.setting_id, ConstraintAtom.value)
              .join(NormConstraint, NormConstraint.norm_id == Norm.id)
              .join(ConstraintAtom, ConstraintAtom.id == NormConstraint.atom_id)
              .where(ConstraintAtom.kind == "role"))
    return int(conn.execute(select(func.count()).select_from(union(listed, framed).subquery())).scalar() or 0)


def stats(conn: Connection) -> dict[str, int]:
    def count(model) -> int:
        return int(conn.execute(select(func.count()).select_from(model)).scalar() or 0)

    return {
        "settings": count(Setting),
        "roles": _role_count(conn),
        "behaviors": count(Behavior),
        "norms": count(Norm),
        "constraint_atoms": count(ConstraintAtom),
        "sources": count(Source),
        "rejected_rows": count(RejectedRow),
    }


def sources(conn: Connection) -> list[dict[str, Any]]:
    """Every source with its norm count and its last import run."""
    norms = dict(conn.execute(select(Norm.source_id, func.count()).group_by(Norm.source_id)).all())
    out = []
    for source in conn.execute(select(Source).order_by(Source.name)).mappings():
        last = conn.execute(
            select(ImportRun).where(ImportRun.source_id == source["id"]).order_by(ImportRun.id.desc()).limit(1)
        ).mappings().first()
        out.append({
            "name": source["name"],
            "format": source["kind"],
            "licence": source["licence"],
            "url": source["url"],
            "norms": int(norms.get(source["id"], 0)),
            "last_import": None if last is None else {
                "status": last["status"], "read": last["read"], "loaded": last["loaded"],
                "duplicates": last["duplicates"], "rejected": last["rejected"],
                "finished_at": last["finished_at"].isoformat() if last["finished_at"] else None,
                "error": last["error"],
            },
        })
    return out


def import_runs(conn: Connection, source: str, limit: int = 50) -> list[dict[str, Any]] | None:
    """A source's import runs, newest first (None: no such source)."""
    source_id = conn.execute(select(Source.id).where(Source.name == source)).scalar()
    if source_id is None:
        return None
    rows = conn.execute(
        select(ImportRun).where(ImportRun.source_id == source_id).order_by(ImportRun.id.desc()).limit(limit)
    ).mappings()
    return [{
        "id": r["id"], "format": r["format"], "status": r["status"], "read": r["read"], "loaded": r["loaded"],
        "duplicates": r["duplicates"], "rejected": r["rejected"], "seconds": r["seconds"], "error": r["error"],
        "started_at": r["started_at"].isoformat() if r["started_at"] else None,
        "finished_at": r["finished_at"].isoformat() if r["finished_at"] else None,
    } for r in rows]


def load_scales(conn: Connection) -> Scales:
    """The project's scales, extended by the ordered dimensions an imported taxonomy brought."""
    scales = DEFAULT_SCALES
    rows = conn.execute(
        select(Dimension.name, DimensionValue.value, DimensionValue.rank)
        .join(DimensionValue, DimensionValue.dimension_id == Dimension.id)
        .where(Dimension.ordered.is_(True), DimensionValue.rank.is_not(None))
        .order_by(Dimension.name, DimensionValue.rank)
    ).all()
    by_name: dict[str, list[str]] = {}
    for name, value, _rank in rows:
        by_name.setdefault(name, []).append(value)
    for name, values in by_name.items():
        scales = scales.extended(name, values)
    return scales


def source_names(conn: Connection) -> set[str]:
    """The names of every source the bank has imported from."""
    return set(conn.execute(select(Source.name)).scalars())
