"""The one key every cache of the bank's data is stamped with (the frame cache, the vector index, and any
server sharing the database): it changes when an import commits, when an import is rolled back or the
database restored to an earlier state, and when the database is dropped and created again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from schema.models import DatabaseIdentity, ImportRun
from schema.queries import COMMITTED


def data_stamp(conn: Connection) -> str:
    """'<database uuid>:<last committed import id>:<when it committed>'. The uuid is made when the schema is
    created; the commit time tells two imports apart that reached the same id in one database (one rolled
    back or lost with a restored backup, the other committed later)."""
    identity = conn.execute(select(DatabaseIdentity.uuid).order_by(DatabaseIdentity.id).limit(1)).scalar()
    last = conn.execute(
        select(ImportRun.id, ImportRun.finished_at).where(ImportRun.status == COMMITTED)
        .order_by(ImportRun.id.desc()).limit(1)
    ).first()
    run, finished = (last[0], last[1]) if last else (0, None)
    when = finished.isoformat() if hasattr(finished, "isoformat") else str(finished or "")
    return f"{identity or 'no-identity'}:{run}:{when}"
