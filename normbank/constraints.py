"""The NormBank constraint language: parse atom strings into typed atoms, render them back canonically.

Atom forms (see docs/corpora.md), after normalisation of case, whitespace, brackets and quotes::

    [PERSON]'s role is 'customer'                 subject person, kind role
    [OTHER]'s age bracket is less than 'teen'     subject other,  kind attribute
    [PERSON]'s behavior is 'drinking alcohol'     subject person, kind behavior (a concurrent behaviour)
    time of day is greater than 'evening'         subject environment, kind environment
    the PERSON PERFORMING BEHAVOIR's atribute age bracket is 'teen'   (fallback: category text, misspelt)

Canonical text is lower case except the subject tags, single-spaced, values in single quotes; atoms of a
conjunction are sorted by their canonical text and joined by `` [AND] `` (`normbank.conjunctions` checks them).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Iterable

from normbank.errors import UnparseableAtom

AND = " [AND] "


class Subject(StrEnum):
    PERSON = "person"
    OTHER = "other"
    ENVIRONMENT = "environment"


class Kind(StrEnum):
    ROLE = "role"
    ATTRIBUTE = "attribute"
    BEHAVIOR = "behavior"
    ENVIRONMENT = "environment"


class Relation(StrEnum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"


RELATION_TEXT: dict[Relation, str] = {
    Relation.EQ: "is",
    Relation.NE: "is not",
    Relation.LT: "is less than",
    Relation.LE: "is less than or equal to",
    Relation.GT: "is greater than",
    Relation.GE: "is greater than or equal to",
}
ORDINAL_RELATIONS = frozenset({Relation.LT, Relation.LE, Relation.GT, Relation.GE})

# Every relation phrase we accept. The first block is canonical; the second is what NormBank's
# annotators typed and its authors normalised (docs/corpora.md); the last block is common English we saw
# no reason to reject.
RELATION_SYNONYMS: dict[str, Relation] = {
    **{text: rel for rel, text in RELATION_TEXT.items()},
    "is not at or above": Relation.LT,
    "is not equal to or above": Relation.LT,
    "is below": Relation.LT,
    "is not equal to or greater than": Relation.LT,
    "is not greater than or equal to": Relation.LT,
    "is equal to or less than": Relation.LE,
    "is not greater than": Relation.LE,
    "is not less than": Relation.GE,
    "is equal to or greater than": Relation.GE,
    "is not equal to or less than": Relation.GE,
    "is equal to": Relation.EQ,
    "is not equal to": Relation.NE,
    "is above": Relation.GT,
    "is more than": Relation.GT,
    "is at least": Relation.GE,
    "is at most": Relation.LE,
    "is under": Relation.LT,
    "is over": Relation.GT,
}
_RELATIONS_LONGEST_FIRST = sorted(RELATION_SYNONYMS, key=len, reverse=True)

SUBJECT_TAG = {Subject.PERSON: "[PERSON]", Subject.OTHER: "[OTHER]"}

# The annotation interface's category texts (constraint_dict.json keys), for the fallback form.
_CATEGORIES: dict[str, tuple[Subject, Kind | None]] = {
    "the person performing behavior's role": (Subject.PERSON, Kind.ROLE),
    "some other person's role": (Subject.OTHER, Kind.ROLE),
    "the person performing behavior's attribute": (Subject.PERSON, Kind.ATTRIBUTE),
    "some other person's attribute": (Subject.OTHER, Kind.ATTRIBUTE),
    "the person performing behavior is also doing": (Subject.PERSON, Kind.BEHAVIOR),
    "the environment": (Subject.ENVIRONMENT, Kind.ENVIRONMENT),
}
_CATEGORY_TOKENS = {text: text.split(" ") for text in _CATEGORIES}
_CATEGORY_MIN_RATIO = 0.8
_CATEGORY_STARTS = ("the ", "some ", "teh ", "som ")

_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'",
                         "“": '"', "”": '"', "„": '"', "\u00a0": " "})
_WS = re.compile(r"\s+")
_SUBJECT = re.compile(r"^[\[\(\{<\s]*(person|other)[\]\)\}>\s]*'?\s*s\b\s*")
_ROLE_NAMES = frozenset({"role", "roles"})
_BEHAVIOR_NAMES = frozenset({"behavior", "behaviour", "behaviors", "behaviours", "is also doing", "also doing"})
_FORBIDDEN_IN_NAME = re.compile(r"['\"\[\]]|(^|\s)is(\s|$)")
_EDGE_CHARS = "[]()<>{}' "
_AND_SPLIT = re.compile(r"\s*\[\s*and\s*\]\s*", re.IGNORECASE)
_IS = re.compile(r"(^|\s)is(\s|'|\"|$)")
_QUOTE = re.compile(r"['\"]")
_POSSESSIVE = re.compile(r"^'s\s+")
_SUBJECT_WORD = re.compile(r"\b(person|other)\b")


def _normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    # In ASCII text the backtick is the one character _QUOTES maps, and str.split() splits at exactly the
    # characters \s matches: the same result as translate + _WS.sub + strip at a third of the cost (0.8 us
    # instead of 2.3 per atom text; each of the 52.8k distinct atoms of the 155k-row corpus takes two or three).
    text = text.replace("`", "'") if text.isascii() else text.translate(_QUOTES)
    return " ".join(text.split()).lower()


def _normalise_value(value: str) -> str:
    return _normalise_text(value).strip("'\"[] ").strip()


# A request names its setting, roles, dimensions and values with a few short strings, normalised several
# times on its way to the reasoner (linking, the context, the cache): remembered, they cost a lookup.
# Only short strings, so a client cannot fill the memory with long ones.
MEMO_LENGTH = 128
_normalised_text = lru_cache(maxsize=8192)(_normalise_text)
_normalised_value = lru_cache(maxsize=8192)(_normalise_value)


def normalise_text(text: str) -> str:
    """Unicode NFKC, straight quotes, single spaces (newlines too), lower case, trimmed."""
    return _normalised_text(text) if len(text) <= MEMO_LENGTH else _normalise_text(text)


def normalise_value(value: str) -> str:
    """A value as atoms store it: normalised text without surrounding quotes or brackets."""
    return _normalised_value(value) if len(value) <= MEMO_LENGTH else _normalise_value(value)


@dataclass(frozen=True, slots=True, order=True)
class Atom:
    """One typed constraint: subject, kind, name, relation, value (all normalised)."""

    subject: Subject
    kind: Kind
    name: str
    relation: Relation
    value: str

    @property
    def dimension(self) -> tuple[Subject, Kind, str]:
        return (self.subject, self.kind, self.name)

    @property
    def text(self) -> str:
        return render_atom(self)

    def to_json(self) -> dict[str, str]:
        return {"subject": self.subject.value, "kind": self.kind.value, "name": self.name,
                "relation": self.relation.value, "value": self.value}

    @classmethod
    def from_json(cls, data: dict) -> "Atom":
        return make_atom(data["subject"], data["kind"], data["name"], data["relation"], data["value"])


_SUBJECTS = {s.value: s for s in Subject}
_KINDS = {k.value: k for k in Kind}
_RELATIONS = {r.value: r for r in Relation}


def stored_atom(subject: str, kind: str, name: str, relation: str, value: str) -> Atom:
    """The atom a database row holds: its parts were normalised and checked when it was stored, so it is
    built directly, with no parsing, and its enum members are looked up in dicts (cheaper than `Subject(...)`;
    grounding builds thousands per request)."""
    return Atom(_SUBJECTS[subject], _KINDS[kind], name, _RELATIONS[relation], value)


def make_atom(subject: str, kind: str, name: str, relation: str, value: str) -> Atom:
    """Build a validated atom from loose parts (enum values or names, any case)."""
    try:
        subj, knd, rel = Subject(subject.lower()), Kind(kind.lower()), Relation(relation.lower())
    except ValueError as exc:
        raise UnparseableAtom(f"bad atom part: {exc}") from None
    return _checked_atom(subj, knd, name, rel, value)


def _checked_atom(subj: Subject, knd: Kind, name: str, rel: Relation, value: str) -> Atom:
    """`make_atom` once the enum parts are enums (the parser has them so already)."""
    name = normalise_text(name)
    if knd is Kind.ROLE:
        name = "role"
    elif knd is Kind.BEHAVIOR:
        name = "behavior"
    value = normalise_value(value)
    if (subj is Subject.ENVIRONMENT) != (knd is Kind.ENVIRONMENT):
        raise UnparseableAtom(f"subject {subj.value} cannot have kind {knd.value}")
    if not name or _FORBIDDEN_IN_NAME.search(name) or name != name.strip(_EDGE_CHARS) or _AND_SPLIT.search(name):
        raise UnparseableAtom(f"bad dimension name {name!r}")
    if knd is Kind.ATTRIBUTE and name in ("role", "behavior"):
        # "[PERSON]'s role is ..." reads back as the role itself: such an attribute cannot be written down
        raise UnparseableAtom(f"attribute name {name!r} is taken by the {name} kind; use kind {name}")
    if subj is Subject.ENVIRONMENT and _looks_like_subject(name):
        raise UnparseableAtom(f"environment dimension {name!r} reads like a person or category")
    if not value or _AND_SPLIT.search(value):
        raise UnparseableAtom(f"bad value {value!r}")
    return Atom(subj, knd, name, rel, value)


def _looks_like_subject(name: str) -> bool:
    """An environment name the parser would read as a subject tag or a category text."""
    if _SUBJECT.match(name):
        return True
    return name.startswith(("the ", "some ")) and _match_category(name + " is") is not None


def render_atom(atom: Atom) -> str:
    rel = RELATION_TEXT[atom.relation]
    if atom.subject is Subject.ENVIRONMENT:
        return f"{atom.name} {rel} '{atom.value}'"
    return f"{SUBJECT_TAG[atom.subject]}'s {atom.name} {rel} '{atom.value}'"


def render_conjunction(atoms: Iterable[Atom]) -> str:
    return join_atom_texts(render_atom(a) for a in atoms)


def join_atom_texts(texts: Iterable[str]) -> str:
    """A conjunction's canonical text from its atoms' rendered texts: distinct, sorted, joined by AND."""
    return AND.join(sorted(set(texts)))


def _match_category(text: str) -> tuple[tuple[Subject, Kind | None], str] | None:
    """The fallback form: a (possibly misspelt) category text from the annotation interface."""
    if not text.startswith(_CATEGORY_STARTS):
        return None  # every category text starts with 'the' or 'some': skip the fuzzy match
    tokens = text.split(" ")
    best: tuple[float, str, int] | None = None
    for category, cat_tokens in _CATEGORY_TOKENS.items():
        n = len(cat_tokens)
        if len(tokens) < n:
            continue
        ratio = difflib.SequenceMatcher(None, " ".join(tokens[:n]), category).ratio()
        if ratio >= _CATEGORY_MIN_RATIO and (best is None or ratio > best[0]):
            best = (ratio, category, n)
    if best is None:
        return None
    return _CATEGORIES[best[1]], " ".join(tokens[best[2]:])


def _split_relation(rest: str) -> tuple[str, Relation, str]:
    """'age bracket is less than 'teen'' -> ('age bracket', LT, 'teen')."""
    match = _IS.search(rest)
    if not match:
        raise UnparseableAtom("no relation: expected 'is', 'is not', 'is less than', ...")
    name = rest[: match.start()].strip()
    tail = rest[match.start():].strip()
    relation: Relation | None = None
    if tail.rstrip("[]() ").endswith(("'", '"')) and (quote := _QUOTE.search(tail)):
        phrase = _WS.sub(" ", tail[: quote.start()]).strip()
        relation, raw_value = RELATION_SYNONYMS.get(phrase), tail[quote.start():]
        if relation is None:
            raise UnparseableAtom(
                f"unknown relation {phrase!r}; known: {', '.join(RELATION_TEXT.values())} and their synonyms"
            )
    else:
        # An unquoted value (which may itself contain an apostrophe): the longest known phrase wins.
        for phrase in _RELATIONS_LONGEST_FIRST:
            if tail.startswith(phrase + " "):
                relation, raw_value = RELATION_SYNONYMS[phrase], tail[len(phrase):]
                break
        else:
            raise UnparseableAtom(f"cannot find a relation and a value in {tail!r}")
    value = normalise_value(raw_value)
    if not value:
        raise UnparseableAtom("empty value")
    return name, relation, value


def _parse_atom(raw: str) -> Atom:
    text = normalise_text(raw)
    if not text:
        raise UnparseableAtom("empty atom")
    subject_match = _SUBJECT.match(text)
    if subject_match:
        subject: Subject = Subject(subject_match.group(1))
        kind: Kind | None = None
        rest = text[subject_match.end():]
    else:
        category = _match_category(text)
        if category is not None:
            (subject, kind), rest = category
            rest = _POSSESSIVE.sub("", rest)
        else:
            subject, kind, rest = Subject.ENVIRONMENT, Kind.ENVIRONMENT, text
    rest = rest.lstrip("[]()<>{} ")
    name, relation, value = _split_relation(rest)
    name = name.strip("[]()<>{}' ")
    if subject is Subject.ENVIRONMENT:
        kind = Kind.ENVIRONMENT
        if name.startswith("the environment"):
            name = name[len("the environment"):].strip()
        if not name:
            raise UnparseableAtom("environment atom without a dimension name (e.g. 'time of day is ...')")
        if text.startswith(("[", "(")) and _SUBJECT_WORD.search(name):
            raise UnparseableAtom(f"cannot tell the subject of {raw.strip()!r}: expected [PERSON]'s or [OTHER]'s")
    elif kind is None:
        if name in _ROLE_NAMES:
            kind = Kind.ROLE
        elif name in _BEHAVIOR_NAMES:
            kind = Kind.BEHAVIOR
        elif name:
            kind = Kind.ATTRIBUTE
        else:
            raise UnparseableAtom("no attribute name after the subject")
    elif kind is Kind.ATTRIBUTE and not name:
        raise UnparseableAtom("no attribute name after the category")
    return _checked_atom(subject, kind, name, relation, value)


@lru_cache(maxsize=1 << 17)
def _parse_atom_cached(raw: str) -> Atom | UnparseableAtom:
    try:
        return _parse_atom(raw)
    except UnparseableAtom as exc:
        # Without its traceback: through the frames' f_back it would keep every caller's frame (and
        # whatever their locals hold, such as an import's batch of records) alive as long as it is cached.
        return exc.with_traceback(None)


def parse_atom(raw: str) -> Atom:
    """Parse one atom string; raise `UnparseableAtom` with a reason a curator can act on."""
    result = _parse_atom_cached(raw)
    if isinstance(result, UnparseableAtom):
        raise UnparseableAtom(f"{result.message}: {raw.strip()!r}")
    return result



def split_conjunction(text: str) -> list[str]:
    """The atom strings of a conjunction (empty parts from stray separators are dropped)."""
    return [part for part in _AND_SPLIT.split(text or "") if part.strip()]


def parse_conjunction(text: str) -> list[Atom]:
    """Atoms of a conjunction in the order written (duplicates kept)."""
    return [parse_atom(part) for part in split_conjunction(text)]
