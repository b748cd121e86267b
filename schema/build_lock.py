"""One index build at a time across every server of a bank: the servers that share a data directory (and
so its vector indexes) and a database take this lock before building, and check again once they hold it,
so the index is built once. A server's builds are `normbank index` in a child process: the other servers'
children wait here while their servers keep answering from the index they have until the new one is
switched in.

PostgreSQL: a session advisory lock (servers on several hosts sharing the data directory over a network
file system); SQLite: an exclusive `flock` on a file in the index directory (servers on one host)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy.engine import Engine

from normbank.ids import stable_id

BUILD_LOCK_FILE = ".build.lock"
_KEY = stable_id("normbank index build")  # pg_advisory_lock key (64-bit)


@contextmanager
def index_build_lock(engine: Engine, root: Path) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_lock(%s)", (_KEY,))
            conn.commit()  # the lock is the session's: no transaction stays open while the index builds
            try:
                yield
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (_KEY,))
                conn.commit()
        return
    import fcntl

    Path(root).mkdir(parents=True, exist_ok=True)
    with open(Path(root) / BUILD_LOCK_FILE, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
