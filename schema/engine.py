"""The engine factory (never built at import time) and database-URL helpers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import create_engine

from normbank.errors import DatabaseUnavailable, InvalidInput


def normalise_url(url: str) -> str:
    """Accept the URL forms people paste: postgres://, postgresql:// (psycopg 3 is our driver)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the one writer
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL is durable across application crashes
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file's folder is created, a PostgreSQL URL uses psycopg 3."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(f"not a database URL: {url!r} (try sqlite:///path.db or postgresql://user@host/db)") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def check_connection(engine: Engine) -> None:
    """Raise `DatabaseUnavailable` naming the URL (without password) when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(
            f"cannot reach the database at {redact(str(engine.url))}: {reason}"
        ) from None
