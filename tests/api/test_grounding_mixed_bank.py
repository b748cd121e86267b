"""Grounding on a bank that holds several corpora, with the real embedding model: the NormBank sample and
all of the shared NormDial (whose many example situations teach it a query map). Importing NormDial must
not change what the README's /v1/ground example answers. (Held-out figures over every corpus:
tests/bench/grounding_mixed.py and tests/bench/retrieval_normdial.py --mixed.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api import examples
from api.app import create_app
from ingest.pipeline import run_import
from normbank.cli import sample_corpus_path
from schema.engine import make_engine
from schema.migrate import upgrade
from tests.conftest import app_settings, shared


@pytest.fixture(scope="module")
def mixed_client(tmp_path_factory):
    normdial = shared("normdial")
    tmp_path = tmp_path_factory.mktemp("mixed")
    database_url = f"sqlite:///{tmp_path / 'mixed.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    run_import(engine=engine, format="normbank", path=sample_corpus_path(), source="normbank-sample")
    run_import(engine=engine, format="normdial", path=normdial)
    app = create_app(app_settings(database_url, tmp_path / "data", embedding_model=None, index_on_start="demand"))
    with TestClient(app) as client:
        app.state.retriever.rebuild()
        yield client


def top(client, request: dict) -> list[tuple]:
    response = client.post("/v1/ground", json=request)
    assert response.status_code == 200, response.text
    return [(n["setting"], n["behavior"], n["label"], n["status"]) for n in response.json()["norms"]]


TEEN_DRINKING = ("restaurant", "drink alcohol", "taboo", "applies")


@pytest.mark.slow
def test_the_readme_ground_example_keeps_its_taboo_with_normdial_in_the_bank(mixed_client):
    request = examples.GROUND_REQUESTS["restaurant"]["value"]
    assert request["k"] == 3
    assert TEEN_DRINKING in top(mixed_client, request)


@pytest.mark.slow
def test_without_a_setting_normdial_norms_do_not_crowd_out_the_sample_frame(mixed_client):
    """With no setting every corpus competes: NormDial's norms (long rules, a learned query map) must not
    push the frame the situation is about out of the top 3."""
    request = {k: v for k, v in examples.GROUND_REQUESTS["restaurant"]["value"].items() if k != "setting"}
    found = top(mixed_client, request)
    assert TEEN_DRINKING in found, found
