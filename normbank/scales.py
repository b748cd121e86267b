"""Ordered scales and dimension facts the constraint language and the reasoner rely on.

The project defines its own scales (below); an imported taxonomy can extend them with dimensions the
project does not know (`Scales.extended`). Ranks may tie where two names mean the same level
(primary school and elementary school).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Iterable, Mapping


def _ranked(*levels: str | tuple[str, ...]) -> dict[str, int]:
    """Ranks from levels in order; a tuple is several names for one level."""
    ranks: dict[str, int] = {}
    for rank, level in enumerate(levels):
        for name in (level,) if isinstance(level, str) else level:
            ranks[name] = rank
    return ranks


# name -> value -> rank. Values are in normalised (lower-case) form.
PROJECT_SCALES: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "age bracket": _ranked(
            "infant", "toddler", "preschooler", "gradeschooler", "teen", "young adult",
            "middle-aged adult", "older adult", "senior citizen",
        ),
        "education": _ranked(
            "early childhood education", ("primary school", "elementary school"), "middle school",
            ("secondary school", "high school"), "college", "graduate school",
        ),
        "children": _ranked("has no children", "has young children", "has teenage children", "has adult children"),
        "time of day": _ranked("early morning", "morning", "noon", "afternoon", "evening", "night", "late night"),
        "temperature": _ranked("freezing", "cold", "temperate", "hot"),
        "noise": _ranked("quiet", "moderate", "loud"),
        "day of the week": _ranked("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"),
        "social class": _ranked("poor", "lower middle class", "middle class", "upper middle class", "wealthy"),
        "population density": _ranked("rural", "suburban", "urban"),
    }
)

# Common ways people name a scale value that the scale itself spells differently.
SCALE_VALUE_ALIASES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "age bracket": {
            "baby": "infant", "teenager": "teen", "adolescent": "teen", "child": "gradeschooler",
            "kid": "gradeschooler", "senior": "senior citizen", "elderly": "senior citizen",
            "middle aged adult": "middle-aged adult", "middle-aged": "middle-aged adult",
        },
        "time of day": {"midnight": "late night", "dawn": "early morning", "midday": "noon", "dusk": "evening"},
        "education": {"university": "college", "grad school": "graduate school"},
    }
)

# Dimensions that hold one value at a time: two different `is` values of one of them contradict.
SINGLE_VALUED_ATTRIBUTES = frozenset(
    {
        "age bracket", "gender", "education", "children", "marriage", "employment", "social class",
        "religion", "sexuality", "political ideology", "country",
    }
)
SINGLE_VALUED_ENVIRONMENT = frozenset(
    {
        "time of day", "day of the week", "season", "temperature", "noise", "lighting", "cleanliness",
        "privacy", "population density", "country", "time period",
    }
)


def _as_number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


_number = lru_cache(maxsize=4096)(_as_number)  # values repeat; a failed float() raises, which is slow


def as_number(value: str) -> float | None:
    """The value as a finite number, or None ('30' -> 30.0, 'teen' -> None)."""
    return _number(value) if type(value) is str and len(value) <= 64 else _as_number(value)


@dataclass(frozen=True)
class Scales:
    """The ordered scales in force: the project's, possibly extended by an imported taxonomy."""

    ranks: Mapping[str, Mapping[str, int]] = field(default_factory=lambda: PROJECT_SCALES)
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: SCALE_VALUE_ALIASES)

    def is_ordered(self, name: str) -> bool:
        return name in self.ranks

    def canonical(self, name: str, value: str) -> str:
        """The scale's own spelling of a value ('teenager' -> 'teen'); other values unchanged."""
        return self.aliases.get(name, {}).get(value, value)

    def rank(self, name: str, value: str) -> int | None:
        scale = self.ranks.get(name)
        if scale is None:
            return None
        return scale.get(self.canonical(name, value))

    def values(self, name: str) -> list[str]:
        scale = self.ranks.get(name, {})
        return sorted(scale, key=lambda v: (scale[v], v))

    def extended(self, name: str, ordered_values: Iterable[str]) -> "Scales":
        """A copy that knows `name` as an ordered scale, unless the project already defines it
        (the project's scale stays authoritative: a taxonomy list may mix granularities)."""
        if name in self.ranks:
            return self
        ranks = dict(self.ranks)
        ranks[name] = _ranked(*ordered_values)
        return Scales(MappingProxyType(ranks), self.aliases)


DEFAULT_SCALES = Scales()


def is_single_valued(kind: str, name: str) -> bool:
    """Whether a dimension holds one value at a time (roles do; concurrent behaviours do not)."""
    if kind == "role":
        return True
    if kind == "attribute":
        return name in SINGLE_VALUED_ATTRIBUTES
    if kind == "environment":
        return name in SINGLE_VALUED_ENVIRONMENT
    return False
