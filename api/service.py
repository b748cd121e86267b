"""Request models in, response models out: the reasoning behind /v1/query and /v1/judge, shared with
`normbank query`. Route handlers stay thin; this module never touches HTTP."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Collection

from api import encode
from normbank.context import Context, make_context, make_party
from normbank.aliases import VALUE_ALIASES
from normbank.constraints import normalise_value
from normbank.errors import InvalidRequest, SettingNotFound
from normbank.retrieval.linking import Link, link
from normbank.scales import SCALE_VALUE_ALIASES
from normbank.ids import public_norm_id
from normbank.reasoning import (
    CompiledFrames, Judgement, State, judge_behavior, query as run_query, unused_dimensions,
)
from normbank.constraints import normalise_text
from schema.frames import FrameCache
from api.models import (
    AskOut, ConditionOut, ContextIn, DefeaterOut, FrameOut, GroundedNorm, GroundRequest, GroundResponse, JudgeRequest,
    JudgeResponse, LinkOut, PartyIn, QueryRequest, QueryResponse, Result, SearchHit, SearchResponse, SettingSummary,
    SourceRef, UnusedFact,
)

if TYPE_CHECKING:
    from api.retrieval import Retriever


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


class Linker:
    """Resolves a request's free text to the bank's entries and remembers what it linked."""

    def __init__(self, cache: FrameCache, retriever: "Retriever | None" = None):
        self.cache = cache
        self.retriever = retriever
        self.links: list[Link] = []
        self._vocabulary = None

    @property
    def vocabulary(self):
        """The cache's vocabulary, fetched once per request (each fetch checks the data version)."""
        vocab = self._vocabulary
        if vocab is None:
            vocab = self._vocabulary = self.cache.vocabulary()
        return vocab

    def _link(self, text: str, kind: str, candidates, aliases=None) -> Link:
        if self.retriever is not None:
            result = self.retriever.link(text, kind, candidates, aliases=aliases)
        else:
            result = link(text, kind, sorted(candidates), aliases=aliases)
        if result.method != "exact":
            self.links.append(result)
        return result

    def setting(self, text: str) -> str:
        name = normalise_text(text)
        vocab = self.vocabulary
        if name in self.cache.setting_ids():
            return name
        result = self._link(text, "setting", vocab.settings)
        if result.linked is None:
            closest = ", ".join(f"{c} ({s:.2f})" for c, s in result.alternatives[:3])
            raise SettingNotFound(
                f"unknown setting {text!r}: it links to no setting of the bank"
                + (f" (closest: {closest})" if closest else ""),
                details={"setting": text, "closest": [{"setting": c, "score": round(s, 4)} for c, s in result.alternatives[:3]]},
            )
        return result.linked

    def behavior(self, setting: str, text: str, known: Collection[str]) -> str:
        name = normalise_text(text)
        if name in known or not known:
            return name
        result = self._link(text, "behavior", known)
        return result.linked or name

    def role(self, setting: str, text: str | None) -> str | None:
        if not text:
            return text
        roles = self.vocabulary.roles.get(setting, ())
        name = normalise_value(text)
        if name in roles or not roles:
            return text
        result = self._link(text, "role", roles)
        return result.linked or text

    def facts(self, facts: dict) -> dict:
        """Attribute or environment values linked to the values the bank knows for that dimension."""
        if not facts:
            return {}
        vocab = self.vocabulary
        scales = None
        out = {}
        for key, value in facts.items():
            name = normalise_text(str(key))
            known = vocab.values.get(name)
            if not known or isinstance(value, (int, float)):
                out[key] = value
                continue
            values = value if isinstance(value, list) else [value]
            linked = []
            for v in values:
                if isinstance(v, (int, float)):
                    linked.append(v)
                    continue
                text = normalise_value(str(v))
                if text in known:
                    linked.append(v)
                    continue
                if scales is None:
                    scales = self.cache.scales()
                if scales.rank(name, text) is not None:
                    linked.append(v)
                    continue
                aliases = {**SCALE_VALUE_ALIASES.get(name, {}), **VALUE_ALIASES.get(name, {})}
                result = self._link(str(v), "value", known, aliases=aliases)
                linked.append(result.linked or v)
            out[key] = linked if isinstance(value, list) else linked[0]
        return out

    def to_json(self) -> list[LinkOut]:
        return [LinkOut(**link_.to_json()) for link_ in self.links]


def context_of(request: ContextIn, cache: FrameCache, setting: str, linker: Linker | None = None) -> Context:
    scales = cache.scales()
    linker = linker or Linker(cache)
    person, other = request.person or PartyIn(), request.other or PartyIn()
    return make_context(
        setting,
        make_party(linker.role(setting, person.role), linker.facts(person.attributes), person.behaviors, scales=scales),
        make_party(linker.role(setting, other.role), linker.facts(other.attributes), other.behaviors, scales=scales),
        linker.facts(request.environment),
        scales=scales,
    )


def _unused(context: Context, cache: FrameCache) -> list[UnusedFact]:
    return [UnusedFact(subject=s.value, name=n) for s, _k, n in unused_dimensions(context, cache.dimensions())]


def _built(cls, values: dict, fields_set: set | None = None):
    """A response model holding `values` as they are, with every field given: what `model_construct`
    does, without its per-field default handling (a third of its cost). Only for data the reasoner
    made; `tests/api/test_result_models.py` checks the result equals a validated one. `fields_set`, when
    given, is the set of every field name, shared by the many models of one class (`_FIELDS`)."""
    obj = _new(cls)
    set_ = object.__setattr__
    set_(obj, "__dict__", values)
    set_(obj, "__pydantic_fields_set__", set(values) if fields_set is None else fields_set)
    set_(obj, "__pydantic_extra__", None)
    set_(obj, "__pydantic_private__", None)
    return obj


_new = object.__new__  # what BaseModel.__new__ resolves to, without the lookup
# Every field name of the models built by the thousand per full-setting query, one set per class shared by
# its models: pydantic only adds to it (assigning a field adds a name it already holds).
_FIELDS = {cls: set(cls.model_fields) for cls in (Result, FrameOut, SourceRef, ConditionOut, DefeaterOut,
                                                   GroundedNorm)}
# A RESULT's empty lists (no overriding frames, no conditions, ...) are this one: results are never mutated,
# and fewer lists kept alive means less for the cycle collector to walk.
_NONE: list = []
_STATE_NAME = {state: state.value for state in State}


def result_of(j: Judgement, compiled: CompiledFrames | None = None) -> Result:
    """The API's RESULT for a judgement, built once per answer (the reasoner shares answers between
    contexts that decide them alike) and without validation: the data comes from the reasoner, not from
    a client, and validating thousands of frames per full-setting query cost more than the reasoning
    itself. Results are shared, never mutated. `compiled`, the judgement's setting, keeps what no
    context changes in its frames' models: their public ids and source references (`_result`)."""
    result = j.derived.get("result")
    if result is None:
        refs = compiled.derived.setdefault("frame_refs", ({}, {})) if compiled is not None else ({}, {})
        result = j.derived["result"] = _result(j, *refs)
    return result


def _result(j: Judgement, ids: dict[int, str], sources: dict[int, SourceRef]) -> Result:
    """`ids` and `sources` map frame ids to their public ids and SourceRefs, filled as frames are met. A
    full query over the largest setting of the 155k corpus (3,028 frames) built both per frame: made once
    per compiled setting (and with shared field sets), a query of new contexts cost 20 ms of CPU instead
    of 30 (building the SourceRefs per query again: 3.5 ms more). They take ~390 bytes per frame once
    cited: 1.2 MB for that setting, 47 MB (tracemalloc) with every frame of the corpus cited."""
    # `_built`, inline for the thousands of frames and conditions: the call was a tenth of their cost.
    new, set_ = _new, object.__setattr__
    frame_fields, condition_fields = _FIELDS[FrameOut], _FIELDS[ConditionOut]
    frames = []
    for e in j.frames:
        frame = e.frame
        public_id = ids.get(frame.id)
        if public_id is None:  # the source first: a thread that finds the id finds the source too
            sources[frame.id] = _built(SourceRef, {"name": frame.source or "", "licence": frame.licence,
                                                   "row": frame.row_number}, _FIELDS[SourceRef])
            public_id = ids[frame.id] = public_norm_id(frame.id)
        obj = new(FrameOut)
        set_(obj, "__dict__", {
            "id": public_id, "label": frame.label, "support": frame.support, "constraints": e.constraints,
            "state": _STATE_NAME[e.state], "matched": e.matched, "failed": e.failed, "unknown": e.unknown,
            "overridden_by": [public_norm_id(i) for i in e.overridden_by] if e.overridden_by else _NONE,
            "statement": frame.statement, "source": sources[frame.id],
        })
        set_(obj, "__pydantic_fields_set__", frame_fields)
        set_(obj, "__pydantic_extra__", None)
        set_(obj, "__pydantic_private__", None)
        frames.append(obj)
    conditions = []
    for c in j.conditions:
        obj = new(ConditionOut)
        set_(obj, "__dict__", {"label": c.label, "unknown": c.unknown, "frame": public_norm_id(c.frame),
                               "support": c.support})
        set_(obj, "__pydantic_fields_set__", condition_fields)
        set_(obj, "__pydantic_extra__", None)
        set_(obj, "__pydantic_private__", None)
        conditions.append(obj)
    return _built(Result, {
        "behavior": j.behavior,
        "status": j.status.value,
        "verdict": j.verdict,
        "distribution": j.distribution,
        "confidence": None if j.confidence is None else round(j.confidence, 4),
        "contested": j.contested,
        "frames": frames,
        "conditions": conditions or _NONE,
        "defeaters": [
            _built(DefeaterOut, {"label": d.label, "unknown": d.unknown, "frame": public_norm_id(d.frame),
                                 "support": d.support, "overrides": [public_norm_id(i) for i in d.overrides]},
                   _FIELDS[DefeaterOut])
            for d in j.defeaters
        ] if j.defeaters else _NONE,
        "statement": j.statement,
    }, _FIELDS[Result])


def _summary(compiled: CompiledFrames) -> SettingSummary:
    return SettingSummary(name=compiled.setting or "", behaviors=len(compiled.by_behavior), frames=len(compiled))


def result_json(j: Judgement, compiled: CompiledFrames | None = None) -> bytes:
    """The JSON of `result_of(j, compiled)`, written once per answer like the RESULT itself."""
    data = j.derived.get("json")
    if data is None:
        data = j.derived["json"] = encode.dumps(result_of(j, compiled))
    return data


def _judged(
    cache: FrameCache, request: JudgeRequest, retriever: "Retriever | None"
) -> tuple[Judgement, CompiledFrames, dict]:
    """The answer for a judge request, its setting, and the response's fields after the RESULT's."""
    linker = Linker(cache, retriever)
    compiled = cache.get(linker.setting(request.setting))
    context = context_of(request, cache, compiled.setting, linker)
    behavior = linker.behavior(compiled.setting, request.behavior, compiled.by_behavior)  # a dict: no set per request
    judgement = judge_behavior(compiled, behavior, compiled.facts(context))
    rest = {"setting": compiled.setting, "unused": _unused(context, cache), "linked": linker.to_json()}
    return judgement, compiled, rest


def judge(cache: FrameCache, request: JudgeRequest, retriever: "Retriever | None" = None) -> JudgeResponse:
    judgement, compiled, rest = _judged(cache, request, retriever)
    return _built(JudgeResponse, {**result_of(judgement, compiled).__dict__, **rest})


def judge_json(cache: FrameCache, request: JudgeRequest, retriever: "Retriever | None" = None) -> bytes:
    """`encode.dumps(judge(...))`, with the answer's part written once per answer (`result_json`):
    only the setting, the unused facts and the links are written per request."""
    judgement, compiled, rest = _judged(cache, request, retriever)
    return encode.extended(result_json(judgement, compiled), rest)


def query(cache: FrameCache, request: QueryRequest, retriever: "Retriever | None" = None) -> QueryResponse:
    linker = Linker(cache, retriever)
    compiled = cache.get(linker.setting(request.setting))
    context = context_of(request, cache, compiled.setting, linker)
    offset = decode_cursor(request.cursor, key="offset") if request.cursor else 0
    behaviors = (
        [linker.behavior(compiled.setting, request.behavior, set(compiled.by_behavior))] if request.behavior else None
    )
    page, total = run_query(
        compiled, context, behaviors=behaviors, labels=[request.label] if request.label else None,
        statuses=request.status, offset=offset, limit=request.limit,
    )
    end = offset + len(page)
    # Built like the RESULTs in it, without validation: every field is the service's own (validating the
    # list of 355 RESULTs of the largest setting's full query cost 3 ms, a tenth of the query).
    return _built(QueryResponse, {
        "setting": _summary(compiled),
        "results": [result_of(j, compiled) for j in page],
        "total": total,
        "next_cursor": encode_cursor({"offset": end}) if end < total else None,
        "unused": _unused(context, cache),
        "linked": linker.to_json(),
    })


def query_json(cache: FrameCache, request: QueryRequest, retriever: "Retriever | None" = None) -> bytes:
    return encode.dumps(query(cache, request, retriever))


# -- free text: search and grounding -------------------------------------------------------------------
def _source(data: dict) -> SourceRef:
    """A candidate's provenance (from the bank) as a SourceRef, built without validation like the RESULTs'."""
    return _built(SourceRef, {"name": data.get("name") or "", "licence": data.get("licence"), "row": data.get("row")},
                  _FIELDS[SourceRef])


def search(cache: FrameCache, retriever: "Retriever", q: str, *, setting: str | None = None,
           label: str | None = None, k: int = 10, mode: str = "hybrid") -> SearchResponse:
    from api import grounding

    linker = Linker(cache, retriever)
    setting_name = linker.setting(setting) if setting else None
    widen = 5 if (setting_name or label) else 1  # filters drop candidates: fetch more first
    scored = grounding.rank(retriever, q, mode=mode, k=max(grounding.CANDIDATES, k) * widen)
    candidates = grounding.load_candidates(cache, scored)
    hits = []
    for c in candidates:
        if (setting_name and c.setting not in (setting_name, None)) or (label and c.label != label):
            continue
        hits.append(SearchHit(id=public_norm_id(c.id), text=c.text, statement=c.statement, label=c.label,
                              setting=c.setting, behavior=c.behavior, score=round(c.score, 6), source=_source(c.source)))
        if len(hits) == k:
            break
    return SearchResponse(results=hits, linked=linker.to_json(), mode=mode)


def ground(cache: FrameCache, retriever: "Retriever", request: GroundRequest, *, mode: str = "hybrid") -> GroundResponse:
    from api import grounding

    linker = Linker(cache, retriever)
    setting_name = linker.setting(request.setting) if request.setting else None
    context = context_of(
        ContextIn(setting=setting_name or "-", person=request.person or PartyIn(), other=request.other or PartyIn(),
                  environment=request.environment),
        cache, setting_name, linker,
    )
    scored = grounding.rank(retriever, request.situation, mode=mode,
                            k=grounding.CANDIDATES * (3 if setting_name else 1))
    candidates = grounding.load_candidates(cache, scored)
    if setting_name:
        candidates = [c for c in candidates if c.setting in (setting_name, None)]
    ranked = grounding.apply_context(candidates, cache, context, request.k)
    ask_list = grounding.asks(ranked)
    # Built without validation, like a query's RESULTs: every value comes from the bank and the reasoner.
    # `tests/api/test_result_models.py` checks the response equals a validated one.
    norm_fields, condition_fields = _FIELDS[GroundedNorm], _FIELDS[ConditionOut]
    norms = [
        _built(GroundedNorm, {
            "id": public_norm_id(c.id), "text": c.text, "statement": c.statement, "label": c.label,
            "status": c.status, "score": round(c.score, 6), "conditions": [a.text for a in c.unknown],
            "defeaters": [_built(ConditionOut, {"label": label_, "unknown": [a.text for a in atoms],
                                                "frame": public_norm_id(fid), "support": 1}, condition_fields)
                          for label_, atoms, fid in c.defeaters],
            "setting": c.setting, "behavior": c.behavior, "source": _source(c.source),
        }, norm_fields)
        for c in ranked
    ]
    return GroundResponse(norms=norms, linked=linker.to_json(), ask=[AskOut(**a) for a in ask_list],
                          prompt=grounding.prompt(ranked, ask_list, request.situation), unused=_unused(context, cache))
