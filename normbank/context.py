"""A query context: who is where doing what. Keys and values are normalised like imported atoms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Union

from normbank.constraints import Kind, Subject, normalise_text, normalise_value
from normbank.scales import DEFAULT_SCALES, Scales

# Dimensions a person (or place) can have several values of at once: the given values are a set and
# `is 'x'` asks whether x is in it (ordinal comparisons on them are UNKNOWN).
MULTI_VALUED = frozenset(
    {
        "behavior", "characteristic", "condition or state", "medical condition", "disability", "emotion", "diet",
        "race or ethnicity", "weather", "event type", "holiday or special day", "attendance",
    }
)

DimensionKey = tuple[Subject, Kind, str]
Value = Union[str, int, float, Iterable[Union[str, int, float]]]


def _values(value: Value | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, (str, int, float)) else list(value)
    return tuple(dict.fromkeys(text for item in items if (text := normalise_value(str(item)))))


@dataclass(frozen=True)
class Party:
    """PERSON (the one performing the behaviour) or OTHER: a role, attributes, concurrent behaviours."""

    role: str | None = None
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    behaviors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Context:
    """The normalised facts of a query. Build with `make_context`."""

    setting: str | None
    person: Party
    other: Party
    environment: Mapping[str, tuple[str, ...]]

    def facts(self) -> dict[DimensionKey, tuple[str, ...]]:
        """Every given fact, keyed like atom dimensions: (subject, kind, name) -> values."""
        out: dict[DimensionKey, tuple[str, ...]] = {}
        for subject, party in ((Subject.PERSON, self.person), (Subject.OTHER, self.other)):
            if party.role:
                out[(subject, Kind.ROLE, "role")] = (party.role,)
            for name, values in party.attributes.items():
                if values:
                    out[(subject, Kind.ATTRIBUTE, name)] = values
            if party.behaviors:
                out[(subject, Kind.BEHAVIOR, "behavior")] = party.behaviors
        for name, values in self.environment.items():
            if values:
                out[(Subject.ENVIRONMENT, Kind.ENVIRONMENT, name)] = values
        return out


def _attributes(raw: Mapping[str, Value] | None, scales: Scales) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for key, value in (raw or {}).items():
        name = normalise_text(str(key))
        values = tuple(scales.canonical(name, v) for v in _values(value))
        if name and values:
            out[name] = tuple(dict.fromkeys(out.get(name, ()) + values))
    return out


def make_party(
    role: str | None = None,
    attributes: Mapping[str, Value] | None = None,
    behaviors: Iterable[str] | None = None,
    *,
    scales: Scales = DEFAULT_SCALES,
) -> Party:
    attrs = _attributes(attributes, scales)
    # People write {"role": "waiter"} inside attributes too; a role given twice must agree.
    role_values = attrs.pop("role", ())
    role_text = normalise_value(role) if role else None
    if role_text is None and len(role_values) == 1:
        role_text = role_values[0]
    extra = attrs.pop("behavior", ()) + attrs.pop("behaviors", ())
    behaviors = tuple(dict.fromkeys(_values(list(behaviors or ())) + extra))
    return Party(role=role_text or None, attributes=attrs, behaviors=behaviors)


def make_context(
    setting: str | None = None,
    person: Party | None = None,
    other: Party | None = None,
    environment: Mapping[str, Value] | None = None,
    *,
    scales: Scales = DEFAULT_SCALES,
) -> Context:
    return Context(
        setting=normalise_text(setting) if setting else None,
        person=person or Party(),
        other=other or Party(),
        environment=_attributes(environment, scales),
    )


def is_multi_valued(kind: Kind, name: str) -> bool:
    return kind is Kind.BEHAVIOR or name in MULTI_VALUED
