"""Linking as a user sees it in answers: places link to their country (reported in `linked`), a setting far
from every entry is a 404 naming the closest by score, and the CLI links exactly as the API does."""

from __future__ import annotations

import json

from normbank.cli import main
from tests.api.conftest import assert_error

TIP = {"setting": "restaurant", "behavior": "leave a tip", "person": {"role": "customer"}}


def _place_links(body: dict) -> list[dict]:
    return [link for link in body["linked"] if link["method"] == "gazetteer"]


def test_a_city_in_the_environment_links_to_its_country(client):
    body = client.post("/v1/judge", json={**TIP, "environment": {"city": "Tokyo"}}).json()
    assert (body["status"], body["verdict"]) == ("applies", "taboo")
    assert _place_links(body) == [{"text": "Tokyo", "kind": "place", "linked": "japan", "score": 1.0,
                                   "method": "gazetteer"}]


def test_a_place_given_as_the_country_links_to_its_country(client):
    body = client.post("/v1/judge", json={**TIP, "environment": {"country": "New York"}}).json()
    assert (body["status"], body["verdict"]) == ("applies", "expected")
    assert [(l["text"], l["linked"]) for l in _place_links(body)] == [("New York", "the united states")]


def test_a_place_in_the_situation_sets_the_country(client):
    body = client.post("/v1/ground", json={
        "situation": "After dinner at a little place in Kyoto, the customer wonders whether to leave a tip.",
        "setting": "restaurant", "person": {"role": "customer"}, "k": 10,
    }).json()
    assert [(l["text"], l["linked"]) for l in _place_links(body)] == [("Kyoto", "japan")]
    tips = {(n["label"], n["status"]) for n in body["norms"] if n["behavior"] == "leave a tip"}
    assert ("taboo", "applies") in tips and ("expected", "applies") not in tips


def test_a_demonym_sets_the_country_and_an_explicit_country_wins(client):
    body = client.post("/v1/judge", json={**TIP, "environment": {"venue": "a Parisian bistro"}}).json()
    assert [(l["text"], l["linked"]) for l in _place_links(body)] == [("Parisian", "france")]
    body = client.post("/v1/judge", json={**TIP, "environment": {"country": "japan", "city": "Boston"}}).json()
    assert _place_links(body) == [] and body["verdict"] == "taboo"


def test_no_place_no_country(client):
    baseline = client.post("/v1/judge", json=TIP).json()
    body = client.post("/v1/judge", json={**TIP, "environment": {"note": "Nice to meet you, said the waiter"}}).json()
    assert _place_links(body) == [] and (body["status"], body["verdict"]) == (baseline["status"], baseline["verdict"])
    assert baseline["verdict"] != "taboo"  # what Japan would say


def test_an_unknown_setting_is_a_404_naming_the_closest_by_score(client):
    error = assert_error(client.post("/v1/judge", json={**TIP, "setting": "moon base"}), 404, "setting_not_found")
    scores = [c["score"] for c in error["details"]["closest"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0, error


def test_the_cli_links_exactly_as_the_api(client, database_url, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("NORMBANK_EMBEDDING_MODEL", "hashing")  # the test app's encoder
    monkeypatch.setenv("NORMBANK_DATA_DIR", str(tmp_path / "cli"))
    answers = {}
    for setting, behavior, env in [("bar", "alcohol consumption", []), ("restaurant", "leave a tip", ["city=Tokyo"]),
                                   ("restaurant", "tip the waiter", ["country=the US"])]:
        api = client.post("/v1/judge", json={"setting": setting, "behavior": behavior, "person": {"role": "customer"},
                                             "environment": dict(e.split("=") for e in env)}).json()
        argv = ["query", "--database", database_url, "--setting", setting, "--behavior", behavior,
                "--person-role", "customer", "--json"] + [a for e in env for a in ("--env", e)]
        assert main(argv) == 0
        cli = json.loads(capsys.readouterr().out)
        keys = ("behavior", "status", "verdict", "setting", "linked", "statement")
        assert {k: cli[k] for k in keys} == {k: api[k] for k in keys}, (setting, behavior)
        answers[behavior] = cli
    # the first links densely (the hashing encoder's bag of words; no spelling is close enough), as the API does
    assert answers["alcohol consumption"]["behavior"] == "consume alcohol"
    assert [l["method"] for l in answers["alcohol consumption"]["linked"]] == ["dense"]
