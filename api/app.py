"""The application factory: `create_app(settings)` builds a fresh app (tests build one each)."""

from __future__ import annotations

import ctypes
import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI

import normbank
from api import errors, web
from api.limits import RequestLimits
from api.imports import ImportJobs
from api.models import ErrorResponse
from api.retrieval import Retriever
from api.versioning import DataVersionHeader
from api.auth import configured_tokens
from api.routes import bank, catalog, grounding, health, imports as import_routes, reasoning
from normbank.config import Settings, get_settings
from normbank.linking import gazetteer
from schema.engine import make_engine
from schema.frames import FrameCache

log = logging.getLogger("normbank.api")

DESCRIPTION = """Situational social norms as a service: given a setting, the people's roles and attributes
and the environment, which norms apply — with a verdict, the evidence, and the conditions that would
change it. Errors are `{"error": {"code", "message", "details"}}`."""


def _offline_docs(app: FastAPI) -> None:
    """/docs with Swagger UI's assets served by the app itself (from the swagger-ui-bundle package): the
    page works with no internet."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/static/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="normbank API",
                                   swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/static/swagger-ui/favicon-32x32.png")


def return_freed_memory() -> None:
    """Give the heap memory freed by a finished import or a replaced frame-cache generation back to the
    system. glibc keeps freed memory in its arenas for reuse, so without this a server stays near the peak
    of its last import for good; a process-wide call, so it is made here, by the server, and nowhere else."""
    try:
        trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the process's own C library
    except (OSError, TypeError):
        return
    if trim is not None:  # glibc; elsewhere there is nothing to do
        trim(0)  # a plain CDLL call: the GIL is released while it runs


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.resolved_database_url)

    cache = FrameCache(engine, check_seconds=settings.cache_check_seconds, on_switch=return_freed_memory)
    retriever = Retriever(engine, settings)

    def committed() -> None:  # an import of this server committed: its client reads its write once the job says so
        cache.refresh()
        return_freed_memory()

    imports = ImportJobs(engine, settings.data_dir, on_committed=committed)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            imports.recover()
        except Exception:  # noqa: BLE001 - a database problem at start is reported by /readyz, not fatal
            log.exception("could not check for interrupted import jobs at start")
        try:
            retriever.start()
        except Exception:  # noqa: BLE001 - a database problem at start is reported by /readyz, not fatal
            log.exception("could not check the vector index at start")
        # The place gazetteer (a city list read once per process) loads now, not in the first request naming a place.
        threading.Thread(target=gazetteer, name="normbank-gazetteer", daemon=True).start()
        yield
        retriever.stop()
        cache.close()
        engine.dispose()

    app = FastAPI(title="normbank", version=normbank.__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.add_middleware(DataVersionHeader)
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes, read_timeout=settings.read_timeout_seconds,
                       upload_limits={"/v1/imports": settings.max_upload_bytes})
    _offline_docs(app)
    app.state.settings = settings
    app.state.engine = engine
    app.state.cache = cache
    app.state.retriever = retriever
    app.state.imports = imports
    app.state.write_tokens = configured_tokens(settings.api_token)
    errors.install(app)
    for module in (reasoning, grounding, catalog, bank, import_routes):
        app.include_router(module.router, responses=_COMMON_RESPONSES[module.__name__])
    app.include_router(health.router)
    web.install(app)  # the explorer's pages at / (api/web)
    return app


def _error(description: str) -> dict:
    return {"model": ErrorResponse, "description": description}


# Statuses every operation of a router can answer with, besides its own: the OpenAPI document lists every
# status the server sends (tests/api/test_contract.py holds the app to it).
_UNAVAILABLE = {503: _error("The database cannot be reached (`database_unavailable`)")}
_BODY = {413: _error("The body is larger than NORMBANK_MAX_BODY_BYTES (`body_too_large`)"),
         408: _error("The body arrived slower than NORMBANK_READ_TIMEOUT_SECONDS allows (`request_timeout`)")}
_COMMON_RESPONSES = {reasoning.__name__: {**_UNAVAILABLE, **_BODY}, grounding.__name__: {**_UNAVAILABLE, **_BODY},
                     catalog.__name__: _UNAVAILABLE, bank.__name__: {**_UNAVAILABLE, **_BODY},
                     import_routes.__name__: {**_UNAVAILABLE, **_BODY}}
