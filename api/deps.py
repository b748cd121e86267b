"""Typed dependencies, so route signatures read like the domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Connection, Engine

from api.retrieval import Retriever
from schema.frames import FrameCache


def get_cache(request: Request) -> FrameCache:
    return request.app.state.cache


def get_retriever(request: Request) -> Retriever:
    return request.app.state.retriever


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_connection(request: Request):
    with request.app.state.engine.connect() as conn:
        yield conn


CacheDep = Annotated[FrameCache, Depends(get_cache)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
EngineDep = Annotated[Engine, Depends(get_engine)]
ConnectionDep = Annotated[Connection, Depends(get_connection)]
