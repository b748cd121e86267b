"""The constraint language: every atom form, normalisation, canonical rendering, contradictions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from normbank.conjunctions import contradiction, normalise_frame
from normbank.constraints import (
    RELATION_SYNONYMS, RELATION_TEXT, Atom, Kind, Relation, Subject, make_atom, parse_atom, parse_conjunction, render_atom, render_conjunction,
)
from normbank.errors import ContradictoryFrame, UnparseableAtom
from normbank.scales import DEFAULT_SCALES


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[PERSON]'s role is 'waiter'", ("person", "role", "role", "eq", "waiter")),
        ("[OTHER]'s role is not 'server'", ("other", "role", "role", "ne", "server")),
        ("[PERSON]'s age bracket is less than 'young adult'", ("person", "attribute", "age bracket", "lt", "young adult")),
        ("[OTHER]'s gender is 'woman'", ("other", "attribute", "gender", "eq", "woman")),
        ("[PERSON]'s behavior is 'drinking alcohol'", ("person", "behavior", "behavior", "eq", "drinking alcohol")),
        ("time of day is greater than or equal to 'night'", ("environment", "environment", "time of day", "ge", "night")),
        ("country is 'Japan'", ("environment", "environment", "country", "eq", "japan")),
        ("[PERSON]'s education is less than or equal to 'college'", ("person", "attribute", "education", "le", "college")),
        ("noise is greater than 'quiet'", ("environment", "environment", "noise", "gt", "quiet")),
    ],
)
def test_every_atom_form_parses_to_typed_parts(text, expected):
    atom = parse_atom(text)
    assert (atom.subject, atom.kind, atom.name, atom.relation, atom.value) == expected
    assert render_atom(atom) == text.replace("'Japan'", "'japan'")


@pytest.mark.parametrize("phrase, relation", sorted(RELATION_SYNONYMS.items()))
def test_every_relation_synonym_normalises(phrase, relation):
    atom = parse_atom(f"[PERSON]'s age bracket {phrase} 'teen'")
    assert atom.relation is relation
    assert render_atom(atom) == f"[PERSON]'s age bracket {RELATION_TEXT[relation]} 'teen'"


def test_synonyms_listed_in_corpora_md_map_as_the_authors_did():
    lt = ["is not at or above", "is not equal to or above", "is below", "is not equal to or greater than",
          "is not greater than or equal to"]
    le = ["is equal to or less than", "is not greater than"]
    ge = ["is not less than", "is equal to or greater than", "is not equal to or less than"]
    for phrases, relation in ((lt, Relation.LT), (le, Relation.LE), (ge, Relation.GE)):
        for phrase in phrases:
            assert RELATION_SYNONYMS[phrase] is relation


@pytest.mark.parametrize(
    "noisy, canonical",
    [
        ("[PERSON]'s role is  'customer'", "[PERSON]'s role is 'customer'"),
        ("[PERSON]'s role\nis 'customer'", "[PERSON]'s role is 'customer'"),
        ("[[PERSON]]'s role is 'server']", "[PERSON]'s role is 'server'"),
        ("(PERSON)'s role is 'server'", "[PERSON]'s role is 'server'"),
        ("[PERSON]'s Age Bracket IS 'Teen'", "[PERSON]'s age bracket is 'teen'"),
        ("[PERSON]’s role is ‘chef’", "[PERSON]'s role is 'chef'"),
        ('[OTHER]\'s role is "waiter"', "[OTHER]'s role is 'waiter'"),
        ("[PERSON]'s behavior is eating someone's food", "[PERSON]'s behavior is 'eating someone's food'"),
        ("[PERSON]'s behaviour is 'singing'", "[PERSON]'s behavior is 'singing'"),
        ("the PERSON PERFORMING BEHAVOIR's atribute age bracket is 'teen'", "[PERSON]'s age bracket is 'teen'"),
        ("the PERSON PERFORMING BEHAVIOR's role is 'waiter'", "[PERSON]'s role is 'waiter'"),
        ("some OTHER PERSON's role is 'waiter'", "[OTHER]'s role is 'waiter'"),
        ("some OTHER PERSON's atribute gender is 'man'", "[OTHER]'s gender is 'man'"),
        ("the PERSON PERFORMING BEHAVIOR is also doing is 'singing'", "[PERSON]'s behavior is 'singing'"),
        ("the enviroment time of day is 'night'", "time of day is 'night'"),
        ("the environment noise is 'loud'", "noise is 'loud'"),
    ],
)
def test_noise_normalises_to_canonical_text(noisy, canonical):
    assert render_atom(parse_atom(noisy)) == canonical


@pytest.mark.parametrize(
    "text, reason",
    [
        ("[PERSON] role waiter", "no relation"),
        ("[PERSON]'s role is kinda 'x'", "unknown relation 'is kinda'"),
        ("[PERSON]'s role is ''", "empty value"),
        ("is 'x'", "without a dimension name"),
        ("[PERSON]'s is 'x'", "no attribute name"),
        ("", "empty atom"),
    ],
)
def test_unparseable_atoms_say_why(text, reason):
    with pytest.raises(UnparseableAtom) as info:
        parse_atom(text)
    assert reason in info.value.message


@pytest.mark.parametrize(
    "conjunction, reason",
    [
        ("[PERSON]'s role is 'driver' [AND] [PERSON]'s role is 'passenger'",
         "[PERSON]'s role holds one value but the frame requires both 'driver' and 'passenger'"),
        ("noise is 'loud' [AND] noise is not 'loud'", "noise cannot both be 'loud' and not be 'loud'"),
        ("[PERSON]'s age bracket is less than 'teen' [AND] [PERSON]'s age bracket is greater than 'young adult'",
         "[PERSON]'s age bracket cannot be both greater than 'young adult' and less than 'teen'"),
        ("[PERSON]'s age bracket is greater than 'teen' [AND] [PERSON]'s age bracket is less than 'young adult'",
         "[PERSON]'s age bracket cannot be both greater than 'teen' and less than 'young adult'"),
        ("[OTHER]'s age bracket is 'teen' [AND] [OTHER]'s age bracket is greater than or equal to 'senior citizen'",
         "[OTHER]'s age bracket cannot be both"),
        ("[PERSON]'s gender is 'man' [AND] [PERSON]'s gender is 'woman'", "holds one value"),
        ("time of day is 'noon' [AND] time of day is 'night'", "holds one value"),
        ("[PERSON]'s age is greater than '30' [AND] [PERSON]'s age is less than '20'", "age cannot be both"),
    ],
)
def test_contradictory_conjunctions_are_detected_with_a_reason(conjunction, reason):
    with pytest.raises(ContradictoryFrame) as info:
        normalise_frame(conjunction)
    assert reason in info.value.reason


@pytest.mark.parametrize(
    "conjunction",
    [
        "[PERSON]'s behavior is 'singing' [AND] [PERSON]'s behavior is 'dancing'",  # concurrent behaviours: a set
        "[PERSON]'s condition or state is 'tired' [AND] [PERSON]'s condition or state is 'hungry'",
        "[PERSON]'s role is 'waiter' [AND] [OTHER]'s role is 'customer'",  # different people
        "[PERSON]'s education is 'primary school' [AND] [PERSON]'s education is 'elementary school'",  # same level
        "[PERSON]'s age bracket is greater than or equal to 'teen' [AND] [PERSON]'s age bracket is less than or equal to 'teen'",
        "[PERSON]'s age bracket is greater than 'teen' [AND] [PERSON]'s age bracket is less than 'middle-aged adult'",
        "[PERSON]'s mood is 'x' [AND] [PERSON]'s mood is 'y'",  # free-text dimension: not known single-valued
    ],
)
def test_satisfiable_conjunctions_pass(conjunction):
    assert normalise_frame(conjunction)


def test_conjunction_is_sorted_deduplicated_and_rendered_canonically():
    atoms = normalise_frame("time of day is 'noon' [AND] [PERSON]'s role is 'customer' [AND] [PERSON]'s role is 'customer'")
    assert render_conjunction(atoms) == "[PERSON]'s role is 'customer' [AND] time of day is 'noon'"
    assert normalise_frame("") == ()
    assert len(parse_conjunction("a is 'x' [and]  b is 'y' [AND]")) == 2


def test_json_form_round_trips():
    atom = parse_atom("[PERSON]'s age bracket is less than 'young adult'")
    assert atom.to_json() == {"subject": "person", "kind": "attribute", "name": "age bracket", "relation": "lt",
                              "value": "young adult"}
    assert Atom.from_json(atom.to_json()) == atom


def test_make_atom_rejects_inconsistent_parts():
    with pytest.raises(UnparseableAtom):
        make_atom("environment", "role", "role", "eq", "x")
    with pytest.raises(UnparseableAtom):
        make_atom("person", "attribute", "name is", "eq", "x")
    for taken in ("role", "Behavior"):  # would read back as the role or behaviour kind (found by hypothesis)
        with pytest.raises(UnparseableAtom, match="taken by the"):
            make_atom("other", "attribute", taken, "eq", "0")
    with pytest.raises(UnparseableAtom):
        make_atom("person", "attribute", "age", "about", "x")


# -- property tests ------------------------------------------------------------------------------
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8).filter(
    lambda w: w not in {"is", "and"} and not w.startswith("-") and not w.endswith("-")
)
_phrase = st.lists(_word, min_size=1, max_size=4).map(" ".join)
_value = st.text(
    alphabet=st.characters(codec="utf-8", categories=("Ll", "Lu", "Nd", "Zs", "Po", "Pd", "Ps", "Pe")),
    min_size=1, max_size=30,
)


@st.composite
def atoms(draw) -> Atom:
    subject = draw(st.sampled_from(list(Subject)))
    if subject is Subject.ENVIRONMENT:
        kind = Kind.ENVIRONMENT
    else:
        kind = draw(st.sampled_from([Kind.ROLE, Kind.ATTRIBUTE, Kind.BEHAVIOR]))
    name = draw(_phrase) if kind in (Kind.ATTRIBUTE, Kind.ENVIRONMENT) else kind.value
    relation = draw(st.sampled_from(list(Relation)))
    value = draw(_value)
    try:
        return make_atom(subject.value, kind.value, name, relation.value, value)
    except UnparseableAtom:
        from hypothesis import assume

        assume(False)
        raise


@settings(max_examples=400, deadline=None)
@given(atoms())
def test_parse_of_render_is_identity(atom):
    assert parse_atom(render_atom(atom)) == atom


@settings(max_examples=200, deadline=None)
@given(st.lists(atoms(), min_size=0, max_size=5))
def test_conjunction_round_trips_when_satisfiable(group):
    if contradiction(group, DEFAULT_SCALES):
        return
    text = render_conjunction(group)
    assert set(normalise_frame(text)) == set(group)
    assert render_conjunction(normalise_frame(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.integers(0, 200))
def test_normalising_remembered_short_strings_equals_normalising_them_anew(text, pad):
    # Short strings are remembered (a request's setting, roles and values repeat); long ones are not.
    from normbank import constraints

    for value in (text, text + " x" * pad):
        assert constraints.normalise_text(value) == constraints._normalise_text(value)
        assert constraints.normalise_value(value) == constraints._normalise_value(value)
        assert constraints.normalise_text(value) == constraints.normalise_text(value)
    from normbank.scales import _as_number, as_number

    for value in (text, "30", " 2.5 ", "inf", "nan", "1e400"):
        assert as_number(value) == _as_number(value)


def _reference_normalise_text(text: str) -> str:
    """normalise_text as first written: NFKC, the quote table, whitespace runs to one space, trim, lower."""
    import re
    import unicodedata

    from normbank.constraints import _QUOTES

    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).translate(_QUOTES)).strip().lower()


_TRICKY = st.sampled_from(list("`'\"[] \t\n\x0b\x0c\r\x1c\x1f\u00a0\u2003\u3000‘’“”´ﬁＰ｀İßKé") + ["e\u0301"])


@given(st.lists(st.one_of(st.text(max_size=4), _TRICKY), max_size=12).map("".join))
@settings(max_examples=500, deadline=None)
def test_normalise_text_keeps_its_first_definition(text):
    from normbank.constraints import _normalise_text

    assert _normalise_text(text) == _reference_normalise_text(text)
