"""Read queries shared by the CLI, the pipeline and the API (plain functions taking a connection)."""

from __future__ import annotations

import csv
import io
from typing import Any, Iterator

from sqlalchemy import func, select, union
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement

from normbank.scales import DEFAULT_SCALES, Scales
from schema.models import (
    Behavior, ConstraintAtom, Dimension, DimensionValue, ImportRun, Norm, NormConstraint, RejectedRow, Role, Setting,
    Source,
)

COMMITTED = "committed"
UNCHANGED = "unchanged"  # committed, but the run added nothing: the data version stays
REMOVAL = "removal"  # the format of the run that records a source's removal (committed: it moves the data version)


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


SUCCEEDED = (COMMITTED, UNCHANGED)  # the statuses of runs that committed (whether or not they added anything)


def _last_runs(conn: Connection) -> dict[int, str]:
    """Each source's last successful run's format (REMOVAL for a removed source)."""
    last = (select(ImportRun.source_id, func.max(ImportRun.id).label("id"))
            .where(ImportRun.status.in_(SUCCEEDED)).group_by(ImportRun.source_id).subquery())
    return dict(conn.execute(select(ImportRun.source_id, ImportRun.format).join(last, last.c.id == ImportRun.id)).all())


def live_source_id(conn: Connection, name: str) -> int | None:
    """The id of the source called `name`, unless there is none or it was removed since its last import."""
    source_id = conn.execute(select(Source.id).where(Source.name == name)).scalar()
    if source_id is None:
        return None
    last = conn.execute(select(ImportRun.format).where(ImportRun.source_id == source_id,
                                                       ImportRun.status.in_(SUCCEEDED))
                        .order_by(ImportRun.id.desc()).limit(1)).scalar()
    return None if last == REMOVAL else source_id


def _removed(conn: Connection) -> set[int]:
    return {sid for sid, fmt in _last_runs(conn).items() if fmt == REMOVAL}


def stats(conn: Connection) -> dict[str, int]:
    def count(model) -> int:
        return int(conn.execute(select(func.count()).select_from(model)).scalar() or 0)

    return {
        "settings": count(Setting),
        "roles": _role_count(conn),
        "behaviors": count(Behavior),
        "norms": count(Norm),
        "constraint_atoms": count(ConstraintAtom),
        "sources": count(Source) - len(_removed(conn)),
        "rejected_rows": count(RejectedRow),
    }


HISTORY_SHOWN = 20  # import runs listed per source, newest first


def _run_json(run) -> dict[str, Any]:
    return {
        "id": run["id"], "kind": "removal" if run["format"] == REMOVAL else "import", "status": run["status"],
        "read": run["read"], "loaded": run["loaded"], "duplicates": run["duplicates"], "rejected": run["rejected"],
        "started_at": run["started_at"].isoformat() if run["started_at"] else None,
        "finished_at": run["finished_at"].isoformat() if run["finished_at"] else None,
        "error": run["error"],
    }


def sources(conn: Connection) -> list[dict[str, Any]]:
    """Every source still in the bank with its norm count, its last import run and its recent history."""
    norms = dict(conn.execute(select(Norm.source_id, func.count()).group_by(Norm.source_id)).all())
    removed = _removed(conn)
    out = []
    for source in conn.execute(select(Source).order_by(Source.name)).mappings():
        if source["id"] in removed:
            continue
        history = [_run_json(r) for r in conn.execute(
            select(ImportRun).where(ImportRun.source_id == source["id"]).order_by(ImportRun.id.desc()).limit(HISTORY_SHOWN)
        ).mappings()]
        last = next((h for h in history if h["kind"] == "import"), None)
        out.append({
            "name": source["name"],
            "format": source["kind"],
            "licence": source["licence"],
            "url": source["url"],
            "norms": int(norms.get(source["id"], 0)),
            "last_import": None if last is None else {k: last[k] for k in (
                "status", "read", "loaded", "duplicates", "rejected", "finished_at", "error")},
            "history": history,
        })
    return out


REJECTED_CSV_HEADER = ("row", "reason", "raw")


def live_source_id(conn: Connection, name: str) -> int | None:
    """The id of the source named `name`, unless there is none or it was removed."""
    source_id = conn.execute(select(Source.id).where(Source.name == name)).scalar()
    return None if source_id is None or source_id in _removed(conn) else source_id


def rejected_csv(engine: Engine, where: ColumnElement[bool]) -> Iterator[bytes]:
    """The rejected rows matching `where` as CSV (row, reason, raw), by source then row; streamed, on a
    connection of its own that stays open while they are read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REJECTED_CSV_HEADER)
    yield buffer.getvalue().encode()
    query = (select(RejectedRow.row_number, RejectedRow.reason, RejectedRow.raw).where(where)
             .order_by(RejectedRow.source_id, RejectedRow.row_number))
    with engine.connect() as conn:
        for rows in conn.execution_options(yield_per=2000).execute(query).partitions():
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(rows)
            yield buffer.getvalue().encode()


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
