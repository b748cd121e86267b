"""Prompt-ready English for frames: "In a restaurant, "drink alcohol" is taboo when ..."."""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable

from normbank.constraints import Atom, Kind, Relation, Subject
from normbank.labels import LABEL_PHRASE, Label

_ORDINAL_PHRASE = {
    Relation.LT: "below",
    Relation.LE: "at most",
    Relation.GT: "above",
    Relation.GE: "at least",
}
_WHO = {Subject.PERSON: "the person", Subject.OTHER: "another person"}


def _article(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


def atom_phrase(atom: Atom) -> str:
    """One condition in plain words: "the person is a customer", "the time of day is at least 'night'"."""
    negated = atom.relation is Relation.NE
    if atom.kind is Kind.ROLE:
        verb = "is not" if negated else "is"
        if atom.relation in _ORDINAL_PHRASE:
            return f"{_WHO[atom.subject]}'s role is {_ORDINAL_PHRASE[atom.relation]} '{atom.value}'"
        return f"{_WHO[atom.subject]} {verb} {_article(atom.value)} {atom.value}"
    if atom.kind is Kind.BEHAVIOR:
        return f"{_WHO[atom.subject]} is {'not ' if negated else ''}also doing '{atom.value}'"
    owner = "the" if atom.subject is Subject.ENVIRONMENT else f"{_WHO[atom.subject]}'s"
    if atom.relation in _ORDINAL_PHRASE:
        relation = f"is {_ORDINAL_PHRASE[atom.relation]}"
    else:
        relation = "is not" if negated else "is"
    return f"{owner} {atom.name} {relation} '{atom.value}'"


_SUBJECT_ORDER = {Subject.PERSON: 0, Subject.OTHER: 1, Subject.ENVIRONMENT: 2}
_KIND_ORDER = {Kind.ROLE: 0, Kind.ATTRIBUTE: 1, Kind.BEHAVIOR: 2, Kind.ENVIRONMENT: 3}


def condition_order(atom: Atom) -> tuple[int, int, str, str]:
    """Where a condition goes in a conjunction: who first (role, attributes, what else they do), then the place."""
    return _SUBJECT_ORDER[atom.subject], _KIND_ORDER[atom.kind], atom.name, atom.value


def conditions_phrase(atoms: Iterable[Atom]) -> str:
    """Conditions joined by "and", in `condition_order`."""
    return _conditions_phrase(tuple(atoms))


@lru_cache(maxsize=65536)  # answers repeat the same conjunctions: each is phrased once
def _conditions_phrase(atoms: tuple[Atom, ...]) -> str:
    return " and ".join(atom_phrase(a) for a in sorted(atoms, key=condition_order))


def when_of(phrases: Iterable[str]) -> str:
    """The statement's tail from condition phrases already in `condition_order`: " when <a> and <b>", or ""."""
    conditions = " and ".join(phrases)
    return f" when {conditions}" if conditions else ""


_SMALL_WORDS = frozenset({"the", "of", "and"})


def place_name(value: str) -> str:
    """A country as a sentence names it: "china" -> "China", "the united states" -> "the United States"."""
    words = value.split()
    return " ".join(w if w in _SMALL_WORDS and i < len(words) - 1 else w[:1].upper() + w[1:] for i, w in enumerate(words))


def _is_place(atom: Atom) -> bool:
    return atom.kind is Kind.ENVIRONMENT and atom.name == "country" and atom.relation is Relation.EQ


def when_phrase(atoms: Iterable[Atom]) -> str:
    """The statement's tail for a conjunction: " in China when <conditions>", or "" for the empty frame.
    The country a frame holds in reads as a place ("in Japan"), the other conditions follow "when"."""
    ordered = sorted(atoms, key=condition_order)
    places = [a for a in ordered if _is_place(a)]
    where = "".join(f" in {place_name(a.value)}" for a in places[:1])
    return where + when_of(atom_phrase(a) for a in ordered if not places or a is not places[0])


_PHRASE_OF_LABEL = {label.value: phrase for label, phrase in LABEL_PHRASE.items()}  # by the plain string


def render_statement(setting: str | None, behavior: str, label: str, atoms: Iterable[Atom] = (), *,
                     when: str | None = None) -> str:
    """A frame as one sentence, e.g. 'In a restaurant, "drink alcohol" is taboo when the person is a customer.'

    `when` is `when_phrase(atoms)` rendered already (an import renders it once per distinct conjunction)."""
    where = f"In {_article(setting)} {setting}, " if setting else ""
    if when is None:
        when = when_phrase(atoms)
    phrase = _PHRASE_OF_LABEL.get(label) or LABEL_PHRASE[Label(label)]
    return f'{where}"{behavior}" is {phrase}{when}.'
