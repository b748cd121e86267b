"""The pandas benchmark peer answers the same question as our reasoner (not timed).

tests/bench/peers/pandas_peer.py has its own constraint parser and evaluator; if it drifted from the
bank's semantics, its latency would be that of a different question. On the shipped sample corpus, every
behaviour of every setting is judged under a few contexts by both, and (status, verdict, label counts)
must agree. Skipped when the `bench` extra (pandas) is not installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("pandas")

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "normbank" / "data" / "sample_normbank.csv"

CONTEXTS = [
    {"person": {"role": None, "attributes": {}}, "environment": {}},
    {"person": {"role": "customer", "attributes": {"age bracket": "teen"}}, "environment": {"time of day": "night"}},
    {"person": {"role": "customer", "attributes": {"age bracket": "senior citizen"}}, "environment": {}},
    {"person": {"role": "server", "attributes": {}}, "environment": {"time of day": "morning"}},
    {"person": {"role": "student", "attributes": {"age bracket": "young adult"}}, "environment": {"time of day": "noon"}},
]


def _load_peer():
    path = REPO / "tests" / "bench" / "peers" / "pandas_peer.py"
    spec = importlib.util.spec_from_file_location("pandas_peer", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pandas_peer_agrees_with_the_reasoner_on_the_sample(tmp_path):
    peer = _load_peer()
    notebook = peer.Notebook(SAMPLE)
    ours = peer.Ours(None, SAMPLE, tmp_path)  # ingests the sample into a scratch SQLite file
    settings = sorted(notebook.df["setting"].unique())
    assert len(settings) > 1
    compared = 0
    for setting in settings:
        ours.load(setting)
        roles = notebook.person_roles(setting)
        contexts = CONTEXTS + [{"person": {"role": role, "attributes": {}}, "environment": {}} for role in roles[:3]]
        for behavior in notebook.behaviors(setting):
            for context in contexts:
                expected = ours.judge(behavior, ours.prepare(setting, context))
                for judge in (notebook.judge_mask, notebook.judge_groupby, notebook.judge_groupby_numpy,
                              notebook.judge_groupby_numpy_preparsed):
                    got = judge(setting, behavior, context)
                    assert got == expected, (judge.__name__, setting, behavior, context)
                compared += 1
    assert compared > 100
