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


def test_get_encoder_names(monkeypatch):
    from normbank.retrieval import encoder as encoder_module

    # as in a fresh process (an earlier test may have loaded the packaged model): constructing loads nothing
    monkeypatch.setattr(encoder_module, "_MODELS", {})
    monkeypatch.setattr(encoder_module, "_ONNX", {})
    assert isinstance(get_encoder("hashing"), HashingEncoder)
    assert get_encoder("hashing").dimension == 384
    assert get_encoder("hashing-128").name == "hashing-128"
    default = get_encoder(None)  # torch or onnxruntime by the CPU (test_runtime_is_resolved_and_checked)
    assert default.name == DEFAULT_MODEL_NAME and not default.loaded
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
    encoder = SentenceTransformerEncoder(precision="float32")
    assert encoder.name == DEFAULT_MODEL_NAME
    vectors = encoder.encode(["sushi place", "restaurant", "hospital"])
    assert encoder.dimension == 384
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sushi, restaurant, hospital = vectors
    assert cosine(sushi, restaurant) > cosine(sushi, hospital)
    assert encoder.encode([]).shape == (0, 384)
    # one model per process: a second instance reuses it
    again = SentenceTransformerEncoder(precision="float32")
    assert again.loaded
    np.testing.assert_allclose(again.encode(["sushi place"])[0], sushi, atol=1e-5)
    # batches are formed by length; rows still come back in the caller's order
    mixed = ["hospital", "a long sentence about eating sushi at a small place near the station", "restaurant"]
    np.testing.assert_allclose(encoder.encode(mixed, batch_size=2), np.vstack([encoder.encode([t]) for t in mixed]),
                               atol=1e-5)


def test_precision_is_resolved_and_checked(monkeypatch):
    from normbank.retrieval import encoder as encoder_module

    monkeypatch.setattr(encoder_module, "cpu_has_native_bfloat16", lambda: True)
    assert SentenceTransformerEncoder().precision == "bfloat16"
    assert get_encoder(None, precision="AUTO").precision == "bfloat16"
    monkeypatch.setattr(encoder_module, "cpu_has_native_bfloat16", lambda: False)
    assert SentenceTransformerEncoder().precision == "float32"
    assert SentenceTransformerEncoder(precision="bfloat16").precision == "bfloat16"  # asked for: obeyed
    with pytest.raises(InvalidInput, match="precision"):
        SentenceTransformerEncoder(precision="fp16")
    # the precision is not part of the name: an index built at one precision serves the other
    assert SentenceTransformerEncoder(precision="bfloat16").name == SentenceTransformerEncoder(precision="float32").name


def test_settings_reject_an_unknown_precision():
    from pydantic import ValidationError

    from normbank.config import get_settings

    assert get_settings(embedding_precision=" BFloat16 ").embedding_precision == "bfloat16"
    with pytest.raises(ValidationError, match="NORMBANK_EMBEDDING_PRECISION"):
        get_settings(embedding_precision="half")


def test_query_threads_are_one_or_two_in_the_encoder_and_the_settings(monkeypatch):
    from pydantic import ValidationError

    from normbank.config import get_settings
    from normbank.retrieval.encoder import SentenceTransformerEncoder

    assert SentenceTransformerEncoder().query_threads == 2
    assert SentenceTransformerEncoder(query_threads=1).query_threads == 1
    with pytest.raises(InvalidInput):
        SentenceTransformerEncoder(query_threads=3)
    monkeypatch.delenv("NORMBANK_EMBEDDING_QUERY_THREADS", raising=False)
    assert get_settings().embedding_query_threads == 2
    monkeypatch.setenv("NORMBANK_EMBEDDING_QUERY_THREADS", "1")
    assert get_settings().embedding_query_threads == 1
    monkeypatch.setenv("NORMBANK_EMBEDDING_QUERY_THREADS", "4")
    with pytest.raises(ValidationError, match="1 or 2"):
        get_settings()


def test_runtime_is_resolved_and_checked(monkeypatch, tmp_path):
    from normbank.retrieval import encoder as encoder_module
    from normbank.retrieval.encoder import OnnxEncoder, resolve_runtime

    monkeypatch.setattr(encoder_module, "onnxruntime_installed", lambda: True)
    # a CPU with native bfloat16: torch, in bfloat16
    monkeypatch.setattr(encoder_module, "cpu_has_native_bfloat16", lambda: True)
    assert resolve_runtime("auto") == "torch"
    assert isinstance(get_encoder(None), SentenceTransformerEncoder)
    # asked for float32 there, or on a CPU without bfloat16: onnxruntime in float32, named like torch
    assert resolve_runtime("auto", "float32") == "onnxruntime"
    monkeypatch.setattr(encoder_module, "cpu_has_native_bfloat16", lambda: False)
    encoder = get_encoder(None, cache_dir=tmp_path)
    assert isinstance(encoder, OnnxEncoder) and not encoder.quantize and not encoder.loaded
    assert (encoder.name, encoder.precision, encoder.runtime) == (DEFAULT_MODEL_NAME, "float32", "onnxruntime")
    assert encoder.name == SentenceTransformerEncoder().name  # one index serves both runtimes
    assert encoder.cache_dir() == tmp_path and "fp32" in encoder.model_path().name
    assert "int8" in get_encoder("onnx", cache_dir=tmp_path).model_path().name
    # a model other than the packaged one stays on torch unless onnxruntime is asked for
    assert resolve_runtime("auto", "auto", "/models/mine") == "torch"
    assert resolve_runtime("onnxruntime", "auto", "/models/mine") == "onnxruntime"
    # forced either way; onnxruntime has no bfloat16
    assert isinstance(get_encoder(None, runtime=" Torch "), SentenceTransformerEncoder)
    assert resolve_runtime("onnxruntime", "float32") == "onnxruntime"
    with pytest.raises(InvalidInput, match="float32 only"):
        get_encoder(None, runtime="onnxruntime", precision="bfloat16")
    with pytest.raises(InvalidInput, match="runtime"):
        get_encoder(None, runtime="tensorflow")
    # without onnxruntime, auto falls back to torch
    monkeypatch.setattr(encoder_module, "onnxruntime_installed", lambda: False)
    assert isinstance(get_encoder(None), SentenceTransformerEncoder)


def test_settings_reject_an_unknown_runtime():
    from pydantic import ValidationError

    from normbank.config import get_settings

    assert get_settings().embedding_runtime == "auto"
    assert get_settings(embedding_runtime=" ONNXRuntime ").embedding_runtime == "onnxruntime"
    with pytest.raises(ValidationError, match="NORMBANK_EMBEDDING_RUNTIME"):
        get_settings(embedding_runtime="jax")


@pytest.mark.slow
def test_bfloat16_linears_stay_within_cosine_0_9999_of_float32():
    import torch

    exact = SentenceTransformerEncoder(precision="float32")
    fast = SentenceTransformerEncoder(precision="bfloat16")
    reference = exact.encode(REAL_SENTENCES)
    vectors = fast.encode(REAL_SENTENCES)
    assert vectors.dtype == np.float32 and vectors.shape == reference.shape
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert (vectors * reference).sum(axis=1).min() >= 0.9999
    assert not np.array_equal(vectors, reference)  # the conversion really happened
    # both models live side by side; only the linear layers changed type
    model = fast._loaded().model
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert any(p.dtype == torch.bfloat16 for p in model.parameters())
    assert all(p.dtype == torch.float32 for p in exact._loaded().model.parameters())


# --- batching, threads and the ONNX backend -------------------------------------------------------

def test_batches_run_on_several_workers_and_rows_keep_the_callers_order():
    from normbank.retrieval.encoder import _encode_batched

    texts = [f"text number {i} " + "x" * (i % 7) for i in range(50)]
    import itertools
    import threading

    seen_threads = set()
    # The first two batches wait for each other, so they must run on two threads at once (without it, on a
    # loaded machine one thread could finish every batch before the others start).
    both = threading.Barrier(2, timeout=10)
    calls = itertools.count()  # next() is atomic: exactly the calls numbered 0 and 1 wait

    def run(batch):
        seen_threads.add(threading.get_ident())
        if next(calls) < 2:
            both.wait()
        return HashingEncoder(16).encode(batch)

    out = _encode_batched(texts, 16, run, batch_size=4, progress=False, desc="t", workers=3)
    np.testing.assert_array_equal(out, HashingEncoder(16).encode(texts))
    assert len(seen_threads) > 1

    def failing(batch):
        if "text number 7 " in batch:
            raise RuntimeError("model crashed")
        return HashingEncoder(16).encode(batch)

    with pytest.raises(RuntimeError, match="model crashed"):
        _encode_batched(texts, 16, failing, batch_size=4, progress=False, desc="t", workers=3)
    assert _encode_batched([], 16, run, batch_size=4, progress=False, desc="t", workers=3).shape == (0, 16)


def test_onnx_specs_name_their_backend_and_construct_without_loading(tmp_path):
    from normbank.retrieval.encoder import OnnxEncoder

    default = get_encoder("onnx")
    assert isinstance(default, OnnxEncoder) and default.model == DEFAULT_MODEL_NAME
    assert default.name == "onnx-int8:" + DEFAULT_MODEL_NAME
    assert default.name != get_encoder(None).name  # an index built by one backend is stale for the other
    assert get_encoder("onnx:").model == DEFAULT_MODEL_NAME
    mine = get_encoder("onnx:/models/mine", cache_dir=tmp_path)
    assert mine.model == "/models/mine" and mine.name == "onnx-int8:/models/mine" and not mine.loaded
    assert mine.cache_dir() == tmp_path


def test_onnx_without_onnxruntime_is_index_not_ready(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError
    from normbank.retrieval import encoder as encoder_module

    monkeypatch.setattr(encoder_module, "_ONNX", {})
    with pytest.raises(IndexNotReady) as caught:
        get_encoder("onnx", cache_dir=tmp_path).encode(["hello"])
    assert "onnx" in caught.value.message and "extra" in caught.value.message


REAL_SENTENCES = [
    "In a restaurant, \"drink alcohol\" is normal",
    "It is rude to interrupt someone who is speaking.",
    "When you meet an elder in China, greet them first and use their title.",
    "talking loudly on the phone",
    "a small sushi place near the station",
    "In a hospital, \"take photos of patients\" is taboo",
    "Apologise sincerely when you arrive late to a meeting with your boss.",
    "hospital",
    "teen",
    "the United States",
    "He thanked his host for the dinner and praised the food before leaving.",
    "cutting in line at the supermarket checkout",
]


@pytest.fixture(scope="module")
def onnx_encoder(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from normbank.retrieval.encoder import OnnxEncoder

    return OnnxEncoder(cache_dir=tmp_path_factory.mktemp("models"))


@pytest.mark.slow
def test_onnx_int8_is_close_to_torch_and_cached(onnx_encoder):
    torch_vectors = SentenceTransformerEncoder().encode(REAL_SENTENCES)
    vectors = onnx_encoder.encode(REAL_SENTENCES)
    assert vectors.shape == (len(REAL_SENTENCES), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.mean() >= 0.98 and cosines.min() >= 0.95, cosines
    # the nearest neighbours agree with torch's on a simple case
    sushi, restaurant, hospital = onnx_encoder.encode(["sushi place", "restaurant", "hospital"])
    assert cosine(sushi, restaurant) > cosine(sushi, hospital)

    path = onnx_encoder.model_path()
    assert path.is_file() and path.parent == onnx_encoder.cache_dir() and "int8" in path.name
    mtime = path.stat().st_mtime_ns
    from normbank.retrieval import encoder as encoder_module
    from normbank.retrieval.encoder import OnnxEncoder

    encoder_module._ONNX.clear()  # a new process: the cached export is loaded, not redone
    again = OnnxEncoder(cache_dir=onnx_encoder.cache_dir())
    np.testing.assert_allclose(again.encode(REAL_SENTENCES), vectors, atol=1e-6)
    assert path.stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_onnx_float32_gives_torch_float32_vectors(tmp_path):
    from normbank.retrieval.encoder import OnnxEncoder

    encoder = OnnxEncoder(cache_dir=tmp_path, quantize=False)
    reference = SentenceTransformerEncoder(precision="float32").encode(REAL_SENTENCES)
    vectors = encoder.encode(REAL_SENTENCES)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    assert (vectors * reference).sum(axis=1).min() >= 0.99999
    assert encoder.model_path().is_file() and "fp32" in encoder.model_path().name
    # no activation quantisation: a text's vector does not depend on its batch-mates
    alone = np.vstack([encoder.encode([t]) for t in REAL_SENTENCES])
    np.testing.assert_allclose(encoder.encode(REAL_SENTENCES, batch_size=5), alone, atol=1e-5)


@pytest.mark.slow
def test_onnx_pads_to_the_batch_not_to_128(onnx_encoder):
    loaded = onnx_encoder._loaded()
    assert loaded.tokenizer.padding["length"] is None  # the model's tokenizer.json says 128
    assert len(loaded.tokenizer.encode_batch(["hospital", "a small sushi place"])[0].ids) < 16
    # batches formed by length; rows come back in the caller's order. Dynamic int8 quantises each
    # batch's activations with one scale, so a row is close to, not equal to, the text encoded alone.
    mixed = REAL_SENTENCES[:6]
    batched = onnx_encoder.encode(mixed, batch_size=2)
    alone = np.vstack([onnx_encoder.encode([t]) for t in mixed])
    assert (batched * alone).sum(axis=1).min() >= 0.98
    assert onnx_encoder.encode([]).shape == (0, 384)
