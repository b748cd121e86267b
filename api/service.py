"""The application layer: what /v1/query, /v1/judge, /v1/search, /v1/ground and the catalogue's lookups by
name or id answer, shared with the CLI and the web explorer. Plain functions over the frame cache and the retriever that link the request's free text, build the
context, ask the reasoner or the retrievers, and return JSON-ready dicts shaped like the response models
of `api.models` (the routes serialise them; the OpenAPI document describes them). No HTTP here."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from api import grounding
from api.grounding import source_of
from api.models import ContextIn, GroundRequest, JudgeRequest, PartyIn, QueryRequest
from normbank.compiled import CompiledFrames
from normbank.context import Context, make_context, make_party
from normbank.constraints import normalise_text
from normbank.errors import InvalidRequest, NormNotFound, SettingNotFound, SourceNotFound, echo, prefix
from normbank.ids import parse_norm_id, public_norm_id
from normbank.linking import Linker
from normbank.reasoning import Judgement, judge_behavior, query as run_query, unused_dimensions
from schema import catalog, queries
from schema.frames import FrameCache
from schema.queries import sources as list_sources

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from api.retrieval import Retriever


# A cursor is a letter naming what it counts and a number: "o" and an offset below 10**18 (/v1/query),
# "a" and the 16 hex digits of the norm id a page ended after (/v1/norms, ids are below 2**63). Every
# string their patterns (api.models.QueryCursor, NormsCursor) allow is a cursor the server can follow.
_CURSORS = {"offset": ("o", re.compile(r"o([0-9]{1,18})"), 10), "after": ("a", re.compile(r"a([0-7][0-9a-f]{15})"), 16)}


def encode_cursor(data: dict) -> str:
    ((key, value),) = data.items()
    letter, _, base = _CURSORS[key]
    return f"{letter}{int(value)}" if base == 10 else f"{letter}{int(value):016x}"


def decode_cursor(cursor: str, *, key: str) -> int:
    _, pattern, base = _CURSORS[key]
    match = pattern.fullmatch(cursor)
    if match is None:
        raise InvalidRequest(f"invalid cursor {echo(cursor)}: pass the next_cursor of a previous page")
    return int(match.group(1), base)


def linker_for(cache: FrameCache, retriever: Retriever | None) -> Linker:
    """A linker over the bank's vocabulary, with dense similarity when the retriever offers it."""
    similarity = retriever.similarity if retriever is not None and retriever.links_densely else None
    return Linker(cache.vocabulary(), cache.scales(), similarity)


def context_of(request: ContextIn | GroundRequest, cache: FrameCache, setting: str | None, linker: Linker) -> Context:
    scales = cache.scales()
    person, other = request.person or PartyIn(), request.other or PartyIn()
    return make_context(
        setting,
        make_party(linker.role(setting, person.role), linker.facts(person.attributes), person.behaviors, scales=scales),
        make_party(linker.role(setting, other.role), linker.facts(other.attributes), other.behaviors, scales=scales),
        linker.environment(request.environment, (request.setting, getattr(request, "situation", None))),
        scales=scales,
    )


def _unused(context: Context, cache: FrameCache) -> list[dict[str, str]]:
    return [{"subject": s.value, "name": n} for s, _k, n in unused_dimensions(context, cache.dimensions())]


def result_of(j: Judgement) -> dict[str, Any]:
    """The API's RESULT for a judgement, as a JSON-ready dict."""
    frames = [{
        "id": public_norm_id(e.frame.id), "label": e.frame.label, "support": e.frame.support,
        "constraints": e.constraints, "state": e.state.value, "matched": e.matched, "failed": e.failed,
        "unknown": e.unknown, "overridden_by": [public_norm_id(i) for i in e.overridden_by],
        "statement": e.frame.statement,
        "source": source_of(e.frame.source, e.frame.licence, e.frame.row_number, e.frame.url),
    } for e in j.frames]
    conditions = [{"label": c.label, "unknown": c.unknown, "frame": public_norm_id(c.frame), "support": c.support}
                  for c in j.conditions]
    defeaters = [{"label": d.label, "unknown": d.unknown, "frame": public_norm_id(d.frame), "support": d.support,
                  "overrides": [public_norm_id(i) for i in d.overrides]} for d in j.defeaters]
    return {
        "behavior": j.behavior, "status": j.status.value, "verdict": j.verdict, "distribution": j.distribution,
        "confidence": None if j.confidence is None else round(j.confidence, 4), "contested": j.contested,
        "frames": frames, "conditions": conditions, "defeaters": defeaters, "statement": j.statement,
    }


def _setting_summary(compiled: CompiledFrames) -> dict[str, Any]:
    return {"name": compiled.setting or "", "behaviors": len(compiled.by_behavior), "frames": len(compiled)}


def judgement(cache: FrameCache, request: JudgeRequest,
              retriever: Retriever | None = None) -> tuple[Judgement, dict[str, Any]]:
    """The verdict on one behaviour in a context, and the rest of its JudgeResponse (setting, unused, linked)."""
    linker = linker_for(cache, retriever)
    compiled = cache.get(linker.setting(request.setting))
    context = context_of(request, cache, compiled.setting, linker)
    behavior = linker.behavior(request.behavior, compiled.by_behavior)
    verdict = judge_behavior(compiled, behavior, compiled.facts(context))
    return verdict, {"setting": compiled.setting, "unused": _unused(context, cache), "linked": linker.to_json()}


def judge(cache: FrameCache, request: JudgeRequest, retriever: Retriever | None = None) -> dict[str, Any]:
    """The verdict on one behaviour in a context (JudgeResponse)."""
    verdict, rest = judgement(cache, request, retriever)
    return {**result_of(verdict), **rest}


def query(cache: FrameCache, request: QueryRequest, retriever: Retriever | None = None, *,
          render: Callable[[Judgement], Any] = result_of) -> dict[str, Any]:
    """Every behaviour of a setting judged for a context, a page at a time (QueryResponse); `render` makes
    each result (a JSON-ready dict by default; the HTTP route passes its serialised form)."""
    linker = linker_for(cache, retriever)
    compiled = cache.get(linker.setting(request.setting))
    context = context_of(request, cache, compiled.setting, linker)
    offset = decode_cursor(request.cursor, key="offset") if request.cursor else 0
    behaviors = [linker.behavior(request.behavior, compiled.by_behavior)] if request.behavior else None
    page, total = run_query(compiled, context, behaviors=behaviors, labels=[request.label] if request.label else None,
                            statuses=request.status, offset=offset, limit=request.limit)
    end = offset + len(page)
    return {
        "setting": _setting_summary(compiled), "results": [render(j) for j in page], "total": total,
        "next_cursor": encode_cursor({"offset": end}) if end < total else None,
        "unused": _unused(context, cache), "linked": linker.to_json(),
    }


def in_setting(c: grounding.Candidate, setting: str | None, include_setting_less: bool) -> bool:
    """Whether a candidate passes a request's setting filter: with a setting, that setting's norms, and
    setting-less norms (NormDial, Social-Chem, ...) only when asked for; without one, everything."""
    return setting is None or c.setting == setting or (include_setting_less and c.setting is None)


def search(cache: FrameCache, retriever: Retriever, q: str, *, setting: str | None = None,
           label: str | None = None, k: int = 10, mode: str = "hybrid",
           include_setting_less: bool = False, sources: list[str] | None = None) -> dict[str, Any]:
    """Norms for a free text, best first (SearchResponse); `sources`: only norms of these sources."""
    linker = linker_for(cache, retriever)
    setting_name = linker.setting(setting) if setting else None
    only = grounding.check_sources(cache, sources)
    widen = 5 if (setting_name or label or only) else 1  # filters drop candidates: fetch more first
    scored = grounding.rank(retriever, q, mode=mode, k=max(grounding.CANDIDATES, k) * widen)
    hits = []
    for c in grounding.load_candidates(cache, scored):
        if not in_setting(c, setting_name, include_setting_less) or (label and c.label != label) or (
                only and c.source["name"] not in only):
            continue
        hits.append({"id": public_norm_id(c.id), "text": c.text, "statement": c.statement, "label": c.label,
                     "agreement": c.agreement, "setting": c.setting, "behavior": c.behavior,
                     "score": round(c.score, 6), "source": c.source})
        if len(hits) == k:
            break
    return {"results": hits, "linked": linker.to_json(), "mode": mode}


def ground(cache: FrameCache, retriever: Retriever, request: GroundRequest, *, mode: str = "hybrid") -> dict[str, Any]:
    """The norms that bear on a situation, what to find out, and a prompt-ready text (GroundResponse)."""
    linker = linker_for(cache, retriever)
    setting_name = linker.setting(request.setting) if request.setting else None
    context = context_of(request, cache, setting_name, linker)
    only = grounding.check_sources(cache, request.sources)
    widen = (3 if setting_name else 1) * (5 if only else 1)  # filters drop candidates: fetch more first
    scored = grounding.rank(retriever, request.situation, mode=mode, k=grounding.CANDIDATES * widen)
    candidates = grounding.load_candidates(cache, scored)
    candidates = [c for c in candidates if in_setting(c, setting_name, request.include_setting_less)
                  and (not only or c.source["name"] in only)]
    ranked = grounding.apply_context(candidates, cache, context, request.k)
    ask_list = grounding.asks(ranked)
    norms = [{
        "id": public_norm_id(c.id), "text": c.text, "statement": c.statement, "label": c.label,
        "agreement": c.agreement, "status": c.status,
        "score": round(c.score, 6), "conditions": [a.text for a in c.unknown],
        "defeaters": [{"label": label, "unknown": [a.text for a in atoms], "frame": public_norm_id(fid), "support": 1}
                      for label, atoms, fid in c.defeaters],
        "setting": c.setting, "behavior": c.behavior, "source": c.source,
    } for c in ranked]
    return {"norms": norms, "linked": linker.to_json(), "ask": ask_list,
            "prompt": grounding.prompt(ranked, ask_list, request.situation), "unused": _unused(context, cache)}


# -- the catalogue: what GET /v1/norms, /v1/settings, /v1/taxonomy and /v1/sources answer --------------
def _public(norm: dict[str, Any]) -> dict[str, Any]:
    return {**norm, "id": public_norm_id(norm["id"])}


def norm(conn: Connection, norm_id: str) -> dict[str, Any]:
    """One norm with every source row behind it and its examples (NormPublic)."""
    nid = parse_norm_id(norm_id)
    data = catalog.get_norm(conn, nid) if nid is not None else None
    if data is None:
        raise NormNotFound(f"no norm with id {echo(norm_id)}", details={"id": prefix(norm_id)})
    return _public(data)


def norms(conn: Connection, *, setting: str | None = None, behavior: str | None = None, label: str | None = None,
          source: str | None = None, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """Norms in id order, a page at a time (NormsPublic)."""
    after = decode_cursor(cursor, key="after") if cursor else None
    page, total, last = catalog.list_norms(
        conn, setting=normalise_text(setting) if setting else None, behavior=normalise_text(behavior) if behavior else None,
        label=label, source=source, after=after, limit=limit,
    )
    return {"data": [_public(n) for n in page], "count": total,
            "next_cursor": encode_cursor({"after": last}) if last is not None else None}


def settings(conn: Connection) -> dict[str, Any]:
    """Every setting with its frame and behaviour counts (SettingsPublic)."""
    data = catalog.setting_counts(conn)
    return {"data": data, "count": len(data)}


def setting(conn: Connection, name: str) -> dict[str, Any]:
    """One setting: its roles and counts (SettingDetail)."""
    detail = catalog.setting_detail(conn, normalise_text(name))
    if detail is None:
        raise SettingNotFound(f"unknown setting {echo(name)}", details={"setting": prefix(name)})
    return detail


def source(conn: Connection, name: str) -> dict[str, Any]:
    """One imported source (SourceOut) with its import runs, newest first."""
    runs = queries.import_runs(conn, name)
    if runs is None:
        raise SourceNotFound(f"unknown source {echo(name)}", details={"source": prefix(name)})
    found = next(s for s in queries.sources(conn) if s["name"] == name)
    return {**found, "runs": runs}


def taxonomy(conn: Connection) -> dict[str, Any]:
    """Dimensions and their (ordered) values (TaxonomyOut)."""
    return {"dimensions": catalog.taxonomy(conn)}


def sources(conn: Connection) -> dict[str, Any]:
    """Imported sources and their last import (SourcesPublic)."""
    data = list_sources(conn)
    return {"data": data, "count": len(data)}
