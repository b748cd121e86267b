"""POST /v1/query and /v1/judge: which norms apply to a context.

Both are `async def`. When the setting's frames, the vocabulary and the scales are in memory
(`FrameCache.hot`), the answer is pure computation and runs on the event loop: a hop to the thread pool
and back cost more than the judgement itself. Otherwise (the setting is not compiled yet, a staleness
check is due, the setting is free text to link) it runs in the thread pool, so a database read never
blocks the loop; so does a request whose free text needs the retriever (linking may embed it): on the
loop the retriever is replaced by `_OffLoop`, which sends the request to the pool on first use.

They read the cache and the retriever from `app.state` through the request rather than through
`Depends`: two dependencies cost FastAPI two more rounds of dependency solving per request. And they
return the response's JSON bytes (api.encode), keeping `response_model` for the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from starlette.concurrency import run_in_threadpool

from api import examples, service
from api.encode import json_response
from api.models import ErrorResponse, JudgeRequest, JudgeResponse, QueryRequest, QueryResponse

router = APIRouter(prefix="/v1", tags=["reasoning"])


class _NeedsThread(Exception):
    pass


class _OffLoop:
    """The retriever's stand-in on the event loop: any use of it means work that may block."""

    def __getattr__(self, name):
        raise _NeedsThread(name)


OFF_LOOP = _OffLoop()


async def _answer(http: Request, request, compute):
    """The JSON bytes `compute(cache, request, retriever)` writes, as the response: on the event loop when the
    setting is in memory and no free text needs the retriever, else in the thread pool."""
    cache, retriever = http.app.state.cache, http.app.state.retriever
    if cache.hot(request.setting):
        try:
            return json_response(compute(cache, request, OFF_LOOP))
        except _NeedsThread:
            pass
    return json_response(await run_in_threadpool(compute, cache, request, retriever))


ERRORS = {404: {"model": ErrorResponse, "description": "Unknown setting"},
          422: {"model": ErrorResponse, "description": "Malformed request"}}


@router.post(
    "/query", response_model=QueryResponse, summary="Every behaviour of a setting, judged for a context",
    responses={**ERRORS, 200: {"content": {"application/json": {"example": examples.QUERY_RESPONSE}}}},
)
async def post_query(
    http: Request, request: Annotated[QueryRequest, Body(openapi_examples=examples.QUERY_REQUESTS)]
) -> QueryResponse:
    """One result per behaviour of the setting that has frames (or only `behavior`), `applies` first.
    Each result carries the verdict, the label distribution over the deciding frames, the frames as
    evidence, the conditions still open and the defeaters that would change the verdict."""
    return await _answer(http, request, service.query_json)


@router.post(
    "/judge", response_model=JudgeResponse, summary="Judge one behaviour in a context",
    responses={**ERRORS, 200: {"content": {"application/json": {"example": examples.JUDGE_RESPONSE}}}},
)
async def post_judge(
    http: Request, request: Annotated[JudgeRequest, Body(openapi_examples=examples.JUDGE_REQUESTS)]
) -> JudgeResponse:
    """The verdict on one behaviour, with its evidence; `unknown` when the bank has no frames for it."""
    return await _answer(http, request, service.judge_json)
