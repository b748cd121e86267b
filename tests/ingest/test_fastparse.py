"""ingest.fastparse gives exactly what normbank.constraints gives, or declines: on the fixtures, the sample
corpus, a generated NormBank-scale corpus (when the shared taxonomy is there) and seeded variants of them."""

from __future__ import annotations

import csv
import random
import sys

import pytest

from ingest.fastparse import fast_atom, split_conjunction
from normbank.cli import sample_corpus_path
from normbank.constraints import parse_atom
from normbank.constraints import split_conjunction as slow_split
from normbank.errors import InvalidInput
from tests.conftest import FIXTURES, REPO, TAXONOMY_DIR

# Forms the shortcut must decline or get right: categories, synonyms, "is" in names and values, brackets,
# quotes, case, whitespace, the names parse_atom maps or rejects.
EDGE_CASES = [
    "[PERSON]'s role is 'customer'", "[OTHER]'s age bracket is less than 'teen'", "time of day is 'noon'",
    "[PERSON]'s roles is 'server'", "[PERSON]'s behaviour is 'sing'", "[PERSON]'s also doing is 'sing'",
    "[PERSON]'s is also doing is 'sing'", "[PERSON]'s this is it is 'x'", "[PERSON]'s role is 'a person who is sleeping'",
    "[PERSON]'s role is not 'server'", "[PERSON]'s age bracket is below 'teen'", "[PERSON]'s age is is 'x'",
    "[PERSON]'s role is 'x' ", " [PERSON]'s role is 'x'", "[PERSON]'s  role is 'x'", "[PERSON]'s role is ' x'",
    "[PERSON]'s role is 'x''", "[PERSON]'s role is '[x]'", "[PERSON]'s role is 'tisha b'av'", "[PERSON]'s role is ''",
    "[PERSON]'s role is '\"x\"'", "[PERSON]'s role is `x`", "[PERSON]'s ROLE IS 'Customer'", "[person]'s role is 'x'",
    "[PERSON]'s role is ‘x’", "[PERSON]'s role\tis 'x'", "[PERSON]'s attribute is 'x'", "[PERSON]'s behavior is 'x'",
    "the environment time of day is 'noon'", "the person performing behavior's role is 'server'",
    "some other person's attribute age bracket is 'teen'", "teh environment noise is 'loud'", "some thing is 'x'",
    "persons thing is 'x'", "person s thing is 'x'", "other s age is 'x'", "person count is '3'",
    "[PERSON]'s role is 'x' [AND] time of day is 'noon'", "[PERSON]'s role 'x'", "[PERSON]'s role is",
    "[PERSON]'s age bracket is greater than or equal to 'young adult'", "[PERSON]'s age bracket is at least 'teen'",
    "time of day is not less than 'noon'", "noise level is over '80'", "[PERSON]'s role is 'x [and] y'",
    "[OTHER]'s role is 'server'", "[OTHERS]'s role is 'server'", "(PERSON)'s role is 'x'", "role is 'x'",
]
CONJUNCTIONS = [
    "", " ", "[AND]", " [AND] ", "a [AND] b", "a[AND]b", "a [and] b", "a [ AND ] b", "a [AND] [AND] b", "[AND] a",
    "a [AND]", "a  [AND]\n b", "a\u00a0[AND]\u2003b", " a [AND] b ", "[PERSON]'s x is 'y' [AND] [OTHER]'s z is 'w'",
    "[PERSON]'s x is '[y]' [AND] z is 'w'", "[PERSON]'s x is 'y' [And] z is 'w'", "x is 'y' [AND ] z is 'w'",
]


def _slow_atom(text: str):
    try:
        return parse_atom(text)
    except InvalidInput:
        return None


def _assert_same(conjunctions: list[str], atoms: list[str]) -> int:
    for text in conjunctions:
        assert split_conjunction(text) == slow_split(text), text
    fast = 0
    for text in atoms:
        atom = fast_atom(text)
        if atom is not None:
            fast += 1
            assert atom == _slow_atom(text), text
    return fast


def _mutations(texts: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pieces = list(" \t\n\u00a0\u2003'\"`[]()<>{}AaIiSs-_.,0’") + [
        "is", " is ", "[AND]", "[and]", "[ AND ]", "[PERSON]", "[OTHER]", "the ", "some ", "persons", "person",
        "role", "roles", "behaviour", "also doing", "is also doing", "'s", "not", "less than", "environment"]
    out = []
    for _ in range(n):
        chars = list(rng.choice(texts))
        for _ in range(rng.randint(1, 3)):
            i = rng.randint(0, len(chars))
            op = rng.random()
            if op < 0.4:
                chars.insert(i, rng.choice(pieces))
            elif chars and op < 0.7:
                del chars[min(i, len(chars) - 1)]
            elif chars:
                chars[min(i, len(chars) - 1)] = rng.choice(pieces)
        out.append("".join(chars))
    return out


def _corpus_texts(path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(dict.fromkeys(row["constraints"] for row in csv.DictReader(handle)))


def _check_corpus(conjunctions: list[str]) -> None:
    atoms = list(dict.fromkeys(part for text in conjunctions for part in slow_split(text)))
    assert _assert_same(conjunctions, atoms) > 0.8 * len(atoms)  # the shortcut is taken, and right
    _assert_same(_mutations(conjunctions, 20_000, 1), _mutations(atoms, 20_000, 2))


def test_edge_cases_match_the_parser():
    assert _assert_same(CONJUNCTIONS + EDGE_CASES, EDGE_CASES) > 10
    assert fast_atom("[PERSON]'s roles is 'server'") == parse_atom("[PERSON]'s roles is 'server'")
    assert fast_atom("the environment time of day is 'noon'") is None


def test_fixtures_and_sample_corpus_match_the_parser():
    _check_corpus(_corpus_texts(FIXTURES / "normbank" / "noise.csv") + _corpus_texts(sample_corpus_path()))


def test_generated_corpus_matches_the_parser(tmp_path):
    if not TAXONOMY_DIR.is_dir():
        pytest.skip(f"the shared NormBank taxonomy is not at {TAXONOMY_DIR}")
    sys.path.insert(0, str(REPO / "tests" / "bench"))
    try:
        from generate_normbank import generate
    finally:
        sys.path.pop(0)
    path = tmp_path / "generated.csv"
    generate(path, rows=20_000, seed=3, taxonomy=TAXONOMY_DIR, noise=0.05)
    _check_corpus(_corpus_texts(path))
