"""The fast BERT forward (normbank.retrieval.bert) against the model it replaces: same vectors within
bfloat16's error, alone and in padded batches, and only for the model shapes it reproduces."""

from __future__ import annotations

import numpy as np
import pytest

from normbank.retrieval.encoder import SentenceTransformerEncoder

pytestmark = pytest.mark.slow

SITUATIONS = [
    "Li Wei is visiting his grandmother in Chengdu for the Spring Festival. His cousin hands him a red envelope "
    "with both hands, and the whole family is watching to see how he receives it.",
    "a small sushi place near the station",
    "It is rude to interrupt someone who is speaking.",
    "At the office party, Sarah's manager offers her a glass of wine, but she does not drink alcohol for "
    "religious reasons and is unsure how to decline without offending him in front of her colleagues.",
    "hospital",
]


@pytest.fixture(scope="module")
def models():
    from normbank.retrieval import encoder as encoder_module

    before = set(encoder_module._MODELS)
    yield SentenceTransformerEncoder(precision="float32"), SentenceTransformerEncoder(precision="bfloat16")
    for key in set(encoder_module._MODELS) - before:  # later tests expect a model not yet loaded
        del encoder_module._MODELS[key]


def _min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum(axis=1).min())


def test_the_packaged_model_takes_the_fast_forward_within_cosine_0_9999_of_float32(models):
    exact, fast = models
    assert fast._loaded().fast is not None and exact._loaded().fast is None  # float32 keeps model.forward
    reference = exact.encode(SITUATIONS, batch_size=1)
    alone = fast.encode(SITUATIONS, batch_size=1)
    padded = fast.encode(SITUATIONS, batch_size=len(SITUATIONS))  # one batch: the short ones are padded
    assert alone.dtype == np.float32 and alone.shape == (len(SITUATIONS), 384)
    np.testing.assert_allclose(np.linalg.norm(padded, axis=1), 1.0, rtol=1e-5)
    assert _min_cosine(alone, reference) >= 0.9999
    assert _min_cosine(padded, reference) >= 0.9999
    assert not np.array_equal(alone, reference)  # bfloat16 really ran


def test_fast_forward_matches_the_models_own_forward_with_token_types_and_plain_products(models):
    import torch

    from normbank.retrieval.bert import _Bfloat16Bert

    _, fast = models
    loaded = fast._loaded()
    features = loaded.model.preprocess(SITUATIONS[:3])
    features["token_type_ids"] = (torch.arange(features["input_ids"].shape[1]) % 2).expand_as(features["input_ids"])
    with torch.inference_mode():
        own = loaded.model.forward(dict(features))["sentence_embedding"].float().numpy()
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    assert _min_cosine(loaded.fast(features), own) >= 0.9999
    plain = _Bfloat16Bert(loaded.model[0].auto_model, packed=False)
    assert _min_cosine(plain(features), own) >= 0.9999
    # the token types were read: without them the vectors move
    features["token_type_ids"] = torch.zeros_like(features["input_ids"])
    assert _min_cosine(loaded.fast(features), own) < 0.9999


def test_other_model_shapes_keep_the_models_own_forward(models, monkeypatch):
    from normbank.retrieval.bert import fast_forward

    _, fast = models
    model = fast._loaded().model
    assert fast_forward(model) is not None
    monkeypatch.setattr(model[1], "pooling_mode", "cls")
    assert fast_forward(model) is None
    monkeypatch.undo()
    monkeypatch.setattr(model[0].auto_model.config, "hidden_act", "gelu_new")
    assert fast_forward(model) is None
    monkeypatch.undo()
    assert fast_forward([model[0]]) is None  # no pooling module


def test_a_single_texts_attention_runs_in_the_dtype_the_cpu_calls_for_and_batches_in_bfloat16(models, monkeypatch):
    import torch

    from normbank.retrieval import bert, encoder as encoder_module
    from normbank.retrieval.bert import _Bfloat16Bert

    monkeypatch.setattr(encoder_module, "cpu_flags", lambda: frozenset({"avx512_bf16", "amx_bf16"}))
    assert bert.query_attention_dtype() is torch.bfloat16
    monkeypatch.setattr(encoder_module, "cpu_flags", lambda: frozenset({"avx512_bf16"}))
    assert bert.query_attention_dtype() is torch.float32

    exact, fast = models
    loaded = fast._loaded()
    reference = exact.encode(SITUATIONS, batch_size=1)
    auto = bert.fast_forward(loaded.model)
    assert auto.query_attention is torch.float32  # as the patched flags ask
    half = _Bfloat16Bert(loaded.model[0].auto_model, packed=auto.packed, query_attention=torch.bfloat16)
    one = [loaded.model.preprocess([text]) for text in SITUATIONS]
    single, single_half = np.vstack([auto(f) for f in one]), np.vstack([half(f) for f in one])
    assert _min_cosine(single, reference) >= 0.9999
    assert not np.array_equal(single, single_half)  # float32 attention really ran for one text
    padded = loaded.model.preprocess(SITUATIONS)
    np.testing.assert_array_equal(auto(padded), half(padded))  # a batch keeps bfloat16 attention
    assert _min_cosine(auto(padded), reference) >= 0.9999


def test_a_long_single_text_split_over_two_threads_gives_the_same_vector(models, monkeypatch):
    from normbank.retrieval import bert, encoder as encoder_module

    _, fast = models
    loaded = fast._loaded()
    features = loaded.model.preprocess([SITUATIONS[0] * 3])  # well over SPLIT_MIN_TOKENS
    assert features["input_ids"].shape[1] >= bert.SPLIT_MIN_TOKENS
    handed = []
    real_both = bert._Helper.both
    monkeypatch.setattr(bert._Helper, "both", lambda self, *a: handed.append(1) or real_both(self, *a))
    alone = loaded.fast(features)
    assert not handed  # without split: one thread
    split = loaded.fast(features, split=True)
    assert len(handed) == 2 * len(loaded.fast.layers)  # the heads, then the tokens, of every layer
    assert _min_cosine(split, alone) >= 0.99999
    short = loaded.model.preprocess([SITUATIONS[1]])  # under SPLIT_MIN_TOKENS: one thread
    handed.clear()
    loaded.fast(short, split=True)
    assert not handed
    # The encoder splits single long texts only, and only when asked to.
    handed.clear()
    fast.encode([SITUATIONS[0] * 3])
    assert handed or encoder_module.usable_cores() == 1
    handed.clear()
    fast.query_threads = 1
    try:
        fast.encode([SITUATIONS[0] * 3])
    finally:
        fast.query_threads = 2
    assert not handed


def test_a_busy_helper_leaves_other_passes_on_one_thread_and_a_forked_child_gets_its_own(models):
    from normbank.retrieval import bert

    _, fast = models
    forward = fast._loaded().fast
    helper = forward._free_helper()
    assert helper is not None  # now held, as by a pass in progress
    try:
        assert forward._free_helper() is None
    finally:
        helper.busy.release()
    again = forward._free_helper()
    assert again is helper
    again.busy.release()
    helper.pid = -1  # as seen from a forked child: the thread is not there
    fresh = forward._free_helper()
    assert fresh is not helper and fresh.pid == bert.os.getpid()
    fresh.busy.release()


def test_the_helper_runs_a_part_it_has_not_started_on_the_callers_thread_and_hands_back_errors():
    import threading
    import time

    from normbank.retrieval.bert import _Helper

    here = threading.current_thread().name
    helper = _Helper()
    started = threading.Event()

    def theirs():
        started.set()
        return threading.current_thread().name

    def mine():  # waits (up to 5 s) for the helper to take the other part
        started.wait(5)
        started.clear()
        return "mine"

    assert helper.both(theirs, (), mine, ()) == ("mine", "normbank-embed-helper")
    # A helper thread that never wakes up (as if descheduled): the caller runs the posted part itself.
    asleep, helper._wake = helper._wake, threading.Semaphore(0)
    assert helper.both(theirs, (), lambda: "mine", ()) == ("mine", here)
    assert helper.both(theirs, (), lambda: "mine", ()) == ("mine", here)
    started.clear()
    helper._wake = asleep  # awake again: no part is run twice, and the next goes to the helper
    assert helper.both(theirs, (), mine, ()) == ("mine", "normbank-embed-helper")
    # Errors from either side reach the caller, and the helper keeps working afterwards.
    def fails():
        started.set()
        return 1 / 0

    with pytest.raises(ZeroDivisionError):  # raised on the helper thread, handed back
        helper.both(fails, (), mine, ())
    with pytest.raises(ZeroDivisionError):  # run by the caller
        helper.both(fails, (), lambda: "mine", ())
    with pytest.raises(KeyError):
        helper.both(theirs, (), lambda: {}["x"], ())
    started.clear()
    assert helper.both(theirs, (), mine, ()) == ("mine", "normbank-embed-helper")
    # A wait that was interrupted leaves a release behind: the next caller still waits for its own part.
    def slow():
        started.set()
        time.sleep(0.2)  # still running when the caller's part is done
        return "slow"

    helper._done.release()
    started.clear()
    assert helper.both(slow, (), mine, ()) == ("mine", "slow")
    started.clear()
    assert helper.both(lambda: started.set() or "second", (), mine, ()) == ("mine", "second")
