"""The reasoner: three-valued atoms and frames, override by specificity, verdicts, conditions, defeaters."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normbank.conjunctions import normalise_frame
from normbank.constraints import Atom, make_atom, parse_atom
from normbank.context import make_context, make_party
from normbank.reasoning import (
    CONTESTED_MARGIN, CompiledFrames, Frame, State, Status, judge, judge_behavior, query, verdict_of,
)


def frames(*specs: tuple[str, str, str] | tuple[str, str, str, int]) -> CompiledFrames:
    """(behaviour, label, constraints[, support]) -> compiled frames of one setting."""
    out = []
    for i, spec in enumerate(specs):
        behavior, label, text, *support = spec
        out.append(Frame(id=i + 1, behavior=behavior, label=label, atoms=normalise_frame(text),
                         support=support[0] if support else 1))
    return CompiledFrames(out, setting="restaurant")


def ctx(role=None, attrs=None, behaviors=None, env=None, other_role=None):
    return make_context("restaurant", make_party(role, attrs, behaviors), make_party(other_role), env)


DRINK = frames(
    ("drink alcohol", "normal", "[PERSON]'s role is 'customer'"),
    ("drink alcohol", "taboo", "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is less than 'young adult'"),
    ("drink alcohol", "taboo", "[PERSON]'s role is 'server'"),
)


def test_more_specific_true_frame_overrides_the_default():
    j = judge(DRINK, ctx("customer", {"age bracket": "teen"}), "drink alcohol")
    assert (j.status, j.verdict, j.distribution, j.confidence) == (Status.APPLIES, "taboo", {"expected": 0, "normal": 0, "taboo": 1}, 1.0)
    default = next(e for e in j.frames if e.frame.id == 1)
    assert default.state is State.TRUE and default.overridden_by == (2,)


def test_ordinal_atom_uses_scale_ranks_and_aliases():
    assert judge(DRINK, ctx("customer", {"age bracket": "senior citizen"}), "drink alcohol").verdict == "normal"
    assert judge(DRINK, ctx("customer", {"Age Bracket": "Teenager"}), "drink alcohol").verdict == "taboo"


def test_unknown_ordinal_value_leaves_the_atom_unknown():
    j = judge(DRINK, ctx("customer", {"age bracket": "ancient"}), "drink alcohol")
    assert j.verdict == "normal"
    assert [d.unknown for d in j.defeaters] == [("[PERSON]'s age bracket is less than 'young adult'",)]


def test_defeater_says_what_would_change_the_verdict():
    j = judge(DRINK, ctx("customer"), "drink alcohol")
    assert j.verdict == "normal"
    assert [(d.label, d.unknown, d.overrides) for d in j.defeaters] == [
        ("taboo", ("[PERSON]'s age bracket is less than 'young adult'",), (1,))
    ]
    assert "It would be taboo if the person's age bracket is below 'young adult'" in j.statement


def test_is_not():
    fs = frames(("enter the kitchen", "taboo", "[PERSON]'s role is 'customer'"),
                ("enter the kitchen", "normal", "[PERSON]'s role is not 'customer'"))
    assert judge(fs, ctx("server"), "enter the kitchen").verdict == "normal"
    assert judge(fs, ctx("customer"), "enter the kitchen").verdict == "taboo"


def test_environment_and_other_role():
    fs = frames(("leave a tip", "expected", "country is 'the united states'"),
                ("leave a tip", "taboo", "country is 'japan'"),
                ("sit down", "taboo", "[OTHER]'s role is 'host' [AND] time of day is greater than or equal to 'night'"))
    assert judge(fs, ctx(env={"Country": "Japan"}), "leave a tip").verdict == "taboo"
    assert judge(fs, ctx(env={"country": "the United States"}), "leave a tip").verdict == "expected"
    assert judge(fs, ctx(other_role="host", env={"time of day": "late night"}), "sit down").verdict == "taboo"
    assert judge(fs, ctx(other_role="host", env={"time of day": "noon"}), "sit down").status is Status.EXCLUDED


def test_concurrent_behaviours_are_a_set():
    fs = frames(("check your phone", "normal", ""),
                ("check your phone", "taboo", "[PERSON]'s behavior is 'watching a movie'"))
    assert judge(fs, ctx(behaviors=["eating popcorn", "watching a movie"]), "check your phone").verdict == "taboo"
    assert judge(fs, ctx(behaviors=["eating popcorn"]), "check your phone").verdict == "normal"
    bare = judge(fs, ctx(), "check your phone")
    assert bare.verdict == "normal" and bare.defeaters[0].unknown == ("[PERSON]'s behavior is 'watching a movie'",)


def test_empty_frame_always_holds():
    fs = frames(("read a book", "normal", ""))
    j = judge(fs, ctx(), "read a book")
    assert j.status is Status.APPLIES and j.frames[0].state is State.TRUE


def test_only_unknown_frames_are_conditional_with_conditions_by_label():
    fs = frames(("give medication", "expected", "[PERSON]'s role is 'nurse'"),
                ("give medication", "taboo", "[PERSON]'s role is 'patient'"),
                ("give medication", "taboo", "[PERSON]'s role is 'visitor'"))
    j = judge(fs, ctx(), "give medication")
    assert (j.status, j.verdict, j.confidence, j.contested) == (Status.CONDITIONAL, None, None, False)
    assert [(c.label, c.unknown) for c in j.conditions] == [
        ("expected", ("[PERSON]'s role is 'nurse'",)),
        ("taboo", ("[PERSON]'s role is 'patient'",)),
        ("taboo", ("[PERSON]'s role is 'visitor'",)),
    ]
    assert j.defeaters == []
    assert judge(fs, ctx("chaplain"), "give medication").status is Status.EXCLUDED
    unknown = judge(fs, ctx(), "juggle")
    assert (unknown.status, unknown.frames, unknown.verdict) == (Status.UNKNOWN, [], None)


def test_a_frames_atoms_are_split_by_state_whether_they_share_one_or_not():
    # One frame of three atoms, judged again and again on one compiled setting: all unknown, two unknown,
    # then one FALSE.
    fs = frames(("order wine", "taboo", "[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is less than "
                                        "'young adult' [AND] time of day is 'morning'"),
                ("order wine", "normal", "[PERSON]'s role is 'customer'", 2))
    texts = tuple(a.text for a in fs.frames[0].atoms)
    for _ in range(2):
        j = judge(fs, ctx(), "order wine")
        assert j.status is Status.CONDITIONAL
        assert [(c.label, c.unknown) for c in j.conditions] == [("normal", ("[PERSON]'s role is 'customer'",)),
                                                                ("taboo", texts)]
        (e,) = [e for e in j.frames if e.frame.id == 1]
        assert (e.state, e.matched, e.failed, e.unknown) == (State.UNKNOWN, (), (), texts)
        assert "taboo if" in j.statement or "normal (okay) if" in j.statement

        j = judge(fs, ctx("customer"), "order wine")
        assert (j.status, j.verdict) == (Status.APPLIES, "normal")
        (e,) = [e for e in j.frames if e.frame.id == 1]
        role = "[PERSON]'s role is 'customer'"
        assert (e.state, e.matched, e.failed) == (State.UNKNOWN, (role,), ())
        assert e.unknown == tuple(t for t in texts if t != role) and e.constraints == texts
        (d,) = j.defeaters
        assert d.unknown == e.unknown and "It would be taboo if" in j.statement
        assert "below 'young adult'" in j.statement and "morning" in j.statement

        j = judge(fs, ctx("customer", env={"time of day": "night"}), "order wine")
        (e,) = [e for e in j.frames if e.frame.id == 1]
        assert (e.state, e.matched, e.failed, len(e.unknown)) == (State.FALSE, (role,), ("time of day is 'morning'",), 1)
        assert j.defeaters == [] and j.conditions == []


def test_non_nested_applicable_frames_of_different_labels_are_contested():
    fs = frames(("use a laptop", "normal", "[PERSON]'s role is 'customer'"),
                ("use a laptop", "taboo", "time of day is 'noon'"))
    j = judge(fs, ctx("customer", env={"time of day": "noon"}), "use a laptop")
    assert j.contested and j.distribution == {"expected": 0, "normal": 1, "taboo": 1} and j.confidence == 0.5
    assert j.verdict == "taboo"  # ties go to the safer warning


def test_support_weights_the_verdict():
    fs = frames(("chew gum", "taboo", "[PERSON]'s role is 'student'", 3),
                ("chew gum", "normal", "[PERSON]'s age bracket is greater than or equal to 'young adult'"))
    j = judge(fs, ctx("student", {"age bracket": "young adult"}), "chew gum")
    assert (j.verdict, j.confidence, j.contested) == ("taboo", 0.75, False)


def test_contested_margin():
    assert verdict_of({"expected": 0, "normal": 2, "taboo": 3}) == ("taboo", 0.6, True)
    assert verdict_of({"expected": 0, "normal": 1, "taboo": 4})[2] is False
    assert CONTESTED_MARGIN == 0.2


def test_candidate_values_of_a_single_valued_dimension():
    # Told "teen or young adult": below young adult is only possibly true.
    j = judge(DRINK, ctx("customer", {"age bracket": ["teen", "young adult"]}), "drink alcohol")
    assert j.verdict == "normal" and j.defeaters


def test_query_lists_applies_first_and_paginates():
    fs = frames(("a", "normal", "[PERSON]'s role is 'x'"), ("b", "taboo", ""), ("c", "normal", "[PERSON]'s role is 'y'"))
    page, total = query(fs, ctx("y"), limit=2)
    assert total == 3 and [j.behavior for j in page] == ["b", "c"]
    rest, _ = query(fs, ctx("y"), offset=2, limit=2)
    assert [(j.behavior, j.status) for j in rest] == [("a", Status.EXCLUDED)]
    only_taboo, total = query(fs, ctx("y"), labels=["taboo"])
    assert total == 1 and only_taboo[0].behavior == "b"


# -- invariants (hypothesis) --------------------------------------------------------------------------
DIMENSIONS = {
    ("person", "role", "role"): ["customer", "server", "cook"],
    ("other", "role", "role"): ["customer", "server"],
    ("person", "attribute", "age bracket"): ["toddler", "teen", "young adult", "older adult"],
    ("person", "attribute", "condition or state"): ["drunk", "tired", "sick"],
    ("person", "behavior", "behavior"): ["smoking", "singing", "watching a movie"],
    ("environment", "environment", "time of day"): ["morning", "noon", "night"],
    ("environment", "environment", "country"): ["japan", "france"],
}
ORDINAL_DIMENSIONS = {("person", "attribute", "age bracket"), ("environment", "environment", "time of day")}
DIM_KEYS = sorted(DIMENSIONS)


@st.composite
def atoms(draw) -> Atom:
    key = draw(st.sampled_from(DIM_KEYS))
    relations = ["eq", "ne", "lt", "le", "gt", "ge"] if key in ORDINAL_DIMENSIONS else ["eq", "ne"]
    return make_atom(key[0], key[1], key[2], draw(st.sampled_from(relations)), draw(st.sampled_from(DIMENSIONS[key])))


@st.composite
def facts(draw, keys=None) -> dict:
    keys = draw(st.lists(st.sampled_from(DIM_KEYS), unique=True, max_size=5)) if keys is None else keys
    out = {}
    for key in keys:
        pool = DIMENSIONS[key]
        if key[1] == "behavior" or key[2] == "condition or state":
            out[key] = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
        else:
            out[key] = draw(st.sampled_from(pool))
    return out


def context_of(facts_: dict):
    person = {"attributes": {}, "behaviors": [], "role": None}
    other = {"attributes": {}, "role": None}
    env = {}
    for (subject, kind, name), value in facts_.items():
        target = person if subject == "person" else other
        if subject == "environment":
            env[name] = value
        elif kind == "role":
            target["role"] = value
        elif kind == "behavior":
            target["behaviors"] = value
        else:
            target["attributes"][name] = value
    return make_context("s", make_party(**person), make_party(other["role"], other["attributes"]), env)


def state_of(atoms_: tuple[Atom, ...], facts_: dict) -> State:
    compiled = CompiledFrames([Frame(id=1, behavior="b", label="normal", atoms=atoms_)])
    return judge(compiled, context_of(facts_), "b").frames[0].state


@settings(max_examples=300, deadline=None)
@given(atoms(), facts(), st.data())
def test_adding_a_fact_never_turns_a_false_atom_true(atom, given_facts, data):
    extra_key = data.draw(st.sampled_from([k for k in DIM_KEYS if k not in given_facts] or DIM_KEYS))
    if extra_key in given_facts:
        return
    more = {**given_facts, **data.draw(facts([extra_key]))}
    before, after = state_of((atom,), given_facts), state_of((atom,), more)
    if before is State.FALSE:
        assert after is State.FALSE
    if before is not State.UNKNOWN:
        assert after is before


@settings(max_examples=300, deadline=None)
@given(st.lists(atoms(), max_size=3), facts(), st.data())
def test_facts_about_unmentioned_dimensions_never_change_a_frame(frame_atoms, given_facts, data):
    mentioned = {tuple(a.dimension[i].value if i < 2 else a.dimension[i] for i in range(3)) for a in frame_atoms}
    free = [k for k in DIM_KEYS if k not in mentioned]
    if not free:
        return
    extra = data.draw(facts(data.draw(st.lists(st.sampled_from(free), unique=True, min_size=1))))
    frame = tuple(frame_atoms)
    base = {k: v for k, v in given_facts.items() if k in mentioned}
    assert state_of(frame, base) is state_of(frame, {**base, **extra})


@settings(max_examples=300, deadline=None)
@given(st.lists(atoms(), min_size=1, max_size=3), st.data())
def test_a_frame_is_decided_once_every_dimension_it_mentions_is_given(frame_atoms, data):
    mentioned = sorted({(a.subject.value, a.kind.value, a.name) for a in frame_atoms})
    given_facts = data.draw(facts(mentioned))
    assert state_of(tuple(frame_atoms), given_facts) in (State.TRUE, State.FALSE)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(atoms(), max_size=3), st.sampled_from(["expected", "normal", "taboo"]),
                          st.integers(1, 3)), min_size=1, max_size=6), facts())
def test_an_overridden_frame_never_decides_a_verdict(specs, given_facts):
    all_frames = [Frame(id=i + 1, behavior="b", label=label, atoms=tuple(sorted(set(a), key=lambda x: x.text)),
                        support=support) for i, (a, label, support) in enumerate(specs)]
    context = context_of(given_facts)
    full = judge(CompiledFrames(all_frames), context, "b")
    overridden = {e.frame.id for e in full.frames if e.overridden_by}
    for e in full.frames:
        if e.overridden_by:
            assert e.state is State.TRUE
    kept = [f for f in all_frames if f.id not in overridden]
    reduced = judge(CompiledFrames(kept), context, "b")
    assert (reduced.verdict, reduced.distribution, reduced.contested) == (full.verdict, full.distribution, full.contested)
    winners = [e.frame for e in full.frames if e.state is State.TRUE and not e.overridden_by]
    expected = {"expected": 0, "normal": 0, "taboo": 0}
    for f in winners:
        expected[f.label] += f.support
    assert full.distribution == expected


def test_answers_are_shared_only_between_contexts_that_decide_the_behaviour_alike():
    compiled = CompiledFrames(DRINK.frames, setting="restaurant")
    teen = judge(compiled, ctx("customer", {"age bracket": "teen"}), "drink alcohol")
    # Another fact on a dimension these frames never mention: the same atom states, the same answer.
    assert judge(compiled, ctx("customer", {"age bracket": "teen", "religion": "jewish"}), "drink alcohol") is teen
    adult = judge(compiled, ctx("customer", {"age bracket": "senior citizen"}), "drink alcohol")
    assert adult is not teen and (teen.verdict, adult.verdict) == ("taboo", "normal")
    # The same frames compiled anew (after an import) never see the old setting's answers.
    fresh = CompiledFrames(DRINK.frames, setting="restaurant")
    again = judge(fresh, ctx("customer", {"age bracket": "teen"}), "drink alcohol")
    assert again is not teen and asdict(again) == asdict(teen)
    # A throwaway compilation is never remembered.
    once = CompiledFrames(DRINK.frames, setting="restaurant", remember=False)
    first = judge(once, ctx("customer", {"age bracket": "teen"}), "drink alcohol")
    assert judge(once, ctx("customer", {"age bracket": "teen"}), "drink alcohol") is not first
    assert asdict(first) == asdict(teen)
