"""Read endpoints over what the bank holds: norms, settings, taxonomy, sources."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Path, Query

from api import examples, service
from api.deps import CacheDep, ConnectionDep, RetrieverDep
from api.models import (
    ErrorResponse, LabelName, Name, NormPublic, NormsCursor, NormsPublic, SettingDetail, SettingsPublic, SourcesPublic,
    TaxonomyOut,
)

router = APIRouter(prefix="/v1", tags=["catalogue"])
NOT_FOUND = {404: {"model": ErrorResponse, "description": "Not found"}}


def _example(value) -> dict:
    return {200: {"content": {"application/json": {"example": value}}}}


@router.get("/norms/{norm_id}", response_model=NormPublic, summary="One norm frame",
            responses={**NOT_FOUND, **_example(examples.NORM)})
def get_norm(norm_id: str, conn: ConnectionDep) -> NormPublic:
    """A norm by its id (16 hex digits, stable across re-imports), with every source row behind it."""
    return NormPublic(**service.norm(conn, norm_id))


@router.get("/norms", response_model=NormsPublic, summary="List norm frames",
            responses={**NOT_FOUND, 422: {"model": ErrorResponse}, **_example(examples.NORMS)})
def get_norms(
    conn: ConnectionDep,
    cache: CacheDep,
    retriever: RetrieverDep,
    setting: Annotated[Optional[Name], Query(description="Setting name, e.g. restaurant")] = None,
    behavior: Annotated[Optional[Name], Query(description="Behaviour, e.g. drink alcohol")] = None,
    label: Annotated[Optional[LabelName], Query()] = None,
    source: Annotated[Optional[Name], Query(description="Source name, e.g. normbank-sample")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[Optional[NormsCursor], Query(description="next_cursor of the previous page")] = None,
) -> NormsPublic:
    # A setting is linked as /v1/query links it: a known name or its closest, else 404 naming the closest.
    setting = service.linker_for(cache, retriever).setting(setting) if setting else None
    return NormsPublic(**service.norms(conn, setting=setting, behavior=behavior, label=label, source=source, limit=limit,
                                       cursor=cursor))


@router.get("/settings", response_model=SettingsPublic, summary="Settings with their frame counts",
            responses=_example(examples.SETTINGS))
def get_settings(conn: ConnectionDep) -> SettingsPublic:
    return SettingsPublic(**service.settings(conn))


@router.get("/settings/{name}", response_model=SettingDetail, summary="One setting: roles, behaviours, frames",
            responses={**NOT_FOUND, **_example(examples.SETTING)})
def get_setting(name: Annotated[Name, Path()], conn: ConnectionDep) -> SettingDetail:
    return SettingDetail(**service.setting(conn, name))


@router.get("/taxonomy", response_model=TaxonomyOut, summary="Dimensions and their (ordered) values",
            responses=_example(examples.TAXONOMY))
def get_taxonomy(conn: ConnectionDep) -> TaxonomyOut:
    return TaxonomyOut(**service.taxonomy(conn))


@router.get("/sources", response_model=SourcesPublic, summary="Imported sources and their last import",
            responses=_example(examples.SOURCES))
def get_sources(conn: ConnectionDep) -> SourcesPublic:
    return SourcesPublic(**service.sources(conn))
