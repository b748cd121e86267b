"""Frames of one setting compiled for repeated evaluation against contexts.

Atoms become integer ids with their scale ranks and numbers worked out once, so answering a context
never re-parses constraint text. An atom is TRUE, FALSE or UNKNOWN against the facts of a context:
UNKNOWN when the context says nothing about its dimension, or when an ordinal comparison meets values on
no common scale. A dimension the context gives is described completely by the given values: for a
single-valued dimension several values are candidates (an atom only some of them satisfy is UNKNOWN);
a multi-valued one (concurrent behaviours, condition or state, ...) is a set, and `is 'x'` asks whether
x is in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from normbank.constraints import ORDINAL_RELATIONS, Atom, Relation
from normbank.context import Context, DimensionKey, is_multi_valued
from normbank.scales import DEFAULT_SCALES, Scales, as_number

# Atom and frame states as small integers (`reasoning.State` is their public name).
FALSE, TRUE, UNKNOWN = 0, 1, 2
ANSWERS_KEPT = 4096  # judgements remembered per compiled setting (a large setting's full answer is ~15 KB)


@dataclass(frozen=True, slots=True)
class Frame:
    """A norm frame as the reasoner sees it, with the provenance answers cite."""

    id: int
    behavior: str
    label: str
    atoms: tuple[Atom, ...]
    support: int = 1
    source: str | None = None
    licence: str | None = None
    row_number: int | None = None
    statement: str | None = None
    url: str | None = None


@dataclass(slots=True)
class Fact:
    """The values a context gives for one dimension, with their scale ranks and numbers."""

    values: tuple[str, ...]
    ranks: tuple[int | None, ...]
    numbers: tuple[float | None, ...]
    multi: bool


def _compare(relation: Relation, a: float, b: float) -> int:
    if relation is Relation.LT:
        ok = a < b
    elif relation is Relation.LE:
        ok = a <= b
    elif relation is Relation.GT:
        ok = a > b
    else:
        ok = a >= b
    return TRUE if ok else FALSE


def evaluate(relation: Relation, value: str, rank: int | None, number: float | None, fact: Fact) -> int:
    """One atom (relation, value and the value's rank and number) against the given values of its dimension."""
    if relation in ORDINAL_RELATIONS:
        if fact.multi:
            return UNKNOWN
        outcomes = set()
        for given_rank, given_number in zip(fact.ranks, fact.numbers):
            if rank is not None and given_rank is not None:
                outcomes.add(_compare(relation, given_rank, rank))
            elif number is not None and given_number is not None:
                outcomes.add(_compare(relation, given_number, number))
            else:
                return UNKNOWN  # incomparable values
        return outcomes.pop() if len(outcomes) == 1 else UNKNOWN
    hits = [given == value or (rank is not None and given_rank == rank)
            for given, given_rank in zip(fact.values, fact.ranks)]
    if fact.multi or len(hits) == 1:
        hit = any(hits)  # a set holds every given value; one given value decides the atom either way
    elif all(hits):
        hit = True
    elif not any(hits):
        hit = False
    else:
        return UNKNOWN  # several candidate values for a single-valued dimension, and only some match
    if relation is Relation.EQ:
        return TRUE if hit else FALSE
    return FALSE if hit else TRUE


class CompiledFrames:
    """The frames of one setting (or any group of frames), compiled, with the answers given so far.

    `by_behavior` maps each behaviour to its frames' indexes; `behavior_atoms` to the distinct atoms of
    those frames, grouped by dimension (`behavior_dimensions`), whose states decide that behaviour's
    answer. Answers are remembered by those states (`remembered`/`remember`): contexts that differ only in
    dimensions a behaviour's frames do not mention share one answer."""

    def __init__(self, frames: Iterable[Frame], scales: Scales = DEFAULT_SCALES, *, setting: str | None = None,
                 remember: bool = True):
        self.setting = setting
        self.scales = scales
        self.frames: list[Frame] = []
        self.atoms: list[Atom] = []
        self.atom_texts: list[str] = []
        self._atom_ids: dict[Atom, int] = {}
        self._atom_eval: list[tuple[Relation, str, int | None, float | None]] = []
        self._atom_dimension: list[DimensionKey] = []
        self.atoms_by_dimension: dict[DimensionKey, list[int]] = {}
        self.frame_atoms: list[tuple[int, ...]] = []
        self.frame_texts: list[tuple[str, ...]] = []  # each frame's canonical atom texts, in its atoms' order
        self.frame_sets: list[frozenset[int]] = []
        self.by_behavior: dict[str, list[int]] = {}
        for frame in frames:
            self.by_behavior.setdefault(frame.behavior, []).append(len(self.frames))
            self.frames.append(frame)
            ids = tuple(self._atom_id(a) for a in frame.atoms)
            self.frame_atoms.append(ids)
            self.frame_texts.append(tuple(self.atom_texts[a] for a in ids))
            self.frame_sets.append(frozenset(ids))
        # Each frame's place among its behaviour's conditions: by label, then the best supported, the
        # simplest and (for a stable order) the text.
        order = sorted(range(len(self.frames)), key=lambda i: (
            self.frames[i].label, -self.frames[i].support, len(self.frame_atoms[i]), self.frame_texts[i]))
        self.condition_rank: list[int] = [0] * len(order)
        for rank, i in enumerate(order):
            self.condition_rank[i] = rank
        self.behavior_atoms: dict[str, tuple[int, ...]] = {}
        self.behavior_dimensions: dict[str, tuple[tuple[DimensionKey, ...], tuple[int, ...]]] = {}
        for behavior, indexes in self.by_behavior.items():
            self._group_atoms(behavior, indexes)
        self._answers: dict | None = {} if remember else None

    def _atom_id(self, atom: Atom) -> int:
        aid = self._atom_ids.get(atom)
        if aid is None:
            aid = self._atom_ids[atom] = len(self.atoms)
            self.atoms.append(atom)
            self.atom_texts.append(atom.text)
            self._atom_eval.append((atom.relation, atom.value, self.scales.rank(atom.name, atom.value),
                                    as_number(atom.value)))
            self._atom_dimension.append(atom.dimension)
            self.atoms_by_dimension.setdefault(atom.dimension, []).append(aid)
        return aid

    def _group_atoms(self, behavior: str, indexes: list[int]) -> None:
        """The atoms of dimensions[k] are behavior_atoms[b][bounds[k]:bounds[k + 1]]: a context gives a few
        dimensions, so a judgement evaluates only their atoms and leaves the rest UNKNOWN."""
        groups: dict[DimensionKey, list[int]] = {}
        for aid in dict.fromkeys(a for i in indexes for a in self.frame_atoms[i]):
            groups.setdefault(self._atom_dimension[aid], []).append(aid)
        bounds = [0]
        for ids in groups.values():
            bounds.append(bounds[-1] + len(ids))
        self.behavior_atoms[behavior] = tuple(a for ids in groups.values() for a in ids)
        self.behavior_dimensions[behavior] = (tuple(groups), tuple(bounds))

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def behaviors(self) -> list[str]:
        return list(self.by_behavior)

    def facts(self, context: Context) -> dict[DimensionKey, Fact]:
        """The context's facts with their ranks and numbers on this compilation's scales."""
        out = {}
        for key, values in context.facts().items():
            name = key[2]
            out[key] = Fact(values, tuple(self.scales.rank(name, v) for v in values),
                            tuple(as_number(v) for v in values), is_multi_valued(key[1], name))
        return out

    def atom_states(self, facts: dict[DimensionKey, Fact]) -> list[int]:
        """The state of every atom, indexed by atom id (a query over every behaviour asks them all)."""
        every = [UNKNOWN] * len(self.atoms)
        for key, fact in facts.items():
            for aid in self.atoms_by_dimension.get(key, ()):
                every[aid] = evaluate(*self._atom_eval[aid], fact)
        return every

    def behavior_states(self, behavior: str, facts: dict[DimensionKey, Fact]) -> tuple[int, ...]:
        """The states of `behavior_atoms[behavior]`, in that order."""
        ids = self.behavior_atoms.get(behavior, ())
        states = [UNKNOWN] * len(ids)
        if facts and ids:
            dimensions, bounds = self.behavior_dimensions[behavior]
            for k, dimension in enumerate(dimensions):
                fact = facts.get(dimension)
                if fact is not None:
                    for position in range(bounds[k], bounds[k + 1]):
                        states[position] = evaluate(*self._atom_eval[ids[position]], fact)
        return tuple(states)

    def remembered(self, key: tuple):
        return self._answers.get(key) if self._answers is not None else None

    def forget(self) -> None:
        """Drop every remembered answer."""
        if self._answers is not None:
            self._answers.clear()

    def remember(self, key: tuple, answer) -> None:
        """Keep an answer (never mutated afterwards); a full memory starts again with what is asked now."""
        if self._answers is None:
            return
        if len(self._answers) >= ANSWERS_KEPT:
            self._answers.clear()
        self._answers[key] = answer
