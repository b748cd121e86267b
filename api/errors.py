"""The one place where errors become HTTP responses: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError, ProgrammingError
from starlette.exceptions import HTTPException as StarletteHTTPException

from normbank.errors import (
    ECHO_CHARS, DatabaseUnavailable, IndexNotReady, InvalidInput, MissingColumns, NormbankError, NotFound, UnknownCorpus, echo,
)

log = logging.getLogger("normbank.api")

STATUS_BY_ERROR: tuple[tuple[type[NormbankError], int], ...] = (
    (NotFound, 404),
    (InvalidInput, 422),
    (UnknownCorpus, 422),
    (MissingColumns, 422),
    (DatabaseUnavailable, 503),
    (IndexNotReady, 503),
)


def error_body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details}}



def status_for(exc: NormbankError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(exc, cls):
            return status
    return 400


def _jsonable_errors(errors) -> list[dict]:
    out = []
    for e in errors:
        out.append({"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")})
    return out


def _html_error(request: Request, status: int, message: str):
    """The web explorer's error page (api/web), for a browser asking outside /v1; None: answer in JSON."""
    render = getattr(request.app.state, "html_error", None)
    path = request.url.path
    if render is None or path.startswith("/v1/") or "text/html" not in request.headers.get("accept", ""):
        return None
    return render(request, status, message)


def validation_body(errors) -> dict:
    """invalid_request for pydantic's errors: the message names the first bad field (a body's fields by
    their own names)."""
    errors = _jsonable_errors(errors)
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    # Named as the client wrote it: a field, a query parameter, a path segment (not FastAPI's "body.",
    # "query." or "path." prefix), so an MCP tool's arguments read the same.
    loc = first["loc"][1:] if first["loc"][:1] in (["body"], ["query"], ["path"]) else first["loc"]
    where = ".".join(str(p)[:ECHO_CHARS] for p in loc) or "body"
    message = str(first["msg"]).removeprefix("Value error, ")
    return error_body("invalid_request", f"{where}: {message}", errors)


def database_body(exc: Exception, where: str) -> dict:
    """database_unavailable for a database that is down or was never initialised. The reason (hosts,
    paths, tables) goes to the server log, not to the client."""
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
    log.warning("database error on %s: %s", where, reason)
    never_initialised = "no such table" in reason or "does not exist" in reason
    message = ("the database is not initialised; an operator must run `normbank init`" if never_initialised
               else "the database is unavailable; try again later")
    return error_body("database_unavailable", message)


def envelope_of(exc: Exception, where: str) -> tuple[int, dict]:
    """(status, error body) for an exception raised while answering `where`: the same code and message
    whichever way the request came (HTTP, MCP)."""
    if isinstance(exc, NormbankError):
        return status_for(exc), error_body(exc.code, exc.message, exc.details)
    if isinstance(exc, (RequestValidationError, ValidationError)):
        return 422, validation_body(exc.errors())
    if isinstance(exc, (OperationalError, ProgrammingError)):
        return 503, database_body(exc, where)
    log.error("unhandled error on %s", where, exc_info=exc)
    return 500, error_body("internal_error", "internal error; the server log has details")


def install(app: FastAPI) -> None:
    @app.exception_handler(NormbankError)
    @app.exception_handler(RequestValidationError)
    @app.exception_handler(OperationalError)
    @app.exception_handler(ProgrammingError)
    @app.exception_handler(Exception)
    async def _envelope(request: Request, exc: Exception):
        status, body = envelope_of(exc, f"{request.method} {request.url.path}")
        html = _html_error(request, status, body["error"]["message"])
        if html is not None:
            return html
        return JSONResponse(body, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden",
                408: "request_timeout", 413: "body_too_large"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        status = exc.status_code
        if status == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {echo(request.url.path)}"
        elif status == 400 and message == "There was an error parsing the body":
            # FastAPI's answer to a body that is not UTF-8: a malformed request, like any other.
            status, code, message = 422, "invalid_request", "body: not valid UTF-8 JSON"
        html = _html_error(request, status, message)
        if html is not None:
            return html
        return JSONResponse(error_body(code, message), status_code=status, headers=getattr(exc, "headers", None))
