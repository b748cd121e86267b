"""Pages over what the bank holds: home, search, a norm, the sources."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api import service
from api.deps import CacheDep, ConnectionDep, RetrieverDep
from api.web import forms
from api.web.render import html_errors, page
from normbank.errors import InvalidInput, SettingNotFound
from schema import catalog, queries

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
MODES = ("hybrid", "dense", "lexical")


@router.get("/")
@html_errors
def home(request: Request, conn: ConnectionDep) -> HTMLResponse:
    settings = catalog.setting_counts(conn)
    with_frames = [s for s in settings if s["frames"]]
    return page(request, "home.html", title="normbank explorer", settings=with_frames,
                without_frames=[s["name"] for s in settings if not s["frames"]], sources=queries.sources(conn))


@router.get("/search")
@html_errors
def search(request: Request, cache: CacheDep, retriever: RetrieverDep) -> HTMLResponse:
    params, errors = request.query_params, {}
    q = (params.get("q") or "").strip()
    if "q" in params and not q:
        errors["q"] = "type a few words to search for"
    elif len(q) > 2000:
        errors["q"] = "at most 2000 characters"
    label = forms.choice(params, "label", forms.LABELS, errors)
    mode = forms.choice(params, "mode", MODES, errors) or "hybrid"
    k = forms.whole_number(params, "k", 10, 1, 100, errors)
    setting = (params.get("setting") or "").strip() or None
    setting_less = params.get("include_setting_less") == "1"
    answer = None
    if q and not errors:
        try:
            answer = service.search(cache, retriever, q, setting=setting, label=label, k=k, mode=mode,
                                    include_setting_less=setting_less)
        except InvalidInput as exc:
            errors["q"] = exc.message
        except SettingNotFound as exc:
            errors["setting"] = exc.message
    return page(request, "search.html", status_code=422 if errors else 200, title=f"Search: {q}" if q else "Search norms",
                q=q, label=label, mode=mode, k=k, setting=setting or "", setting_less=setting_less, errors=errors, answer=answer,
                labels=forms.LABELS, modes=MODES)


# What the norm page lays out itself; any other field of the service's answer (a corpus's agreement, row
# attributes, ...) is listed as it comes.
NORM_FIELDS = {"id", "setting", "behavior", "label", "support", "constraints", "atoms", "statement", "rule_text",
               "culture", "category", "split", "source", "rows", "extra", "examples"}


@router.get("/norms/{norm_id}")
@html_errors
def norm(request: Request, norm_id: str, conn: ConnectionDep) -> HTMLResponse:
    data = service.norm(conn, norm_id)
    sources = {s["name"]: s for s in queries.sources(conn)}
    more = {k: v for k, v in data.items() if k not in NORM_FIELDS and v not in (None, "", [], {})}
    return page(request, "norm.html", title=f"Norm {data['id']}", norm=data, more=more,
                source=sources.get(data["source"]["name"]))


@router.get("/sources")
@html_errors
def sources(request: Request, conn: ConnectionDep) -> HTMLResponse:
    return page(request, "sources.html", title="Sources", sources=queries.sources(conn))


@router.get("/sources/{name}")
@html_errors
def source(request: Request, name: str, conn: ConnectionDep) -> HTMLResponse:
    data = service.source(conn, name)
    return page(request, "source.html", title=f"Source {data['name']}", source=data)
