"""Write access by token, removing a source over HTTP, and the streamed export."""

from __future__ import annotations

import logging

import orjson
import pytest
from fastapi.testclient import TestClient

import normbank.cli
from api.app import create_app
from api.auth import configured_tokens, token_matches
from ingest.pipeline import run_import
from tests.api.conftest import assert_error, ready
from tests.conftest import app_settings

TOKEN = "s3cret-token-1"


@pytest.fixture
def bank(engine, database_url, tmp_path):
    """Factory: a client on an app over a bank holding the sample as sources `a` and `b`."""
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="a")
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="b")
    clients = []

    def make(**overrides) -> TestClient:
        client = TestClient(create_app(app_settings(database_url, tmp_path / f"d{len(clients)}", **overrides)))
        clients.append(client.__enter__())
        return ready(client)

    yield make
    for client in clients:
        client.__exit__(None, None, None)  # stops the index watcher; a build it began must not outlive the database
        client.app.state.retriever.wait(60)


def _auth(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_writes_are_off_without_a_configured_token(bank):
    client = bank()
    error = assert_error(client.delete("/v1/sources/a", headers=_auth()), 403, "forbidden")
    assert "NORMBANK_API_TOKEN" in error["message"]
    assert client.get("/v1/sources").json()["count"] == 2  # reads stay open


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": "Basic czNjcmV0"}, {"Authorization": "Bearer "}])
def test_a_missing_or_wrong_token_is_401_and_never_echoed(bank, headers, caplog):
    client = bank(api_token=TOKEN)
    with caplog.at_level(logging.DEBUG):
        response = client.delete("/v1/sources/a", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in response.text and TOKEN not in caplog.text
    assert client.get("/v1/sources").json()["count"] == 2


def test_any_of_several_tokens_is_accepted(bank):
    client = bank(api_token=f" other , {TOKEN} ")
    assert client.delete("/v1/sources/a", headers=_auth()).status_code == 200
    assert client.delete("/v1/sources/b", headers=_auth("other")).status_code == 200
    assert TOKEN not in repr(client.app.state.settings)


def test_token_comparison():
    tokens = configured_tokens("a,, bb ,")
    assert tokens == (b"a", b"bb")
    assert token_matches(b"bb", tokens) and not token_matches(b"b", tokens) and not token_matches(b"bbb", tokens)


def test_removing_a_source_leaves_the_others_as_they_were(bank):
    client = bank(api_token=TOKEN)
    norms_b = client.get("/v1/norms", params={"source": "b", "limit": 500}).json()
    answer_before = client.post("/v1/query", json={"setting": "restaurant"}).json()
    version = client.get("/v1/sources").headers["x-normbank-data-version"]

    response = client.delete("/v1/sources/a", headers=_auth())
    assert response.status_code == 200, response.text
    removed = response.json()
    assert removed["source"] == "a" and removed["norms"] == norms_b["count"]

    sources = client.get("/v1/sources")
    assert sources.headers["x-normbank-data-version"] != version
    assert [s["name"] for s in sources.json()["data"]] == ["b"]
    assert client.get("/v1/norms", params={"source": "a"}).json()["count"] == 0
    assert client.get("/v1/norms", params={"source": "b", "limit": 500}).json() == norms_b
    answer_after = client.post("/v1/query", json={"setting": "restaurant"}).json()
    sources_of = {f["source"]["name"] for r in answer_after["results"] for f in r["frames"]}
    assert sources_of == {"b"} and len(answer_after["results"]) == len(answer_before["results"])
    assert_error(client.delete("/v1/sources/a", headers=_auth()), 404, "source_not_found")
    assert_error(client.delete("/v1/sources/nothing", headers=_auth()), 404, "source_not_found")


def test_a_removed_source_comes_back_with_the_same_ids(bank, engine):
    client = bank(api_token=TOKEN)
    ids = [n["id"] for n in client.get("/v1/norms", params={"source": "a", "limit": 500}).json()["data"]]
    client.delete("/v1/sources/a", headers=_auth())
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="a")
    again = [n["id"] for n in client.get("/v1/norms", params={"source": "a", "limit": 500}).json()["data"]]
    assert again == ids
    history = next(s for s in client.get("/v1/sources").json()["data"] if s["name"] == "a")["history"]
    assert [h["kind"] for h in history] == ["import", "removal", "import"]
    assert history[0]["loaded"] == len(ids)


def test_export_streams_jsonl_and_normbank_csv(bank):
    client = bank()
    response = client.get("/v1/export", params={"source": "b"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in response.content.splitlines()]
    assert [x["name"] for x in lines if x["type"] == "source"] == ["b"]
    count = client.get("/v1/norms", params={"source": "b"}).json()["count"]
    assert sum(x["type"] == "norm" for x in lines) == count
    csv_text = client.get("/v1/export", params={"format": "normbank"}).text
    assert csv_text.startswith("setting,behavior,setting-behavior,constraints,")
    assert_error(client.get("/v1/export", params={"source": "zzz"}), 404, "source_not_found")
