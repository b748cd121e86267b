"""Withdraw a source from the bank: its norms, their rows, atoms links, examples and full-text documents,
and its rejected rows, in one transaction that queues with imports (the same write lock).

The source's row and import history stay, with a `removal` run recorded last: that run is committed, so
the data version moves and every cache and vector index built before it is stale. Settings, behaviours,
atoms and taxonomy entries are shared by every source and stay. A later import under the same name
brings the source back with the same norm ids.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, Engine

from ingest.pipeline import write_transaction
from normbank.errors import SourceNotFound, echo
from schema.models import ImportRun, Norm, NormConstraint, NormExample, NormRow, RejectedRow
from schema.queries import COMMITTED, REMOVAL, live_source_id


def _delete_norms(conn: Connection, source_id: int) -> int:
    """Delete the source's norms and everything that hangs off them; returns the norms deleted."""
    norms = select(Norm.id).where(Norm.source_id == source_id).scalar_subquery()
    conn.exec_driver_sql(
        "DELETE FROM norm_fts WHERE norm_id IN (SELECT id FROM norm WHERE source_id = "
        + ("?" if conn.dialect.name == "sqlite" else "%s") + ")", (source_id,))
    conn.execute(delete(NormConstraint).where(NormConstraint.norm_id.in_(norms)))
    conn.execute(delete(NormRow).where(NormRow.norm_id.in_(norms)))
    conn.execute(delete(NormExample).where((NormExample.source_id == source_id) | NormExample.norm_id.in_(norms)))
    return conn.execute(delete(Norm).where(Norm.source_id == source_id)).rowcount


def remove_source(*, engine: Engine, name: str) -> dict:
    """Remove the source called `name` (SourceNotFound when there is none); returns what was removed."""
    started = time.perf_counter()
    with engine.connect() as conn, write_transaction(conn):
        try:
            source_id = live_source_id(conn, name)
            if source_id is None:
                raise SourceNotFound(f"no source named {echo(name)}", details={"source": name[:80]})
            norms = _delete_norms(conn, source_id)
            rejected = conn.execute(delete(RejectedRow).where(RejectedRow.source_id == source_id)).rowcount
            now = datetime.now(timezone.utc)
            run_id = conn.execute(insert(ImportRun).values(
                source_id=source_id, format=REMOVAL, path=name, status=COMMITTED, started_at=now, finished_at=now,
                read=norms, rejected=rejected, seconds=time.perf_counter() - started,
            ).returning(ImportRun.id)).scalar_one()
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return {"source": name, "norms": norms, "rejected_rows": rejected, "run_id": run_id}
