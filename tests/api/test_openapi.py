"""The OpenAPI document is complete and its examples are true of the sample corpus."""

from __future__ import annotations

import pytest
import normbank.config
from api import examples
from api.app import create_app
from api.operations_models import ImportJobOut, ImportJobsOut, Removal
from api.models import (
    GroundResponse, Health, JudgeResponse, NormPublic, NormsPublic, QueryResponse, Readiness, SearchResponse,
    SettingDetail, SettingsPublic, SourcesPublic, TaxonomyOut,
)

RESPONSE_MODELS = {
    "POST /v1/query": QueryResponse,
    "POST /v1/judge": JudgeResponse,
    "GET /v1/norms/{norm_id}": NormPublic,
    "GET /v1/norms": NormsPublic,
    "GET /v1/settings": SettingsPublic,
    "GET /v1/settings/{name}": SettingDetail,
    "GET /v1/taxonomy": TaxonomyOut,
    "GET /v1/sources": SourcesPublic,
    "GET /v1/search": SearchResponse,
    "POST /v1/ground": GroundResponse,
    "GET /healthz": Health,
    "GET /readyz": Readiness,
    "DELETE /v1/sources/{name}": Removal,
    "GET /v1/imports": ImportJobsOut,
    "GET /v1/imports/{job_id}": ImportJobOut,
}
# Operations whose answer is not a JSON 200: a job accepted (202), or a file streamed (JSONL, CSV).
ACCEPTED = {"POST /v1/imports": ImportJobOut}
STREAMED = {"GET /v1/export": {"application/x-ndjson", "text/csv"}, "GET /v1/imports/{job_id}/rejected": {"text/csv"},
            "GET /v1/sources/{name}/rejected": {"text/csv"}}


@pytest.fixture(scope="module")
def spec() -> dict:
    # The document does not touch the database: an in-memory SQLite URL is enough.
    return create_app(normbank.config.get_settings(database_url="sqlite://", embedding_model="hashing",
                                             index_on_start="off")).openapi()


def operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def request_examples(spec: dict, path: str) -> dict[str, dict]:
    return spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"]


def without_timestamps(value):
    if isinstance(value, dict):
        return {k: without_timestamps(v) for k, v in value.items() if not k.endswith("_at")}
    if isinstance(value, list):
        return [without_timestamps(v) for v in value]
    return value


def test_operations_that_do_not_answer_a_json_200_say_what_they_answer(spec):
    ops = dict(operations(spec))
    for name, model in ACCEPTED.items():
        model.model_validate(ops[name]["responses"]["202"]["content"]["application/json"]["example"])
    for name, media_types in STREAMED.items():
        assert set(ops[name]["responses"]["200"]["content"]) >= media_types


def test_every_operation_has_a_200_example(spec):
    missing = [name for name, op in operations(spec) if name not in ACCEPTED and name not in STREAMED
               if "example" not in op["responses"].get("200", {}).get("content", {}).get("application/json", {})]
    assert missing == []


def test_every_operation_with_a_body_has_request_examples(spec):
    with_body = {name: op["requestBody"] for name, op in operations(spec) if "requestBody" in op}
    assert set(with_body) == {"POST /v1/query", "POST /v1/judge", "POST /v1/ground"}
    assert [name for name, body in with_body.items() if not body["content"]["application/json"].get("examples")] == []


def test_every_operation_answers_with_its_response_model(spec):
    assert {name: op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            for name, op in operations(spec) if name not in ACCEPTED and name not in STREAMED} == {name: model.__name__ for name, model in RESPONSE_MODELS.items()}


def test_every_200_example_in_api_examples_validates_against_its_response_model():
    for name, example in {
        "POST /v1/query": examples.QUERY_RESPONSE, "POST /v1/judge": examples.JUDGE_RESPONSE,
        "GET /v1/norms/{norm_id}": examples.NORM, "GET /v1/norms": examples.NORMS, "GET /v1/settings": examples.SETTINGS,
        "GET /v1/settings/{name}": examples.SETTING, "GET /v1/taxonomy": examples.TAXONOMY,
        "GET /v1/sources": examples.SOURCES, "GET /v1/search": examples.SEARCH,
        "POST /v1/ground": examples.GROUND_RESPONSE, "DELETE /v1/sources/{name}": examples.REMOVAL,
        "GET /v1/imports": examples.IMPORT_JOBS, "GET /v1/imports/{job_id}": examples.IMPORT_JOB,
    }.items():
        RESPONSE_MODELS[name].model_validate(example)


def test_every_200_example_as_served_validates_against_its_response_model(spec):
    invalid = []
    for name, op in operations(spec):
        if name in ACCEPTED or name in STREAMED:
            continue
        try:
            RESPONSE_MODELS[name].model_validate(op["responses"]["200"]["content"]["application/json"]["example"])
        except ValueError:
            invalid.append(name)
    assert invalid == []


@pytest.mark.parametrize("path", ["/v1/query", "/v1/judge"])
def test_every_request_example_is_answered_with_a_valid_200(client, spec, path):
    model = RESPONSE_MODELS[f"POST {path}"]
    for name, example in request_examples(spec, path).items():
        response = client.post(path, json=example["value"])
        assert response.status_code == 200, (name, response.text)
        model.model_validate(response.json())


def test_the_judge_response_example_is_what_the_app_answers_today(client, spec):
    first = next(iter(request_examples(spec, "/v1/judge").values()))
    response = client.post("/v1/judge", json=first["value"])
    assert without_timestamps(response.json()) == without_timestamps(examples.JUDGE_RESPONSE)


def test_the_query_response_example_is_what_the_app_answers_today(client, spec):
    first = next(iter(request_examples(spec, "/v1/query").values()))
    response = client.post("/v1/query", json=first["value"])
    assert without_timestamps(response.json()) == without_timestamps(examples.QUERY_RESPONSE)


def test_the_catalogue_examples_are_what_the_app_answers_today(client):
    assert client.get(f"/v1/norms/{examples.NORM['id']}").json() == examples.NORM
    assert client.get("/v1/norms", params={"setting": "restaurant", "behavior": "drink alcohol", "limit": 1}).json() \
        == examples.NORMS
    assert client.get("/v1/settings/restaurant").json() == examples.SETTING
    settings = client.get("/v1/settings").json()  # the example shows the first entries only
    assert settings["count"] == examples.SETTINGS["count"]
    assert settings["data"][: len(examples.SETTINGS["data"])] == examples.SETTINGS["data"]
    dimensions = client.get("/v1/taxonomy").json()["dimensions"]  # the example shows a few dimensions
    assert all(d in dimensions for d in examples.TAXONOMY["dimensions"])
    assert without_timestamps(client.get("/v1/sources").json()) == without_timestamps(examples.SOURCES)


@pytest.mark.slow
def test_the_ground_example_is_answered_with_the_real_model(tmp_path):
    """The /v1/ground example links "sushi place" to restaurant: that takes the real embedding model (the
    answer does not depend on the database, so SQLite alone)."""
    from fastapi.testclient import TestClient

    from ingest.pipeline import run_import
    from normbank.cli import sample_corpus_path
    from schema.engine import make_engine
    from schema.migrate import upgrade
    from tests.conftest import app_settings

    database_url = f"sqlite:///{tmp_path / 'examples.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    run_import(engine=engine, format="normbank", path=sample_corpus_path(), source="normbank-sample")
    app = create_app(app_settings(database_url, tmp_path, embedding_model=None, index_on_start="demand"))
    with TestClient(app) as client:
        response = client.post("/v1/ground", json=examples.GROUND_REQUESTS["restaurant"]["value"])
    assert response.status_code == 200, response.text
    body = GroundResponse.model_validate(response.json())
    assert [(l.text, l.linked) for l in body.linked] == [("sushi place", "restaurant")]
    assert [n.id for n in body.norms] == [n["id"] for n in examples.GROUND_RESPONSE["norms"]]
