"""The engine factory (never built at import time) and database-URL helpers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlmodel import create_engine

from normbank.errors import DatabaseUnavailable, InvalidInput, NormbankError

SCHEMES = ("sqlite", "postgresql")  # the databases normbank runs on (PostgreSQL through psycopg 3)
_DRIVERS = {"sqlite": {"pysqlite"}, "postgresql": {"psycopg"}}


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


def parse_url(url: str):
    """The parsed URL, checked to name a supported database (an InvalidInput says which are)."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput(f"not a database URL: {redact(url)!r} (try sqlite:///path.db or "
                           "postgresql://user@host/db)") from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in SCHEMES or driver not in _DRIVERS[backend]:
        raise InvalidInput(f"unsupported database URL scheme {parsed.drivername!r}: normbank supports sqlite:///path.db "
                           "and postgresql://user@host/db (postgresql+psycopg://)")
    return parsed


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for other databases and in-memory SQLite)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    name = parsed.database
    if parsed.query.get("uri") == "true":  # sqlite:///file:path?mode=ro&uri=true
        name = name.removeprefix("file:").split("?")[0]
    return Path(name)


def require_database(url: str) -> None:
    """For commands that only read: a SQLite file that does not exist is an error, not created."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise NormbankError(f"no database at {path}; run `normbank init` first (or give --database)")


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for `url` (PostgreSQL through psycopg 3). A SQLite file's folder is created unless
    `create` is False; SQLite itself creates the file on first connect."""
    parsed = parse_url(url)
    url = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None and create:
            path.parent.mkdir(parents=True, exist_ok=True)
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


def create_database(url: str) -> bool:
    """Create the PostgreSQL database `url` names when it does not exist (True when created). When the
    server does not allow it, the error says the exact `createdb` command to run."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return False
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        try:
            conn = admin.connect()
        except DBAPIError:
            return False  # the server (or its maintenance database) is out of reach: check_connection says so
        with conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}).first()
            if exists:
                return False
            conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database.replace(chr(34), chr(34) * 2)}"')
            return True
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseUnavailable(f"the database {parsed.database!r} does not exist and could not be created "
                                  f"({reason}); create it with: {createdb_command(parsed)}") from None
    finally:
        admin.dispose()


def createdb_command(parsed) -> str:
    """The `createdb` command that creates the database of a parsed PostgreSQL URL."""
    import shlex

    parts = ["createdb"]
    for flag, value in (("-h", parsed.host), ("-p", parsed.port), ("-U", parsed.username)):
        if value:
            parts += [flag, str(value)]
    return shlex.join([*parts, parsed.database])
