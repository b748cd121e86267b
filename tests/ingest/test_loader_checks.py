"""Foreign keys hold however the bulk loader checks them (on PostgreSQL a first import makes some of them
only at the end): a run whose rows refer to missing rows fails whole, and every check is on afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

import ingest.pipeline as pipeline
from ingest.pipeline import run_import
from schema.models import ImportRun, Norm
from tests.conftest import FIXTURES

NOISE = FIXTURES / "normbank" / "noise.csv"


def _disabled_checks(conn) -> int:
    return conn.execute(text(
        "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE t.tgisinternal AND t.tgenabled = 'D' AND c.relnamespace = current_schema()::regnamespace"
    )).scalar()


def test_rows_referring_to_a_missing_run_fail_the_import_and_leave_no_trace(engine, monkeypatch):
    class OffByOne(pipeline.Normaliser):
        def __init__(self, **kw):
            super().__init__(**{**kw, "run_id": kw["run_id"] + 1000})  # rows name an import run that is not there

    monkeypatch.setattr(pipeline, "Normaliser", OffByOne)
    with pytest.raises(Exception, match="(?i)foreign key"):
        run_import(engine=engine, format="normbank", path=NOISE)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Norm)).scalar() == 0
        assert conn.execute(select(ImportRun.status)).scalars().all() == ["failed"]
        if conn.dialect.name == "postgresql":
            assert _disabled_checks(conn) == 0


def test_a_first_import_leaves_every_check_on(engine):
    report = run_import(engine=engine, format="normbank", path=NOISE)
    assert report.loaded > 0
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            assert _disabled_checks(conn) == 0
        else:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # The checks work again: a norm naming a missing import run is refused.
        with pytest.raises(Exception, match="(?i)foreign key"):
            conn.execute(text("UPDATE norm SET import_run_id = import_run_id + 1000"))
