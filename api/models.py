"""Request and response models of the HTTP API (and of `normbank query --json`).

Requests are checked strictly at the edge: every text has a length limit, every list and mapping a size
limit, numbers are numbers (not booleans) and texts are valid Unicode without NUL characters, so no
request can make the service do unbounded work or fail further in (docs/api.md lists the limits)."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

LabelName = Literal["expected", "normal", "taboo"]
StatusName = Literal["applies", "conditional", "excluded", "unknown"]
StateName = Literal["true", "false", "unknown"]

MAX_NAME = 200  # a setting, role, behaviour, attribute or environment name
MAX_VALUE = 500  # one attribute or environment value
MAX_VALUES = 50  # values of one fact; behaviours a person is also doing
MAX_FACTS = 50  # attributes of a person; environment facts
MAX_SITUATION = 20_000  # a situation to ground, a search text
_UNFIT = re.compile("[\x00\ud800-\udfff]")
NO_NUL = r"^[^\x00]*$"  # in the OpenAPI document too (lone surrogates cannot be written in JSON Schema)


def _clean(text: str) -> str:
    if _UNFIT.search(text):
        raise ValueError("text must be valid Unicode without NUL characters")
    return text


def Text(max_length: int, min_length: int = 1) -> Any:
    """A string type of bounded length, valid Unicode without NUL characters."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length, pattern=NO_NUL),
                     AfterValidator(_clean)]


Name = Text(MAX_NAME)
# Cursors: what `next_cursor` holds, exactly (api.service.encode_cursor); any other string is a 422.
QueryCursor = Annotated[str, StringConstraints(pattern=r"^o[0-9]{1,18}$")]
NormsCursor = Annotated[str, StringConstraints(pattern=r"^a[0-7][0-9a-f]{15}$")]


def _fact_value(value: Any) -> Any:
    """Check a fact's value before the union below: its errors then name the fact, not a union branch."""
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not 1 <= len(value) <= MAX_VALUES:
        raise ValueError(f"a list of values holds 1 to {MAX_VALUES} values")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ValueError("a value is a string, a number, or a list of them")
        if isinstance(item, str):
            if not 1 <= len(item) <= MAX_VALUE:
                raise ValueError(f"a value holds 1 to {MAX_VALUE} characters")
            _clean(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("a number must be finite")
    return value


_Scalar = Union[Annotated[str, StringConstraints(min_length=1, max_length=MAX_VALUE, pattern=NO_NUL)], int, float]
FactValue = Annotated[Union[_Scalar, Annotated[list[_Scalar], Field(min_length=1, max_length=MAX_VALUES)]],
                      BeforeValidator(_fact_value)]
# pydantic checks the keys (Name) but does not write them into the schema: propertyNames says it.
Facts = Annotated[dict[Name, FactValue], Field(max_length=MAX_FACTS, json_schema_extra={
    "propertyNames": {"minLength": 1, "maxLength": MAX_NAME, "pattern": NO_NUL}})]


def _whole(value: Any) -> Any:
    """A whole number sent as 2.0 is the integer JSON Schema says it is; booleans and strings stay refused."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    return value


Count = Annotated[int, BeforeValidator(_whole)]  # with strict=True on the field: no booleans, no strings


# Response fields that can be null default to None: FastAPI drops nulls from OpenAPI examples
# (fastapi#5559), and a published example must still validate against its model.
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests ---------------------------------------------------------------------------------------
class PartyIn(_Model):
    """A person in the scene: PERSON performs the behaviour, OTHER is someone else involved."""

    role: Optional[Name] = Field(None, description="Their role in the setting, e.g. 'customer', 'waiter'.")
    attributes: Facts = Field(
        default_factory=dict,
        description="Attributes by name, e.g. {'age bracket': 'teen', 'diet': ['vegetarian', 'kosher']}.",
    )
    behaviors: list[Name] = Field(default_factory=list, max_length=MAX_VALUES,
                                  description="What they are also doing (PERSON).")


class ContextIn(_Model):
    setting: Name = Field(..., description="Where: a setting of the bank, e.g. 'restaurant'.")
    person: PartyIn = Field(default_factory=PartyIn)
    other: PartyIn = Field(default_factory=PartyIn)
    environment: Facts = Field(
        default_factory=dict, description="Environment facts, e.g. {'country': 'japan', 'time of day': 'night'}."
    )


class QueryRequest(ContextIn):
    behavior: Optional[Name] = Field(None, description="Only this behaviour.")
    label: Optional[LabelName] = Field(
        None, description="Only answers with this verdict (and conditional ones that could end with it)."
    )
    status: Optional[list[StatusName]] = Field(None, max_length=4, description="Only answers with these statuses.")
    limit: Count = Field(50, ge=1, le=1000, strict=True)
    cursor: Optional[QueryCursor] = Field(None, description="`next_cursor` of the previous page.")


class JudgeRequest(ContextIn):
    behavior: Name = Field(..., description="The behaviour to judge, e.g. 'drink alcohol'.")


# -- responses -------------------------------------------------------------------------------------
class SourceRef(BaseModel):
    name: str
    licence: Optional[str] = None
    url: Optional[str] = Field(None, description="Where the corpus is published.")
    row: Optional[int] = Field(None, description="The first source row of this frame (data records count from 1).")


class AgreementOut(BaseModel):
    share: Optional[float] = Field(None, description="Share of people who hold the label, 0..1 (the lower end of `band`).")
    band: Optional[str] = Field(None, description="The agreement as the corpus reports it, e.g. '75-90%'.")


class FrameOut(BaseModel):
    id: str
    label: LabelName
    support: int = Field(..., description="How many source rows state this frame.")
    constraints: list[str] = Field(..., description="Canonical constraint texts (a conjunction).")
    state: StateName
    matched: list[str]
    failed: list[str]
    unknown: list[str]
    overridden_by: list[str] = Field(..., description="TRUE frames more specific than this one.")
    statement: Optional[str] = None
    source: SourceRef


class ConditionOut(BaseModel):
    label: LabelName
    unknown: list[str] = Field(..., description="Atoms the context does not decide; if all held, this frame would apply.")
    frame: str
    support: int


class DefeaterOut(ConditionOut):
    overrides: list[str] = Field(..., description="The winning frames this more specific frame would override.")


class UnusedFact(BaseModel):
    subject: Literal["person", "other", "environment"]
    name: str


class Result(BaseModel):
    behavior: str
    status: StatusName
    verdict: Optional[LabelName] = None
    distribution: dict[LabelName, int]
    confidence: Optional[float] = None
    contested: bool
    frames: list[FrameOut]
    conditions: list[ConditionOut]
    defeaters: list[DefeaterOut]
    statement: str


class JudgeResponse(Result):
    setting: str
    unused: list[UnusedFact] = Field(default_factory=list, description="Given facts about dimensions the bank has never seen.")
    linked: list["LinkOut"] = Field(default_factory=list, description="Free text the request used and what it linked to.")


class SettingSummary(BaseModel):
    name: str
    behaviors: int = Field(..., description="Behaviours with at least one frame.")
    frames: int


class QueryResponse(BaseModel):
    setting: SettingSummary
    results: list[Result]
    total: int = Field(..., description="Results across all pages.")
    next_cursor: Optional[str] = None
    unused: list[UnusedFact] = Field(default_factory=list)
    linked: list["LinkOut"] = Field(default_factory=list)


class SettingDetail(SettingSummary):
    roles: list[str]
    taxonomy_behaviors: int = Field(..., description="Behaviours the taxonomy lists for this setting.")


class SettingsPublic(BaseModel):
    data: list[SettingSummary]
    count: int


class NormPublic(BaseModel):
    id: str
    setting: Optional[str] = None
    behavior: str
    label: LabelName
    agreement: Optional[AgreementOut] = Field(None, description="How many people hold the label, where the corpus says.")
    support: int
    constraints: list[str]
    atoms: list[dict[str, str]]
    statement: str
    rule_text: Optional[str] = None
    culture: Optional[str] = None
    category: Optional[str] = None
    split: Optional[str] = None
    source: SourceRef
    rows: list[int] = Field(default_factory=list, description="Every source row stating this frame.")
    extra: Optional[dict] = Field(None, description="Corpus-specific fields, e.g. NormDial's Chinese norm text.")
    attributes: Optional[dict] = Field(None, description="The source row's own attributes as published, e.g. "
                                                         "Social-Chem-101's area, ids, legality and pressure.")
    examples: Optional[list["ExampleOut"]] = Field(
        None, description="Example situations following or breaking the norm (first 20; only on GET /v1/norms/{id})."
    )


class ExampleOut(BaseModel):
    polarity: Literal["adheres", "violates"]
    situation: str
    dialogue: Optional[str] = None
    row: int
    extra: Optional[dict] = None


class NormsPublic(BaseModel):
    data: list[NormPublic]
    count: int
    next_cursor: Optional[str] = None


class DimensionOut(BaseModel):
    subject: Literal["person", "other", "environment"]
    name: str
    ordered: bool
    values: list[str]


class TaxonomyOut(BaseModel):
    dimensions: list[DimensionOut]


class LastImport(BaseModel):
    status: str
    read: int
    loaded: int
    duplicates: int
    rejected: int
    finished_at: Optional[str] = None
    error: Optional[str] = None


class SourceRun(LastImport):
    """One run in a source's history: an import (committed or failed) or its removal."""

    id: int
    kind: Literal["import", "removal"]
    started_at: Optional[str] = None


class SourceOut(BaseModel):
    name: str
    format: str
    licence: Optional[str] = None
    url: Optional[str] = None
    norms: int
    last_import: Optional[LastImport] = None
    history: list[SourceRun] = Field(default_factory=list, description="Recent runs, newest first")


class SourcesPublic(BaseModel):
    data: list[SourceOut]
    count: int


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Optional[object] = None


class ErrorResponse(BaseModel):
    error: ErrorBody


# -- free text: linking, search, grounding -----------------------------------------------------------
class LinkOut(BaseModel):
    text: str = Field(..., description="What the request said.")
    kind: Literal["setting", "role", "behavior", "value", "place"]  # place: a country found in the text
    linked: Optional[str] = Field(None, description="The bank's entry it was linked to; null: could not link.")
    score: float
    method: Optional[Literal["exact", "alias", "fuzzy", "dense", "gazetteer"]] = None


class SearchRequest(BaseModel):
    """GET /v1/search's query parameters (and the MCP tool search_norms' arguments); unknown query
    parameters are ignored, as they always were."""

    q: Text(2000) = Field(..., description="Free text, e.g. 'tipping in Japan'.")
    setting: Optional[Name] = Field(None, description="Only norms of this setting (free text is linked); see "
                                    "include_setting_less.")
    label: Optional[LabelName] = Field(None, description="Only norms with this label.")
    k: int = Field(10, ge=1, le=100, description="How many norms.")
    mode: Literal["hybrid", "dense", "lexical"] = Field("hybrid", description="Which retrievers to use.")
    include_setting_less: bool = Field(False, description="With a setting: also norms that hold in no particular setting.")
    sources: Optional[list[Name]] = Field(None, max_length=50, description="Only norms of these sources "
                                          "(repeat: sources=a&sources=b).")


class SearchHit(BaseModel):
    id: str
    text: str = Field(..., description="The norm's rule text as imported, or its statement when it has none.")
    statement: str
    label: LabelName
    agreement: Optional[AgreementOut] = None
    setting: Optional[str] = None
    behavior: str
    score: float
    source: SourceRef


class SearchResponse(BaseModel):
    results: list[SearchHit]
    linked: list[LinkOut] = Field(default_factory=list)
    mode: Literal["hybrid", "dense", "lexical"]


class GroundRequest(_Model):
    situation: Text(MAX_SITUATION) = Field(..., description="The situation, in free text.")
    setting: Optional[Name] = Field(None, description="Where, if known (free text is linked).")
    person: Optional[PartyIn] = None
    other: Optional[PartyIn] = None
    environment: Facts = Field(default_factory=dict)
    k: Count = Field(5, ge=1, le=50, strict=True)
    include_setting_less: bool = Field(
        False, description="With a setting: also norms that hold in no particular setting (NormDial, ...).")
    sources: Optional[list[Name]] = Field(None, max_length=50, description="Only norms of these sources (names).")


class GroundedNorm(BaseModel):
    id: str
    text: str = Field(..., description="The norm's rule text as imported, or its statement when it has none.")
    statement: str
    label: LabelName
    agreement: Optional[AgreementOut] = None
    status: Literal["applies", "conditional"]
    score: float
    conditions: list[str] = Field(..., description="For conditional norms: the atoms that must still hold.")
    defeaters: list[ConditionOut] = Field(default_factory=list)
    setting: Optional[str] = None
    behavior: str
    source: SourceRef


class AskOut(BaseModel):
    subject: Literal["person", "other", "environment"]
    kind: Literal["role", "attribute", "behavior", "environment"]
    name: str
    question: str
    values: list[str] = Field(..., description="Values that would change the top answers.")
    norms: list[str] = Field(..., description="The norms that depend on it.")


class GroundResponse(BaseModel):
    norms: list[GroundedNorm]
    linked: list[LinkOut]
    ask: list[AskOut]
    prompt: str
    unused: list[UnusedFact] = Field(default_factory=list)


NormPublic.model_rebuild()
JudgeResponse.model_rebuild()
QueryResponse.model_rebuild()
