"""Rank fusion: combine ranked lists from different retrievers without calibrating their scores."""

from __future__ import annotations

from typing import Hashable, Iterable, Sequence, TypeVar

K = TypeVar("K", bound=Hashable)

RRF_K = 60  # the usual reciprocal-rank-fusion constant: dampens the weight of the very top ranks


def best_per_key(scored: Iterable[tuple[K, float]]) -> list[tuple[K, float]]:
    """Collapse (key, score) pairs to the best score per key, best first (e.g. examples -> their norm)."""
    best: dict[K, float] = {}
    for key, score in scored:
        if key not in best or score > best[key]:
            best[key] = score
    return sorted(best.items(), key=lambda kv: -kv[1])


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]], weights: Sequence[float] | None = None, *, k: int = RRF_K
) -> list[tuple[K, float]]:
    """Fused (key, score) best first: score = sum over lists of weight / (k + rank), rank from 1."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])
