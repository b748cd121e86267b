"""/v1/search, /v1/ground, linking in /v1/query and /v1/judge, and the index lifecycle — with the
deterministic hashing encoder (retrieval quality with the real model: tests/normbank/retrieval, tests/bench)."""

from __future__ import annotations

import json

import numpy as np

from fastapi.testclient import TestClient

import normbank.cli
from api.app import create_app
from ingest.pipeline import run_import
from normbank.linking import link
from tests.conftest import FIXTURES, app_settings

NORMDIAL = FIXTURES / "normdial"


def ok(response):
    assert response.status_code == 200, response.text
    return response.json()


def test_search_finds_norms_by_free_text_with_filters(client):
    body = ok(client.get("/v1/search", params={"q": "tip in japan", "k": 3}))
    assert body["mode"] == "hybrid" and len(body["results"]) == 3
    assert any("in Japan" in hit["statement"] for hit in body["results"])
    hit = body["results"][0]
    assert set(hit) == {"id", "text", "statement", "label", "agreement", "setting", "behavior", "score", "source"}
    assert hit["source"]["url"] == "https://github.com/SALT-NLP/normbank" and hit["agreement"] is None
    filtered = ok(client.get("/v1/search", params={"q": "alcohol", "setting": "bar", "label": "taboo", "k": 5}))
    assert filtered["results"] and all(h["setting"] == "bar" and h["label"] == "taboo" for h in filtered["results"])
    lexical = ok(client.get("/v1/search", params={"q": "alcohol", "mode": "lexical", "k": 2}))
    assert lexical["mode"] == "lexical" and all("alcohol" in h["text"] for h in lexical["results"])


def test_search_validates_its_parameters(client):
    assert client.get("/v1/search").status_code == 422
    assert client.get("/v1/search", params={"q": "x", "k": 0}).json()["error"]["code"] == "invalid_request"
    assert client.get("/v1/search", params={"q": "x", "setting": "qqqqzzzz"}).status_code == 404


def test_ground_drops_false_frames_and_ranks_applicable_first(client):
    body = ok(client.post("/v1/ground", json={
        "situation": "a teenage customer wants to drink alcohol with dinner", "setting": "restaurant",
        "person": {"role": "customer", "attributes": {"age bracket": "teen"}}, "k": 5,
    }))
    assert set(body) == {"norms", "linked", "ask", "prompt", "unused"}
    drink = [n for n in body["norms"] if n["behavior"] == "drink alcohol"]
    assert drink and drink[0]["label"] == "taboo" and drink[0]["status"] == "applies"
    # The server's frame is FALSE for a customer; the customer default is overridden by the teen frame.
    assert all("server" not in " ".join(n["conditions"]) for n in drink)
    assert all(n["id"] in body["prompt"] for n in body["norms"])


def test_a_relevant_conditional_norm_outranks_an_incidental_one_that_always_applies(corpus_client):
    client = corpus_client(
        "setting,behavior,setting-behavior,constraints,constraints_given,constraint_predict,norm,label,split\n"
        "dinner party,refill a guest's wine glass,dinner party [BEHAVIOR] refill a guest's wine glass,"
        "[PERSON]'s role is 'host',,[PERSON]'s role is 'host',expected,2,train\n"
        "museum,lean on the glass cases,museum [BEHAVIOR] lean on the glass cases,,,,taboo,0,train\n")
    body = ok(client.post("/v1/ground", json={"situation": "at a dinner party the host refills a guest's wine glass",
                                              "k": 2}))
    assert [(n["behavior"], n["status"]) for n in body["norms"]] == [
        ("refill a guest's wine glass", "conditional"), ("lean on the glass cases", "applies")]


def test_ground_asks_for_what_would_change_the_answer(client):
    body = ok(client.post("/v1/ground", json={"situation": "someone wants to drink alcohol", "setting": "restaurant",
                                              "k": 3}))
    conditional = [n for n in body["norms"] if n["status"] == "conditional"]
    assert conditional and all(n["conditions"] for n in conditional)
    asked = {(a["subject"], a["name"]) for a in body["ask"]}
    assert ("person", "role") in asked
    assert "find out" in body["prompt"]


def test_ground_links_free_text_setting_and_values(client):
    body = ok(client.post("/v1/ground", json={"situation": "leaving a tip after dinner", "setting": "resturant",
                                              "environment": {"country": "USA"},
                                              "person": {"role": "customer"}, "k": 3}))
    linked = {(l["kind"], l["text"]): l for l in body["linked"]}
    assert linked[("setting", "resturant")]["linked"] == "restaurant"
    assert linked[("value", "USA")]["linked"] == "the united states" and linked[("value", "USA")]["method"] == "alias"
    tip = [n for n in body["norms"] if n["behavior"] == "leave a tip"]
    assert tip[0]["label"] == "expected" and tip[0]["status"] == "applies"


def test_judge_links_free_text_and_reports_it(client):
    body = ok(client.post("/v1/judge", json={"setting": "Restaurant ", "behavior": "drink alcohool",
                                             "person": {"role": "customer", "attributes": {"age bracket": "teen"}}}))
    assert body["behavior"] == "drink alcohol" and body["verdict"] == "taboo"
    assert [(l["kind"], l["linked"], l["method"]) for l in body["linked"]] == [("behavior", "drink alcohol", "fuzzy")]


def test_a_setting_that_links_to_nothing_is_a_404_saying_so(client):
    response = client.post("/v1/judge", json={"setting": "qqqqzzzz xxxx", "behavior": "x"})
    assert response.status_code == 404
    assert "links to no setting" in response.json()["error"]["message"]


def test_a_setting_means_that_settings_norms_unless_setting_less_ones_are_asked_for(engine, database_url, tmp_path):
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="normbank-sample")
    run_import(engine=engine, format="normdial", path=NORMDIAL)  # norms of no setting
    app = create_app(app_settings(database_url, tmp_path))
    with TestClient(app) as client:
        app.state.retriever.wait()
        situation = {"situation": "greeting someone and saying thank you at dinner", "setting": "restaurant", "k": 20}
        only = ok(client.post("/v1/ground", json=situation))
        assert only["norms"] and {n["setting"] for n in only["norms"]} == {"restaurant"}
        both = ok(client.post("/v1/ground", json={**situation, "include_setting_less": True}))
        assert None in {n["setting"] for n in both["norms"]}
        free = ok(client.post("/v1/ground", json={k: v for k, v in situation.items() if k != "setting"}))
        assert None in {n["setting"] for n in free["norms"]}
        params = {"q": "greeting and thanks", "setting": "restaurant", "k": 20}
        hits = ok(client.get("/v1/search", params=params))["results"]
        assert hits and {h["setting"] for h in hits} == {"restaurant"}
        hits = ok(client.get("/v1/search", params={**params, "include_setting_less": "true"}))["results"]
        assert None in {h["setting"] for h in hits}


def test_readyz_reports_the_index_and_a_stale_one_is_rebuilt(engine, database_url, tmp_path):
    run_import(engine=engine, format="normbank", path=FIXTURES / "normbank" / "noise.csv")
    app = create_app(app_settings(database_url, tmp_path))
    with TestClient(app) as client:
        retriever = app.state.retriever
        retriever.wait()
        assert client.get("/readyz").json()["checks"]["index"] == "ok"
        first = retriever.store.current_manifest()
        run_import(engine=engine, format="normdial", path=NORMDIAL)  # another process would do the same
        assert "data version" in retriever.staleness()
        retriever._stale_checked = 0.0
        retriever._loaded_at = 0.0
        app.state.cache.invalidate()
        ok(client.get("/v1/search", params={"q": "apology"}))  # notices, rebuilds in the background
        retriever.wait()
        second = retriever.store.current_manifest()
        assert second.build != first.build and retriever.staleness() is None
        assert second.collections["examples"] > 0
        assert sum(name.startswith("norm_prototypes") for name in second.collections) == 2  # one per corpus
        body = ok(client.get("/v1/search", params={"q": "apology", "k": 3}))
        assert body["results"]


def test_in_rebuild_mode_new_data_is_indexed_in_the_background_without_a_request(engine, database_url, tmp_path):
    import time

    run_import(engine=engine, format="normbank", path=FIXTURES / "normbank" / "noise.csv")
    app = create_app(app_settings(database_url, tmp_path, cache_check_seconds=0.2))
    with TestClient(app):
        retriever = app.state.retriever
        retriever.wait()
        first = retriever.store.current_manifest()
        run_import(engine=engine, format="normdial", path=NORMDIAL)  # as another process would
        deadline = time.monotonic() + 60
        while retriever.store.current_manifest().build == first.build and time.monotonic() < deadline:
            time.sleep(0.1)
        retriever.wait()
        second = retriever.store.current_manifest()
        assert second.build != first.build and retriever.staleness() is None
        # only NormDial's texts were embedded: the rest came from the first build
        assert 0 < second.embedded < second.distinct_texts
        before = second.build
        run_import(engine=engine, format="normdial", path=NORMDIAL)  # adds nothing: nothing to rebuild
        time.sleep(1.0)
        assert retriever.staleness() is None and retriever.store.current_manifest().build == before


def test_without_an_index_free_text_falls_back_to_full_text_search(engine, database_url, tmp_path):
    run_import(engine=engine, format="normdial", path=NORMDIAL)
    app = create_app(app_settings(database_url, tmp_path, index_on_start="off"))
    with TestClient(app) as client:
        assert "off" in client.get("/readyz").json()["checks"]["index"]
        body = ok(client.post("/v1/ground", json={"situation": "someone apologises to a colleague", "k": 2}))
        assert body["norms"]
        assert client.get("/v1/search", params={"q": "apology", "mode": "dense"}).status_code == 503


def test_ground_with_culture_context_excludes_the_other_culture(engine, database_url, tmp_path):
    run_import(engine=engine, format="normdial", path=NORMDIAL)
    app = create_app(app_settings(database_url, tmp_path))
    with TestClient(app) as client:
        app.state.retriever.wait()
        body = ok(client.post("/v1/ground", json={"situation": "greeting a new colleague at work", "k": 10,
                                                  "environment": {"country": "China"}}))
        assert body["norms"] and all("china" in json.dumps(n).lower() or n["status"] == "applies" for n in body["norms"])
        assert all(n["status"] == "applies" for n in body["norms"])
        unknown = ok(client.post("/v1/ground", json={"situation": "greeting a new colleague at work", "k": 10}))
        assert all(n["status"] == "conditional" for n in unknown["norms"])
        assert [a["name"] for a in unknown["ask"]] == ["country"]



def test_real_normdial_examples_teach_the_dense_side_a_query_map(engine, database_url, tmp_path):
    """Real NormDial situations (three categories of the shared data) are enough to learn a query map;
    searched densely, the bank's situations then find their own norm more often than through the plain
    vectors. (Held-out quality with the real model: tests/bench/retrieval_normdial.py.)"""
    import shutil

    from sqlalchemy import select

    from schema.models import NormExample
    from tests.conftest import shared

    normdial = shared("normdial")
    corpus = tmp_path / "normdial"
    for path in sorted(normdial.glob("*/*/*/cleaned_dialogue.csv")):
        if path.parent.name in ("apology", "greeting", "thanks"):
            target = corpus / path.relative_to(normdial)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    run_import(engine=engine, format="normdial", path=corpus)
    app = create_app(app_settings(database_url, tmp_path / "data", index_on_start="demand"))
    with TestClient(app) as client:
        retriever = app.state.retriever
        retriever.rebuild()
        (name,) = retriever.store.current_manifest().query_maps  # one corpus, one map
        assert name.startswith("norm_prototypes")
        mapped = retriever.indexes().collections[name]
        plain = type(mapped)(mapped._index, mapped._ids, mapped._offsets)  # the same vectors, no map
        with engine.connect() as conn:
            examples = conn.execute(select(NormExample.norm_id, NormExample.situation)).all()[::5]
        queries = retriever.encoder.encode([situation for _, situation in examples])
        hits = {
            name: sum(norm_id in {i for i, _ in found} for (norm_id, _), found in zip(examples, index.search(queries, 5)))
            for name, index in (("mapped", mapped), ("plain", plain))
        }
        assert len(examples) >= 100 and hits["mapped"] > hits["plain"] * 1.05, hits


def test_linking_reads_candidate_vectors_from_the_index_and_encodes_only_the_query(engine, database_url, tmp_path):
    run_import(engine=engine, format="normbank", path=FIXTURES / "normbank" / "noise.csv")
    app = create_app(app_settings(database_url, tmp_path, index_on_start="demand"))
    with TestClient(app) as client:
        retriever = app.state.retriever
        retriever.rebuild()
        inner = retriever.encoder
        asked: list[str] = []

        class Recording:  # the same encoder, recording what it is asked to encode
            name, dimension = inner.name, inner.dimension

            def encode(self, texts, **kwargs):
                asked.extend(texts)
                return inner.encode(texts, **kwargs)

        retriever._encoder = Recording()
        behaviors = sorted(app.state.cache.get("restaurant").by_behavior)
        linked = link("drink alcohool", "behavior", behaviors, similarity=retriever.similarity)
        assert linked.linked == "drink alcohol"
        assert set(asked) <= {"drink alcohool"}, asked  # every candidate's vector came from the index
        expected = inner.encode(behaviors)
        np.testing.assert_allclose(retriever.embed(behaviors), expected, rtol=1e-5, atol=1e-6)

        # an index built with another model is not read: its vectors would not be comparable
        retriever._stored, retriever._vectors = None, type(retriever._vectors)()
        Recording.name = "hashing-other"
        link("drink alcohool", "behavior", behaviors, similarity=retriever.similarity)
        assert set(behaviors) <= set(asked)


def test_hybrid_ranking_searches_full_text_while_the_query_is_encoded(client, monkeypatch):
    import threading

    import pytest

    from api import grounding
    from normbank.retrieval.fusion import score_fusion

    retriever = client.app.state.retriever
    assert retriever.dense_available()
    threads = []
    original = retriever.lexical

    def lexical(text, k, *, kind=None):
        threads.append(threading.current_thread().name)
        return original(text, k, kind=kind)

    monkeypatch.setattr(retriever, "lexical", lexical)
    text = "a teenage customer wants to drink alcohol with dinner"
    fused = grounding.rank(retriever, text, k=20)
    assert threads == [threads[0]] and threads[0].startswith("normbank-lexical")
    # the same fusion as one list after the other
    expected = score_fusion([retriever.dense_norms(text, 20), grounding._lexical(retriever, text, 20)],
                            [grounding.WEIGHTS["dense"], grounding.WEIGHTS["lexical"]])[:20]
    assert fused and fused == expected
    # a failure on the dense side is the caller's error, not lost on the other thread

    def broken(*args, **kwargs):
        raise RuntimeError("encoder crashed")

    monkeypatch.setattr(retriever, "dense_norms", broken)
    with pytest.raises(RuntimeError, match="encoder crashed"):
        grounding.rank(retriever, text, k=20)


def test_hybrid_ranking_on_in_memory_sqlite_searches_on_the_calling_thread():
    # An in-memory SQLite engine holds one database per thread (SingletonThreadPool): a search on a
    # side thread would see an empty database.
    import threading
    from types import SimpleNamespace

    from api import grounding
    from normbank.retrieval.fusion import score_fusion
    from schema.engine import make_engine

    threads = []

    def lexical(text, k, *, kind=None):
        threads.append(threading.current_thread().name)
        return [(2, "norm", 3.0), (3, "norm", 1.0)]

    retriever = SimpleNamespace(engine=make_engine("sqlite://"), dense_available=lambda: True,
                                dense_norms=lambda text, k: [(1, 0.9), (2, 0.5)], lexical=lexical)
    ranked = grounding.rank(retriever, "anything", k=3)
    assert threads == [threading.current_thread().name]
    assert ranked == score_fusion([[(1, 0.9), (2, 0.5)], [(2, 3.0), (3, 1.0)]],
                                  [grounding.WEIGHTS["dense"], grounding.WEIGHTS["lexical"]])[:3]
    assert {norm_id for norm_id, _ in ranked} == {1, 2, 3}
