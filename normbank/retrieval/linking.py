"""Linking free text to the bank's entries: "sushi place" -> restaurant, "USA" -> the united states.

A text links by the first method that applies: the exact normalised entry, a known alias, then the best
of a character-level match (catches misspellings: "resturant") and an embedding cosine (catches
synonyms and paraphrases: "sushi place", "chug a beer"). Below the kind's threshold nothing links and
the answer says so instead of guessing.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from normbank.constraints import normalise_value

# Calibrated with all-MiniLM-L6-v2 on the real NormBank taxonomy (tests/normbank/retrieval/test_linking_quality.py):
# right links of paraphrases score from about 0.47 ("sushi place" -> restaurant); nonsense tops out near
# 0.42 ("the" -> university).
THRESHOLDS: Mapping[str, float] = {
    "setting": 0.45,
    "role": 0.45,
    "behavior": 0.5,
    "value": 0.6,
}
FUZZY_MIN = 0.8  # below this a character-level match is not a misspelling ("sushi place" vs "airplane": 0.53)

Similarity = Callable[[str, Sequence[str]], np.ndarray]


@dataclass
class Link:
    """What a piece of free text was linked to (or not), and how sure the link is."""

    text: str
    kind: str
    linked: str | None
    score: float
    method: str | None  # exact, alias, fuzzy, dense; None when nothing linked
    alternatives: list[tuple[str, float]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.linked is not None and self.method != "exact"

    def to_json(self) -> dict:
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


def link(
    text: str,
    kind: str,
    candidates: Sequence[str],
    *,
    similarity: Similarity | None = None,
    aliases: Mapping[str, str] | None = None,
    threshold: float | None = None,
    alternatives: int = 3,
) -> Link:
    """Link `text` to one of `candidates` (normalised entries of the bank)."""
    query = normalise_value(text)
    threshold = THRESHOLDS.get(kind, 0.65) if threshold is None else threshold
    if not query or not candidates:
        return Link(text, kind, None, 0.0, None)
    known = set(candidates)
    if query in known:
        return Link(text, kind, query, 1.0, "exact")
    if aliases and aliases.get(query) in known:
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
