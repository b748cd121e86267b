"""Taking data out of the bank and withdrawing it: GET /v1/export and GET /v1/sources/{name}/rejected
(open, like every read) and DELETE /v1/sources/{name} (a write: needs a token)."""

from __future__ import annotations

import re
from typing import Annotated, Iterator, Literal, Optional

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import WriteAccess
from api.deps import EngineDep
from api import examples
from api.models import ErrorResponse, Name
from api.operations_models import Removal
from ingest.export import export_jsonl, export_normbank_csv, export_sources
from ingest.removal import remove_source
from normbank.errors import SourceNotFound, echo, prefix
from schema.models import RejectedRow
from schema.queries import live_source_id, rejected_csv

router = APIRouter(prefix="/v1", tags=["operations"])
WRITE_ERRORS = {401: {"model": ErrorResponse, "description": "No token, or a wrong one"},
                403: {"model": ErrorResponse, "description": "Writes are off on this server"}}


@router.delete("/sources/{name}", response_model=Removal, summary="Remove a source and everything it brought",
               responses={**WRITE_ERRORS, 404: {"model": ErrorResponse, "description": "No such source"},
                          200: {"content": {"application/json": {"example": examples.REMOVAL}}}})
def delete_source(name: Annotated[Name, Path()], engine: EngineDep, request: Request, _: WriteAccess) -> Removal:
    """Deletes the source's norms, their rows, examples and full-text documents and its rejected rows in
    one transaction (queued behind a running import); other sources keep their norms and ids. The data
    version moves, so caches and the vector index refresh as after an import."""
    result = remove_source(engine=engine, name=name)
    request.app.state.cache.invalidate()
    return Removal(**result)


@router.get("/sources/{name}/rejected", summary="The rows of a source its imports rejected, as CSV",
            responses={200: {"content": {"text/csv": {}}}, 404: {"model": ErrorResponse, "description": "No such source"}})
def get_source_rejected(name: Annotated[Name, Path()], engine: EngineDep) -> StreamingResponse:
    """The same columns as /v1/imports/{id}/rejected (row, reason, raw), for every import of the source,
    whether it came from the command line or over HTTP; a row rejected again by a re-import is listed once."""
    with engine.connect() as conn:
        source_id = live_source_id(conn, name)
    if source_id is None:
        raise SourceNotFound(f"unknown source {echo(name)}", details={"source": prefix(name)})
    return StreamingResponse(rejected_csv(engine, RejectedRow.source_id == source_id), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="rejected-{_safe(name)}.csv"'})


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64]


def _stream(engine, write, source: str | None) -> Iterator[bytes]:
    with engine.connect() as conn:
        yield from write(conn, source)


@router.get("/export", summary="The bank (or one source) as a file to import elsewhere",
            responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}},
                       404: {"model": ErrorResponse, "description": "No such source"}})
def get_export(
    engine: EngineDep,
    source: Annotated[Optional[Name], Query(description="Only this source")] = None,
    format: Annotated[Literal["jsonl", "normbank"], Query(description="jsonl (everything) or NormBank.csv")] = "jsonl",
) -> StreamingResponse:
    """Streamed: JSONL that `normbank ingest normbank-jsonl` (or POST /v1/imports with
    format=normbank-jsonl) reads back into the same norms, ids and answers; or NormBank.csv's layout."""
    with engine.connect() as conn:
        export_sources(conn, source)  # an unknown source is a 404 before anything is streamed
    if format == "jsonl":
        return StreamingResponse(_stream(engine, export_jsonl, source), media_type="application/x-ndjson",
                                 headers={"Content-Disposition": 'attachment; filename="normbank-export.jsonl"'})
    return StreamingResponse(_stream(engine, export_normbank_csv, source), media_type="text/csv",
                             headers={"Content-Disposition": 'attachment; filename="NormBank.csv"'})
