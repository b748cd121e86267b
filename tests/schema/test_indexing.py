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
    ids, vectors = prototypes(lambda name: {"norms": norms, "examples": examples}[name])["norm_prototypes"]
    assert ids == [1, 2]
    expected = np.array([PROTOTYPE_TEXT_WEIGHT, 0.0, 1 - PROTOTYPE_TEXT_WEIGHT])
    np.testing.assert_allclose(vectors[0], expected / np.linalg.norm(expected), rtol=1e-6)
    np.testing.assert_allclose(vectors[1], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
