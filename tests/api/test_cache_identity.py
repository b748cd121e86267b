"""Caches that cannot lie: a database dropped and created again under a running app, whose first import
reaches the same import id as before, is never answered from the old frame cache or reported ready by
/readyz while it has no schema."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from api.app import create_app
from ingest.pipeline import run_import
from schema.identity import data_stamp
from schema.migrate import upgrade
from tests.api.conftest import NORMBANK_HEADER, ready
from tests.conftest import app_settings


def _corpus(tmp_path, norm: str):
    path = tmp_path / f"{norm}.csv"
    path.write_text(f"{NORMBANK_HEADER}\nrestaurant,drink alcohol,,,,,{norm},,train\n", encoding="utf-8")
    return path


def _drop_everything(engine) -> None:
    """What `dropdb && createdb` does, done in place so the running app keeps its engine and URL."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            return
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        virtual = [n for (n,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE 'CREATE VIRTUAL%'")]
        for name in virtual:  # FTS tables first: they drop their own shadow tables
            conn.exec_driver_sql(f'DROP TABLE "{name}"')
        for name in inspect(conn).get_table_names():
            conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')


def _judge(client: TestClient):
    return client.post("/v1/judge", json={"setting": "restaurant", "behavior": "drink alcohol"})


def test_a_recreated_database_is_never_answered_from_the_old_cache(engine, database_url, tmp_path):
    first = run_import(engine=engine, format="normbank", path=_corpus(tmp_path, "taboo"))
    with engine.connect() as conn:
        old_stamp = data_stamp(conn)
    app = create_app(app_settings(database_url, tmp_path / "data", cache_check_seconds=0))
    with TestClient(app) as client:
        ready(client)
        before = _judge(client).json()
        assert before["verdict"] == "taboo"
        old_frame = before["frames"][0]["id"]
        assert client.get("/readyz").status_code == 200

        _drop_everything(engine)
        assert _judge(client).status_code == 503
        readiness = client.get("/readyz")
        assert readiness.status_code == 503 and readiness.json()["status"] == "not ready"

        upgrade(engine)
        second = run_import(engine=engine, format="normbank", path=_corpus(tmp_path, "normal"))
        assert second.run_id == first.run_id  # the same import id: only the database identity tells them apart
        with engine.connect() as conn:
            assert data_stamp(conn) != old_stamp

        after = _judge(client).json()
        assert after["verdict"] == "normal"
        assert all(client.get(f"/v1/norms/{f['id']}").status_code == 200 for f in after["frames"])
        assert client.get(f"/v1/norms/{old_frame}").status_code == 404
        readiness = client.get("/readyz").json()
        assert readiness["checks"]["database"] == readiness["checks"]["schema"] == "ok"
        assert readiness["checks"]["index"] != "ok" or app.state.retriever.staleness() is None
        app.state.retriever.rebuild()
        assert app.state.retriever.staleness() is None
        assert client.get("/readyz").json() == {"status": "ready", "checks": {"database": "ok", "schema": "ok",
                                                                              "index": "ok"}}


def test_the_stamp_changes_when_an_import_is_rolled_back_and_another_reaches_its_id(engine, tmp_path):
    run_import(engine=engine, format="normbank", path=_corpus(tmp_path, "taboo"))
    with engine.connect() as conn:
        stamp = data_stamp(conn)
    with engine.begin() as conn:  # as a restored backup from before the import would be
        for table in ("norm_constraint", "norm_row", "norm", "import_run"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    with engine.connect() as conn:
        assert data_stamp(conn) != stamp
    run_import(engine=engine, format="normbank", path=_corpus(tmp_path, "normal"))
    with engine.connect() as conn:
        assert data_stamp(conn) != stamp
