"""The explorer's forms: query parameters in, the service's request models out, errors beside their field.

A context travels in the URL so that a verdict can be shared as a link:
`?role=customer&attr=age bracket = teen&other_role=server&env=country = japan`. `attr`, `other_attr` and
`env` repeat, one `name = value` each; the same name twice gives a list of values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from pydantic import ValidationError
from starlette.datastructures import QueryParams

from api.models import MAX_FACTS, MAX_NAME, MAX_SITUATION, MAX_VALUE, PartyIn

FACT_FIELDS = ("attr", "other_attr", "env")
LABELS = ("expected", "normal", "taboo")
STATUSES = ("applies", "conditional", "excluded", "unknown")
BLANK_ROWS = 2  # empty `name = value` inputs offered after the filled ones


class FormError(ValueError):
    """A value a form field cannot take; `field` is the id of the input it belongs beside."""

    def __init__(self, field_id: str, message: str):
        super().__init__(message)
        self.field_id = field_id
        self.message = message


def _text(params: Mapping[str, str], name: str, limit: int = MAX_NAME) -> str:
    value = (params.get(name) or "").strip()
    if len(value) > limit:
        raise FormError(name, f"at most {limit} characters")
    if "\x00" in value:
        raise FormError(name, "must not contain NUL characters")
    return value


def split_fact(text: str) -> tuple[str, str]:
    """`age bracket = teen` -> ("age bracket", "teen"); a FormError without the `=` or a side."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise ValueError("write name = value, e.g. age bracket = teen")
    if len(name) > MAX_NAME:
        raise ValueError(f"the name has at most {MAX_NAME} characters")
    if len(value) > MAX_VALUE:
        raise ValueError(f"the value has at most {MAX_VALUE} characters")
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return name, value


@dataclass
class ContextForm:
    """The context form's fields as typed, and the errors found in them (by input id)."""

    role: str = ""
    other_role: str = ""
    facts: dict[str, list[str]] = field(default_factory=lambda: {f: [] for f in FACT_FIELDS})
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, params: QueryParams) -> "ContextForm":
        form = cls()
        for name in ("role", "other_role"):
            try:
                setattr(form, name, _text(params, name))
            except FormError as exc:
                form.errors[exc.field_id] = exc.message
        for name in FACT_FIELDS:
            values = [v.strip() for v in params.getlist(name) if v.strip()]
            form.facts[name] = values
            if len(values) > MAX_FACTS:
                form.errors[f"{name}-0"] = f"at most {MAX_FACTS} facts"
            for i, text in enumerate(values):
                try:
                    split_fact(text)
                except ValueError as exc:
                    form.errors[f"{name}-{i}"] = str(exc)
        return form

    def rows(self, name: str) -> list[str]:
        """The inputs to draw for a fact field: the filled ones, then a few empty ones."""
        return self.facts[name] + [""] * BLANK_ROWS

    def _mapping(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for text in self.facts[name]:
            key, value = split_fact(text)
            if key in out:
                out[key] = (out[key] if isinstance(out[key], list) else [out[key]]) + [value]
            else:
                out[key] = value
        return out

    def request_fields(self) -> dict[str, Any]:
        """The context part of a JudgeRequest/QueryRequest/GroundRequest (call only without errors)."""
        return {
            "person": PartyIn(role=self.role or None, attributes=self._mapping("attr")),
            "other": PartyIn(role=self.other_role or None, attributes=self._mapping("other_attr")),
            "environment": self._mapping("env"),
        }

    def query_items(self) -> list[tuple[str, str]]:
        """The context as query parameters, for links that keep it."""
        items = [(k, v) for k, v in (("role", self.role), ("other_role", self.other_role)) if v]
        for name in FACT_FIELDS:
            items += [(name, v) for v in self.facts[name]]
        return items

    @property
    def empty(self) -> bool:
        return not self.query_items()


def model_errors(exc: ValidationError) -> dict[str, str]:
    """A request model's errors, placed beside the input they came from."""
    out: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if loc[:2] == ["person", "role"]:
            out.setdefault("role", message)
        elif loc[:2] == ["other", "role"]:
            out.setdefault("other_role", message)
        elif loc[:2] == ["person", "attributes"]:
            out.setdefault("attr-0", message)
        elif loc[:2] == ["other", "attributes"]:
            out.setdefault("other_attr-0", message)
        elif loc[:1] == ["environment"]:
            out.setdefault("env-0", message)
        elif loc[:1] == ["situation"]:
            out.setdefault("situation", message)
        else:
            out.setdefault("form", f"{'.'.join(loc) or 'request'}: {message}")
    return out


def choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...], errors: dict[str, str]) -> str | None:
    """An optional value from a fixed list (a select); anything else is an error beside the field."""
    value = (params.get(name) or "").strip()
    if not value:
        return None
    if value not in allowed:
        errors[name] = f"one of {', '.join(allowed)}"
        return None
    return value


def whole_number(params: Mapping[str, str], name: str, default: int, low: int, high: int,
                 errors: dict[str, str]) -> int:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        errors[name] = f"a whole number from {low} to {high}"
        return default
    return int(raw)


def situation(params: Mapping[str, str], errors: dict[str, str]) -> str:
    """The situation to ground (`q` too: the home page's one box can ground what it would search)."""
    if "situation" not in params and "q" in params:
        params = {"situation": params["q"]}
    try:
        return _text(params, "situation", MAX_SITUATION)
    except FormError as exc:
        errors[exc.field_id] = exc.message
        return (params.get("situation") or "")[:MAX_SITUATION]
