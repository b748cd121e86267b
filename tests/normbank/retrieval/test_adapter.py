"""The query map learned from example situations: it must find norms that plain cosine misses, stay out of
the way when there is too little to learn from, and travel with its index through save, build and load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from normbank.errors import IndexNotReady
from normbank.retrieval import adapter
from normbank.retrieval.adapter import learn_query_map, map_queries
from normbank.retrieval.encoder import HashingEncoder
from normbank.retrieval.store import MANIFEST, IndexStore, Manifest
from normbank.retrieval.vectors import VectorIndex


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def situations(rng, targets: np.ndarray, per_norm: int, skew: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Example vectors phrased unlike their norms: each is its norm's vector pushed along a shared
    'situation style' direction plus noise, so plain cosine often picks a wrong norm."""
    labels = np.repeat(np.arange(len(targets)), per_norm)
    noise = rng.normal(scale=0.35, size=(len(labels), targets.shape[1]))
    return _unit(targets[labels] + noise @ skew), labels


def accuracy(queries: np.ndarray, labels: np.ndarray, targets: np.ndarray) -> float:
    return float(np.mean(np.argmax(queries @ targets.T, axis=1) == labels))


def test_a_learned_map_finds_norms_that_plain_cosine_misses():
    rng = np.random.default_rng(1)
    d, norms = 24, 40
    targets = _unit(rng.normal(size=(norms, d)))
    skew = rng.normal(size=(d, d))  # the same distortion for every situation, learnable by a linear map
    train_x, train_y = situations(rng, targets, 6, skew)
    test_x, test_y = situations(rng, targets, 3, skew)

    query_map = learn_query_map(train_x, train_y, targets)

    assert query_map is not None and query_map.shape == (d, d) and query_map.dtype == np.float32
    before = accuracy(test_x, test_y, targets)
    after = accuracy(map_queries(query_map, test_x), test_y, targets)
    assert after >= before + 0.15, (before, after)  # held-out situations, not the training ones
    np.testing.assert_allclose(np.linalg.norm(map_queries(query_map, test_x), axis=1), 1.0, rtol=1e-5)


def test_the_map_is_deterministic_and_leaves_the_global_torch_seed_alone():
    import torch

    rng = np.random.default_rng(2)
    targets = _unit(rng.normal(size=(12, 8)))
    x, y = situations(rng, targets, 5, np.eye(8))
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = learn_query_map(x, y, targets, steps=20)
    assert torch.equal(torch.rand(1), expected_next)
    np.testing.assert_array_equal(first, learn_query_map(x, y, targets, steps=20))


def test_too_few_examples_or_norms_learn_nothing():
    rng = np.random.default_rng(3)
    targets = _unit(rng.normal(size=(30, 8)))
    few_x, few_y = situations(rng, targets[:5], 20, np.eye(8))  # 100 examples but only 5 norms
    assert learn_query_map(few_x, few_y, targets) is None
    x, y = situations(rng, targets, 1, np.eye(8))  # 30 norms, 30 examples
    assert learn_query_map(x, y, targets) is None
    queries = _unit(rng.normal(size=(3, 8)))
    assert map_queries(None, queries) is queries
    with pytest.raises(ValueError, match="shapes"):
        learn_query_map(x, y[:-1], targets)


def test_a_large_bank_trains_on_a_sample_against_at_most_max_targets(monkeypatch):
    rng = np.random.default_rng(4)
    monkeypatch.setattr(adapter, "MAX_TARGETS", 50)
    monkeypatch.setattr(adapter, "MAX_EXAMPLES", 120)
    targets = _unit(rng.normal(size=(400, 16)))  # only the first 40 norms have examples
    x, y = situations(rng, targets[:40], 4, np.eye(16))
    query_map = learn_query_map(x, y, targets, steps=30)
    assert query_map is not None and query_map.shape == (16, 16)


def test_a_corpus_with_more_norms_than_max_targets_learns_from_a_sample_that_still_helps_all(monkeypatch):
    """Every norm has examples and there are more than MAX_TARGETS of them (the Social-Chem-101 shape): the
    map is learned on a random sample of norms and their examples, and still finds all norms better."""
    rng = np.random.default_rng(6)
    monkeypatch.setattr(adapter, "MAX_TARGETS", 40)
    d, norms = 24, 120
    targets = _unit(rng.normal(size=(norms, d)))
    skew = rng.normal(size=(d, d))
    train_x, train_y = situations(rng, targets, 6, skew)
    test_x, test_y = situations(rng, targets, 2, skew)
    query_map = learn_query_map(train_x, train_y, targets)
    assert query_map is not None
    before = accuracy(test_x, test_y, targets)
    after = accuracy(map_queries(query_map, test_x), test_y, targets)
    assert after >= before + 0.08, (before, after)  # over all 120 norms, not only the 40 it trained on


def test_the_index_applies_its_map_and_keeps_it_through_save_and_load(tmp_path):
    rng = np.random.default_rng(5)
    vectors = _unit(rng.normal(size=(20, 8)))
    swap = np.eye(8, dtype=np.float32)[::-1].copy()  # a map that reverses the coordinates
    index = VectorIndex.build(vectors, list(range(20)), query_map=swap)
    query = vectors[3][::-1].copy()  # what the map turns into vector 3
    assert index.search(query, 1)[0][0][0] == 3
    paths = index.save(tmp_path / "c")
    assert (tmp_path / "c.query_map.npy") in paths
    loaded = VectorIndex.load(tmp_path / "c")
    np.testing.assert_array_equal(loaded.query_map, swap)
    assert loaded.search(query, 1)[0][0][0] == 3
    plain = VectorIndex.build(vectors, list(range(20)))
    assert plain.query_map is None and not any("query_map" in p.name for p in plain.save(tmp_path / "p"))
    with pytest.raises(IndexNotReady, match="query map"):
        VectorIndex.build(vectors, list(range(20)), query_map=np.eye(4))


def test_a_derived_collection_with_a_map_is_stored_listed_and_checked_on_load(tmp_path):
    store = IndexStore(tmp_path / "indexes")
    encoder = HashingEncoder(16)
    swap = np.eye(16, dtype=np.float32)[::-1].copy()

    def derive(vectors_of):
        ids, vectors = vectors_of("norms")
        return {"mapped": (ids, vectors, swap), "plain": (ids, vectors)}

    manifest = store.build({"norms": [(1, "a"), (2, "b")]}, encoder, {"data_version": 1}, derive=derive)
    assert manifest.query_maps == ("mapped",)
    assert Manifest.from_json((tmp_path / "indexes" / manifest.build / MANIFEST).read_text()) == manifest
    loaded = store.load()
    np.testing.assert_array_equal(loaded.collections["mapped"].query_map, swap)
    assert loaded.collections["plain"].query_map is None and loaded.collections["norms"].query_map is None

    # a map file the manifest does not list (or the reverse) makes the build unreadable, not silently different
    (tmp_path / "indexes" / manifest.build / "mapped.query_map.npy").unlink()
    assert store.load() is None


def test_an_index_of_the_previous_format_reads_as_stale(tmp_path):
    store = IndexStore(tmp_path / "indexes")
    manifest = store.build({"norms": [(1, "a")]}, HashingEncoder(16), {"data_version": 1})
    path = tmp_path / "indexes" / manifest.build / MANIFEST
    data = json.loads(path.read_text())
    data["format"] = 2
    data.pop("query_maps")
    path.write_text(json.dumps(data))
    assert store.current_manifest() is None and store.load() is None
