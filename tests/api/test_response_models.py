"""Every answer the reasoning and grounding endpoints give is exactly what their documented response
models say: it validates against the model and survives a round trip through it unchanged."""

from __future__ import annotations

import orjson
import pytest

from api import service
from api.models import GroundResponse, JudgeRequest, JudgeResponse, QueryRequest, QueryResponse, SearchResponse

CONTEXTS = [
    {},
    {"person": {"role": "customer"}},
    {"person": {"role": "customer", "attributes": {"age bracket": "teen"}}, "environment": {"country": "japan"}},
    {"person": {"role": "chef"}},
    {"person": {"attributes": {"moon sign": "leo"}}},
]


def _conforms(model, body: dict) -> None:
    assert model.model_validate(body).model_dump(mode="json") == body


@pytest.mark.parametrize("context", CONTEXTS)
def test_query_and_judge_answers_conform_to_their_models(client, context):
    for setting in ("restaurant", "bar", "park"):
        query = client.post("/v1/query", json={"setting": setting, "limit": 1000, **context})
        assert query.status_code == 200, query.text
        _conforms(QueryResponse, query.json())
        for result in query.json()["results"]:
            judged = client.post("/v1/judge", json={"setting": setting, "behavior": result["behavior"], **context})
            assert judged.status_code == 200, judged.text
            _conforms(JudgeResponse, judged.json())
            assert {k: v for k, v in judged.json().items() if k not in ("setting", "unused", "linked")} == result


def as_json(data: dict) -> dict:
    return orjson.loads(orjson.dumps(data))


def test_http_answers_equal_what_the_cli_and_agents_get(client):
    """The routes write remembered answers from their cached JSON; the CLI, MCP and the explorer use the
    application layer's dicts: both must say the same, first time and again."""
    cache = client.app.state.cache
    for context in CONTEXTS:
        request = QueryRequest(setting="restaurant", limit=1000, **context)
        for _ in range(2):
            body = client.post("/v1/query", json=request.model_dump(exclude_none=True)).json()
            assert body == as_json(service.query(cache, request))
        for result in body["results"][:5]:
            judge = JudgeRequest(setting="restaurant", behavior=result["behavior"], **context)
            assert client.post("/v1/judge", json=judge.model_dump(exclude_none=True)).json() == as_json(service.judge(cache, judge))


def test_search_and_ground_answers_conform_to_their_models(client):
    for mode in ("hybrid", "dense", "lexical"):
        search = client.get("/v1/search", params={"q": "alcohol for a teen", "mode": mode})
        assert search.status_code == 200, search.text
        _conforms(SearchResponse, search.json())
    ground = client.post("/v1/ground", json={"situation": "A teen orders a beer at a restaurant.",
                                             "setting": "restaurant", "person": {"role": "customer"}})
    assert ground.status_code == 200, ground.text
    assert ground.json()["norms"]
    _conforms(GroundResponse, ground.json())


def test_an_answer_changes_when_an_import_changes_the_frames(corpus_client, engine, tmp_path):
    from ingest.pipeline import run_import
    from tests.api.conftest import NORMBANK_HEADER

    client = corpus_client(NORMBANK_HEADER + "\noffice,wear a suit,office [BEHAVIOR] wear a suit,,,,normal,1,train\n")
    body = {"setting": "office", "behavior": "wear a suit"}
    assert client.post("/v1/judge", json=body).json()["verdict"] == "normal"
    more = tmp_path / "more.csv"
    more.write_text(NORMBANK_HEADER + "\noffice,wear a suit,office [BEHAVIOR] wear a suit,,,,expected,2,train\n"
                    "office,wear a suit,office [BEHAVIOR] wear a suit,,,,expected,2,train\n", encoding="utf-8")
    run_import(engine=engine, format="normbank", path=more, source="more")
    client.app.state.cache.invalidate()  # as an import in this process does; other processes poll
    answer = client.post("/v1/judge", json=body).json()
    assert (answer["verdict"], answer["distribution"]) == ("expected", {"expected": 2, "normal": 1, "taboo": 0})
