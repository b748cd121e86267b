"""The one place where errors become HTTP responses: `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


def install(app: FastAPI) -> None:
    @app.exception_handler(NormbankError)
    async def _domain(request: Request, exc: NormbankError):
        html = _html_error(request, status_for(exc), exc.message)
        if html is not None:
            return html
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = _jsonable_errors(exc.errors())
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p)[:ECHO_CHARS] for p in first["loc"] if p != "body") or "body"
        message = str(first["msg"]).removeprefix("Value error, ")
        return JSONResponse(error_body("invalid_request", f"{where}: {message}", errors), status_code=422)

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

    @app.exception_handler(OperationalError)
    @app.exception_handler(ProgrammingError)
    async def _database(request: Request, exc: Exception):
        # A database that is down, or one that was never initialised: the service is not ready. The reason
        # (hosts, paths, tables) goes to the server log, not to the client.
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]
        log.warning("database error on %s %s: %s", request.method, request.url.path, reason)
        never_initialised = "no such table" in reason or "does not exist" in reason
        message = ("the database is not initialised; an operator must run `normbank init`" if never_initialised
                   else "the database is unavailable; try again later")
        html = _html_error(request, 503, message)
        if html is not None:
            return html
        return JSONResponse(error_body("database_unavailable", message), status_code=503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        html = _html_error(request, 500, "internal error; the server log has details")
        if html is not None:
            return html
        return JSONResponse(error_body("internal_error", "internal error; the server log has details"), status_code=500)
