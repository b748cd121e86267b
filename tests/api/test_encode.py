"""The reasoning routes return JSON bytes they write themselves (api.encode): they must be exactly the
bytes pydantic writes for the response model, and they must validate against it."""

from __future__ import annotations

import pytest

from api import encode, service
from api.models import JudgeRequest, JudgeResponse, QueryRequest, QueryResponse

CONTEXTS = [
    {},
    {"person": {"role": "customer"}},
    {"person": {"role": "customer", "attributes": {"age bracket": "teen"}}},
    {"person": {"role": "customer", "attributes": {"age bracket": "senior citizen"}}, "environment": {"country": "japan"}},
    {"person": {"role": "server", "behaviors": ["drinking alcohol"]}, "other": {"role": "customer"},
     "environment": {"time of day": "night", "noise level": 3, "unheard of": "x"}},
    {"person": {"role": "costumer", "attributes": {"age bracket": "tenager"}}},  # linked free text
]


def test_judge_and_query_bytes_are_pydantics_bytes_for_every_behaviour(client):
    app = client.app
    cache, retriever = app.state.cache, app.state.retriever
    settings = [s["name"] for s in client.get("/v1/settings").json()["data"]]
    checked = 0
    for setting in settings:
        behaviors = [r["behavior"] for r in client.post("/v1/query", json={"setting": setting, "limit": 1000}).json()["results"]]
        for context in CONTEXTS:
            query = service.query(cache, QueryRequest(setting=setting, limit=1000, **context), retriever)
            assert encode.dumps(query) == query.model_dump_json().encode()
            assert QueryResponse.model_validate_json(encode.dumps(query)) == QueryResponse.model_validate(query.model_dump())
            assert service.query_json(cache, QueryRequest(setting=setting, limit=1000, **context), retriever) \
                == query.model_dump_json().encode()
            for behavior in behaviors:
                request = JudgeRequest(setting=setting, behavior=behavior, **context)
                judged = service.judge(cache, request, retriever)
                assert encode.dumps(judged) == judged.model_dump_json().encode()
                # The answer's part written once per answer, the request's fields after it: the same bytes.
                assert service.judge_json(cache, request, retriever) == judged.model_dump_json().encode()
                checked += 1
    assert checked > 100


def test_the_routes_answer_with_those_bytes(client):
    body = {"setting": "restaurant", "behavior": "drink alcohol", "person": {"role": "customer"}}
    response = client.post("/v1/judge", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    expected = service.judge(client.app.state.cache, JudgeRequest(**body), client.app.state.retriever)
    assert response.content == expected.model_dump_json().encode()
    JudgeResponse.model_validate_json(response.content)


@pytest.mark.skipif(encode.orjson is None, reason="orjson is not installed")
def test_without_orjson_pydantic_writes_the_same_bytes(client, monkeypatch):
    cache, retriever = client.app.state.cache, client.app.state.retriever
    body = JudgeRequest(setting="bar", behavior="consume alcohol", person={"attributes": {"age bracket": "teen"}})
    linked = JudgeRequest(setting="bar", behavior="consume alcohol", person={"role": "costumer"},
                          environment={"unheard of": "x"})
    judged = service.judge(cache, body, retriever)
    fast = encode.dumps(judged)
    fast_linked = encode.dumps(service.judge(cache, linked, retriever))
    assert b'"unused":[{' in fast_linked and b'"linked":[{' in fast_linked
    monkeypatch.setattr(encode, "orjson", None)
    assert encode.dumps(judged) == fast
    # The request's fields written by pydantic after an answer's bytes: still the same bytes.
    assert service.judge_json(cache, body, retriever) == fast
    assert service.judge_json(cache, linked, retriever) == fast_linked
    assert encode.extended(b"{}", {"a": 1}) == b'{"a":1}' and encode.extended(b'{"a":1}', {}) == b'{"a":1}'


def test_an_answer_written_once_is_forgotten_when_the_data_changes(corpus_client, engine, tmp_path):
    # /v1/judge keeps an answer's bytes with the answer: an import (the frame cache reloads) must not
    # serve them again.
    from ingest.pipeline import run_import
    from tests.api.test_reasoning_api import TINY

    client = corpus_client(TINY)
    body = {"setting": "office", "behavior": "wear a hat", "person": {"role": "manager"},
            "environment": {"time of day": "morning"}}
    first = client.post("/v1/judge", json=body)
    assert (first.json()["verdict"], first.json()["distribution"]) == ("taboo", {"expected": 0, "normal": 2, "taboo": 3})
    more = tmp_path / "more.csv"
    frame = "[PERSON]'s role is 'manager' [AND] time of day is 'morning'"
    more.write_text(TINY.splitlines()[0] + f"\noffice,wear a hat,office [BEHAVIOR] wear a hat,{frame},,{frame},expected,2,train\n",
                    encoding="utf-8")
    assert run_import(engine=engine, format="normbank", path=more, source="more").rejected == 0
    client.app.state.cache.invalidate()
    second = client.post("/v1/judge", json=body)
    assert (second.json()["verdict"], second.json()["distribution"]) == ("expected", {"expected": 1, "normal": 0, "taboo": 0})
    cache, retriever = client.app.state.cache, client.app.state.retriever
    assert second.content == service.judge(cache, JudgeRequest(**body), retriever).model_dump_json().encode()
