"""GET /v1/search and POST /v1/ground: free text in, norms out."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response

from api import examples, service
from api.deps import CacheDep, RetrieverDep
from api.models import ErrorResponse, GroundRequest, GroundResponse, LabelName, Name, SearchResponse, Text
from api.routes import json_response

router = APIRouter(prefix="/v1", tags=["grounding"])
ERRORS = {404: {"model": ErrorResponse, "description": "A setting that links to nothing"},
          422: {"model": ErrorResponse, "description": "Malformed request"},
          503: {"model": ErrorResponse, "description": "The vector index is not built yet (dense mode)"}}


@router.get("/search", response_model=SearchResponse, summary="Hybrid search over norm texts",
            responses={**ERRORS, 200: {"content": {"application/json": {"example": examples.SEARCH}}}})
def get_search(
    cache: CacheDep,
    retriever: RetrieverDep,
    q: Annotated[Text(2000), Query(description="Free text, e.g. 'tipping in Japan'")],
    setting: Annotated[Optional[Name], Query(description="Only norms of this setting (free text is linked); see include_setting_less")] = None,
    label: Annotated[Optional[LabelName], Query()] = None,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: Annotated[Literal["hybrid", "dense", "lexical"], Query(description="Which retrievers to use")] = "hybrid",
    include_setting_less: Annotated[bool, Query(
        description="With a setting: also norms that hold in no particular setting")] = False,
) -> Response:
    """Dense (sentence embeddings) and lexical (the database's full-text search) retrieval fused by
    standardised score; no context, so no frame is excluded."""
    return json_response(service.search(cache, retriever, q, setting=setting, label=label, k=k, mode=mode,
                                        include_setting_less=include_setting_less))


@router.post("/ground", response_model=GroundResponse, summary="Norms for a situation, ready for a prompt",
             responses={**ERRORS, 200: {"content": {"application/json": {"example": examples.GROUND_RESPONSE}}}})
def post_ground(
    cache: CacheDep,
    retriever: RetrieverDep,
    request: Annotated[GroundRequest, Body(openapi_examples=examples.GROUND_REQUESTS)],
) -> Response:
    """The top-k norms for a situation (free text) and an optional structured context: norms whose
    frames are false for the context drop out, applicable ones rank above conditional ones; `ask` says
    what to find out, `prompt` is compact text with citations by id."""
    return json_response(service.ground(cache, retriever, request))
