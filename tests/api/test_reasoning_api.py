"""POST /v1/judge and /v1/query over HTTP, on SQLite and PostgreSQL.

Expected values come from normbank/data/sample_normbank.csv (the showcase cases of SAMPLE.md) and the
rules of docs/reasoning.md / normbank/reasoning.py.
"""

from __future__ import annotations

import pytest
from tests.api.conftest import assert_error

ZERO = {"expected": 0, "normal": 0, "taboo": 0}

CUSTOMER = "[PERSON]'s role is 'customer'"
NOT_CUSTOMER = "[PERSON]'s role is not 'customer'"
SERVER = "[PERSON]'s role is 'server'"
UNDER_YOUNG_ADULT = "[PERSON]'s age bracket is less than 'young adult'"
YOUNG_ADULT_OR_OLDER = "[PERSON]'s age bracket is greater than or equal to 'young adult'"
BARTENDER = "[PERSON]'s role is 'bartender'"
DRUNK = "[PERSON]'s condition or state is 'drunk'"
CONTAGIOUS = "[PERSON]'s condition or state is 'contagious'"
IN_US = "country is 'the united states'"
IN_CANADA = "country is 'canada'"
IN_JAPAN = "country is 'japan'"
TAKEOUT = "[PERSON]'s behavior is 'picking up takeout'"
NIGHT_OR_LATER = "time of day is greater than or equal to 'night'"
UNDER_GRADESCHOOLER = "[PERSON]'s age bracket is less than 'gradeschooler'"
GRADESCHOOLER_OR_OLDER = "[PERSON]'s age bracket is greater than or equal to 'gradeschooler'"
SWIM_INSTRUCTOR = "[OTHER]'s role is 'swim instructor'"
WATCHING_A_MOVIE = "[PERSON]'s behavior is 'watching a movie'"
NURSE = "[PERSON]'s role is 'nurse'"
DOCTOR = "[PERSON]'s role is 'doctor'"
PATIENT = "[PERSON]'s role is 'patient'"
VISITOR = "[PERSON]'s role is 'visitor'"
STUDENT = "[PERSON]'s role is 'student'"
AT_NOON = "time of day is 'noon'"

TEEN_CUSTOMER = {"role": "customer", "attributes": {"age bracket": "teen"}}


# -- helpers ---------------------------------------------------------------------------------------
def judge(client, setting: str, behavior: str, **context) -> dict:
    response = client.post("/v1/judge", json={"setting": setting, "behavior": behavior, **context})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "error" not in body
    return body


def query(client, setting: str, **fields) -> dict:
    response = client.post("/v1/query", json={"setting": setting, **fields})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "error" not in body
    return body


def answer(body: dict) -> tuple:
    """(status, verdict, distribution, confidence, contested) of a judgement."""
    return body["status"], body["verdict"], body["distribution"], body["confidence"], body["contested"]


def frame(body: dict, *constraints: str) -> dict:
    """The one frame of a judgement whose constraints are exactly these (in any order)."""
    found = [f for f in body["frames"] if sorted(f["constraints"]) == sorted(constraints)]
    assert len(found) == 1, f"{constraints} in {[f['constraints'] for f in body['frames']]}"
    return found[0]


def states(body: dict) -> dict[frozenset[str], str]:
    """Each frame's state, keyed by its set of constraints."""
    return {frozenset(f["constraints"]): f["state"] for f in body["frames"]}


def of(*constraints: str) -> frozenset[str]:
    return frozenset(constraints)




# -- 1. a default flipped by a more specific frame ----------------------------------------------
def test_customer_may_drink_alcohol_by_default_with_the_more_specific_frames_as_defeaters(client):
    body = judge(client, "restaurant", "drink alcohol", person={"role": "customer"})
    assert answer(body) == ("applies", "normal", {"expected": 0, "normal": 1, "taboo": 0}, 1.0, False)
    default = frame(body, CUSTOMER)
    assert (default["state"], default["matched"], default["overridden_by"]) == ("true", [CUSTOMER], [])
    assert {tuple(d["unknown"]): d["overrides"] for d in body["defeaters"]} == {
        (UNDER_YOUNG_ADULT,): [default["id"]],
        (DRUNK,): [default["id"]],
    }
    assert all(d["label"] == "taboo" for d in body["defeaters"])


def test_teen_customer_frame_overrides_the_customer_default(client):
    body = judge(client, "restaurant", "drink alcohol", person=TEEN_CUSTOMER)
    assert answer(body) == ("applies", "taboo", {"expected": 0, "normal": 0, "taboo": 1}, 1.0, False)
    teen = frame(body, CUSTOMER, UNDER_YOUNG_ADULT)
    default = frame(body, CUSTOMER)
    assert teen["state"] == "true" and sorted(teen["matched"]) == sorted([CUSTOMER, UNDER_YOUNG_ADULT])
    assert teen["overridden_by"] == []
    assert default["state"] == "true" and default["overridden_by"] == [teen["id"]]
    assert frame(body, SERVER)["failed"] == [SERVER]
    assert frame(body, CUSTOMER, DRUNK)["unknown"] == [DRUNK]
    assert body["conditions"] == [
        {"label": "taboo", "unknown": [DRUNK], "frame": frame(body, CUSTOMER, DRUNK)["id"], "support": 1}
    ]
    assert body["defeaters"] == []  # the drunk frame is not more specific than the teen frame
    assert body["frames"][0]["id"] == teen["id"]  # the winning frame comes first
    assert teen["source"] == {"name": "normbank-sample", "licence": "CC BY-SA 4.0",
                                                     "url": "https://github.com/SALT-NLP/normbank", "row": 2}


# -- 2. an ordinal constraint -------------------------------------------------------------------
def test_age_below_young_adult_makes_consuming_alcohol_in_a_bar_taboo(client):
    body = judge(client, "bar", "consume alcohol", person={"attributes": {"age bracket": "teen"}})
    assert answer(body) == ("applies", "taboo", {"expected": 0, "normal": 0, "taboo": 1}, 1.0, False)
    assert states(body) == {
        of(UNDER_YOUNG_ADULT): "true",
        of(YOUNG_ADULT_OR_OLDER): "false",
        of(BARTENDER, YOUNG_ADULT_OR_OLDER): "false",
    }
    assert body["conditions"] == [] and body["defeaters"] == []


def test_older_adult_may_consume_alcohol_in_a_bar_unless_a_bartender(client):
    body = judge(client, "bar", "consume alcohol", person={"attributes": {"age bracket": "older adult"}})
    assert answer(body) == ("applies", "normal", {"expected": 0, "normal": 1, "taboo": 0}, 1.0, False)
    adult = frame(body, YOUNG_ADULT_OR_OLDER)
    bartender = frame(body, YOUNG_ADULT_OR_OLDER, BARTENDER)
    assert adult["state"] == "true" and frame(body, UNDER_YOUNG_ADULT)["state"] == "false"
    assert bartender["state"] == "unknown" and bartender["matched"] == [YOUNG_ADULT_OR_OLDER]
    assert body["defeaters"] == [
        {"label": "taboo", "unknown": [BARTENDER], "frame": bartender["id"], "support": 1, "overrides": [adult["id"]]}
    ]


def test_without_an_age_consuming_alcohol_in_a_bar_is_conditional_on_it(client):
    body = judge(client, "bar", "consume alcohol")
    assert answer(body) == ("conditional", None, ZERO, None, False)
    assert set(states(body).values()) == {"unknown"}
    assert [(c["label"], c["unknown"], c["frame"]) for c in body["conditions"]] == [
        ("normal", [YOUNG_ADULT_OR_OLDER], frame(body, YOUNG_ADULT_OR_OLDER)["id"]),
        ("taboo", [UNDER_YOUNG_ADULT], frame(body, UNDER_YOUNG_ADULT)["id"]),
        ("taboo", [YOUNG_ADULT_OR_OLDER, BARTENDER], frame(body, BARTENDER, YOUNG_ADULT_OR_OLDER)["id"]),
    ]
    assert body["defeaters"] == []


# -- 3. `is not` --------------------------------------------------------------------------------
def test_role_is_not_customer_lets_a_server_enter_the_kitchen(client):
    body = judge(client, "restaurant", "enter the kitchen", person={"role": "server"})
    assert answer(body) == ("applies", "normal", {"expected": 0, "normal": 1, "taboo": 0}, 1.0, False)
    not_customer = frame(body, NOT_CUSTOMER)
    assert (not_customer["state"], not_customer["matched"]) == ("true", [NOT_CUSTOMER])
    assert frame(body, CUSTOMER)["state"] == "false"
    contagious = frame(body, NOT_CUSTOMER, CONTAGIOUS)
    assert body["defeaters"] == [{"label": "taboo", "unknown": [CONTAGIOUS], "frame": contagious["id"], "support": 1,
                                  "overrides": [not_customer["id"]]}]


def test_a_customer_entering_the_kitchen_fails_the_is_not_frames(client):
    body = judge(client, "restaurant", "enter the kitchen", person={"role": "customer"})
    assert answer(body) == ("applies", "taboo", {"expected": 0, "normal": 0, "taboo": 1}, 1.0, False)
    assert states(body) == {of(CUSTOMER): "true", of(NOT_CUSTOMER): "false", of(CONTAGIOUS, NOT_CUSTOMER): "false"}
    assert frame(body, NOT_CUSTOMER)["failed"] == [NOT_CUSTOMER]
    assert body["conditions"] == [] and body["defeaters"] == []


# -- 4. environment constraints ---------------------------------------------------------------
def test_tipping_is_expected_of_a_customer_in_the_united_states(client):
    body = judge(client, "restaurant", "leave a tip", person={"role": "customer"},
                 environment={"country": "the united states"})
    assert answer(body) == ("applies", "expected", {"expected": 1, "normal": 0, "taboo": 0}, 1.0, False)
    us = frame(body, CUSTOMER, IN_US)
    assert us["state"] == "true" and frame(body, CUSTOMER)["overridden_by"] == [us["id"]]
    assert frame(body, CUSTOMER, IN_JAPAN)["state"] == "false"
    assert frame(body, CUSTOMER, IN_CANADA)["state"] == "false"
    takeout = frame(body, CUSTOMER, IN_US, TAKEOUT)
    assert body["defeaters"] == [{"label": "normal", "unknown": [TAKEOUT], "frame": takeout["id"], "support": 1,
                                  "overrides": [us["id"]]}]


def test_tipping_is_taboo_for_a_customer_in_japan(client):
    body = judge(client, "restaurant", "leave a tip", person={"role": "customer"}, environment={"country": "japan"})
    assert answer(body) == ("applies", "taboo", {"expected": 0, "normal": 0, "taboo": 1}, 1.0, False)
    japan = frame(body, CUSTOMER, IN_JAPAN)
    assert japan["state"] == "true" and frame(body, CUSTOMER)["overridden_by"] == [japan["id"]]
    assert body["conditions"] == [] and body["defeaters"] == []


def test_environment_keys_and_values_are_case_insensitive(client):
    lower = judge(client, "restaurant", "leave a tip", person={"role": "customer"}, environment={"country": "japan"})
    capitalised = judge(client, "restaurant", "leave a tip", person={"role": "customer"},
                        environment={"Country": "Japan"})
    assert capitalised == lower
    assert capitalised["verdict"] == "taboo" and capitalised["unused"] == []


@pytest.mark.parametrize("time_of_day", ["night", "late night"])
def test_playing_a_loud_instrument_in_a_park_at_night_or_later_is_taboo(client, time_of_day):
    body = judge(client, "park", "play a loud instrument", environment={"time of day": time_of_day})
    assert answer(body) == ("applies", "taboo", {"expected": 0, "normal": 0, "taboo": 1}, 1.0, False)
    night = frame(body, NIGHT_OR_LATER)
    assert night["state"] == "true" and night["matched"] == [NIGHT_OR_LATER]
    assert frame(body)["overridden_by"] == [night["id"]]


def test_playing_a_loud_instrument_in_a_park_in_the_evening_is_normal(client):
    body = judge(client, "park", "play a loud instrument", environment={"time of day": "evening"})
    assert answer(body) == ("applies", "normal", {"expected": 0, "normal": 1, "taboo": 0}, 1.0, False)
    assert states(body) == {of(): "true", of(NIGHT_OR_LATER): "false"}
    assert frame(body, NIGHT_OR_LATER)["failed"] == [NIGHT_OR_LATER]
    assert body["defeaters"] == []


# -- 5. an OTHER person's role ------------------------------------------------------------------
def test_a_swim_instructor_nearby_lets_a_preschooler_into_the_deep_end(client):
    body = judge(client, "pool", "go into the deep end", person={"attributes": {"age bracket": "preschooler"}},
                 other={"role": "swim instructor"})
    assert answer(body) == ("applies", "normal", {"expected": 0, "normal": 1, "taboo": 0}, 1.0, False)
    with_instructor = frame(body, UNDER_GRADESCHOOLER, SWIM_INSTRUCTOR)
    assert with_instructor["state"] == "true"
    assert sorted(with_instructor["matched"]) == sorted([UNDER_GRADESCHOOLER, SWIM_INSTRUCTOR])
    assert frame(body, UNDER_GRADESCHOOLER)["overridden_by"] == [with_instructor["id"]]
    assert frame(body, GRADESCHOOLER_OR_OLDER)["state"] == "false"


def test_a_preschooler_alone_may_not_go_into_the_deep_end(client):
    body = judge(client, "pool", "go into the deep end", person={"attributes": {"age bracket": "preschooler"}})
    assert answer(body) == ("applies", "taboo", {"expected": 0, "normal": 0, "taboo": 1}, 1.0, False)
    alone = frame(body, UNDER_GRADESCHOOLER)
    with_instructor = frame(body, UNDER_GRADESCHOOLER, SWIM_INSTRUCTOR)
    assert with_instructor["state"] == "unknown" and with_instructor["unknown"] == [SWIM_INSTRUCTOR]
    assert body["defeaters"] == [{"label": "normal", "unknown": [SWIM_INSTRUCTOR], "frame": with_instructor["id"],
                                  "support": 1, "overrides": [alone["id"]]}]


# -- 6. a concurrent behaviour -----------------------------------------------------------------
def test_checking_your_phone_while_watching_a_movie_is_taboo(client):
    body = judge(client, "cinema", "check your phone", person={"behaviors": ["watching a movie"]})
    assert answer(body) == ("applies", "taboo", {"expected": 0, "normal": 0, "taboo": 1}, 1.0, False)
    watching = frame(body, WATCHING_A_MOVIE)
    assert watching["state"] == "true" and frame(body)["overridden_by"] == [watching["id"]]


def test_checking_your_phone_is_normal_with_the_unknown_concurrent_behaviour_as_defeater(client):
    body = judge(client, "cinema", "check your phone")
    assert answer(body) == ("applies", "normal", {"expected": 0, "normal": 1, "taboo": 0}, 1.0, False)
    watching = frame(body, WATCHING_A_MOVIE)
    assert watching["state"] == "unknown"  # an open-world behaviour atom is never FALSE for its absence
    assert body["defeaters"] == [{"label": "taboo", "unknown": [WATCHING_A_MOVIE], "frame": watching["id"],
                                  "support": 1, "overrides": [frame(body)["id"]]}]


# -- 7. an empty frame --------------------------------------------------------------------------
def test_the_empty_frame_applies_to_an_empty_context(client):
    body = judge(client, "library", "read a book")
    assert answer(body) == ("applies", "normal", {"expected": 0, "normal": 1, "taboo": 0}, 1.0, False)
    empty = frame(body)
    assert (empty["state"], empty["matched"], empty["failed"], empty["unknown"]) == ("true", [], [], [])
    assert len(body["frames"]) == 1 and body["conditions"] == [] and body["defeaters"] == []


# -- 8./9. only UNKNOWN frames, all frames FALSE -------------------------------------------------
def test_only_unknown_frames_give_a_conditional_answer_grouped_by_label(client):
    body = judge(client, "hospital", "give someone medication")
    assert answer(body) == ("conditional", None, ZERO, None, False)
    assert set(states(body).values()) == {"unknown"}
    assert [(c["label"], c["unknown"], c["frame"]) for c in body["conditions"]] == [
        ("expected", [NURSE], frame(body, NURSE)["id"]),
        ("normal", [DOCTOR], frame(body, DOCTOR)["id"]),
        ("taboo", [PATIENT], frame(body, PATIENT)["id"]),
        ("taboo", [VISITOR], frame(body, VISITOR)["id"]),
    ]
    assert body["defeaters"] == []


def test_every_frame_false_excludes_the_behaviour(client):
    body = judge(client, "hospital", "give someone medication", person={"role": "chaplain"})
    assert answer(body) == ("excluded", None, ZERO, None, False)
    assert len(body["frames"]) == 4
    assert all(f["state"] == "false" and f["failed"] == f["constraints"] for f in body["frames"])
    assert body["conditions"] == [] and body["defeaters"] == []


# -- 10. an unknown behaviour -------------------------------------------------------------------
def test_a_behaviour_without_frames_is_unknown_not_404(client):
    body = judge(client, "hospital", "fly a kite")
    assert answer(body) == ("unknown", None, ZERO, None, False)
    assert (body["frames"], body["conditions"], body["defeaters"]) == ([], [], [])
    assert body["behavior"] == "fly a kite" and body["setting"] == "hospital"
    assert "no frames" in body["statement"]


# -- 11./12. contested and support --------------------------------------------------------------
def test_two_equally_supported_non_nested_frames_are_contested(client):
    body = judge(client, "cafe", "use a laptop", person={"role": "customer"}, environment={"time of day": "noon"})
    # a tie goes to the safer label (taboo)
    assert answer(body) == ("applies", "taboo", {"expected": 0, "normal": 1, "taboo": 1}, 0.5, True)
    assert states(body) == {of(CUSTOMER): "true", of(AT_NOON): "true"}
    assert all(f["overridden_by"] == [] for f in body["frames"])


def test_support_decides_between_non_nested_frames(client):
    body = judge(client, "classroom", "chew gum", person={"role": "student", "attributes": {"age bracket": "young adult"}})
    assert answer(body) == ("applies", "taboo", {"expected": 0, "normal": 1, "taboo": 3}, 0.75, False)
    assert frame(body, STUDENT)["support"] == 3
    assert frame(body, YOUNG_ADULT_OR_OLDER)["support"] == 1
    assert states(body) == {of(STUDENT): "true", of(YOUNG_ADULT_OR_OLDER): "true"}


# -- a tiny hand-written corpus -----------------------------------------------------------------
TINY = """\
setting,behavior,setting-behavior,constraints,constraints_given,constraint_predict,norm,label,split
office,wear a hat,office [BEHAVIOR] wear a hat,[PERSON]'s role is 'manager',,[PERSON]'s role is 'manager',taboo,0,train
office,wear a hat,office [BEHAVIOR] wear a hat,[PERSON]'s role is 'manager',,[PERSON]'s role is 'manager',taboo,0,train
office,wear a hat,office [BEHAVIOR] wear a hat,[PERSON]'s role is 'manager',,[PERSON]'s role is 'manager',taboo,0,train
office,wear a hat,office [BEHAVIOR] wear a hat,time of day is 'morning',,time of day is 'morning',normal,1,train
office,wear a hat,office [BEHAVIOR] wear a hat,time of day is 'morning',,time of day is 'morning',normal,1,train
office,drink coffee,office [BEHAVIOR] drink coffee,[PERSON]'s age is less than '12',,[PERSON]'s age is less than '12',taboo,0,train
office,drink coffee,office [BEHAVIOR] drink coffee,[PERSON]'s age is greater than or equal to '12',,[PERSON]'s age is greater than or equal to '12',normal,1,dev
"""


def test_three_against_two_is_still_contested(corpus_client):
    client = corpus_client(TINY)
    body = judge(client, "office", "wear a hat", person={"role": "manager"}, environment={"time of day": "morning"})
    assert answer(body) == ("applies", "taboo", {"expected": 0, "normal": 2, "taboo": 3}, 0.6, True)


def test_three_against_none_is_not_contested(corpus_client):
    client = corpus_client(TINY)
    body = judge(client, "office", "wear a hat", person={"role": "manager"}, environment={"time of day": "evening"})
    assert answer(body) == ("applies", "taboo", {"expected": 0, "normal": 0, "taboo": 3}, 1.0, False)


@pytest.mark.parametrize(("age", "status", "verdict"), [
    (10, "applies", "taboo"), ("12", "applies", "normal"), (30.5, "applies", "normal"), ("teen", "conditional", None),
])
def test_numeric_constraints_compare_numbers_and_leave_words_unknown(corpus_client, age, status, verdict):
    client = corpus_client(TINY)
    body = judge(client, "office", "drink coffee", person={"attributes": {"age": age}})
    assert (body["status"], body["verdict"]) == (status, verdict)


# -- /v1/query ---------------------------------------------------------------------------------
STATUS_ORDER = {"applies": 0, "conditional": 1, "excluded": 2, "unknown": 3}


def test_query_returns_one_result_per_behaviour_applies_first(client):
    body = query(client, "restaurant", person=TEEN_CUSTOMER)
    assert body["setting"] == {"name": "restaurant", "behaviors": 17, "frames": 38}
    assert body["total"] == 17 and body["next_cursor"] is None and body["unused"] == []
    behaviors = [r["behavior"] for r in body["results"]]
    assert len(behaviors) == len(set(behaviors)) == 17
    keys = [(STATUS_ORDER[r["status"]], r["behavior"]) for r in body["results"]]
    assert keys == sorted(keys)
    assert [r["status"] for r in body["results"]].count("applies") == 15
    assert [(r["behavior"], r["status"]) for r in body["results"][-2:]] == [
        ("ask for a high chair or booster seat", "conditional"), ("order a kid's meal", "excluded")]
    assert all(r["frames"] for r in body["results"])


def test_a_query_result_is_the_judgement_of_that_behaviour(client):
    results = query(client, "restaurant", person=TEEN_CUSTOMER)["results"]
    judged = judge(client, "restaurant", "drink alcohol", person=TEEN_CUSTOMER)
    (result,) = [r for r in results if r["behavior"] == "drink alcohol"]
    assert result == {k: v for k, v in judged.items() if k not in ("setting", "unused", "linked")}


def test_query_cursor_walks_every_behaviour_exactly_once(client):
    everything = [r["behavior"] for r in query(client, "restaurant", person=TEEN_CUSTOMER)["results"]]
    walked, sizes, cursor = [], [], None
    while True:
        page = query(client, "restaurant", person=TEEN_CUSTOMER, limit=5, **({"cursor": cursor} if cursor else {}))
        assert page["total"] == 17
        walked += [r["behavior"] for r in page["results"]]
        sizes.append(len(page["results"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [5, 5, 5, 2]
    assert walked == everything


@pytest.mark.parametrize("cursor", ["garbage!!", "abc", "eyJ4IjoxfQ", "W10", "eyJvZmZzZXQiOi0xfQ", "eyJvZmZzZXQiOnRydWV9"])
def test_a_garbage_cursor_is_422(client, cursor):
    assert_error(client.post("/v1/query", json={"setting": "restaurant", "cursor": cursor}), 422, "invalid_request")


def test_label_filter_keeps_that_verdict_and_conditionals_that_could_end_with_it(client):
    body = query(client, "restaurant", person=TEEN_CUSTOMER, label="taboo")
    assert [(r["behavior"], r["status"], r["verdict"]) for r in body["results"]] == [
        ("chew with your mouth open", "applies", "taboo"),
        ("drink alcohol", "applies", "taboo"),
        ("enter the kitchen", "applies", "taboo"),
        ("leave without paying", "applies", "taboo"),
        ("take someone's order", "applies", "taboo"),
        ("talk loudly", "applies", "taboo"),
        ("ask for a high chair or booster seat", "conditional", None),
    ]
    assert body["total"] == 7
    (conditional,) = [r for r in body["results"] if r["status"] == "conditional"]
    assert "taboo" in {c["label"] for c in conditional["conditions"]}


def test_status_filter_keeps_only_those_statuses(client):
    body = query(client, "restaurant", person=TEEN_CUSTOMER, status=["conditional", "excluded"])
    assert [(r["behavior"], r["status"]) for r in body["results"]] == [
        ("ask for a high chair or booster seat", "conditional"), ("order a kid's meal", "excluded")]
    assert body["total"] == 2


def test_behavior_filter_gives_the_one_normalised_behaviour(client):
    body = query(client, "restaurant", behavior="Drink  Alcohol", person={"role": "customer"})
    assert body["total"] == 1
    (result,) = body["results"]
    assert (result["behavior"], result["status"], result["verdict"]) == ("drink alcohol", "applies", "normal")


def test_behavior_filter_on_a_behaviour_without_frames_reports_it_unknown(client):
    body = query(client, "restaurant", behavior="juggle")
    assert [(r["behavior"], r["status"], r["frames"]) for r in body["results"]] == [("juggle", "unknown", [])]


def test_attributes_the_bank_has_never_seen_are_accepted_and_reported_unused(client):
    context = {"person": {"role": "student", "attributes": {"shoe size": "42"}},
               "other": {"attributes": {"favourite colour": "blue"}}, "environment": {"moon phase": "full"}}
    unused = [{"subject": "person", "name": "shoe size"}, {"subject": "other", "name": "favourite colour"},
              {"subject": "environment", "name": "moon phase"}]
    judged = judge(client, "classroom", "chew gum", **context)
    assert judged["unused"] == unused
    assert answer(judged) == answer(judge(client, "classroom", "chew gum", person={"role": "student"}))
    assert query(client, "classroom", **context)["unused"] == unused


@pytest.mark.parametrize("path", ["/v1/query", "/v1/judge"])
def test_an_unknown_setting_is_404(client, path):
    error = assert_error(client.post(path, json={"setting": "atlantis", "behavior": "swim"}), 404, "setting_not_found")
    assert error["details"]["setting"] == "atlantis" and "links to no setting" in error["message"]


MALFORMED = {
    "missing setting": ("/v1/query", {"person": {"role": "customer"}}, ["body", "setting"]),
    "empty setting": ("/v1/query", {"setting": ""}, ["body", "setting"]),
    "limit 0": ("/v1/query", {"setting": "restaurant", "limit": 0}, ["body", "limit"]),
    "limit too large": ("/v1/query", {"setting": "restaurant", "limit": 1001}, ["body", "limit"]),
    "limit not a number": ("/v1/query", {"setting": "restaurant", "limit": "many"}, ["body", "limit"]),
    "setting not a string": ("/v1/query", {"setting": 5}, ["body", "setting"]),
    "person not an object": ("/v1/query", {"setting": "restaurant", "person": "me"}, ["body", "person"]),
    "unknown label": ("/v1/query", {"setting": "restaurant", "label": "forbidden"}, ["body", "label"]),
    "unknown status": ("/v1/query", {"setting": "restaurant", "status": ["maybe"]}, ["body", "status", 0]),
    "unknown top-level field": ("/v1/query", {"setting": "restaurant", "colour": "red"}, ["body", "colour"]),
    "judge without behavior": ("/v1/judge", {"setting": "restaurant"}, ["body", "behavior"]),
    "judge without setting": ("/v1/judge", {"behavior": "drink alcohol"}, ["body", "setting"]),
    "judge with a query field": ("/v1/judge", {"setting": "restaurant", "behavior": "pay", "limit": 5}, ["body", "limit"]),
    "judge with nested object value": (
        "/v1/judge", {"setting": "restaurant", "behavior": "pay", "environment": {"country": {"name": "japan"}}},
        ["body", "environment", "country"]),
    "judge with unknown person field": (
        "/v1/judge", {"setting": "restaurant", "behavior": "pay", "person": {"age": 30}}, ["body", "person", "age"]),
}


@pytest.mark.parametrize(("path", "payload", "loc"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_body_is_422_with_the_error_envelope(client, path, payload, loc):
    error = assert_error(client.post(path, json=payload), 422, "invalid_request")
    assert error["details"][0]["loc"] == loc


@pytest.mark.parametrize("path", ["/v1/query", "/v1/judge"])
def test_a_body_that_is_not_json_is_422_with_the_error_envelope(client, path):
    response = client.post(path, content=b"{not json", headers={"content-type": "application/json"})
    assert_error(response, 422, "invalid_request")
