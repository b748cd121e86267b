"""Read endpoints over what the bank holds: norms, settings, taxonomy, sources."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Path, Query

from api import examples, service
from api.deps import CacheDep, ConnectionDep, RetrieverDep
from api.models import (
    ErrorResponse, NormsCursor, LabelName, Name, NormPublic, NormsPublic, SettingDetail, SettingsPublic, SettingSummary, SourceOut,
    SourcesPublic, TaxonomyOut,
)
from api.service import decode_cursor, encode_cursor
from normbank.constraints import normalise_text
from normbank.errors import NormNotFound, SettingNotFound, echo, prefix
from normbank.ids import parse_norm_id, public_norm_id
from schema import catalog
from schema.queries import sources as list_sources

router = APIRouter(prefix="/v1", tags=["catalogue"])
NOT_FOUND = {404: {"model": ErrorResponse, "description": "Not found"}}


def _example(value) -> dict:
    return {200: {"content": {"application/json": {"example": value}}}}


def _norm_public(data: dict) -> NormPublic:
    return NormPublic(**{**data, "id": public_norm_id(data["id"])})


@router.get("/norms/{norm_id}", response_model=NormPublic, summary="One norm frame",
            responses={**NOT_FOUND, **_example(examples.NORM)})
def get_norm(norm_id: str, conn: ConnectionDep) -> NormPublic:
    """A norm by its id (16 hex digits, stable across re-imports), with every source row behind it."""
    nid = parse_norm_id(norm_id)
    data = catalog.get_norm(conn, nid) if nid is not None else None
    if data is None:
        raise NormNotFound(f"no norm with id {echo(norm_id)}", details={"id": prefix(norm_id)})
    return _norm_public(data)


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
    after = decode_cursor(cursor, key="after") if cursor else None
    # A setting is linked as /v1/query links it: a known name or its closest, else 404 naming the closest.
    setting = service.linker_for(cache, retriever).setting(setting) if setting else None
    page, total, last = catalog.list_norms(
        conn, setting=setting, behavior=normalise_text(behavior) if behavior else None,
        label=label, source=source, after=after, limit=limit,
    )
    return NormsPublic(data=[_norm_public(n) for n in page], count=total,
                       next_cursor=encode_cursor({"after": last}) if last is not None else None)


@router.get("/settings", response_model=SettingsPublic, summary="Settings with their frame counts",
            responses=_example(examples.SETTINGS))
def get_settings(conn: ConnectionDep) -> SettingsPublic:
    data = [SettingSummary(**s) for s in catalog.setting_counts(conn)]
    return SettingsPublic(data=data, count=len(data))


@router.get("/settings/{name}", response_model=SettingDetail, summary="One setting: roles, behaviours, frames",
            responses={**NOT_FOUND, **_example(examples.SETTING)})
def get_setting(name: Annotated[Name, Path()], conn: ConnectionDep, cache: CacheDep) -> SettingDetail:
    detail = catalog.setting_detail(conn, normalise_text(name))
    if detail is None:
        raise SettingNotFound(f"unknown setting {echo(name)}", details={"setting": prefix(name)})
    return SettingDetail(**detail)


@router.get("/taxonomy", response_model=TaxonomyOut, summary="Dimensions and their (ordered) values",
            responses=_example(examples.TAXONOMY))
def get_taxonomy(conn: ConnectionDep) -> TaxonomyOut:
    return TaxonomyOut(dimensions=catalog.taxonomy(conn))


@router.get("/sources", response_model=SourcesPublic, summary="Imported sources and their last import",
            responses=_example(examples.SOURCES))
def get_sources(conn: ConnectionDep) -> SourcesPublic:
    data = [SourceOut(**s) for s in list_sources(conn)]
    return SourcesPublic(data=data, count=len(data))
