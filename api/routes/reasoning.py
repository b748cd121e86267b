"""POST /v1/query and /v1/judge: which norms apply to a context."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import Response

from api import examples, service
from api.deps import CacheDep, RetrieverDep
from api.models import ErrorResponse, JudgeRequest, JudgeResponse, QueryRequest, QueryResponse
from api.routes import json_response, result_fragment, result_response

router = APIRouter(prefix="/v1", tags=["reasoning"])

ERRORS = {404: {"model": ErrorResponse, "description": "Unknown setting"},
          422: {"model": ErrorResponse, "description": "Malformed request"}}


@router.post(
    "/query", response_model=QueryResponse, summary="Every behaviour of a setting, judged for a context",
    responses={**ERRORS, 200: {"content": {"application/json": {"example": examples.QUERY_RESPONSE}}}},
)
def post_query(
    request: Annotated[QueryRequest, Body(openapi_examples=examples.QUERY_REQUESTS)], cache: CacheDep,
    retriever: RetrieverDep,
) -> Response:
    """One result per behaviour of the setting that has frames (or only `behavior`), `applies` first.
    Each result carries the verdict, the label distribution over the deciding frames, the frames as
    evidence, the conditions still open and the defeaters that would change the verdict."""
    return json_response(service.query(cache, request, retriever, render=result_fragment))


@router.post(
    "/judge", response_model=JudgeResponse, summary="Judge one behaviour in a context",
    responses={**ERRORS, 200: {"content": {"application/json": {"example": examples.JUDGE_RESPONSE}}}},
)
def post_judge(
    request: Annotated[JudgeRequest, Body(openapi_examples=examples.JUDGE_REQUESTS)], cache: CacheDep,
    retriever: RetrieverDep,
) -> Response:
    """The verdict on one behaviour, with its evidence; `unknown` when the bank has no frames for it."""
    return result_response(*service.judgement(cache, request, retriever))
