"""Catalogue, health and error endpoints over HTTP, on SQLite and PostgreSQL, with the sample corpus."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

import normbank.config
from api.app import create_app
from tests.api.conftest import assert_error
from tests.conftest import app_settings

AGE_BRACKETS = ["infant", "toddler", "preschooler", "gradeschooler", "teen", "young adult", "middle-aged adult",
                "older adult", "senior citizen"]
SAMPLE_FRAMES = 281


def get(client, path: str, **params) -> dict:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "error" not in body
    return body




def walk_norms(client, **params) -> tuple[list[dict], int]:
    """Every norm of a filtered listing, page by page: (norms, the listing's count)."""
    norms, counts, cursor = [], set(), None
    while True:
        page = get(client, "/v1/norms", **params, **({"cursor": cursor} if cursor else {}))
        norms += page["data"]
        counts.add(page["count"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(counts) == 1, "every page reports the same count"
    return norms, counts.pop()


# -- /v1/norms/{id} ----------------------------------------------------------------------------
def test_a_norm_id_from_a_judge_answer_resolves_to_that_norm(client):
    judged = client.post("/v1/judge", json={"setting": "restaurant", "behavior": "drink alcohol",
                                            "person": {"role": "customer", "attributes": {"age bracket": "teen"}}})
    winner = judged.json()["frames"][0]
    norm = get(client, f"/v1/norms/{winner['id']}")
    assert norm["id"] == winner["id"]
    assert (norm["setting"], norm["behavior"], norm["label"], norm["support"]) == (
        "restaurant", "drink alcohol", "taboo", 1)
    assert norm["constraints"] == winner["constraints"] == [
        "[PERSON]'s age bracket is less than 'young adult'", "[PERSON]'s role is 'customer'"]
    assert norm["atoms"] == [
        {"subject": "person", "kind": "attribute", "name": "age bracket", "relation": "lt", "value": "young adult"},
        {"subject": "person", "kind": "role", "name": "role", "relation": "eq", "value": "customer"},
    ]
    assert norm["source"] == winner["source"] == {"name": "normbank-sample", "licence": "CC BY-SA 4.0",
                                                     "url": "https://github.com/SALT-NLP/normbank", "row": 2}
    assert norm["rows"] == [2] and norm["split"] == "train"
    assert norm["statement"] == winner["statement"]


def test_a_repeated_frame_lists_every_source_row(client):
    judged = client.post("/v1/judge", json={"setting": "classroom", "behavior": "chew gum",
                                            "person": {"role": "student"}}).json()
    student = next(f for f in judged["frames"] if f["constraints"] == ["[PERSON]'s role is 'student'"])
    norm = get(client, f"/v1/norms/{student['id']}")
    assert (norm["support"], norm["rows"], norm["source"]["row"]) == (3, [109, 110, 111], 109)


@pytest.mark.parametrize("norm_id", ["0000000000000000", "ffffffffffffffff", "xyz", "3d078ac6c59ce47e0", "-1"])
def test_an_unknown_or_malformed_norm_id_is_404(client, norm_id):
    error = assert_error(client.get(f"/v1/norms/{norm_id}"), 404, "norm_not_found")
    assert error["details"] == {"id": norm_id}


# -- /v1/norms ---------------------------------------------------------------------------------
def test_norms_filter_by_setting_and_behaviour(client):
    body = get(client, "/v1/norms", setting="Restaurant", behavior="Drink Alcohol")
    assert body["count"] == 4 and body["next_cursor"] is None
    assert {(n["setting"], n["behavior"]) for n in body["data"]} == {("restaurant", "drink alcohol")}
    assert sorted(n["label"] for n in body["data"]) == ["normal", "taboo", "taboo", "taboo"]


@pytest.mark.parametrize(("label", "count"), [("expected", 48), ("normal", 123), ("taboo", 110)])
def test_norms_filter_by_label(client, label, count):
    norms, total = walk_norms(client, label=label, limit=500)
    assert total == len(norms) == count
    assert {n["label"] for n in norms} == {label}


def test_norms_filter_by_source(client):
    assert get(client, "/v1/norms", source="normbank-sample", limit=1)["count"] == SAMPLE_FRAMES
    assert get(client, "/v1/norms", source="no-such-source") == {"data": [], "count": 0, "next_cursor": None}


def test_norms_pagination_walks_every_norm_once(client):
    norms, total = walk_norms(client, limit=50)
    ids = [n["id"] for n in norms]
    assert total == len(ids) == len(set(ids)) == SAMPLE_FRAMES
    assert ids == sorted(ids)


def test_norms_pagination_keeps_its_filters(client):
    norms, total = walk_norms(client, setting="restaurant", label="taboo", limit=3)
    assert total == len(norms) == len({n["id"] for n in norms}) == 14
    assert {(n["setting"], n["label"]) for n in norms} == {("restaurant", "taboo")}


@pytest.mark.parametrize(("params", "code"), [
    ({"cursor": "zzz"}, "invalid_request"),
    ({"limit": 0}, "invalid_request"),
    ({"limit": 501}, "invalid_request"),
    ({"label": "bad"}, "invalid_request"),
])
def test_bad_norms_parameters_are_422(client, params, code):
    assert_error(client.get("/v1/norms", params=params), 422, code)


# -- /v1/settings ------------------------------------------------------------------------------
def test_settings_list_every_setting_with_its_counts(client):
    body = get(client, "/v1/settings")
    assert body["count"] == len(body["data"]) == 15
    assert body["data"][0] == {"name": "restaurant", "behaviors": 17, "frames": 38}
    assert sum(s["frames"] for s in body["data"]) == SAMPLE_FRAMES
    assert [s["frames"] for s in body["data"]] == sorted((s["frames"] for s in body["data"]), reverse=True)


def test_a_setting_lists_its_roles_and_counts(client):
    assert get(client, "/v1/settings/restaurant") == {
        "name": "restaurant", "behaviors": 17, "frames": 38, "roles": ["cook", "customer", "host", "server"],
        "taxonomy_behaviors": 0,
    }


def test_a_setting_name_is_normalised(client):
    body = get(client, "/v1/settings/Church or Chapel")
    assert (body["name"], body["behaviors"], body["frames"], body["roles"]) == (
        "church or chapel", 8, 13, ["greeter", "usher"])


def test_an_unknown_setting_is_404(client):
    error = assert_error(client.get("/v1/settings/atlantis"), 404, "setting_not_found")
    assert error["details"] == {"setting": "atlantis"}


# -- /v1/taxonomy, /v1/sources -----------------------------------------------------------------
def test_taxonomy_orders_age_brackets_from_infant_to_senior_citizen(client):
    dimensions = {(d["subject"], d["name"]): d for d in get(client, "/v1/taxonomy")["dimensions"]}
    for subject in ("person", "other"):
        age = dimensions[(subject, "age bracket")]
        assert age["ordered"] is True and age["values"] == AGE_BRACKETS
    time_of_day = dimensions[("environment", "time of day")]
    assert time_of_day["ordered"] is True
    assert time_of_day["values"] == ["early morning", "morning", "noon", "afternoon", "evening", "night", "late night"]


def test_sources_report_the_sample_and_its_last_import(client):
    body = get(client, "/v1/sources")
    assert body["count"] == 1
    (source,) = body["data"]
    last = source.pop("last_import")
    history = source.pop("history")
    assert [(h["kind"], h["status"], h["loaded"]) for h in history] == [("import", "committed", SAMPLE_FRAMES)]
    assert source == {"name": "normbank-sample", "format": "normbank", "licence": "CC BY-SA 4.0",
                      "url": "https://github.com/SALT-NLP/normbank", "norms": SAMPLE_FRAMES}
    finished_at = last.pop("finished_at")
    assert last == {"status": "committed", "read": 296, "loaded": SAMPLE_FRAMES, "duplicates": 15, "rejected": 0,
                    "error": None}
    assert datetime.fromisoformat(finished_at).tzinfo is not None


# -- health ------------------------------------------------------------------------------------
def test_healthz_is_ok(client):
    assert get(client, "/healthz") == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client):
    assert get(client, "/readyz") == {"status": "ready", "checks": {"database": "ok", "schema": "ok", "index": "ok"}}


def test_readyz_is_503_on_an_empty_unmigrated_database(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    app = create_app(app_settings(f"sqlite:///{empty}", tmp_path / "data"))
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"] == "ok" and body["checks"]["schema"] != "ok"


# -- routing errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/nope", "/v1/nope", "/v2/judge"])
def test_an_unknown_path_is_404_with_the_error_envelope(client, path):
    error = assert_error(client.get(path), 404, "not_found")
    assert path in error["message"]


def test_a_wrong_method_is_405_with_the_error_envelope(client):
    assert_error(client.get("/v1/judge"), 405, "method_not_allowed")


def test_queries_on_an_unmigrated_database_are_503_not_500(tmp_path):
    empty = tmp_path / "empty.db"
    app = create_app(app_settings(f"sqlite:///{empty}", tmp_path / "data"))
    with TestClient(app, raise_server_exceptions=False) as bare:
        response = bare.post("/v1/judge", json={"setting": "restaurant", "behavior": "drink alcohol"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "database_unavailable" and "normbank init" in error["message"]


def test_norms_by_setting_links_like_the_other_endpoints_or_404s(client):
    error = assert_error(client.get("/v1/norms", params={"setting": "moon base"}), 404, "setting_not_found")
    assert error["message"].startswith("unknown setting 'moon base'")
    exact = client.get("/v1/norms", params={"setting": "restaurant"}).json()
    assert exact["count"] > 0
    assert client.get("/v1/norms", params={"setting": "  Restaurant "}).json() == exact
    linked = client.get("/v1/norms", params={"setting": "restaurants"})
    assert linked.status_code == 200 and linked.json() == exact
