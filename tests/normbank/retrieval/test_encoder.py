"""Encoders: the hashing fake's contract and similarity ordering; the real packaged model (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from normbank.errors import IndexNotReady, InvalidInput
from normbank.retrieval.encoder import (
    DEFAULT_MODEL_NAME, HashingEncoder, SentenceTransformerEncoder, get_encoder,
)

TEXTS = ["Eating sushi at a restaurant", "", "!!!", "the nurse checks the patient's chart", "ÉCOLE d'été"]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_hashing_shape_dtype_and_unit_rows():
    encoder = HashingEncoder(64)
    vectors = encoder.encode(TEXTS)
    assert encoder.name == "hashing-64" and encoder.dimension == 64
    assert vectors.shape == (5, 64) and vectors.dtype == np.float32
    norms = np.linalg.norm(vectors, axis=1)
    np.testing.assert_allclose(norms[[0, 3, 4]], 1.0, rtol=1e-6)
    assert norms[1] == norms[2] == 0.0  # no words: nothing to point anywhere


def test_hashing_empty_input_keeps_the_dimension():
    assert HashingEncoder().encode([]).shape == (0, 384)


def test_hashing_is_deterministic_and_case_insensitive():
    a = HashingEncoder().encode(TEXTS)
    b = HashingEncoder().encode(list(reversed(TEXTS)))[::-1]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(HashingEncoder().encode(["Sushi Place"]), HashingEncoder().encode(["sushi place"]))


@pytest.mark.slow
def test_hashing_is_the_same_in_every_process():
    code = "import json; from normbank.retrieval.encoder import HashingEncoder; " \
           "print(json.dumps(HashingEncoder(32).encode(['sushi place at night']).tolist()))"
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1]
    np.testing.assert_allclose(outputs[0], HashingEncoder(32).encode(["sushi place at night"]), rtol=1e-6)


@pytest.mark.parametrize(
    "query, near, far",
    [
        ("sushi restaurant", "a small sushi restaurant downtown", "hospital emergency room"),
        ("restaurant", "restaurants", "hospital"),  # trigrams: an inflected form is still close
        ("talking loudly on the phone", "talking on a phone", "eating quietly alone"),
    ],
)
def test_hashing_scores_similar_texts_higher(query, near, far):
    q, n, f = HashingEncoder().encode([query, near, far])
    assert cosine(q, n) > cosine(q, f)
    assert cosine(q, n) > 0.3


def test_get_encoder_names():
    assert isinstance(get_encoder("hashing"), HashingEncoder)
    assert get_encoder("hashing").dimension == 384
    assert get_encoder("hashing-128").name == "hashing-128"
    default = get_encoder(None)
    assert isinstance(default, SentenceTransformerEncoder) and default.name == DEFAULT_MODEL_NAME
    assert get_encoder("/models/mine").name == "/models/mine"
    for bad in ("hashing-", "hashing-x", "hashing-0"):
        with pytest.raises(InvalidInput):
            get_encoder(bad)


def test_constructing_the_real_encoder_loads_nothing():
    encoder = SentenceTransformerEncoder("some/model-that-is-not-here", threads=1)
    assert encoder.name == "some/model-that-is-not-here"
    assert not encoder.loaded


@pytest.mark.slow
def test_a_missing_model_is_index_not_ready_and_never_downloaded(tmp_path):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(IndexNotReady) as caught:
        SentenceTransformerEncoder(missing).encode(["hello"])
    assert missing in caught.value.message
    assert "downloaded" in caught.value.message
    assert os.environ["HF_HUB_OFFLINE"] == "1"


@pytest.mark.slow
def test_the_packaged_model():
    encoder = SentenceTransformerEncoder()
    assert encoder.name == DEFAULT_MODEL_NAME
    vectors = encoder.encode(["sushi place", "restaurant", "hospital"])
    assert encoder.dimension == 384
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sushi, restaurant, hospital = vectors
    assert cosine(sushi, restaurant) > cosine(sushi, hospital)
    assert encoder.encode([]).shape == (0, 384)
    # one model per process: a second instance reuses it
    again = SentenceTransformerEncoder()
    assert again.loaded
    np.testing.assert_allclose(again.encode(["sushi place"])[0], sushi, atol=1e-5)
    # batches are formed by length; rows still come back in the caller's order
    mixed = ["hospital", "a long sentence about eating sushi at a small place near the station", "restaurant"]
    np.testing.assert_allclose(encoder.encode(mixed, batch_size=2), np.vstack([encoder.encode([t]) for t in mixed]),
                               atol=1e-5)
