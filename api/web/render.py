"""Templates and the pages every route shares: the layout's helpers, the error page."""

from __future__ import annotations

from functools import wraps
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

import normbank
from normbank.constraints import Subject
from normbank.errors import DatabaseUnavailable, IndexNotReady, NotFound
from normbank.compiled import CompiledFrames
from normbank.scales import Scales

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = Jinja2Templates(directory=HERE / "templates")  # autoescapes every .html template


def _url(path: str, items: Iterable[tuple[str, Any]] = (), **params: Any) -> str:
    """`path` with the query parameters `items` then `params` (None and "" left out)."""
    pairs = [(k, v) for k, v in [*items, *params.items()] if v not in (None, "")]
    return path + ("?" + urlencode(pairs) if pairs else "")


def _segment(text: str) -> str:
    return quote(text, safe="")


TEMPLATES.env.globals.update(url=_url, version=normbank.__version__)
TEMPLATES.env.filters["segment"] = _segment


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


TITLES = {404: "Not found", 405: "Method not allowed", 422: "Invalid request", 500: "Server error",
          503: "Service unavailable"}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """The explorer's answer to an unknown setting, norm, source or path, or to a failure."""
    return page(request, "error.html", status, title=TITLES.get(status, "Error"), status=status, message=message)


def suggestions(compiled: CompiledFrames, scales: Scales) -> dict[str, list[str]]:
    """The values the setting's own frames use, offered in the context form: roles by party, and
    `name = value` facts (every value of an ordered scale the frames compare against)."""
    roles: dict[str, set[str]] = {"person": set(), "other": set()}
    facts: dict[str, set[str]] = {"attr": set(), "other_attr": set(), "env": set()}
    field_of = {Subject.PERSON: "attr", Subject.OTHER: "other_attr", Subject.ENVIRONMENT: "env"}
    for atom in compiled.atoms:
        if atom.kind.value == "role":
            roles[atom.subject.value].add(atom.value)
        elif atom.kind.value in ("attribute", "environment"):
            values = scales.values(atom.name) if scales.is_ordered(atom.name) else [atom.value]
            facts[field_of[atom.subject]].update(f"{atom.name} = {v}" for v in values)
    return {"role": sorted(roles["person"]), "other_role": sorted(roles["other"]),
            **{name: sorted(values) for name, values in facts.items()}}


def dimensions_in_use(compiled: CompiledFrames) -> list[tuple[str, str, int]]:
    """(subject, dimension name, atoms) for each dimension the setting's frames constrain."""
    counts: dict[tuple[str, str], int] = {}
    for atom in compiled.atoms:
        key = (atom.subject.value, atom.name)
        counts[key] = counts.get(key, 0) + 1
    return [(s, n, c) for (s, n), c in sorted(counts.items())]


def html_errors(route):
    """Turn the service's not-found and not-ready errors raised by a page into the explorer's error page
    (a browser asked for a page, so the answer is one, whatever its Accept header says)."""
    @wraps(route)
    def wrapper(request: Request, *args, **kwargs):
        try:
            return route(request, *args, **kwargs)
        except NotFound as exc:
            return error_page(request, 404, exc.message)
        except (IndexNotReady, DatabaseUnavailable) as exc:
            return error_page(request, 503, exc.message)

    return wrapper


def frame_tree(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """The specificity chain of a verdict: each deciding frame (true, overridden by none) with the frames it
    overrides nested under it, each under its closest more specific overrider; then the frames that do
    not apply (false) and those still undecided (unknown)."""
    by_id = {f["id"]: f for f in frames}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for frame in frames:
        if frame["state"] != "true":
            continue
        overriders = [by_id[i] for i in frame["overridden_by"] if i in by_id]
        if not overriders:
            roots.append(frame)
            continue
        closest = min(overriders, key=lambda f: (len(f["constraints"]), f["id"]))
        children.setdefault(closest["id"], []).append(frame)

    def node(frame: dict[str, Any]) -> dict[str, Any]:
        return {"frame": frame, "children": [node(c) for c in children.get(frame["id"], [])]}

    return {"deciding": [node(f) for f in roots],
            "unknown": [f for f in frames if f["state"] == "unknown"],
            "false": [f for f in frames if f["state"] == "false"]}


TEMPLATES.env.globals["frame_tree"] = frame_tree
