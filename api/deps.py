"""Typed dependencies, so route signatures read like the domain.

The ones that only read `app.state` are `async def`, so FastAPI does not hand them to the thread pool."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Connection, Engine

from api.retrieval import Retriever
from schema.frames import FrameCache, Generation


async def get_cache(request: Request) -> FrameCache | Generation:
    """The frame-cache generation this request's data version header names (pinned by api.versioning), or
    the cache itself when none could be pinned (the database was unreachable as the request came in)."""
    return getattr(request.state, "generation", None) or request.app.state.cache


async def get_retriever(request: Request) -> Retriever:
    return request.app.state.retriever


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_connection(request: Request):
    with request.app.state.engine.connect() as conn:
        yield conn


CacheDep = Annotated[FrameCache | Generation, Depends(get_cache)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ConnectionDep = Annotated[Connection, Depends(get_connection)]
