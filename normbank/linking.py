"""Linking free text to the bank's entries: "sushi place" -> restaurant, "USA" -> the united states.

The vocabulary (what the bank holds: settings, roles and behaviours per setting, values per dimension) is
the data source; a similarity function (the retriever's embedding cosine, when the service has one) is
handed in. A text links by the first method that applies: the exact normalised entry, a known alias,
then the best of a character-level match (misspellings: "resturant") and the embedding cosine (synonyms
and paraphrases). Below the kind's threshold nothing links and the answer says so instead of guessing.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Collection, Mapping, Sequence

import numpy as np

from normbank.constraints import normalise_text, normalise_value
from normbank.errors import SettingNotFound, echo, prefix
from normbank.scales import SCALE_VALUE_ALIASES, Scales

# Calibrated with all-MiniLM-L6-v2 on the real NormBank taxonomy (tests/normbank/test_linking_quality.py):
# right links of paraphrases score from about 0.47 ("sushi place" -> restaurant); nonsense tops out near
# 0.42 ("the" -> university).
THRESHOLDS: Mapping[str, float] = MappingProxyType({"setting": 0.45, "role": 0.45, "behavior": 0.5, "value": 0.6})
FUZZY_MIN = 0.8  # below this a character-level match is not a misspelling ("sushi place" vs "airplane": 0.53)

_COUNTRIES = {
    "the united states": ["usa", "us", "u.s.", "u.s.a.", "united states", "united states of america", "america",
                          "the us", "the usa", "american", "the states"],
    "the united kingdom": ["uk", "u.k.", "united kingdom", "britain", "great britain", "england", "the uk",
                           "british"],
    "china": ["prc", "people's republic of china", "mainland china", "chinese", "the people's republic of china"],
    "japan": ["japanese", "nippon"],
    "india": ["indian", "bharat"],
    "germany": ["german", "deutschland"],
    "france": ["french"],
    "italy": ["italian"],
    "spain": ["spanish", "espana", "españa"],
    "mexico": ["mexican", "méxico"],
    "canada": ["canadian"],
    "brazil": ["brazilian", "brasil"],
    "russia": ["russian", "russian federation"],
    "south korea": ["korea", "republic of korea", "korean", "s. korea"],
    "the netherlands": ["netherlands", "holland", "dutch"],
    "the united arab emirates": ["uae", "united arab emirates", "emirates"],
    "australia": ["australian", "aus"],
    "saudi arabia": ["saudi", "ksa"],
    "south africa": ["rsa"],
    "new zealand": ["nz", "aotearoa"],
    "the philippines": ["philippines", "filipino"],
}
# Common ways people name a value the bank spells one way: dimension -> alias -> the bank's value.
VALUE_ALIASES: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "country": {alias: canonical for canonical, aliases in _COUNTRIES.items() for alias in aliases},
    "gender": {"male": "man", "female": "woman", "boy": "man", "girl": "woman", "men": "man", "women": "woman"},
})

Similarity = Callable[[str, Sequence[str]], np.ndarray]


@dataclass
class Vocabulary:
    """What free text can link to: settings, roles and behaviours per setting, values per dimension."""

    settings: list[str] = field(default_factory=list)
    roles: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    behaviors: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    values: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @property
    def all_roles(self) -> set[str]:
        return set().union(*self.roles.values()) if self.roles else set()


@dataclass
class Link:
    """What a piece of free text was linked to (or not), and how sure the link is."""

    text: str
    kind: str
    linked: str | None
    score: float
    method: str | None  # exact, alias, fuzzy, dense; None when nothing linked
    alternatives: list[tuple[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "kind": self.kind, "linked": self.linked, "score": round(self.score, 4),
                "method": self.method}


def fuzzy_scores(text: str, candidates: Sequence[str]) -> np.ndarray:
    """Character-level similarity in [0, 1] (difflib ratio), for misspellings."""
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(text)
    out = np.empty(len(candidates), dtype=np.float32)
    for i, candidate in enumerate(candidates):
        matcher.set_seq1(candidate)
        # quick_ratio is an upper bound: skip the exact ratio when it cannot matter
        out[i] = matcher.ratio() if matcher.quick_ratio() >= 0.5 else 0.0
    return out


def link(text: str, kind: str, candidates: Sequence[str], *, similarity: Similarity | None = None,
         aliases: Mapping[str, str] | None = None, threshold: float | None = None, alternatives: int = 3) -> Link:
    """Link `text` to one of `candidates` (normalised entries of the bank)."""
    query = normalise_value(text)
    threshold = THRESHOLDS.get(kind, 0.65) if threshold is None else threshold
    if not query or not candidates:
        return Link(text, kind, None, 0.0, None)
    if query in candidates:
        return Link(text, kind, query, 1.0, "exact")
    if aliases and aliases.get(query) in candidates:
        return Link(text, kind, aliases[query], 1.0, "alias")
    fuzzy = fuzzy_scores(query, candidates)
    fuzzy[fuzzy < FUZZY_MIN] = 0.0
    dense = similarity(query, candidates) if similarity is not None else np.zeros(len(candidates), np.float32)
    best = np.maximum(fuzzy, dense)
    order = np.argsort(-best)[: max(alternatives, 1)]
    top = int(order[0])
    score = float(best[top])
    ranked = [(candidates[i], float(best[i])) for i in order]
    if score < threshold:
        return Link(text, kind, None, score, None, ranked)
    method = "fuzzy" if fuzzy[top] >= dense[top] else "dense"
    return Link(text, kind, candidates[top], score, method, ranked)


class Linker:
    """Resolves one request's free text to the vocabulary and remembers what it linked (`links`)."""

    def __init__(self, vocabulary: Vocabulary, scales: Scales, similarity: Similarity | None = None):
        self.vocabulary = vocabulary
        self.scales = scales
        self.similarity = similarity
        self.links: list[Link] = []
        self._settings = frozenset(vocabulary.settings)

    def _link(self, text: str, kind: str, candidates: Collection[str], aliases: Mapping[str, str] | None = None) -> Link:
        result = link(text, kind, sorted(candidates), similarity=self.similarity, aliases=aliases)
        if result.method != "exact":
            self.links.append(result)
        return result

    def setting(self, text: str) -> str:
        """The bank's setting for `text`, or SettingNotFound naming the closest ones."""
        name = normalise_text(text)
        if name in self._settings:
            return name
        result = self._link(text, "setting", self._settings)
        if result.linked is None:
            closest = result.alternatives[:3]
            shown = ", ".join(f"{c} ({s:.2f})" for c, s in closest)
            raise SettingNotFound(
                f"unknown setting {echo(text)}: it links to no setting of the bank" + (f" (closest: {shown})" if shown else ""),
                details={"setting": prefix(text), "closest": [{"setting": c, "score": round(s, 4)} for c, s in closest]},
            )
        return result.linked

    def behavior(self, text: str, known: Collection[str]) -> str:
        """One of `known` behaviours for `text`, or the normalised text when none links."""
        name = normalise_text(text)
        if name in known or not known:
            return name
        return self._link(text, "behavior", known).linked or name

    def role(self, setting: str, text: str | None) -> str | None:
        if not text:
            return text
        roles = self.vocabulary.roles.get(setting, ())
        if normalise_value(text) in roles or not roles:
            return text
        return self._link(text, "role", roles).linked or text

    def facts(self, facts: Mapping[str, Any] | None) -> dict[str, Any]:
        """Attribute or environment values linked to the values the bank knows for that dimension."""
        out: dict[str, Any] = {}
        for key, value in (facts or {}).items():
            name = normalise_text(str(key))
            known = self.vocabulary.values.get(name)
            if not known or isinstance(value, (int, float)):
                out[key] = value
                continue
            values = [self._value(name, known, v) for v in (value if isinstance(value, list) else [value])]
            out[key] = values if isinstance(value, list) else values[0]
        return out

    def _value(self, name: str, known: Collection[str], value: Any) -> Any:
        if isinstance(value, (int, float)):
            return value
        text = normalise_value(str(value))
        if text in known or self.scales.rank(name, text) is not None:
            return value
        aliases = {**SCALE_VALUE_ALIASES.get(name, {}), **VALUE_ALIASES.get(name, {})}
        return self._link(str(value), "value", known, aliases=aliases).linked or value

    def to_json(self) -> list[dict[str, Any]]:
        return [link_.to_json() for link_ in self.links]
