"""Imports posted over HTTP, run as jobs: the upload is on disk, a row in `import_job` says where the job
is, and one thread per server runs the jobs one at a time through the same pipeline as `normbank ingest`
(`ingest.pipeline.run_import`). Imports from several servers queue on the pipeline's write lock.

A job survives neither a restart nor a crash silently: at start a server marks the jobs it owned that were
queued or running as failed (the import's one transaction was never committed, so the bank holds none of
it); posting the file again completes it. No web framework here: the routes are in api/routes/imports.py.
"""

from __future__ import annotations

import logging
import queue
import shutil
import socket
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from ingest.pipeline import run_import
from normbank.errors import ImportNotFound, echo
from schema.models import ImportJob, ImportRun, RejectedRow
from schema.queries import rejected_csv

log = logging.getLogger("normbank.imports")

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
JOBS_LISTED = 50
INTERRUPTED = ("the server stopped (restart or crash) before this import finished; nothing of it was "
               "committed: post the file again")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class ImportJobs:
    """The import jobs of one server: created by uploads, run in order by one thread."""

    def __init__(self, engine: Engine, data_dir: Path, *, on_committed: Callable[[], None] = lambda: None):
        self.engine = engine
        self.uploads = Path(data_dir).resolve() / "uploads"
        self.owner = f"{socket.gethostname()}:{self.uploads}"  # who may fail the job after a restart
        self.on_committed = on_committed
        self._queue: queue.Queue[str] = queue.Queue()
        self._progress: dict[str, int] = {}
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------
    def recover(self) -> int:
        """Fail this server's jobs that a restart or crash interrupted; returns how many."""
        with self.engine.begin() as conn:
            ids = conn.execute(select(ImportJob.id).where(ImportJob.owner == self.owner,
                                                          ImportJob.status.in_((QUEUED, RUNNING)))).scalars().all()
            if ids:
                conn.execute(update(ImportJob).where(ImportJob.id.in_(ids)).values(
                    status=FAILED, error=INTERRUPTED, finished_at=_now()))
        for job_id in ids:
            shutil.rmtree(self.uploads / job_id, ignore_errors=True)
        if ids:
            log.warning("marked %d interrupted import job(s) as failed", len(ids))
        return len(ids)

    def new_upload_dir(self) -> tuple[str, Path]:
        job_id = uuid.uuid4().hex
        folder = self.uploads / job_id
        folder.mkdir(parents=True)
        return job_id, folder

    def discard(self, job_id: str) -> None:
        shutil.rmtree(self.uploads / job_id, ignore_errors=True)

    def submit(self, job_id: str, *, format: str, source: str | None, filename: str | None, path: Path,
               size: int) -> dict[str, Any]:
        """Queue the import of `path` (inside the job's upload folder)."""
        with self.engine.begin() as conn:
            conn.execute(insert(ImportJob).values(
                id=job_id, status=QUEUED, format=format, source=source, filename=filename, upload=str(path),
                bytes=size, owner=self.owner, created_at=_now(), read=0))
        self._queue.put(job_id)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="normbank-imports", daemon=True)
                self._thread.start()
        return self.get(job_id)

    # -- running -----------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            try:
                job_id = self._queue.get(timeout=5)
            except queue.Empty:
                with self._lock:  # end the thread when idle; `submit` starts a new one
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            try:
                self._run(job_id)
            except Exception:  # noqa: BLE001 - one job's bookkeeping error must not end the queue
                log.exception("import job %s", job_id)

    def _run(self, job_id: str) -> None:
        with self.engine.begin() as conn:
            job = conn.execute(select(ImportJob).where(ImportJob.id == job_id)).mappings().one()
            conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(status=RUNNING, started_at=_now()))
        self._progress[job_id] = 0

        def count(n: int) -> None:
            self._progress[job_id] += n

        values: dict[str, Any]
        try:
            report = run_import(engine=self.engine, format=job["format"], path=job["upload"], source=job["source"],
                                on_progress=count, job_id=job_id)
            values = {"status": SUCCEEDED, "report": report.to_json(), "run_id": report.run_id, "read": report.read}
        except Exception as exc:  # noqa: BLE001 - the job reports it
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            values = {"status": FAILED, "error": str(message)[:2000], "read": self._progress[job_id]}
        finally:
            self.discard(job_id)
        if values["status"] == SUCCEEDED:
            try:  # before the job says succeeded, so that its client reads its own write from this server
                self.on_committed()
            except Exception:  # noqa: BLE001 - the import is committed whatever the cache does
                log.exception("could not refresh the cache after import job %s", job_id)
        with self.engine.begin() as conn:
            conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(finished_at=_now(), **values))
        self._progress.pop(job_id, None)

    # -- reading -----------------------------------------------------------------------------------
    def _json(self, job) -> dict[str, Any]:
        read = self._progress.get(job["id"], job["read"])
        return {"id": job["id"], "status": job["status"], "format": job["format"], "source": job["source"],
                "filename": job["filename"], "bytes": job["bytes"], "created_at": _iso(job["created_at"]),
                "started_at": _iso(job["started_at"]), "finished_at": _iso(job["finished_at"]),
                "progress": {"read": read}, "report": job["report"], "error": job["error"]}

    def get(self, job_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            job = conn.execute(select(ImportJob).where(ImportJob.id == job_id)).mappings().first()
        if job is None:
            raise ImportNotFound(f"no import job {echo(job_id)}", details={"id": job_id[:80]})
        return self._json(job)

    def recent(self, limit: int = JOBS_LISTED) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            jobs = conn.execute(select(ImportJob).order_by(ImportJob.created_at.desc()).limit(limit)).mappings().all()
        return [self._json(job) for job in jobs]

    def rejected_csv(self, job_id: str) -> Iterator[bytes]:
        """The rejected rows of a job (of every source it imported) as CSV; raises before streaming."""
        with self.engine.connect() as conn:
            found = conn.execute(select(ImportJob.id).where(ImportJob.id == job_id)).first()
        if found is None:
            raise ImportNotFound(f"no import job {echo(job_id)}", details={"id": job_id[:80]})
        return rejected_csv(self.engine, RejectedRow.import_run_id.in_(
            select(ImportRun.id).where(ImportRun.job_id == job_id)))
