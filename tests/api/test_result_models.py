"""The service builds RESULT models from the reasoner's output without validating them (`_built`); this
checks that such a model is the same, field for field and byte for byte, as one pydantic validates from
the same data, so a pydantic upgrade that changes model internals fails here rather than in a client."""

from __future__ import annotations

import pytest

from api import service
from api.models import JudgeResponse, QueryRequest, Result
from api.service import _built, result_of
from normbank.constraints import normalise_frame
from normbank.context import make_context, make_party
from normbank.reasoning import CompiledFrames, Frame, Status, judge

FRAMES = CompiledFrames([
    Frame(id=1, behavior="drink alcohol", label="normal", atoms=normalise_frame("[PERSON]'s role is 'customer'"),
          support=3, source="tiny", licence="CC BY-SA 4.0", row_number=2, statement="drinking is fine"),
    Frame(id=2, behavior="drink alcohol", label="taboo", atoms=normalise_frame(
        "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is less than 'young adult'"), row_number=3),
    Frame(id=3, behavior="drink alcohol", label="expected", atoms=normalise_frame(
        "[PERSON]'s role is 'customer' [AND] time of day is 'night'"), source="tiny"),
    Frame(id=4, behavior="drink alcohol", label="taboo", atoms=normalise_frame("[PERSON]'s role is 'server'")),
], setting="restaurant")


@pytest.mark.parametrize("role, attributes, expected_status", [
    ("customer", {"age bracket": "teen"}, Status.APPLIES),  # overridden default, FALSE and UNKNOWN frames
    ("customer", {}, Status.APPLIES),  # a defeater and conditions
    (None, {}, Status.CONDITIONAL),
    ("chef", {}, Status.EXCLUDED),
])
def test_built_result_equals_the_validated_one(role, attributes, expected_status):
    j = judge(FRAMES, make_context("restaurant", make_party(role, attributes)), "drink alcohol")
    assert j.status is expected_status
    built = result_of(j)
    validated = Result.model_validate(built.model_dump())
    assert built == validated
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_fields_set == set(Result.model_fields)
    assert [f.model_fields_set for f in built.frames] == [f.model_fields_set for f in validated.frames]


def test_built_judge_response_serialises_its_own_fields():
    j = judge(FRAMES, make_context("restaurant", make_party("customer")), "drink alcohol")
    built = _built(JudgeResponse, {**result_of(j).__dict__, "setting": "restaurant", "unused": [], "linked": []})
    assert built == JudgeResponse.model_validate(built.model_dump())
    assert built.model_dump()["defeaters"][0]["label"] in {"taboo", "expected"}


def test_built_query_response_equals_the_validated_one(corpus_client, monkeypatch):
    # service.query builds the whole response without validation too, RESULTs, links and unused facts included.
    from api.models import QueryResponse
    from tests.api.test_reasoning_api import TINY

    cache = corpus_client(TINY).app.state.cache
    for body in ({"setting": "office", "person": {"role": "manager"}, "limit": 1000},
                 {"setting": "office", "limit": 1, "environment": {"moon phase": "full"}}):
        with monkeypatch.context() as patched:  # validating a QueryResponse fails while service.query runs
            patched.setattr(QueryResponse, "__init__", lambda *a, **k: pytest.fail("QueryResponse validated"))
            built = service.query(cache, QueryRequest(**body))
        validated = QueryResponse.model_validate(built.model_dump())
        assert built == validated
        assert built.model_dump_json() == validated.model_dump_json()
        assert built.model_fields_set == set(QueryResponse.model_fields)
    assert built.next_cursor and built.unused and built.results  # the second body: a page, an unused fact



def test_built_ground_response_equals_the_validated_one(client, monkeypatch):
    # service.ground builds its grounded norms, their defeaters and sources without validation too.
    from api.models import ConditionOut, GroundedNorm, GroundRequest, GroundResponse, SourceRef

    cache, retriever = client.app.state.cache, client.app.state.retriever
    bodies = ({"situation": "a teenage customer wants to drink alcohol with dinner", "setting": "restaurant",
               "person": {"role": "customer", "attributes": {"age bracket": "teen"}}, "k": 10},
              {"situation": "someone wants to drink alcohol", "k": 20})
    seen = {"defeaters": 0, "conditions": 0}
    for body in bodies:
        with monkeypatch.context() as patched:  # validating one of these fails while service.ground runs
            for model in (GroundedNorm, ConditionOut, SourceRef):
                patched.setattr(model, "__init__", lambda *a, _m=model.__name__, **k: pytest.fail(f"{_m} validated"))
            built = service.ground(cache, retriever, GroundRequest(**body))
        validated = GroundResponse.model_validate(built.model_dump())
        assert built == validated
        assert built.model_dump_json() == validated.model_dump_json()
        for norm in built.norms:
            assert norm.model_fields_set == set(GroundedNorm.model_fields)
            assert norm.source.model_fields_set == set(SourceRef.model_fields)
            seen["defeaters"] += len(norm.defeaters)
            seen["conditions"] += len(norm.conditions)
        assert built.norms
    assert seen["defeaters"] and seen["conditions"]  # both kinds of nested parts were built and compared

def test_frame_refs_kept_with_a_compiled_setting_are_dropped_when_the_data_changes(corpus_client, engine, tmp_path):
    # A frame's public id and source reference are built once per compiled setting (result_of); a data
    # change compiles the setting anew, so answers cite what the database holds now.
    from sqlalchemy import text

    from ingest.pipeline import run_import
    from tests.api.test_reasoning_api import TINY

    client = corpus_client(TINY)
    body = {"setting": "office", "person": {"role": "manager"}, "limit": 1000}

    def sources(response) -> set[tuple]:
        return {(f["source"]["name"], f["source"]["licence"], f["source"]["row"])
                for r in response.json()["results"] for f in r["frames"]}

    first = client.post("/v1/query", json=body)
    rows = {row for _name, _licence, row in sources(first)}
    assert all(client.app.state.cache.get("office").derived["frame_refs"])  # kept with the compiled setting
    with engine.begin() as conn:
        conn.execute(text("UPDATE norm SET row_number = row_number + 100"))
        conn.execute(text("UPDATE source SET licence = 'changed' WHERE name = 'tiny'"))
    more = tmp_path / "more.csv"
    more.write_text(TINY.splitlines()[0] + "\nkitchen,cook,kitchen [BEHAVIOR] cook,,,,normal,1,train\n",
                    encoding="utf-8")
    run_import(engine=engine, format="normbank", path=more, source="more")  # the data version moves on
    client.app.state.cache.invalidate()
    second = client.post("/v1/query", json=body)
    assert sources(second) == {("tiny", "changed", row + 100) for row in rows}
    assert second.content == service.query(client.app.state.cache, QueryRequest(**body)).model_dump_json().encode()
