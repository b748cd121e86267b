"""Shortcuts for the constraint text an import sees most: the canonical forms, as `render_atom` writes them.

Both give exactly what `normbank.constraints` gives, or decline (return None) and leave the input to it:

- `split_conjunction(text)`: `constraints.split_conjunction`, with a plain `str.split` when every `[` of the
  text opens `[AND]`, `[PERSON]` or `[OTHER]` (then no other separator spelling can be there);
- `fast_atom(raw)`: `constraints.parse_atom` for a printable-ASCII, single-spaced atom of the form
  `[PERSON]'s name relation 'value'` or `name relation 'value'` (environment), whose name is lower-case
  words without the word "is", and whose value has no bracket, double quote or backtick and does not begin
  or end with a quote or a space. On such a text each step of `parse_atom` (normalisation, subject, the
  first "is", relation phrase, value, the checks of `_checked_atom`) is the identity or a lookup, so the
  atom is built directly; anything else (other spellings, categories, errors) goes to `parse_atom`.
  tests/ingest/test_fastparse.py holds the two equal on the generated corpus's atoms and on variants.

At 155k rows the import parses 52.8k distinct atom texts and splits 100k distinct conjunctions.
"""

from __future__ import annotations

import re

from normbank.constraints import (
    _BEHAVIOR_NAMES, _CATEGORY_STARTS, _ROLE_NAMES, _SUBJECT, RELATION_SYNONYMS, Atom, Kind, Subject,
    split_conjunction as _split_conjunction,
)

_ATOM = re.compile(
    r"(?:\[(person|other)\]'s )?"  # the subject tag, or none: environment
    r"([a-z0-9]+(?: [a-z0-9]+)*)"  # the dimension name: lower-case words
    r" (is(?: [a-z]+)*)"  # the relation phrase
    r" '([^\s'\"\[\]`](?:[^\"\[\]`]*[^\s'\"\[\]`])?)'"  # the value
)
_SUBJECTS = {"person": Subject.PERSON, "other": Subject.OTHER}


def fast_atom(raw: str) -> Atom | None:
    """`parse_atom(raw)` for the canonical forms above, else None (then ask `parse_atom`)."""
    if not (raw.isascii() and raw.isprintable()) or "  " in raw:
        return None
    text = raw.lower()  # = normalise_text(raw) for printable, single-spaced ASCII without a backtick
    match = _ATOM.fullmatch(text)
    if match is None:
        return None
    tag, name, phrase, value = match.groups()
    relation = RELATION_SYNONYMS.get(phrase)
    if relation is None or " is " in f" {name} ":
        return None  # an unknown phrase, or "is" in the name: parse_atom splits elsewhere or rejects
    if tag is None:
        # Environment, unless parse_atom would read a subject or a category into it, or reject the name.
        if text.startswith(_CATEGORY_STARTS) or _SUBJECT.match(text) or _SUBJECT.match(name):
            return None
        return Atom(Subject.ENVIRONMENT, Kind.ENVIRONMENT, name, relation, value)
    if name in _ROLE_NAMES:
        return Atom(_SUBJECTS[tag], Kind.ROLE, "role", relation, value)
    if name in _BEHAVIOR_NAMES:
        return Atom(_SUBJECTS[tag], Kind.BEHAVIOR, "behavior", relation, value)
    return Atom(_SUBJECTS[tag], Kind.ATTRIBUTE, name, relation, value)


def split_conjunction(text: str) -> list[str]:
    """`constraints.split_conjunction(text)`: the atom strings of a conjunction, empty parts dropped."""
    if not text:
        return []
    n = text.count("[")
    if n != text.count("[AND]") + text.count("[PERSON]") + text.count("[OTHER]"):
        return _split_conjunction(text)  # another spelling of the separator may be there
    # Every "[" opens one of the three, and only "[AND]" is a separator (with the spaces around it, which
    # the regular expression's \s* take: str.strip() strips the same characters).
    pieces = text.split("[AND]")
    last = len(pieces) - 1
    parts = []
    for i, piece in enumerate(pieces):
        if i:
            piece = piece.lstrip()
        if i < last:
            piece = piece.rstrip()
        if piece.strip():
            parts.append(piece)
    return parts
