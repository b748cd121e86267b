"""The service builds RESULT models from the reasoner's output without validating them (`_built`); this
checks that such a model is the same, field for field and byte for byte, as one pydantic validates from
the same data, so a pydantic upgrade that changes model internals fails here rather than in a client."""

from __future__ import annotations

import pytest

from api.models import JudgeResponse, Result
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
