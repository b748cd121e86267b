"""Conjunctions: a frame's atoms parsed, de-duplicated, ordered and checked for contradictions.

A conjunction no context can satisfy is rejected with the reason a curator can act on: two values of a
single-valued dimension (roles, age bracket, gender, ...), `is v` together with `is not v`, or an ordinal
range with nothing in it ('greater than teen' and 'less than young adult').
"""

from __future__ import annotations

from typing import Iterable

from normbank.constraints import (
    ORDINAL_RELATIONS, RELATION_TEXT, SUBJECT_TAG, Atom, Kind, Relation, Subject, parse_conjunction, render_atom,
)
from normbank.errors import ContradictoryFrame
from normbank.scales import DEFAULT_SCALES, Scales, as_number, is_single_valued


def _interval_reason(atoms: list[Atom], scales: Scales) -> str | None:
    """Why the ordinal atoms of one dimension leave no value possible, or None."""
    name = atoms[0].name
    points: list[tuple[Atom, float]] = []
    for atom in atoms:
        if atom.relation is Relation.NE:
            continue
        rank = scales.rank(name, atom.value)
        point = float(rank) if rank is not None else as_number(atom.value)
        if point is None:
            return None  # incomparable values: nothing to conclude
        if rank is None and any(scales.rank(name, a.value) is not None for a in atoms):
            return None  # a number beside scale words: incomparable
        points.append((atom, point))
    lo, lo_open, hi, hi_open = float("-inf"), False, float("inf"), False
    for atom, p in points:
        rel = atom.relation
        if rel in (Relation.GT, Relation.GE, Relation.EQ) and (p > lo or (p == lo and rel is Relation.GT)):
            lo, lo_open = p, rel is Relation.GT
        if rel in (Relation.LT, Relation.LE, Relation.EQ) and (p < hi or (p == hi and rel is Relation.LT)):
            hi, hi_open = p, rel is Relation.LT
    empty = lo > hi or (lo == hi and (lo_open or hi_open))
    if not empty and scales.is_ordered(name) and all(scales.rank(name, a.value) is not None for a, _ in points):
        # On a discrete scale, 'greater than teen' and 'less than young adult' leave nothing between.
        ranks = set(scales.ranks[name].values())
        empty = not any((r > lo or (r == lo and not lo_open)) and (r < hi or (r == hi and not hi_open)) for r in ranks)
    if empty:
        shown = " and ".join((RELATION_TEXT[a.relation][3:] + " ").lstrip() + f"'{a.value}'"
                             for a, _ in points)
        return f"{name} cannot be both {shown}" if len(points) == 2 else f"no {name} is {shown}"
    return None


def contradiction(atoms: Iterable[Atom], scales: Scales = DEFAULT_SCALES) -> str | None:
    """The reason no context can satisfy this conjunction, or None when it is satisfiable as far as we can tell."""
    atoms = list(atoms)
    if len({a.dimension for a in atoms}) == len(atoms) and not any(a.relation in ORDINAL_RELATIONS for a in atoms):
        return None  # the common case: one equality atom per dimension cannot contradict itself
    groups: dict[tuple[Subject, Kind, str], list[Atom]] = {}
    for atom in atoms:
        groups.setdefault(atom.dimension, []).append(atom)
    for (subject, kind, name), group in groups.items():
        who = "" if subject is Subject.ENVIRONMENT else f"{SUBJECT_TAG[subject]}'s "
        ordered = scales.is_ordered(name)

        def same(a: str, b: str) -> bool:
            if ordered:
                ra, rb = scales.rank(name, a), scales.rank(name, b)
                if ra is not None and rb is not None:
                    return ra == rb
            return scales.canonical(name, a) == scales.canonical(name, b)

        equals = [a.value for a in group if a.relation is Relation.EQ]
        nots = [a.value for a in group if a.relation is Relation.NE]
        for v in equals:
            for n in nots:
                if same(v, n):
                    return f"{who}{name} cannot both be '{v}' and not be '{n}'"
        if is_single_valued(kind.value, name):
            for v in equals[1:]:
                if not same(v, equals[0]):
                    return f"{who}{name} holds one value but the frame requires both '{equals[0]}' and '{v}'"
        if any(a.relation in ORDINAL_RELATIONS for a in group):
            reason = _interval_reason(group, scales)
            if reason:
                return who + reason
    return None


def normalise_frame(text: str, scales: Scales = DEFAULT_SCALES) -> tuple[Atom, ...]:
    """Parse, dedupe and sort a conjunction; raise `UnparseableAtom` or `ContradictoryFrame`."""
    atoms = tuple(sorted(set(parse_conjunction(text)), key=render_atom))
    reason = contradiction(atoms, scales)
    if reason:
        raise ContradictoryFrame(reason, details={"constraints": [render_atom(a) for a in atoms]})
    return atoms
