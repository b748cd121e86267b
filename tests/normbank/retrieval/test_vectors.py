"""VectorIndex: exact and HNSW neighbours, id mapping through save/load, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from normbank.errors import InvalidInput
from normbank.ids import stable_id
from normbank.retrieval.vectors import VectorIndex


def unit_vectors(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, ids: list[int], query: np.ndarray, k: int) -> list[int]:
    return [ids[i] for i in np.argsort(-(vectors @ query), kind="stable")[:k]]


BIG_IDS = [stable_id("norm", i) for i in range(400)]  # 63-bit content hashes


def test_exact_index_returns_the_true_neighbours_with_cosine_scores():
    vectors = unit_vectors(400)
    index = VectorIndex.build(vectors, BIG_IDS)
    assert index.exact and len(index) == 400 and index.dimension == 32
    results = index.search(vectors[:5], 5)
    for row, hits in enumerate(results):
        assert [i for i, _ in hits] == brute_force(vectors, BIG_IDS, vectors[row], 5)
        assert hits[0] == (BIG_IDS[row], pytest.approx(1.0, abs=1e-5))
        np.testing.assert_allclose([s for _, s in hits], np.sort(vectors @ vectors[row])[::-1][:5], rtol=1e-5)


def test_hnsw_index_finds_nearly_all_true_neighbours():
    vectors = unit_vectors(2000, seed=1)
    ids = [stable_id("behavior", i) for i in range(2000)]
    index = VectorIndex.build(vectors, ids, exact_below=100)
    assert not index.exact
    queries = vectors[:50]
    results = index.search(queries, 10)
    recall = np.mean([
        len({i for i, _ in hits} & set(brute_force(vectors, ids, q, 10))) / 10
        for q, hits in zip(queries, results)
    ])
    assert recall >= 0.9
    assert all(hits[0][0] == ids[row] for row, hits in enumerate(results))
    # k above efSearch still returns k results
    assert all(len(hits) == 300 for hits in index.search(queries[:3], 300))


@pytest.mark.parametrize("exact_below", [50_000, 10])
def test_big_ids_and_results_survive_save_and_load(tmp_path, exact_below):
    vectors = unit_vectors(400)
    ids = [(1 << 63) - 1 - i for i in range(400)]
    index = VectorIndex.build(vectors, ids, exact_below=exact_below)
    paths = index.save(tmp_path / "norms")
    assert sorted(p.name for p in paths) == ["norms.faiss", "norms.ids.npy", "norms.offsets.npy"]
    loaded = VectorIndex.load(tmp_path / "norms")
    assert len(loaded) == 400 and loaded.exact == index.exact
    assert loaded.search(vectors[:3], 4) == index.search(vectors[:3], 4)
    assert loaded.search(vectors[7], 1)[0][0][0] == (1 << 63) - 8


def test_k_larger_than_the_index_and_empty_indexes(tmp_path):
    vectors = unit_vectors(3)
    index = VectorIndex.build(vectors, [10, 20, 30])
    hits = index.search(vectors[:1], 50)[0]
    assert sorted(i for i, _ in hits) == [10, 20, 30]
    assert index.search(vectors[:2], 0) == [[], []]

    empty = VectorIndex.build(np.zeros((0, 32), np.float32), [])
    assert len(empty) == 0 and empty.search(vectors[:2], 5) == [[], []]
    empty.save(tmp_path / "empty")
    assert VectorIndex.load(tmp_path / "empty").search(vectors[:1], 5) == [[]]


def test_bad_shapes_are_rejected():
    with pytest.raises(InvalidInput):
        VectorIndex.build(unit_vectors(3), [1, 2])
    with pytest.raises(InvalidInput):
        VectorIndex.build(np.zeros(5, np.float32), [1])
    with pytest.raises(InvalidInput):
        VectorIndex.build(unit_vectors(1), [1 << 64])
    with pytest.raises(InvalidInput):
        VectorIndex.build(unit_vectors(3), [1, 2, 3]).search(unit_vectors(1, d=8), 1)


@pytest.mark.parametrize("exact_below", [50_000, 10])
def test_identical_vectors_are_stored_once_and_every_id_is_found(tmp_path, exact_below):
    distinct = unit_vectors(60, seed=3)
    # 300 entries over 60 vectors: entry i has vector i % 60 (norms sharing one text).
    vectors = distinct[np.arange(300) % 60]
    ids = [stable_id("norm", i) for i in range(300)]
    index = VectorIndex.build(vectors, ids, exact_below=exact_below)
    assert (len(index), index.rows) == (300, 60)
    for loaded in (index, VectorIndex.load([*index.save(tmp_path / "n")][0].with_suffix(""))):
        hits = loaded.search(distinct[7], 5)[0]
        # The five entries sharing vector 7 come first, in input order, with one score.
        assert [i for i, _ in hits] == [ids[7 + 60 * j] for j in range(5)]
        assert len({round(s, 5) for _, s in hits}) == 1 and hits[0][1] == pytest.approx(1.0, abs=1e-5)
        ten = loaded.search(distinct[7], 10)[0]
        assert [i for i, _ in ten[:5]] == [i for i, _ in hits] and len(ten) == 10
        assert ten[5][1] < hits[0][1]  # then the next vector's entries
        everything = loaded.search(distinct[0], 1000)[0]
        assert sorted(i for i, _ in everything) == sorted(ids)
        entry_ids, entry_vectors = loaded.entries()
        assert sorted(entry_ids) == sorted(ids)
        np.testing.assert_allclose(entry_vectors, vectors[[ids.index(i) for i in entry_ids]], atol=1e-6)


def test_results_are_cut_at_k_even_inside_a_group():
    vectors = np.repeat(unit_vectors(2, seed=4), [50, 1], axis=0)
    index = VectorIndex.build(vectors, list(range(51)))
    assert index.rows == 2
    assert [i for i, _ in index.search(vectors[0], 3)[0]] == [0, 1, 2]
