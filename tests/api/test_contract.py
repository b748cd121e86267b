"""The OpenAPI document is the contract: schemathesis generates requests from it for every operation, valid
ones (which must be accepted, answered as documented) and invalid ones (which must be refused), and runs
all of its checks on every answer, on the sample corpus, on SQLite and PostgreSQL.

Bounded so it fits CI: EXAMPLES valid and NEGATIVE_EXAMPLES invalid requests per operation, derandomised
so a failure reproduces. Operations whose parameters no invalid value exists for (no parameters, or a free
path segment) are only run with valid requests."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS, load_all_checks

EXAMPLES = 12
NEGATIVE_EXAMPLES = 6


def _failures(operation, mode: schemathesis.GenerationMode, examples: int, checks) -> list[str]:
    found: dict[str, str] = {}

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        try:
            case.call_and_validate(checks=checks)
        except (AssertionError, BaseExceptionGroup) as exc:  # a check failed (one, or a FailureGroup of several)
            found.setdefault(str(exc)[:300], f"{operation.label} ({mode.value}): {str(exc)[:1500]}")

    try:
        run()
    except Unsatisfiable:
        if mode is schemathesis.GenerationMode.POSITIVE:
            raise
    return list(found.values())


def test_every_operation_keeps_to_the_openapi_document(client):
    load_all_checks()
    checks = CHECKS.get_all()
    assert {"negative_data_rejection", "positive_data_acceptance", "response_schema_conformance",
            "status_code_conformance", "not_a_server_error"} <= {check.__name__ for check in checks}
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    failures = []
    for operation in operations:
        failures += _failures(operation, schemathesis.GenerationMode.POSITIVE, EXAMPLES, checks)
        failures += _failures(operation, schemathesis.GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, checks)
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("body", [
    {"setting": "restaurant", "behavior": "b", "environment": {"weather": [True, False]}},
    {"setting": "restaurant", "limit": 2.5},
    {"setting": "restaurant", "limit": "2"},
    {"setting": "restaurant", "cursor": "not a cursor"},
    {"setting": "restaurant", "environment": {"a\u0000b": "x"}},
])
def test_what_the_document_forbids_the_server_refuses(client, body):
    path = "/v1/judge" if "behavior" in body else "/v1/query"
    assert client.post(path, json=body).status_code == 422


def test_what_the_document_allows_the_server_accepts(client):
    assert client.post("/v1/query", json={"setting": "restaurant", "limit": 2.0}).json()["results"]
    assert client.post("/v1/query", json={"setting": "restaurant", "environment": {"weather": 1e222}}).status_code == 200
    first = client.post("/v1/query", json={"setting": "restaurant", "limit": 2}).json()
    assert first["next_cursor"] == "o2"
    assert client.post("/v1/query", json={"setting": "restaurant", "cursor": "o999999999999999999"}).status_code == 200
    norms = client.get("/v1/norms", params={"limit": 1}).json()
    assert norms["next_cursor"].startswith("a")
    assert client.get("/v1/norms", params={"cursor": f"a{(1 << 63) - 1:016x}"}).json()["data"] == []
    second = client.get("/v1/norms", params={"limit": 1, "cursor": norms["next_cursor"]}).json()
    assert second["data"][0]["id"] > norms["data"][0]["id"]
