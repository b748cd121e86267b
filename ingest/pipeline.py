"""The import pipeline: reader -> normaliser -> bulk loader, one import run per invocation.

A run commits whole or leaves no trace: everything, including the `import_run` row, is written in one
transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: one transaction holding an advisory lock so imports
queue). A run that fails with an error is rolled back and then recorded as `failed` with its error; a
killed process leaves nothing, and running the import again completes it.
"""

from __future__ import annotations

import hashlib
import sys
import time
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from ingest.loaders import TAXONOMY_TABLES, SqliteLoader, make_loader
from ingest.normalise import Normaliser
from ingest.readers import Reader, get_reader
from ingest.records import ImportReport
from ingest.worker import normalised, normalised_in_worker, use_worker
from schema.models import ImportRun, Source
from schema.queries import COMMITTED, UNCHANGED, load_scales

BATCH_SIZE = 5000
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


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _upsert_source(conn: Connection, name: str, reader: Reader, sha: str, provenance: tuple[str | None, str | None]) -> int:
    """The source's id; its licence and URL are those of the latest import (`provenance`)."""
    source_id = conn.execute(select(Source.id).where(Source.name == name)).scalar()
    licence, url = provenance
    values = {"kind": reader.format, "licence": licence, "url": url, "sha256": sha}
    if source_id is None:
        return conn.execute(insert(Source).values(name=name, created_at=_now(), **values).returning(Source.id)).scalar_one()
    conn.execute(update(Source).where(Source.id == source_id).values(**values))
    return source_id


@contextmanager
def _transaction(conn: Connection) -> Iterator[Any]:
    """Open the run's transaction; yields the raw DBAPI connection the loader writes with. The caller
    commits or rolls back; on SQLite the connection's settings are restored afterwards."""
    raw = conn.connection.dbapi_connection
    if conn.dialect.name != "sqlite":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_IMPORT_LOCK,))
        yield raw
        return
    raw.isolation_level = None  # we issue BEGIN IMMEDIATE ourselves: take the write lock up front
    cache_size = SqliteLoader.before_transaction(raw)
    try:
        raw.execute("BEGIN IMMEDIATE")
        yield raw
    finally:
        SqliteLoader.after_transaction(raw, cache_size)
        raw.isolation_level = ""


def _record_failure(engine: Engine, reader: Reader, source: str, path: Path, sha: str, error: str, seconds: float,
                    provenance: tuple[str | None, str | None]) -> None:
    with engine.begin() as conn:
        source_id = _upsert_source(conn, source, reader, sha, provenance)
        conn.execute(insert(ImportRun).values(
            source_id=source_id, format=reader.format, path=str(path), sha256=sha, status="failed",
            started_at=_now(), finished_at=_now(), seconds=seconds, error=error[:2000],
        ))


def _load(conn: Connection, raw: Any, reader: Reader, path: Path, report: ImportReport, *, sha: str,
          batch_size: int, bar: Any, started: float, options: dict[str, Any],
          provenance: tuple[str | None, str | None]) -> int:
    """The run inside its transaction, up to (not including) the commit: fills `report`, returns the run id."""
    source_id = _upsert_source(conn, report.source, reader, sha, provenance)
    run_id = conn.execute(insert(ImportRun).values(
        source_id=source_id, format=reader.format, path=str(path), sha256=sha, status="running", started_at=_now(),
    ).returning(ImportRun.id)).scalar_one()
    scales = load_scales(conn)
    if use_worker(reader, path):
        batches = normalised_in_worker(reader, path, batch_size, (report.source, source_id, run_id), scales, options)
    else:
        batches = normalised(reader, path, Normaliser(source=report.source, source_id=source_id, run_id=run_id,
                                                      scales=scales, reject_frame=reader.reject_frame), batch_size,
                             options)
    loader = make_loader(conn.dialect.name, raw, run_id)
    with closing(batches):  # a failed load ends the worker process now, not when the error is forgotten
        for batch in batches:
            loader.load(batch)
            # A taxonomy run counts entries (settings, roles, behaviours, dimensions, values).
            report.read += batch.taxonomy_entries if reader.taxonomy else batch.read
            report.rejected += len(batch.rejected_row)
            for reason, n in batch.rejected_reasons.items():
                report.rejected_reasons[reason] = report.rejected_reasons.get(reason, 0) + n
            if bar is not None:
                bar.update(batch.read)
    inserted = loader.finish()
    if reader.taxonomy:
        report.loaded = sum(inserted[t] for t in TAXONOMY_TABLES)
        report.duplicates = report.read - report.loaded
    else:
        report.loaded = inserted["norm"]
        report.duplicates = report.read - report.rejected - report.loaded
    report.seconds = time.perf_counter() - started
    # A run that added nothing (a re-import) is kept as `unchanged`: the data version, and with it every
    # cache and the vector index, stays as it was.
    conn.execute(update(ImportRun).where(ImportRun.id == run_id).values(
        status=COMMITTED if any(inserted.values()) else UNCHANGED,
        finished_at=_now(), read=report.read, loaded=report.loaded, duplicates=report.duplicates,
        rejected=report.rejected, seconds=report.seconds,
    ))
    return run_id


def run_import(
    *,
    engine: Engine,
    format: str,
    path: str | Path,
    source: str | None = None,
    dry_run: bool = False,
    progress: bool = False,
    batch_size: int = BATCH_SIZE,
    options: dict[str, Any] | None = None,
) -> ImportReport:
    """Import one corpus file or directory; returns what was read, loaded, collapsed and rejected.
    `options` are the reader's own (`Reader.options`, e.g. `{"mapping": "map.toml"}` for `table`)."""
    reader = get_reader(format)
    path = Path(path)
    options = dict(options or {})
    reader.check_options(options)
    reader.check(path, **options)
    default_source, *provenance = reader.provenance(path, options)
    report = ImportReport(source=source or default_source, format=reader.format, dry_run=dry_run)
    started = time.perf_counter()
    sha = content_sha256(path)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=reader.estimate(path), unit=" rows", desc=f"ingest {reader.format}", file=sys.stderr,
                   dynamic_ncols=True, mininterval=0.5)
    try:
        with engine.connect() as conn, _transaction(conn) as raw:
            try:
                report.run_id = _load(conn, raw, reader, path, report, sha=sha, batch_size=batch_size, bar=bar,
                                      started=started, options=options, provenance=tuple(provenance))
                if dry_run:
                    conn.rollback()
                else:
                    conn.commit()
            except BaseException:
                conn.rollback()
                raise
    except Exception as exc:
        if not dry_run:
            try:
                _record_failure(engine, reader, report.source, path, sha, f"{type(exc).__name__}: {exc}",
                                time.perf_counter() - started, tuple(provenance))
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
        raise
    finally:
        if bar is not None:
            bar.close()
    # The report's time covers the commit too; the run's row, written inside the transaction, cannot.
    report.seconds = time.perf_counter() - started
    return report
