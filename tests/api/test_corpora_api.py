"""Setting-less corpora (Social-Chem-101, Moral Stories, a mapped table) next to NormBank in one bank:
/v1/norms, /v1/search and /v1/ground reach them, filter by source, and every norm says where it came from."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import normbank.cli
from api.app import create_app
from ingest.pipeline import run_import
from tests.api.conftest import assert_error, ready
from tests.conftest import FIXTURES, app_settings

PROVENANCE = {
    "normbank-sample": ("CC BY-SA 4.0", "https://github.com/SALT-NLP/normbank"),
    "social-chem-101": ("CC BY-SA 4.0", "https://github.com/mbforbes/social-chemistry-101"),
    "moral-stories": ("MIT", "https://github.com/demelin/moral_stories"),
    "house-rules": ("CC0 1.0", "https://example.org/house-rules"),
}


@pytest.fixture
def bank(engine, database_url, tmp_path):
    run_import(engine=engine, format="normbank", path=normbank.cli.sample_corpus_path(), source="normbank-sample")
    run_import(engine=engine, format="social-chem-101", path=FIXTURES / "social-chem-101" / "social-chem-101.fixture.tsv")
    run_import(engine=engine, format="moral-stories", path=FIXTURES / "moral-stories" / "moral_stories.fixture.jsonl")
    run_import(engine=engine, format="table", path=FIXTURES / "table" / "norms.tsv",
               options={"mapping": str(FIXTURES / "table" / "norms.toml")})
    with TestClient(create_app(app_settings(database_url, tmp_path))) as client:
        yield ready(client)


def ok(response):
    assert response.status_code == 200, response.text
    return response.json()


def _cited(norm: dict) -> None:
    licence, url = PROVENANCE[norm["source"]["name"]]
    assert (norm["source"]["licence"], norm["source"]["url"]) == (licence, url), norm["source"]


def test_norms_of_a_setting_less_source_with_agreement_and_attributes(bank):
    page = ok(bank.get("/v1/norms", params={"source": "social-chem-101", "limit": 50}))
    assert len(page["data"]) == 5
    norms = {n["behavior"]: n for n in page["data"]}
    diary = norms["reading your roommate's diary"]
    assert diary["setting"] is None and diary["label"] == "taboo"
    assert diary["agreement"] == {"share": 0.75, "band": "75-90%"}
    _cited(diary)
    detail = ok(bank.get(f"/v1/norms/{diary['id']}"))
    assert detail["attributes"]["action-legal"] == "tolerated" and detail["attributes"]["area"] == "amitheasshole"
    assert detail["examples"][0]["polarity"] == "violates"


def test_search_reaches_setting_less_norms_and_filters_by_source(bank):
    body = ok(bank.get("/v1/search", params={"q": "read someone's diary", "k": 5}))
    assert body["results"] and body["results"][0]["behavior"] == "reading your roommate's diary"
    assert body["results"][0]["agreement"] == {"share": 0.75, "band": "75-90%"}
    for hit in body["results"]:
        _cited(hit)
    only = ok(bank.get("/v1/search", params=[("q", "drill borrow tip"), ("sources", "moral-stories"), ("k", 10)]))
    assert only["results"] and {h["source"]["name"] for h in only["results"]} == {"moral-stories"}
    two = ok(bank.get("/v1/search", params=[("q", "tip"), ("sources", "house-rules"), ("sources", "normbank-sample")]))
    assert two["results"] and {h["source"]["name"] for h in two["results"]} <= {"house-rules", "normbank-sample"}
    error = assert_error(bank.get("/v1/search", params={"q": "tip", "sources": "nope"}), 404, "source_not_found")
    assert "nope" in error["message"] and "social-chem-101" in error["message"]


def test_ground_cites_every_norm_and_takes_a_sources_filter(bank):
    body = ok(bank.post("/v1/ground", json={"situation": "my neighbour lent me a drill and I still have it", "k": 8}))
    assert body["norms"]
    for norm in body["norms"]:
        _cited(norm)
        assert "agreement" in norm
    assert any(n["setting"] is None for n in body["norms"])  # setting-less norms compete with NormBank's
    stories = ok(bank.post("/v1/ground", json={"situation": "my neighbour lent me a drill and I still have it",
                                               "sources": ["moral-stories"], "k": 10}))
    assert {n["source"]["name"] for n in stories["norms"]} == {"moral-stories"}
    assert {(n["behavior"], n["label"], n["text"]) for n in stories["norms"]} >= {
        ("sam keeps the drill for months", "taboo", "You should return things you borrow."),
        ("sam returns the drill the same evening", "expected", "You should return things you borrow.")}
    only = ok(bank.post("/v1/ground", json={"situation": "someone interrupts people who talk",
                                            "sources": ["social-chem-101"], "k": 3}))
    assert only["norms"] and {n["source"]["name"] for n in only["norms"]} == {"social-chem-101"}
    assert only["norms"][0]["behavior"] == "interrupting people when they talk"
    assert only["norms"][0]["agreement"] == {"share": 0.5, "band": "50%"}
    assert_error(bank.post("/v1/ground", json={"situation": "x", "sources": ["nope"]}), 404, "source_not_found")


def test_judge_frames_cite_the_url(bank):
    body = ok(bank.post("/v1/judge", json={"setting": "restaurant", "behavior": "drink alcohol",
                                           "person": {"role": "customer"}}))
    assert body["frames"] and all(f["source"]["url"] == "https://github.com/SALT-NLP/normbank" for f in body["frames"])
