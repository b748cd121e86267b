"""POST /v1/imports (a write: needs a token), GET /v1/imports, /v1/imports/{id}, /v1/imports/{id}/rejected.

The upload is streamed to a file in the server's data directory (never held in memory) under the upload
size limit (NORMBANK_MAX_UPLOAD_BYTES), unpacked when it is a zip or tar.gz, checked by the format's
reader, and queued as a job (202). The job runs the same pipeline as `normbank ingest`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from api.auth import WriteAccess
from api.imports import ImportJobs
from api import examples
from api.models import ErrorResponse, Name
from api.operations_models import ImportJobOut, ImportJobsOut
from ingest.archives import is_archive, unpack
from ingest.readers import READERS, get_reader
from normbank.errors import InvalidRequest

router = APIRouter(prefix="/v1", tags=["operations"])
CHUNK = 1 << 20


def _jobs(request: Request) -> ImportJobs:
    return request.app.state.imports


async def _save_raw(request: Request, target: Path) -> int:
    """The body, written to `target` a megabyte at a time (one thread hop per write, not per network read)."""
    size = 0
    pending: list[bytes] = []
    held = 0
    with target.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            pending.append(chunk)
            held += len(chunk)
            if held >= CHUNK:
                await run_in_threadpool(out.write, b"".join(pending))
                pending.clear()
                held = 0
        if pending:
            await run_in_threadpool(out.write, b"".join(pending))
    return size


async def _save_multipart(request: Request, target: Path) -> tuple[int, dict[str, str], str | None]:
    """The multipart's file (spooled to disk by the parser, then moved); its other fields."""
    async with request.form(max_files=1) as form:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = next((v for v in form.values() if not isinstance(v, str)), None)
        if upload is None:
            raise InvalidRequest("the multipart body has no file part")
        size = 0
        with target.open("wb") as out:
            while chunk := await upload.read(CHUNK):
                size += len(chunk)
                await run_in_threadpool(out.write, chunk)
        return size, fields, upload.filename


def _prepare(format: str, path: Path) -> Path:
    """The corpus to import from the saved upload: unpacked if it is an archive, checked by its reader."""
    reader = get_reader(format)
    if is_archive(path):
        path = unpack(path, path.parent / "unpacked")
    reader.check(path)
    return path


@router.post("/imports", status_code=202, response_model=ImportJobOut, summary="Import a corpus (as a job)",
             responses={202: {"content": {"application/json": {"example": {**examples.IMPORT_JOB, "status": "queued",
                                                                         "progress": {"read": 0}, "report": None,
                                                                         "started_at": None, "finished_at": None}}}},
                        401: {"model": ErrorResponse}, 403: {"model": ErrorResponse},
                        413: {"model": ErrorResponse, "description": "Over the upload size limit"},
                        422: {"model": ErrorResponse, "description": "Unknown format, or a file its reader refuses"}})
async def post_import(
    request: Request,
    _: WriteAccess,
    format: Annotated[Optional[Name], Query(description=f"One of: {', '.join(READERS)}")] = None,
    source: Annotated[Optional[Name], Query(description="Source name to record (default: the format's)")] = None,
) -> ImportJobOut:
    """The corpus is the raw body (`?format=&source=`) or the file of a multipart upload (with `format` and
    `source` as query parameters or form fields); a directory corpus (NormDial, the taxonomy) comes as a zip
    or tar.gz. Answers 202 with the job; poll GET /v1/imports/{id}."""
    jobs = _jobs(request)
    job_id, folder = jobs.new_upload_dir()
    try:
        filename = None
        target = folder / "upload"
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            size, fields, filename = await _save_multipart(request, target)
            format, source = format or fields.get("format"), source or fields.get("source")
        else:
            size = await _save_raw(request, target)
        if not format:
            raise InvalidRequest(f"say which format the file is: ?format= one of {', '.join(READERS)}")
        if size == 0:
            raise InvalidRequest("the upload is empty")
        path = await run_in_threadpool(_prepare, format, target)
        job = await run_in_threadpool(lambda: jobs.submit(job_id, format=format, source=source, filename=filename,
                                                          path=path, size=size))
    except ClientDisconnect:
        jobs.discard(job_id)
        raise InvalidRequest("the client disconnected before the upload was complete") from None
    except BaseException:
        jobs.discard(job_id)
        raise
    return ImportJobOut(**job)


@router.get("/imports", response_model=ImportJobsOut, summary="Recent import jobs, newest first",
            responses={200: {"content": {"application/json": {"example": examples.IMPORT_JOBS}}}})
def get_imports(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> ImportJobsOut:
    data = [ImportJobOut(**j) for j in _jobs(request).recent(limit)]
    return ImportJobsOut(data=data, count=len(data))


@router.get("/imports/{job_id}", response_model=ImportJobOut, summary="One import job",
            responses={404: {"model": ErrorResponse}, 200: {"content": {"application/json": {"example": examples.IMPORT_JOB}}}})
def get_import(job_id: Annotated[Name, PathParam()], request: Request) -> ImportJobOut:
    """`status` is queued, running, succeeded or failed; `progress.read` counts records read so far (live on
    the server running the job); `report` is, when done, what `normbank ingest --json` prints."""
    return ImportJobOut(**_jobs(request).get(job_id))


@router.get("/imports/{job_id}/rejected", summary="The rows the job's import rejected, as CSV",
            responses={200: {"content": {"text/csv": {}}}, 404: {"model": ErrorResponse}})
def get_import_rejected(job_id: Annotated[Name, PathParam()], request: Request) -> StreamingResponse:
    rows = _jobs(request).rejected_csv(job_id)
    return StreamingResponse(rows, media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="rejected-{job_id[:32]}.csv"'})
