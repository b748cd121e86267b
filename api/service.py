"""Request models in, response models out: the reasoning behind /v1/query and /v1/judge, shared with
`normbank query`. Route handlers stay thin; this module never touches HTTP."""

from __future__ import annotations

import base64
import json

from normbank.context import Context, make_context, make_party
from normbank.errors import InvalidRequest
from normbank.ids import public_norm_id
from normbank.reasoning import CompiledFrames, Judgement, judge_behavior, query as run_query, unused_dimensions
from normbank.constraints import normalise_text
from schema.frames import FrameCache
from api.models import (
    ConditionOut, ContextIn, DefeaterOut, FrameOut, JudgeRequest, JudgeResponse, QueryRequest, QueryResponse, Result,
    SettingSummary, SourceRef, UnusedFact,
)


def encode_cursor(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, key: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))[key]
        if type(value) is not int or value < 0:  # bool is an int subclass: reject it too
            raise ValueError
        return value
    except (ValueError, KeyError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequest(f"invalid cursor {cursor!r}: pass the next_cursor of a previous page") from None


def context_of(request: ContextIn, cache: FrameCache, setting: str) -> Context:
    scales = cache.scales()
    return make_context(
        setting,
        make_party(request.person.role, request.person.attributes, request.person.behaviors, scales=scales),
        make_party(request.other.role, request.other.attributes, request.other.behaviors, scales=scales),
        request.environment,
        scales=scales,
    )


def _unused(context: Context, cache: FrameCache) -> list[UnusedFact]:
    return [UnusedFact(subject=s.value, name=n) for s, _k, n in unused_dimensions(context, cache.dimensions())]


def result_of(j: Judgement) -> Result:
    return Result(
        behavior=j.behavior,
        status=j.status.value,
        verdict=j.verdict,
        distribution=j.distribution,
        confidence=None if j.confidence is None else round(j.confidence, 4),
        contested=j.contested,
        frames=[
            FrameOut(
                id=public_norm_id(e.frame.id), label=e.frame.label, support=e.frame.support,
                constraints=[a.text for a in e.frame.atoms], state=e.state.value, matched=e.matched, failed=e.failed,
                unknown=e.unknown, overridden_by=[public_norm_id(i) for i in e.overridden_by],
                statement=e.frame.statement,
                source=SourceRef(name=e.frame.source or "", licence=e.frame.licence, row=e.frame.row_number),
            )
            for e in j.frames
        ],
        conditions=[
            ConditionOut(label=c.label, unknown=c.unknown, frame=public_norm_id(c.frame), support=c.support)
            for c in j.conditions
        ],
        defeaters=[
            DefeaterOut(label=d.label, unknown=d.unknown, frame=public_norm_id(d.frame), support=d.support,
                        overrides=[public_norm_id(i) for i in d.overrides])
            for d in j.defeaters
        ],
        statement=j.statement,
    )


def _summary(compiled: CompiledFrames) -> SettingSummary:
    return SettingSummary(name=compiled.setting or "", behaviors=len(compiled.by_behavior), frames=len(compiled))


def judge(cache: FrameCache, request: JudgeRequest) -> JudgeResponse:
    compiled = cache.get(request.setting)
    context = context_of(request, cache, compiled.setting)
    judgement = judge_behavior(compiled, normalise_text(request.behavior), compiled.facts(context))
    return JudgeResponse(**result_of(judgement).__dict__, setting=compiled.setting, unused=_unused(context, cache))


def query(cache: FrameCache, request: QueryRequest) -> QueryResponse:
    compiled = cache.get(request.setting)
    context = context_of(request, cache, compiled.setting)
    offset = decode_cursor(request.cursor, key="offset") if request.cursor else 0
    behaviors = [normalise_text(request.behavior)] if request.behavior else None
    page, total = run_query(
        compiled, context, behaviors=behaviors, labels=[request.label] if request.label else None,
        statuses=request.status, offset=offset, limit=request.limit,
    )
    end = offset + len(page)
    return QueryResponse(
        setting=_summary(compiled),
        results=[result_of(j) for j in page],
        total=total,
        next_cursor=encode_cursor({"offset": end}) if end < total else None,
        unused=_unused(context, cache),
    )
