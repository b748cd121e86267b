"""The vector index is built in a child process (`normbank index`), never in the server's own: the server
loads the finished build and answers from it, and a build that fails is reported, not raised at requests."""

from __future__ import annotations

import pytest

import schema.indexing
from api.retrieval import Retriever
from ingest.pipeline import run_import
from normbank.cli import sample_corpus_path
from normbank.errors import IndexNotReady
from tests.conftest import app_settings


def _not_here(*args, **kwargs):
    raise AssertionError("the index was built inside the server process")


def test_the_server_answers_from_an_index_a_child_process_built(engine, database_url, tmp_path, monkeypatch):
    run_import(engine=engine, format="normbank", path=sample_corpus_path(), source="sample")
    monkeypatch.setattr(schema.indexing, "build_index", _not_here)
    retriever = Retriever(engine, app_settings(database_url, tmp_path / "data", index_build="child"))
    assert retriever.staleness() == "missing"
    retriever.rebuild()
    assert retriever.staleness() is None
    loaded = retriever.indexes()
    assert loaded is not None and loaded.manifest.build == retriever.store.current_manifest().build
    assert retriever.dense_norms("tip the waiter", 3)
    assert retriever.status()["state"] == "fresh"


def test_a_failed_child_build_is_reported(engine, database_url, tmp_path):
    run_import(engine=engine, format="normbank", path=sample_corpus_path(), source="sample")
    data = tmp_path / "data"
    data.mkdir()
    (data / "indexes").write_text("not a directory")  # the child cannot write its build
    retriever = Retriever(engine, app_settings(database_url, data, index_build="child"))
    with pytest.raises(IndexNotReady, match="normbank index"):
        retriever.rebuild()
    status = retriever.status()
    assert status["state"] != "fresh" and "normbank index" in status["last_error"]
