"""Encoders: the hashing fake's contract and similarity ordering; the backend setting; the real packaged model
on each backend, its ONNX exports and offline loading (slow)."""

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
from normbank.retrieval.store import Manifest, is_stale

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
    assert isinstance(get_encoder("hashing"), HashingEncoder)
    assert get_encoder("hashing").dimension == 384
    assert get_encoder("hashing-128").name == "hashing-128"
    default = get_encoder(None)
    assert default.name == DEFAULT_MODEL_NAME and not default.loaded
    assert get_encoder("/models/mine").name == "/models/mine" and not get_encoder("/models/mine").loaded
    for bad in ("hashing-", "hashing-x", "hashing-0"):
        with pytest.raises(InvalidInput):
            get_encoder(bad)


def built_with(model: str) -> Manifest:
    return Manifest(build="b", model=model, dimension=384, stamp={}, collections={}, distinct_texts=0,
                    embed_seconds=0.0, index_seconds=0.0, bytes_on_disk=0, built_at="")


def test_an_index_serves_the_backends_whose_vectors_it_holds():
    torch_, onnx, int8 = (get_encoder(None, backend=b) for b in ("torch", "onnx", "onnx-int8"))
    # torch and its float32 ONNX export give the same vectors: one index serves both
    assert is_stale(built_with(torch_.name), model=onnx.name, stamp={}) is None
    assert is_stale(built_with(onnx.name), model=torch_.name, stamp={}) is None
    # int8 vectors are its own: its index is stale for the others and the other way round
    assert "onnx-int8" in is_stale(built_with(onnx.name), model=int8.name, stamp={})
    assert is_stale(built_with(int8.name), model=torch_.name, stamp={}) is not None
    assert get_encoder("/models/mine", backend="onnx-int8").name != int8.name


def test_a_bad_backend_is_rejected_with_a_clear_message():
    from pydantic import ValidationError

    from normbank.config import get_settings

    with pytest.raises(InvalidInput, match="bad embedding backend 'tensorflow': expected one of torch, onnx, onnx-int8"):
        get_encoder(None, backend="tensorflow")
    assert get_encoder(None, backend=" ONNX ").backend == "onnx"
    assert get_settings(embedding_backend=" Torch ").embedding_backend == "torch"
    with pytest.raises(ValidationError, match="NORMBANK_EMBEDDING_BACKEND must be one of torch, onnx, onnx-int8"):
        get_settings(embedding_backend="onnxruntime")


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
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def torch_vectors():
    return SentenceTransformerEncoder(backend="torch").encode(REAL_SENTENCES)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_the_packaged_model_on_each_backend(backend, models_dir):
    encoder = SentenceTransformerEncoder(backend=backend, cache_dir=models_dir)
    vectors = encoder.encode(["sushi place", "restaurant", "hospital"])
    assert encoder.dimension == 384 and encoder.loaded
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    sushi, restaurant, hospital = vectors
    assert cosine(sushi, restaurant) > cosine(sushi, hospital)
    assert encoder.encode([]).shape == (0, 384)
    # one model per process: a second encoder naming it reuses it
    again = SentenceTransformerEncoder(backend=backend, cache_dir=models_dir)
    assert again.loaded
    np.testing.assert_allclose(again.encode(["sushi place", "restaurant", "hospital"]), vectors, atol=1e-6)
    # rows come back in the caller's order, whatever the batches. int8 quantises each batch's activations
    # with one scale, so there a text's vector is close to, not equal to, the text encoded alone.
    mixed = REAL_SENTENCES[:6]
    alone = np.vstack([encoder.encode([t]) for t in mixed])
    floor = 0.98 if backend == "onnx-int8" else 0.99999
    assert (encoder.encode(mixed, batch_size=2) * alone).sum(axis=1).min() >= floor


@pytest.mark.slow
def test_onnx_gives_torchs_vectors(models_dir, torch_vectors):
    vectors = SentenceTransformerEncoder(backend="onnx", cache_dir=models_dir).encode(REAL_SENTENCES)
    assert (vectors * torch_vectors).sum(axis=1).min() >= 0.99999


@pytest.mark.slow
def test_onnx_int8_is_close_to_torch(models_dir, torch_vectors):
    vectors = SentenceTransformerEncoder(backend="onnx-int8", cache_dir=models_dir).encode(REAL_SENTENCES)
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.mean() >= 0.99 and cosines.min() >= 0.98, cosines


@pytest.mark.slow
def test_the_onnx_export_is_made_once_and_reused(monkeypatch, tmp_path):
    from normbank.retrieval import encoder as encoder_module

    first = SentenceTransformerEncoder(backend="onnx-int8", cache_dir=tmp_path)
    vectors = first.encode(REAL_SENTENCES)
    files = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    onnx_files = sorted(p.relative_to(tmp_path).parts[1:] for p in files if p.suffix == ".onnx")
    assert onnx_files == [("onnx", "model.onnx"), ("onnx", "model_quint8_avx2.onnx")]
    assert len(list(tmp_path.iterdir())) == 1  # one export directory; no scratch left behind

    monkeypatch.setattr(encoder_module, "_MODELS", {})  # as in a new process
    for backend in ("onnx-int8", "onnx"):
        SentenceTransformerEncoder(backend=backend, cache_dir=tmp_path).encode(["hello"])
    again = SentenceTransformerEncoder(backend="onnx-int8", cache_dir=tmp_path).encode(REAL_SENTENCES)
    np.testing.assert_allclose(again, vectors, atol=1e-6)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == files


@pytest.mark.slow
def test_concurrent_callers_get_their_own_vectors(models_dir):
    import threading

    encoder = SentenceTransformerEncoder(backend="onnx", cache_dir=models_dir)
    expected = encoder.encode(REAL_SENTENCES)
    failures: list[str] = []

    def caller(start: int) -> None:
        try:
            for i in range(start, start + 12):
                texts = REAL_SENTENCES[i % 12 :] if i % 3 == 0 else [REAL_SENTENCES[i % 12]]
                got = encoder.encode(texts, batch_size=4)
                rows = list(range(i % 12, 12)) if i % 3 == 0 else [i % 12]
                if (got * expected[rows]).sum(axis=1).min() < 0.99999:
                    failures.append(f"caller {start}, call {i}")
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(repr(exc))

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


OFFLINE_CHILD = """
import json, sys
from normbank.errors import IndexNotReady
from normbank.retrieval.encoder import get_encoder

models, missing = sys.argv[1], sys.argv[2]
out = {"dimension": get_encoder(None, backend="onnx", cache_dir=models).encode(["sushi place"]).shape[1]}
for name in (missing, "some-org/model-that-is-not-here"):
    try:
        get_encoder(name, backend="torch").encode(["hello"])
        out[name] = "loaded"
    except IndexNotReady as exc:
        out[name] = exc.message
print(json.dumps(out))
"""


@pytest.mark.slow
def test_models_load_offline_and_a_missing_model_is_index_not_ready_without_a_download(tmp_path):
    """In a process whose environment allows downloads and points the Hugging Face hub at a local server
    that counts requests: the packaged model loads (and exports), a missing one fails, nothing is asked."""
    import http.server
    import threading

    asked: list[str] = []

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            asked.append(self.path)
            self.send_error(404)

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{server.server_port}", HF_HOME=str(tmp_path / "hf"))
    missing = str(tmp_path / "no-such-model")
    try:
        done = subprocess.run([sys.executable, "-c", OFFLINE_CHILD, str(tmp_path / "models"), missing], env=env,
                              capture_output=True, text=True, timeout=300)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["dimension"] == 384
    for name in (missing, "some-org/model-that-is-not-here"):
        assert name in out[name] and "nothing is downloaded" in out[name]
    assert asked == []
