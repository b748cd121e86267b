"""The import pipeline: reader -> normaliser -> bulk loader, one import run per invocation.

A run commits whole or leaves no trace: everything, including the `import_run` row, is written in one
transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: one transaction holding an advisory lock so imports
queue). A run that fails with an error is rolled back and then recorded as `failed` with its error; a
killed process leaves nothing, and running the import again completes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import time
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from ingest.loaders import TAXONOMY_TABLES, SqliteLoader, make_loader
from ingest.normalise import Normaliser
from ingest.readers import READERS, Reader, get_reader
from ingest.records import ImportReport
from normbank.errors import CorpusNotFound
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
def write_transaction(conn: Connection) -> Iterator[Any]:
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
          provenance: tuple[str | None, str | None], job_id: str | None) -> int:
    """The run inside its transaction, up to (not including) the commit: fills `report`, returns the run id."""
    source_id = _upsert_source(conn, report.source, reader, sha, provenance)
    run_id = conn.execute(insert(ImportRun).values(
        source_id=source_id, format=reader.format, path=str(path), sha256=sha, status="running", started_at=_now(),
        job_id=job_id,
    ).returning(ImportRun.id)).scalar_one()
    scales = load_scales(conn)
    if use_worker(reader, path) and READERS.get(reader.format) is reader:
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


class _Counter:
    """A progress bar that only reports to a callback."""

    def __init__(self, callback: Callable[[int], None]):
        self.update = callback

    def close(self) -> None:
        pass


def _parts(reader: Reader, path: Path, source: str | None,
           options: dict[str, Any]) -> list[tuple[Reader, str, str | None, tuple[str | None, str | None]]]:
    """What one run imports: (reader, source name) per source. A corpus file is one source; an export
    (a reader with `sections`) holds any number, each with its own name, format, licence and URL (`source`
    picks one of them). Each part comes with its (licence, URL)."""
    sections = getattr(reader.module, "sections", None)
    if sections is None:
        default_source, licence, url = reader.provenance(path, options)
        return [(reader, source or default_source, None, (licence, url))]
    parts = []
    for src, records in sections(path):
        if source is not None and src["name"] != source:
            continue
        known = READERS.get(src["kind"])
        parts.append((dataclasses.replace(
            reader, format=src["kind"], licence=src.get("licence"), url=src.get("url"), default_source=src["name"],
            taxonomy=bool(known and known.taxonomy), read=lambda _path, records=records: records,
            estimate=lambda _path: None, reject_frame=None), src["name"], src.get("sha256"),
            (src.get("licence"), src.get("url"))))
    if not parts:
        raise CorpusNotFound(f"{path} holds no source" + (f" named {source!r}" if source else ""))
    return parts


def _load_parts(conn: Connection, raw: Any, parts: list[tuple[Reader, str, str | None, tuple]], path: Path,
                report: ImportReport, *, sha: str, **options: Any) -> int | None:
    """`_load` for each part, in one transaction; `report` sums them. Returns the last run id. An export's
    part keeps the sha256 of the file its source was first imported from."""
    if len(parts) == 1 and parts[0][1] == report.source:
        return _load(conn, raw, parts[0][0], path, report, sha=parts[0][2] or sha, provenance=parts[0][3], **options)
    run_id = None
    for part, name, part_sha, provenance in parts:
        partial = ImportReport(source=name, format=part.format, dry_run=report.dry_run)
        run_id = _load(conn, raw, part, path, partial, sha=part_sha or sha, provenance=provenance, **options)
        for key in ("read", "loaded", "duplicates", "rejected"):
            setattr(report, key, getattr(report, key) + getattr(partial, key))
        for reason, n in partial.rejected_reasons.items():
            report.rejected_reasons[reason] = report.rejected_reasons.get(reason, 0) + n
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
    on_progress: Callable[[int], None] | None = None,
    options: dict[str, Any] | None = None,
    job_id: str | None = None,
) -> ImportReport:
    """Import one corpus file or directory; returns what was read, loaded, collapsed and rejected.
    `on_progress(n)` is called as each batch of `n` records is loaded (an HTTP import job counts them);
    `job_id` is that job's, written on each of its runs.
    `options` are the reader's own (`Reader.options`, e.g. `{"mapping": "map.toml"}` for `table`)."""
    reader = get_reader(format)
    path = Path(path)
    options = dict(options or {})
    reader.check_options(options)
    reader.check(path, **options)
    parts = _parts(reader, path, source, options)
    source = parts[0][1] if len(parts) == 1 else ", ".join(part[1] for part in parts)
    report = ImportReport(source=source, format=reader.format, dry_run=dry_run)
    started = time.perf_counter()
    sha = content_sha256(path)
    bar = _Counter(on_progress) if on_progress is not None else None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=reader.estimate(path), unit=" rows", desc=f"ingest {reader.format}", file=sys.stderr,
                   dynamic_ncols=True, mininterval=0.5)
    try:
        with engine.connect() as conn, write_transaction(conn) as raw:
            try:
                report.run_id = _load_parts(conn, raw, parts, path, report, sha=sha, batch_size=batch_size,
                                            bar=bar, started=started, options=options, job_id=job_id)
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
                for part, name, _sha, provenance in parts:
                    _record_failure(engine, part, name, path, sha, f"{type(exc).__name__}: {exc}",
                                    time.perf_counter() - started, provenance)
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
        raise
    finally:
        if bar is not None:
            bar.close()
    # The report's time covers the commit too; the run's row, written inside the transaction, cannot.
    report.seconds = time.perf_counter() - started
    return report
