"""Fusion: combine the scored lists of different retrievers by standardised score."""

from __future__ import annotations

from typing import Hashable, Iterable, Sequence, TypeVar

K = TypeVar("K", bound=Hashable)

def best_per_key(scored: Iterable[tuple[K, float]]) -> list[tuple[K, float]]:
    """Collapse (key, score) pairs to the best score per key, best first (e.g. examples -> their norm)."""
    best: dict[K, float] = {}
    for key, score in scored:
        if key not in best or score > best[key]:
            best[key] = score
    return sorted(best.items(), key=lambda kv: -kv[1])


def score_fusion(
    lists: Sequence[Sequence[tuple[K, float]]], weights: Sequence[float] | None = None
) -> list[tuple[K, float]]:
    """Fused (key, score) best first, from each retriever's own scores: every list's scores are
    standardised (z-scores over that list), a key a list did not return counts as that list's lowest
    score, and the weighted z-scores add up. Unlike rank fusion this keeps how far apart the scores
    are: a lexical hit far ahead of the rest stays far ahead. (On NormDial's dev fold, with the dense
    norm prototypes and the lexical norm documents at equal weight: recall@5 0.844 and MRR 0.729,
    against 0.830 and 0.703 for reciprocal rank fusion weighted 1:2.)"""
    weights = weights or [1.0] * len(lists)
    standardised: list[tuple[dict[K, float], float, float]] = []  # (z-scores, floor, weight)
    for scored, weight in zip(lists, weights):
        if not scored:
            continue
        values = [s for _, s in scored]
        mean = sum(values) / len(values)
        spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5 or 1.0
        z = {key: (s - mean) / spread for key, s in scored}
        standardised.append((z, min(z.values()), weight))
    keys = {key for z, _, _ in standardised for key in z}
    total = {key: sum(weight * z.get(key, floor) for z, floor, weight in standardised) for key in keys}
    return sorted(total.items(), key=lambda kv: -kv[1])
