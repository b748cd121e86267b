"""API fixtures: a fresh app over a freshly migrated database (SQLite and PostgreSQL, via `database_url`).

`client` serves the packaged sample corpus (normbank/data/sample_normbank.csv, see SAMPLE.md);
`corpus_client` serves a tiny NormBank.csv written inline by the test itself.
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

import normbank.cli
import normbank.config
from api.app import create_app
from ingest.pipeline import run_import
from tests.conftest import app_settings

NORMBANK_HEADER = "setting,behavior,setting-behavior,constraints,constraints_given,constraint_predict,norm,label,split"


def assert_error(response, status: int, code: str) -> dict:
    """The error envelope `{"error": {"code", "message", "details"}}` with this status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def _app(database_url: str, data_dir):
    return create_app(app_settings(database_url, data_dir))


def ready(test_client: TestClient) -> TestClient:
    """Wait for the index the app builds at start (the hashing encoder makes that quick)."""
    test_client.app.state.retriever.wait()
    return test_client


@pytest.fixture
def client(engine, database_url, tmp_path):
    """A test client on an app whose database holds the packaged sample corpus (source normbank-sample)."""
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="normbank-sample")
    with TestClient(_app(database_url, tmp_path)) as test_client:
        yield ready(test_client)


@pytest.fixture
def corpus_client(engine, database_url, tmp_path):
    """Factory: `corpus_client(csv_text)` imports a hand-written NormBank.csv (source "tiny") and returns a
    test client on a fresh app over it. The text must start with the exact NormBank.csv header."""
    stack = ExitStack()

    def make(csv_text: str) -> TestClient:
        assert csv_text.splitlines()[0] == NORMBANK_HEADER, "write the exact NormBank.csv header first"
        path = tmp_path / "NormBank.csv"
        path.write_text(csv_text, encoding="utf-8")
        report = run_import(engine=engine, format="normbank", path=path, source="tiny")
        assert report.rejected == 0, report.rejected_reasons
        return ready(stack.enter_context(TestClient(_app(database_url, tmp_path / "data"))))

    with stack:
        yield make
