"""A BERT sentence encoder's forward pass for inference on a CPU with native bfloat16 (AMX, AVX512-BF16).

`fast_forward(model)` takes a loaded sentence-transformers model of the shape of all-MiniLM-L6-v2 (a BERT
encoder with absolute positions and erf GELU, mean pooling, optional normalisation) and returns a function
from its tokenizer's features to L2-normalised sentence vectors, or None for any other shape. It computes
what `SentenceTransformer.forward` computes, in fewer and cheaper steps:

- the query, key and value projections of a layer are one product (384 -> 1152) instead of three;
- every product runs in oneDNN on weights reordered once at load into its own blocked layout, with the
  bias (and the GELU of the intermediate layer) applied inside the product, instead of re-packing the
  weights on every call and adding the bias afterwards;
- attention takes the bfloat16 projections as they come out of the product, except for a single text (a
  query) on a CPU without AMX, where it runs in float32 (`query_attention_dtype`); residuals, layer norms
  and the pooling stay float32, as in `encoder._bfloat16_linears`;
- the unused BERT pooler (tanh over the first token) is skipped;
- a single text of `SPLIT_MIN_TOKENS` or more, when the caller asks (`split`), is computed on two threads:
  a second thread (`_Helper`) takes half of the heads of each layer's attention, then half of the tokens of
  the rest of the layer (products, residuals and norms act on each token alone).

Measured on a 2-core Xeon (AMX), one thread, NormDial situations (p50 144 tokens), alternating in one
process: 13.0-13.6 ms per situation against 23-24 ms through `SentenceTransformer.forward` with bfloat16
linear layers; cosine to the float32 model >= 0.99997, alone and in padded batches. On a 2-core AMD EPYC
with AVX512-BF16 but no AMX, attention in float32 took a NormDial situation from 12.7-13.2 ms to 11.9-12.4
(median pairwise ratio 0.944-0.949 in three runs, both alternating in one process, 300 test-fold
situations; 0.96 for single texts of 12 to 144 tokens), but made padded batches of 64 texts of 32 or 86
tokens 1.12-1.13x slower, so batches (index builds) keep bfloat16. Either way the vectors stay within
cosine 0.99997 of float32 ones. On the same EPYC, split over two threads, a NormDial situation took 9.2 ms
instead of 12.6 (median pairwise ratio 0.74, 300 situations); with twelve hand-overs per pass, texts of 64
tokens broke even (8 tokens: 1.43x slower), hence `SPLIT_MIN_TOKENS`.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch.nn.functional import layer_norm, normalize, scaled_dot_product_attention

log = logging.getLogger("normbank.retrieval")

Forward = Callable[..., np.ndarray]  # (features, *, split=False) -> vectors
_PACK_HINT = 128  # the row count oneDNN lays the reordered weights out for; any count works
# The shortest single text a forward pass splits over two threads (`_Bfloat16Bert.__call__`): each of the
# twelve hand-overs per pass costs tens of microseconds, more than a short text's halves gain.
SPLIT_MIN_TOKENS = 96


def fast_forward(model: Any) -> Forward | None:
    """The fast forward pass for `model` (a SentenceTransformer), or None when its shape is not the one
    this module reproduces exactly (then the caller keeps `model.forward`)."""
    modules = list(model)
    if len(modules) < 2 or any(type(m).__name__ != "Normalize" for m in modules[2:]):
        return None
    transformer, pooling = modules[0], modules[1]
    bert = getattr(transformer, "auto_model", None)
    config = getattr(bert, "config", None)
    if (
        type(bert).__name__ != "BertModel"
        or getattr(config, "position_embedding_type", "absolute") != "absolute"
        or getattr(config, "hidden_act", None) != "gelu"
        or getattr(config, "is_decoder", False)
        or getattr(pooling, "pooling_mode", None) != "mean"
        or not getattr(pooling, "include_prompt", True)
    ):
        return None
    encoder = _Bfloat16Bert(bert, packed=_packing_works(), query_attention=query_attention_dtype())
    log.info("embedding model: fast BERT forward (%s products, a query's attention in %s)",
             "prepacked oneDNN" if encoder.packed else "plain", str(encoder.query_attention).removeprefix("torch."))
    return encoder


def query_attention_dtype() -> torch.dtype:
    """What a single text's attention runs in: bfloat16 where the CPU has AMX (the Xeon this forward was
    first measured on), else float32, faster for one text on AVX512-BF16 without AMX (module docstring)."""
    from normbank.retrieval.encoder import cpu_flags

    return torch.bfloat16 if "amx_bf16" in cpu_flags() else torch.float32


def _packing_works() -> bool:
    """Whether this torch build has oneDNN's reordered-weight linear, and it agrees with a plain product."""
    try:
        x = torch.randn(3, 16).to(torch.bfloat16)
        w = torch.randn(8, 16).to(torch.bfloat16)
        b = torch.randn(8).to(torch.bfloat16)
        packed = torch.ops.mkldnn._reorder_linear_weight(w, _PACK_HINT)
        got = torch.ops.mkldnn._linear_pointwise(x, packed, b, "none", [], "").float()
        want = torch.nn.functional.linear(x.float(), w.float(), b.float())
        return bool(torch.allclose(got, want, rtol=2e-2, atol=2e-2))
    except Exception:  # noqa: BLE001 - no oneDNN, or a torch without these ops: plain products
        return False


class _Bfloat16Bert:
    def __init__(self, bert: Any, *, packed: bool, query_attention: torch.dtype = torch.bfloat16):
        self.packed = packed
        self.query_attention = query_attention  # what a batch of one text's attention runs in (bfloat16 or float32)
        self._helper: _Helper | None = None  # the second thread of split forward passes, started on first use
        state = {name: tensor.detach() for name, tensor in bert.state_dict().items()}
        config = bert.config
        self.hidden = config.hidden_size
        self.heads = config.num_attention_heads
        self.eps = config.layer_norm_eps
        self.words = state["embeddings.word_embeddings.weight"].float()
        self.positions = state["embeddings.position_embeddings.weight"].float()
        self.token_types = state["embeddings.token_type_embeddings.weight"].float()
        self.embedding_norm = self._norm(state, "embeddings.LayerNorm")
        self.layers = []
        for i in range(config.num_hidden_layers):
            p = f"encoder.layer.{i}."
            attention = p + "attention.self."
            qkv = [state[attention + part + ".weight"] for part in ("query", "key", "value")]
            qkv_bias = [state[attention + part + ".bias"] for part in ("query", "key", "value")]
            self.layers.append((
                self._linear(torch.cat(qkv), torch.cat(qkv_bias)),
                self._linear(state[p + "attention.output.dense.weight"], state[p + "attention.output.dense.bias"]),
                self._norm(state, p + "attention.output.LayerNorm"),
                self._linear(state[p + "intermediate.dense.weight"], state[p + "intermediate.dense.bias"]),
                self._linear(state[p + "output.dense.weight"], state[p + "output.dense.bias"]),
                self._norm(state, p + "output.LayerNorm"),
            ))

    @staticmethod
    def _norm(state: dict, prefix: str) -> tuple:
        return state[prefix + ".weight"].float(), state[prefix + ".bias"].float()

    def _linear(self, weight, bias) -> tuple:
        weight = weight.to(torch.bfloat16).contiguous()
        if self.packed:
            weight = torch.ops.mkldnn._reorder_linear_weight(weight, _PACK_HINT)
        return weight, bias.to(torch.bfloat16)

    def _product(self, x, linear: tuple, gelu: bool = False):
        weight, bias = linear
        if self.packed:
            return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "gelu" if gelu else "none", [],
                                                      "none" if gelu else "")
        y = torch.nn.functional.linear(x, weight, bias)
        return torch.nn.functional.gelu(y) if gelu else y

    def __call__(self, features: Mapping[str, Any], *, split: bool = False) -> np.ndarray:
        """Sentence vectors for tokenizer features. With `split`, a single text of at least
        `SPLIT_MIN_TOKENS` tokens is computed on two threads when this model's helper thread is free
        (`_Helper`): each layer's attention by halves of its heads, the rest by halves of the tokens."""
        with torch.inference_mode():
            ids, mask = features["input_ids"], features["attention_mask"]
            batch, length = ids.shape
            hidden = self.hidden
            types = features.get("token_type_ids")
            h = self.words[ids] + self.positions[:length]
            if types is not None and bool(types.any()):
                h = h + self.token_types[types]
            else:
                h = h + self.token_types[0]
            h = layer_norm(h, (hidden,), *self.embedding_norm, self.eps).view(batch * length, hidden)
            attention = self.query_attention if batch == 1 else torch.bfloat16
            bias = None  # padded keys get -inf; a batch without padding needs no mask
            if not bool(mask.all()):
                bias = torch.zeros(batch, 1, 1, length, dtype=attention).masked_fill_(
                    (mask == 0).view(batch, 1, 1, length), float("-inf"))
            helper = self._free_helper() if split and batch == 1 and length >= SPLIT_MIN_TOKENS else None
            if helper is None:
                h = self._layers(h, batch, length, attention, bias)
            else:
                try:
                    h = self._layers_split(helper, h, length, attention, bias)
                finally:
                    helper.busy.release()
            weights = mask.unsqueeze(-1).to(torch.float32)
            pooled = (h.view(batch, length, hidden) * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return normalize(pooled, dim=-1).numpy()

    def _layers(self, h, batch: int, length: int, attention, bias):
        qkv = self._product(h.to(torch.bfloat16), self.layers[0][0]).to(attention)
        for i, layer in enumerate(self.layers):
            a = self._attention(self._heads(qkv, batch, length), bias).transpose(1, 2).reshape(batch * length,
                                                                                               self.hidden)
            h, qkv = self._rows(h, a, layer, self._next_qkv(i), attention)
        return h

    def _layers_split(self, helper: "_Helper", h, length: int, attention, bias):
        """`_layers` for one text on two threads: the helper takes the second half of the heads, then of
        the tokens, of every layer."""
        half, cut = length // 2, self.heads // 2
        qkv = self._product(h.to(torch.bfloat16), self.layers[0][0]).to(attention)
        for i, layer in enumerate(self.layers):
            q, k, v = self._heads(qkv, 1, length)
            mine, theirs = helper.both(self._attention, ((q[:, cut:], k[:, cut:], v[:, cut:]), bias),
                                       self._attention, ((q[:, :cut], k[:, :cut], v[:, :cut]), bias))
            a = torch.cat((mine, theirs), 1).transpose(1, 2).reshape(length, self.hidden)
            nxt = self._next_qkv(i)
            (h1, qkv1), (h2, qkv2) = helper.both(self._rows, (h[half:], a[half:], layer, nxt, attention),
                                                 self._rows, (h[:half], a[:half], layer, nxt, attention))
            h = torch.cat((h1, h2))
            qkv = torch.cat((qkv1, qkv2)) if nxt is not None else None
        return h

    def _heads(self, qkv, batch: int, length: int):
        """q, k and v of shape (batch, heads, tokens, head size) from the fused projection's rows."""
        return qkv.view(batch, length, 3, self.heads, self.hidden // self.heads).permute(2, 0, 3, 1, 4)

    @staticmethod
    def _attention(qkv: tuple, bias):
        q, k, v = qkv
        return scaled_dot_product_attention(q, k, v, attn_mask=bias)

    def _next_qkv(self, i: int):
        return self.layers[i + 1][0] if i + 1 < len(self.layers) else None

    def _rows(self, h, a, layer: tuple, next_qkv, attention):
        """What a layer does to each token on its own after attention (output product, residual and norm,
        the feed-forward products, residual and norm), and the next layer's fused projection: any subset
        of the tokens' rows can go separately."""
        _qkv, out, out_norm, up, down, down_norm = layer
        hidden = (self.hidden,)
        h = layer_norm(h + self._product(a.to(torch.bfloat16), out).float(), hidden, *out_norm, self.eps)
        u = self._product(h.to(torch.bfloat16), up, gelu=True)
        h = layer_norm(h + self._product(u, down).float(), hidden, *down_norm, self.eps)
        return h, (None if next_qkv is None else self._product(h.to(torch.bfloat16), next_qkv).to(attention))

    def _free_helper(self) -> "_Helper | None":
        """This model's helper thread (started on first use, anew in a forked child), if no other forward
        pass is using it; the caller releases `busy`."""
        helper = self._helper
        if helper is None or helper.pid != os.getpid():
            with _HELPER_LOCK:
                helper = self._helper
                if helper is None or helper.pid != os.getpid():
                    helper = self._helper = _Helper()
        return helper if helper.busy.acquire(blocking=False) else None


_HELPER_LOCK = threading.Lock()
_IDLE, _POSTED, _RUNNING = range(3)


def _new_helper_lock_after_fork() -> None:
    # A thread of the parent may have held it at fork time; the child would wait forever.
    global _HELPER_LOCK
    _HELPER_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_helper_lock_after_fork)


class _Helper:
    """A second thread for one forward pass at a time. `both` runs the caller's part on the calling thread
    and posts the other part to this thread; a part the helper has not started by the time the caller's
    own is done is run by the caller too, so a helper that the OS has not scheduled (the other core is
    busy) costs no waiting. The thread blocks on a semaphore between parts: it never spins. Each part
    carries a number, and the caller takes only its own part's result, so a wait that was interrupted
    (Ctrl-C in a notebook, say) cannot hand a later caller a stale one."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.busy = threading.Lock()  # held by the forward pass using this helper
        self._lock = threading.Lock()
        self._wake = threading.Semaphore(0)
        self._done = threading.Semaphore(0)
        self._state = _IDLE
        self._posted = 0  # the number of the last part posted
        self._task: tuple | None = None
        self._result: tuple = (0, None, None)  # (part number, value, error)
        threading.Thread(target=self._loop, name="normbank-embed-helper", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self._wake.acquire()
            with self._lock:
                if self._state != _POSTED:  # run by the caller meanwhile (a wake-up left over)
                    continue
                self._state = _RUNNING
                number, function, args = self._task
            try:
                with torch.inference_mode():  # per thread: the caller's does not reach this one
                    self._result = (number, function(*args), None)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                self._result = (number, None, exc)
            del function, args  # nothing of the model or its activations kept between parts
            self._done.release()

    def both(self, theirs: Callable, their_args: tuple, mine: Callable, my_args: tuple) -> tuple:
        """(mine(*my_args), theirs(*their_args)), the second on the helper thread if it gets to it first."""
        with self._lock:
            self._posted += 1
            number = self._posted
            self._task, self._state = (number, theirs, their_args), _POSTED
        self._wake.release()
        try:
            own = mine(*my_args)
        finally:
            with self._lock:
                taken = self._state == _RUNNING
                self._state, self._task = _IDLE, None
            if taken:
                while True:  # a release left by an interrupted wait belongs to an earlier part
                    self._done.acquire()
                    done, result, error = self._result
                    if done == number:
                        break
                self._result = (0, None, None)
        if not taken:
            return own, theirs(*their_args)
        if error is not None:
            raise error
        return own, result
