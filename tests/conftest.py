"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from NORMBANK_TEST_POSTGRES_URL (default: the local server with trust auth). Each test
gets its own schema, dropped afterwards. When the server cannot be reached the PostgreSQL cases are
skipped locally, but fail under CI (CI=true), where a skipped database would hide a red run.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NORMBANK_SHARED_DATA", REPO.parent / "shared" / "data"))
TAXONOMY_DIR = SHARED_DATA / "normbank-taxonomy"
NORMDIAL_DIR = SHARED_DATA / "normdial"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PG_ADMIN_URL = os.environ.get("NORMBANK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _pg_reachable() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return str(exc).strip().splitlines()[0]


_PG_PROBLEM: list[str | None] = []


def pg_problem() -> str | None:
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(_pg_reachable())
    return _PG_PROBLEM[0]


def _postgres_schema_url() -> tuple[str, str]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_ADMIN_URL else "?"
    return f"{PG_ADMIN_URL}{sep}options=-csearch_path%3D{schema}", schema


def _drop_schema(schema: str) -> None:
    """Drop a test's schema. A server process a test started may still be closing its connections: when its
    last read and the drop deadlock, PostgreSQL aborts one of them, and the drop is tried again."""
    import psycopg

    for attempt in range(3):
        try:
            with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            return
        except psycopg.errors.DeadlockDetected:
            if attempt == 2:
                raise
            time.sleep(0.5)


def require_postgres() -> None:
    """Skip a PostgreSQL test when none is reachable; under CI, where one always is, fail instead."""
    problem = pg_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI but unreachable at {PG_ADMIN_URL}: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A fresh, empty database URL: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'normbank.db'}"
        return
    require_postgres()
    url, schema = _postgres_schema_url()
    try:
        yield url
    finally:
        from sqlalchemy.pool import _ConnectionRecord  # noqa: F401  (engines are disposed by their owners)

        _drop_schema(schema)


@pytest.fixture
def engine(database_url):
    """An engine on a fresh database migrated to head."""
    from schema.engine import make_engine
    from schema.migrate import upgrade

    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def shared(name: str) -> Path:
    """A folder of the shared real corpora (NORMBANK_SHARED_DATA, default ../shared/data). When it is
    missing the test is skipped with the reason, except under CI, where a missing folder fails the run."""
    path = SHARED_DATA / name
    if not path.exists():
        message = (f"the shared data {name!r} is missing at {path}: set NORMBANK_SHARED_DATA to the folder "
                   f"that holds {name}/")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def taxonomy_dir() -> Path:
    return shared("normbank-taxonomy")


@pytest.fixture
def normdial_dir() -> Path:
    return shared("normdial")


def app_settings(database_url: str, data_dir, **overrides):
    """Settings for a test app: its own data dir, and the deterministic hashing encoder instead of the real
    model (tests about retrieval quality use the real one explicitly)."""
    from normbank.config import get_settings

    return get_settings(**{"database_url": database_url, "data_dir": data_dir, "embedding_model": "hashing",
                           "index_on_start": "rebuild", "index_build": "in-process", **overrides})


def new_database(kind: str, folder) -> tuple[str, str | None]:
    """A fresh database of `kind` for a module- or session-wide bank: (its URL, the PostgreSQL schema to
    drop afterwards with `_drop_schema`, None for SQLite, whose file lives in `folder`)."""
    if kind == "sqlite":
        return f"sqlite:///{folder / 'normbank.db'}", None
    require_postgres()
    return _postgres_schema_url()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def agent_bank(request, tmp_path_factory):
    """(database URL, data dir) of a bank holding the sample corpus, the real NormBank taxonomy and NormDial,
    shared by the agent-facing tests (MCP server, Python client), on SQLite and on PostgreSQL. No vector
    index (the servers run with NORMBANK_INDEX_ON_START=off): free text is served by full-text search."""
    from ingest.pipeline import run_import
    from normbank.cli import sample_corpus_path
    from schema.engine import make_engine
    from schema.migrate import upgrade

    taxonomy, normdial = shared("normbank-taxonomy"), shared("normdial")
    data_dir = tmp_path_factory.mktemp(f"agent-bank-{request.param}")
    url, schema = new_database(request.param, data_dir)
    engine = make_engine(url)
    upgrade(engine)
    run_import(engine=engine, format="normbank", path=sample_corpus_path(), source="normbank-sample")
    run_import(engine=engine, format="normbank-taxonomy", path=taxonomy)
    run_import(engine=engine, format="normdial", path=normdial)
    engine.dispose()
    try:
        yield url, data_dir
    finally:
        if schema:
            _drop_schema(schema)


def agent_env(data_dir) -> dict[str, str]:
    """The environment of a server process over `agent_bank`."""
    return {"NORMBANK_DATA_DIR": str(data_dir), "NORMBANK_EMBEDDING_MODEL": "hashing", "NORMBANK_INDEX_ON_START": "off",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp")}
