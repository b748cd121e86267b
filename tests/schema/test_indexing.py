"""Norm prototypes: a norm's vector moved towards the centroid of its example situations."""

from __future__ import annotations

import numpy as np

from schema.indexing import PROTOTYPE_TEXT_WEIGHT, prototypes


def test_prototypes_blend_norm_text_with_its_examples_and_keep_norms_without_examples():
    norms = (
        [1, 2],
        np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32),
    )
    examples = ([1, 1], np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=np.float32))
    ids, vectors, query_map, _offset, _scale = prototypes(lambda name: {"norms": norms, "examples": examples}[name])["norm_prototypes"]
    assert ids == [1, 2]
    expected = np.array([PROTOTYPE_TEXT_WEIGHT, 0.0, 1 - PROTOTYPE_TEXT_WEIGHT])
    np.testing.assert_allclose(vectors[0], expected / np.linalg.norm(expected), rtol=1e-6)
    np.testing.assert_allclose(vectors[1], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert query_map is None  # two examples of one norm teach no query map


def test_prototypes_carry_a_query_map_learned_from_enough_examples():
    rng = np.random.default_rng(0)
    norm_vectors = rng.normal(size=(12, 8)).astype(np.float32)
    norm_vectors /= np.linalg.norm(norm_vectors, axis=1, keepdims=True)
    example_ids = [100 + i % 12 for i in range(60)]  # 5 examples of each of 12 norms
    example_vectors = norm_vectors[[i % 12 for i in range(60)]] + rng.normal(scale=0.3, size=(60, 8)).astype(np.float32)
    collections = {"norms": (list(range(100, 112)), norm_vectors), "examples": (example_ids, example_vectors)}
    ids, vectors, query_map, offset, scale = prototypes(collections.__getitem__)["norm_prototypes"]
    assert ids == list(range(100, 112)) and query_map is not None and query_map.shape == (8, 8)
    assert (offset, scale) == (0.0, 1.0)  # no other corpus to compare with: plain scores
    assert prototypes(collections.__getitem__, learn=False)["norm_prototypes"][2] is None


def test_each_corpus_gets_its_own_prototypes_and_only_a_corpus_with_examples_a_query_map():
    """A map learned on one corpus's situations is never applied to another corpus's norms."""
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    example_ids = [100 + i % 12 for i in range(60)]  # examples for the first corpus's 12 norms only
    example_vectors = vectors[[i % 12 for i in range(60)]] + rng.normal(scale=0.3, size=(60, 8)).astype(np.float32)
    collections = {"norms": (list(range(100, 120)), vectors), "examples": (example_ids, example_vectors)}
    sources = {i: ("dialogues" if i < 112 else "frames") for i in range(100, 120)}
    found = prototypes(collections.__getitem__, sources=sources)
    assert len(found) == 2 and all(name.startswith("norm_prototypes-") for name in found)
    by_ids = {tuple(entry[0]): entry for entry in found.values()}
    dialogues, frames = by_ids[tuple(range(100, 112))], by_ids[tuple(range(112, 120))]
    assert dialogues[2] is not None and frames[2] is None
    # each corpus is calibrated on what a query about the other looks like: the dialogues on the frames'
    # norms (the frames have no examples), the frames on the dialogues' example situations
    assert isinstance(dialogues[3], float) and dialogues[4] > 0
    best_on_frames = (example_vectors @ frames[1].T).max(axis=1)
    np.testing.assert_allclose((frames[3], frames[4]), (best_on_frames.mean(), best_on_frames.std()), rtol=1e-5)
    np.testing.assert_allclose(frames[1], vectors[12:], rtol=1e-6)  # no examples: the texts' own vectors
