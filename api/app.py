"""The application factory: `create_app(settings)` builds a fresh app (tests build one each)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

import normbank
from api import errors
from api.retrieval import Retriever
from api.routes import catalog, grounding, health, reasoning
from normbank.config import Settings, get_settings
from schema.engine import make_engine
from schema.frames import FrameCache

log = logging.getLogger("normbank.api")

DESCRIPTION = """Situational social norms as a service: given a setting, the people's roles and attributes
and the environment, which norms apply — with a verdict, the evidence, and the conditions that would
change it. Errors are `{"error": {"code", "message", "details"}}`."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.resolved_database_url)

    cache = FrameCache(engine, check_seconds=settings.cache_check_seconds)
    retriever = Retriever(engine, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            retriever.start()
        except Exception:  # noqa: BLE001 - a database problem at start is reported by /readyz, not fatal
            log.exception("could not check the vector index at start")
        yield
        engine.dispose()

    app = FastAPI(title="normbank", version=normbank.__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.cache = cache
    app.state.retriever = retriever
    errors.install(app)
    for module in (reasoning, grounding, catalog, health):
        app.include_router(module.router)
    return app
