"""Pages that reason over a context: a setting's behaviours, one behaviour's verdict, grounding a situation.

The context form is the same on each (api/web/forms.py); its values travel in the URL."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api import service
from api.deps import CacheDep, ConnectionDep, RetrieverDep
from api.models import GroundRequest, JudgeRequest, QueryRequest
from api.web import forms
from api.web.render import dimensions_in_use, html_errors, page, suggestions
from normbank.errors import InvalidInput, SettingNotFound

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
PAGE_SIZE = 25
FRAGMENT_HEADER = "x-explorer-fragment"  # the script asks for the verdict section alone


def _ask(errors: dict[str, str], make_request, call):
    """Build the service request and call it; its complaints land beside their field (None: errors)."""
    if errors:
        return None
    try:
        return call(make_request())
    except ValidationError as exc:
        errors.update(forms.model_errors(exc))
    except InvalidInput as exc:
        errors["form"] = exc.message
    except SettingNotFound as exc:  # free text for a setting (grounding) that links to none
        errors["setting"] = exc.message
    return None


@router.get("/settings/{name}")
@html_errors
def setting(request: Request, name: str, conn: ConnectionDep, cache: CacheDep, retriever: RetrieverDep) -> HTMLResponse:
    detail = service.setting(conn, name)
    compiled = cache.get(detail["name"])
    params = request.query_params
    form = forms.ContextForm.from_query(params)
    errors = form.errors
    status = forms.choice(params, "status", forms.STATUSES, errors)
    label = forms.choice(params, "label", forms.LABELS, errors)
    number = forms.whole_number(params, "page", 1, 1, 10_000, errors)
    answer = _ask(errors, lambda: QueryRequest(
        setting=detail["name"], **form.request_fields(), label=label, status=[status] if status else None,
        limit=PAGE_SIZE, cursor=service.encode_cursor({"offset": (number - 1) * PAGE_SIZE}) if number > 1 else None,
    ), lambda r: service.query(cache, r, retriever))
    pages = -(-answer["total"] // PAGE_SIZE) if answer else 0
    return page(request, "setting.html", status_code=422 if errors else 200, title=f"Setting: {detail['name']}",
                setting=detail, form=form, errors=errors, answer=answer, status_filter=status, label_filter=label,
                page_number=number, pages=pages, suggest=suggestions(compiled, cache.scales()),
                dimensions=dimensions_in_use(compiled), behaviors=sorted(compiled.by_behavior),
                labels=forms.LABELS, statuses=forms.STATUSES)


@router.get("/settings/{name}/judge")
@html_errors
def judge(request: Request, name: str, cache: CacheDep, retriever: RetrieverDep) -> HTMLResponse:
    setting_name = cache.resolve(name)
    compiled = cache.get(setting_name)
    params = request.query_params
    form = forms.ContextForm.from_query(params)
    errors = form.errors
    behavior = (params.get("behavior") or "").strip()
    if not behavior:
        errors["behavior"] = "name the behaviour to judge, e.g. drink alcohol"
    answer = _ask(errors, lambda: JudgeRequest(setting=setting_name, behavior=behavior, **form.request_fields()),
                  lambda r: service.judge(cache, r, retriever))
    template = "_verdict.html" if request.headers.get(FRAGMENT_HEADER) == "verdict" else "judge.html"
    title = f"{behavior} in {setting_name}" if behavior else f"Judge a behaviour in {setting_name}"
    return page(request, template, status_code=422 if errors else 200, title=title, setting=setting_name,
                behavior=behavior, form=form, errors=errors, answer=answer,
                suggest=suggestions(compiled, cache.scales()), behaviors=sorted(compiled.by_behavior))


@router.get("/ground")
@html_errors
def ground(request: Request, conn: ConnectionDep, cache: CacheDep, retriever: RetrieverDep) -> HTMLResponse:
    params = request.query_params
    form = forms.ContextForm.from_query(params)
    errors = form.errors
    situation = forms.situation(params, errors)
    if ("situation" in params or "q" in params) and not situation and "situation" not in errors:
        errors["situation"] = "describe the situation, e.g. a teen asks the waiter for a beer"
    setting_text = (params.get("setting") or "").strip()
    k = forms.whole_number(params, "k", 5, 1, 50, errors)
    setting_less = params.get("include_setting_less") == "1"
    answer = None
    if situation:
        answer = _ask(errors, lambda: GroundRequest(situation=situation, setting=setting_text or None, k=k, include_setting_less=setting_less,
                                                    **form.request_fields()),
                      lambda r: service.ground(cache, retriever, r))
    return page(request, "ground.html", status_code=422 if errors else 200,
                title="Ground a situation", situation=situation, setting=setting_text, setting_less=setting_less, k=k, form=form, errors=errors,
                answer=answer, settings=sorted(cache.setting_ids()))
