"""The import pipeline: reader -> normaliser -> bulk loader, one import run per invocation.

A run commits whole or leaves no trace: everything, including the `import_run` row, is written in one
transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: one transaction holding an advisory lock so imports
queue). A run that fails with an error is rolled back and then recorded as `failed` with its error; a
killed process leaves nothing, and running the import again completes it.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import pickle
import queue
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from ingest.loaders import TAXONOMY_TABLES, SqliteLoader, make_loader
from ingest.normalise import Batch, Normaliser
from ingest.readers import Reader, get_reader
from ingest.records import ImportReport, Record
from schema import lexical
from schema.models import ImportRun, Source
from schema.queries import COMMITTED, load_scales

BATCH_SIZE = 5000
# Files with more records than this are read and normalised in a worker process while this one loads
# the database (the two overlap on two cores). NORMBANK_INGEST_WORKER=0 keeps everything in one process.
WORKER_MIN_RECORDS = 20_000
# Batches the worker's pipe is read ahead of the loader. With one (the pipe alone), each side waited for the
# other whenever one batch was slower to load and the next quicker to make, or the reverse: at 155k rows on
# PostgreSQL the worker was blocked in its sends for 1.38 s and the loader waited 0.75 s for batches.
READ_AHEAD_BATCHES = 8
_IMPORT_LOCK = 0x6E6F726D  # pg_advisory_xact_lock key shared by every import ("norm")


def content_sha256(path: Path) -> str:
    """The file's sha256, or for a directory the hash of its files' relative paths and contents."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _normalised(reader: Reader, path: Path, normaliser: Normaliser, batch_size: int) -> Iterator[Batch]:
    for records in _batches(reader.read(path), batch_size):
        yield normaliser.batch(records)


def _use_worker(estimate: int | None) -> bool:
    setting = os.environ.get("NORMBANK_INGEST_WORKER", "auto").lower()
    if setting in {"0", "off", "false", "no"} or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if setting in {"1", "on", "true", "yes"}:
        return True
    return (os.cpu_count() or 1) >= 2 and (estimate or 0) >= WORKER_MIN_RECORDS


def _die_with_parent() -> None:
    """Linux: have the kernel kill this process when its parent dies (a killed import must not leave a
    worker behind holding a copy of the parent's database connection, and with it the run's locks)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the closed pipe below still ends the worker
        pass


def _worker(receiver: Any, sender: Any, reader: Reader, path: Path, normaliser: Normaliser,
            batch_size: int, parent: int) -> None:
    """The worker process: send each normalised batch, then None; or the error that stopped it."""
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    receiver.close()  # only the parent reads: once it is gone, a send fails instead of filling the pipe
    gc.disable()  # see _no_cycle_collection; this process ends with the run
    try:
        for batch in _normalised(reader, path, normaliser, batch_size):
            sender.send_bytes(pickle.dumps(batch, pickle.HIGHEST_PROTOCOL))
        sender.send_bytes(pickle.dumps(None))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            message = pickle.dumps(("error", exc))
            pickle.loads(message)
        except Exception:  # noqa: BLE001 - an error that does not pickle travels as text
            message = pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
        sender.send_bytes(message)


def _read_ahead(receiver: Any, messages: queue.Queue, stop: threading.Event) -> None:
    """Thread: move the worker's messages from the pipe to `messages` as they come, then None when the pipe
    ends; stops early once `stop` is set."""
    def put(message: bytes | None) -> None:
        while not stop.is_set():
            try:
                return messages.put(message, timeout=0.1)
            except queue.Full:
                pass

    try:
        while not stop.is_set():
            put(receiver.recv_bytes())
    except (EOFError, OSError):
        put(None)


def _normalised_in_worker(reader: Reader, path: Path, normaliser: Normaliser, batch_size: int) -> Iterator[Batch]:
    """`_normalised`, computed by a forked worker process. A thread of this process reads its batches from
    the pipe as they come, up to READ_AHEAD_BATCHES ahead, so memory stays flat. If this process dies, the
    kernel kills the worker (PR_SET_PDEATHSIG) and, failing that, its next send fails (it holds no read
    end of the pipe) and it exits. The worker never touches the database connection it inherits."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_worker, args=(receiver, sender, reader, path, normaliser, batch_size,
                                                     os.getpid()), daemon=True)
    process.start()
    sender.close()
    messages: queue.Queue = queue.Queue(maxsize=READ_AHEAD_BATCHES)
    stop = threading.Event()
    thread = threading.Thread(target=_read_ahead, args=(receiver, messages, stop), name="ingest-read-ahead",
                              daemon=True)
    thread.start()
    finished = False
    try:
        while True:
            message = messages.get()
            if message is None:
                process.join(timeout=5)
                raise RuntimeError(f"the ingest worker process died (exit code {process.exitcode})")
            item = pickle.loads(message)
            if item is None:
                finished = True
                return
            if isinstance(item, tuple) and item[0] == "error":
                raise item[1]
            yield item
    finally:
        stop.set()
        if not finished:  # its work is of no use any more
            process.kill()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
        # With the worker gone the pipe has ended, and the thread with it; only then is the pipe closed (a
        # descriptor closed under a thread's read could be reused by the next file this process opens).
        thread.join()
        receiver.close()


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The run makes millions of tuples and strings and no reference cycles to speak of, while its caches
    grow: the cycle collector would keep traversing them (a third of the normaliser's CPU time). Memory
    is freed by reference counting as before."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _upsert_source(conn: Connection, name: str, reader: Reader, sha: str) -> int:
    source_id = conn.execute(select(Source.id).where(Source.name == name)).scalar()
    values = {"kind": reader.format, "licence": reader.licence, "url": reader.url, "sha256": sha}
    if source_id is None:
        return conn.execute(insert(Source).values(name=name, created_at=_now(), **values).returning(Source.id)).scalar_one()
    conn.execute(update(Source).where(Source.id == source_id).values(**values))
    return source_id


def _begin(conn: Connection) -> tuple[Any, dict[str, int]]:
    """Open the run's transaction on the raw DBAPI connection; returns that connection and, on SQLite, the
    PRAGMA values to restore afterwards."""
    raw = conn.connection.dbapi_connection
    previous: dict[str, int] = {}
    if conn.dialect.name == "sqlite":
        raw.isolation_level = None  # we issue BEGIN IMMEDIATE ourselves: take the write lock up front
        previous = SqliteLoader.before_transaction(raw)
        raw.execute("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_IMPORT_LOCK,))
    return raw, previous


def _record_failure(engine: Engine, reader: Reader, source: str, path: Path, sha: str, error: str, seconds: float) -> None:
    with engine.begin() as conn:
        source_id = _upsert_source(conn, source, reader, sha)
        conn.execute(insert(ImportRun).values(
            source_id=source_id, format=reader.format, path=str(path), sha256=sha, status="failed",
            started_at=_now(), finished_at=_now(), seconds=seconds, error=error[:2000],
        ))


def run_import(
    *,
    engine: Engine,
    format: str,
    path: str | Path,
    source: str | None = None,
    dry_run: bool = False,
    progress: bool = False,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import one corpus file or directory; returns what was read, loaded, collapsed and rejected."""
    reader = get_reader(format)
    path = Path(path)
    reader.check(path)
    source_name = source or reader.default_source
    report = ImportReport(source=source_name, format=reader.format, dry_run=dry_run)
    started = time.perf_counter()
    sha = content_sha256(path)
    estimate = reader.estimate(path)  # a pass over the file (25 ms at 155k rows): once
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=estimate, unit=" rows", desc=f"ingest {reader.format}", file=sys.stderr,
                   dynamic_ncols=True, mininterval=0.5)
    try:
        with engine.connect() as conn:
            raw, pragmas = _begin(conn)
            try:
                scales = load_scales(conn)
                source_id = _upsert_source(conn, source_name, reader, sha)
                run_id = conn.execute(insert(ImportRun).values(
                    source_id=source_id, format=reader.format, path=str(path), sha256=sha, status="running",
                    started_at=_now(),
                ).returning(ImportRun.id)).scalar_one()
                normaliser = Normaliser(
                    source=source_name, source_id=source_id, run_id=run_id, scales=scales,
                    reject_frame=getattr(reader.module, "reject_frame", None),
                    reject_atom=getattr(reader.module, "reject_atom", None),
                )
                in_worker = _use_worker(estimate)
                # With a worker, the SQLite loader builds its deferred indexes while the worker finishes.
                loader = make_loader(conn.dialect.name, raw, run_id, expected_records=estimate if in_worker else None)
                normalised = _normalised_in_worker if in_worker else _normalised
                with _no_cycle_collection():
                    for batch in normalised(reader, path, normaliser, batch_size):
                        loader.load(batch)
                        # A taxonomy run counts entries (settings, roles, behaviours, dimensions, values).
                        report.read += batch.taxonomy_entries if reader.taxonomy else batch.read
                        report.rejected += len(batch.rejected_row)
                        for reason, n in batch.rejected_reasons.items():
                            report.rejected_reasons[reason] = report.rejected_reasons.get(reason, 0) + n
                        if bar is not None:
                            bar.update(batch.read)
                inserted = loader.finish()
                if not loader.documents_synced:
                    lexical.sync_run(conn, run_id)  # full-text documents for what this run inserted
                if reader.taxonomy:
                    report.loaded = sum(inserted[t] for t in TAXONOMY_TABLES)
                    report.duplicates = report.read - report.loaded
                else:
                    report.loaded = int(conn.exec_driver_sql(
                        "SELECT count(*) FROM norm WHERE import_run_id = " + str(int(run_id))
                    ).scalar())
                    report.duplicates = report.read - report.rejected - report.loaded
                report.seconds = time.perf_counter() - started
                conn.execute(update(ImportRun).where(ImportRun.id == run_id).values(
                    status=COMMITTED, finished_at=_now(), read=report.read, loaded=report.loaded,
                    duplicates=report.duplicates, rejected=report.rejected, seconds=report.seconds,
                ))
                report.run_id = run_id
                if dry_run:
                    conn.rollback()
                else:
                    conn.commit()
                # The report's time covers the commit too (SQLite's took 0.4-1.0 s at 155k rows); the run's
                # row, written inside the transaction, can only hold the time up to just before it.
                report.seconds = time.perf_counter() - started
            except BaseException:
                conn.rollback()
                raise
            finally:
                if conn.dialect.name == "sqlite":
                    SqliteLoader.after_transaction(raw, pragmas)
                    raw.isolation_level = ""
    except Exception as exc:
        if not dry_run:
            try:
                _record_failure(engine, reader, source_name, path, sha, f"{type(exc).__name__}: {exc}",
                                time.perf_counter() - started)
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
        raise
    finally:
        if bar is not None:
            bar.close()
    return report
