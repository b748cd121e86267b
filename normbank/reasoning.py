"""Which norms apply: three-valued, non-monotonic evaluation of frames against a context.

Semantics (ARCHITECTURE.md, "Reasoning"):

* An atom is TRUE, FALSE or UNKNOWN against a context: UNKNOWN when the context says nothing about its
  dimension, or when an ordinal comparison meets values that are not on one scale (and not numbers).
  A dimension the context gives is described completely by the given values. Single-valued dimensions
  (roles, age bracket, gender, time of day, and any dimension we do not know to be multi-valued) compare
  by equality after normalisation (scale values of equal rank are equal); several values given for one
  of them are candidates, so an atom only some of them satisfy is UNKNOWN. Multi-valued dimensions
  (concurrent behaviours, condition or state, ...) are sets: `is 'x'` is TRUE when x is among the given
  values and FALSE otherwise. Facts are per dimension, so adding one never turns a FALSE atom TRUE.
* A frame is FALSE if any atom is FALSE, TRUE if all are TRUE (the empty frame is TRUE), else UNKNOWN.
* For one (setting, behaviour): a TRUE frame is overridden by a TRUE frame whose atoms are a strict
  superset of its own (the more specific frame wins). The verdict is the label distribution over the
  maximal TRUE frames, weighted by support; confidence is the top label's share; the answer is
  `contested` when the top two labels' shares differ by at most CONTESTED_MARGIN. Ties go to the label
  earlier in VERDICT_PRECEDENCE (a warning is the safer answer for an agent).
* Conditions are the UNKNOWN frames grouped by label with their unknown atoms; defeaters are those
  UNKNOWN frames that are strictly more specific than a winning frame and carry another label: what
  would change the verdict.
* Status: `applies` (some frame TRUE), `conditional` (only UNKNOWN frames), `excluded` (every frame
  FALSE), `unknown` (no frame at all).

Frames of a setting are compiled once (`CompiledFrames`): atoms become integer ids with their scale ranks
and numbers precomputed, so a query never re-parses constraint text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Iterable, Sequence

from normbank.constraints import ORDINAL_RELATIONS, Atom, Relation
from normbank.context import Context, DimensionKey, is_multi_valued
from normbank.labels import LABEL_PHRASE, LABELS, Label
from normbank.scales import DEFAULT_SCALES, Scales, as_number
from normbank.statements import atom_phrase, condition_order

CONTESTED_MARGIN = 0.2  # top two labels within 20 points of share: e.g. 1 vs 1, 3 vs 2 are contested; 3 vs 1 is not
VERDICT_PRECEDENCE = (Label.TABOO, Label.EXPECTED, Label.NORMAL)


class State(StrEnum):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"


class Status(StrEnum):
    APPLIES = "applies"
    CONDITIONAL = "conditional"
    EXCLUDED = "excluded"
    UNKNOWN = "unknown"


STATUS_ORDER = {Status.APPLIES: 0, Status.CONDITIONAL: 1, Status.EXCLUDED: 2, Status.UNKNOWN: 3}
_F, _T, _U = 0, 1, 2


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


# -- atoms against facts ----------------------------------------------------------------------------
def _point(scales: Scales, name: str, value: str) -> tuple[int | None, float | None]:
    return scales.rank(name, value), as_number(value)


def _compare(relation: Relation, a: float, b: float) -> int:
    if relation is Relation.LT:
        ok = a < b
    elif relation is Relation.LE:
        ok = a <= b
    elif relation is Relation.GT:
        ok = a > b
    else:
        ok = a >= b
    return _T if ok else _F


@dataclass(slots=True)
class _Fact:
    values: tuple[str, ...]
    ranks: tuple[int | None, ...]
    numbers: tuple[float | None, ...]
    multi: bool


def _evaluate(relation: Relation, value: str, rank: int | None, number: float | None, fact: _Fact) -> int:
    """One atom against the given values of its dimension (see the module docstring)."""
    if relation in ORDINAL_RELATIONS:
        if fact.multi:
            return _U
        outcomes = set()
        for given_rank, given_number in zip(fact.ranks, fact.numbers):
            if rank is not None and given_rank is not None:
                outcomes.add(_compare(relation, given_rank, rank))
            elif number is not None and given_number is not None:
                outcomes.add(_compare(relation, given_number, number))
            else:
                return _U  # incomparable values
        return outcomes.pop() if len(outcomes) == 1 else _U
    if len(fact.values) == 1:  # the usual case: one given value decides the atom either way
        hit = fact.values[0] == value or (rank is not None and fact.ranks[0] == rank)
        if relation is Relation.EQ:
            return _T if hit else _F
        return _F if hit else _T
    hits = [given == value or (rank is not None and given_rank == rank)
            for given, given_rank in zip(fact.values, fact.ranks)]
    if fact.multi:
        hit = any(hits)  # the person has every given value
    elif all(hits):
        hit = True
    elif not any(hits):
        hit = False
    else:
        return _U  # several candidate values for a single-valued dimension, and only some match
    if relation is Relation.EQ:
        return _T if hit else _F
    return _F if hit else _T


# -- compiled frames ---------------------------------------------------------------------------------
class CompiledFrames:
    """The frames of one setting, compiled for fast repeated evaluation."""

    def __init__(self, frames: Iterable[Frame], scales: Scales = DEFAULT_SCALES, *, setting: str | None = None,
                 remember: bool = True):
        self.setting = setting
        self.remember = remember  # False for a throwaway compilation: its answers are not worth keeping
        self.scales = scales
        self.frames: list[Frame] = []
        self.atoms: list[Atom] = []
        self.atom_texts: list[str] = []
        self._atom_ids: dict[Atom, int] = {}
        self._atom_eval: list[tuple[Relation, str, int | None, float | None]] = []
        self._atom_dimension: list[DimensionKey] = []
        self.atoms_by_dimension: dict[DimensionKey, list[int]] = {}
        self.frame_atoms: list[tuple[int, ...]] = []
        self.frame_texts: list[list[str]] = []  # canonical atom texts per frame; shared by answers, never mutated
        self.frame_sets: list[frozenset[int]] = []
        self.frame_supports: list[int] = []
        self.by_behavior: dict[str, list[int]] = {}
        # What consumers derive from these frames once (the API's per-frame response parts), kept and
        # dropped with them: a data change makes the frame cache compile anew, with this empty.
        self.derived: dict = {}
        for frame in frames:
            index = len(self.frames)
            self.frames.append(frame)
            ids = tuple(self._atom_id(a) for a in frame.atoms)
            self.frame_atoms.append(ids)
            self.frame_texts.append([self.atom_texts[a] for a in ids])
            self.frame_sets.append(frozenset(ids))
            self.frame_supports.append(frame.support)
            self.by_behavior.setdefault(frame.behavior, []).append(index)
        self.dimensions = frozenset(self.atoms_by_dimension)
        self._phrases: list[str | None] = [None] * len(self.atoms)  # conditions_phrase, made on first use
        self._phrase_order: list[tuple | None] = [None] * len(self.atoms)
        self._conjunction_phrases: dict[tuple[int, ...], str] = {}
        # Each frame's place among a behaviour's conditions (`_judge`), made on first use.
        self._condition_keys: list[tuple | None] = [None] * len(self.frames)
        # The distinct atoms of each behaviour's frames, whose states decide that behaviour's answer, grouped
        # by dimension: the atoms of dimensions[b][k] are at bounds[b][k]:bounds[b][k + 1]. A context gives a
        # few dimensions, so a judgement evaluates only their atoms and leaves the rest UNKNOWN (two small
        # tuples per behaviour: a dict per behaviour cost 30 MB over the 155k corpus).
        self.behavior_atoms: dict[str, tuple[int, ...]] = {}
        self.behavior_dimensions: dict[str, tuple[tuple[DimensionKey, ...], tuple[int, ...]]] = {}
        for b, indexes in self.by_behavior.items():
            groups: dict[DimensionKey, list[int]] = {}
            for a in dict.fromkeys(a for i in indexes for a in self.frame_atoms[i]):
                groups.setdefault(self._atom_dimension[a], []).append(a)
            bounds = [0]
            for ids in groups.values():
                bounds.append(bounds[-1] + len(ids))
            self.behavior_atoms[b] = tuple(a for ids in groups.values() for a in ids)
            self.behavior_dimensions[b] = (tuple(groups), tuple(bounds))

    def _atom_id(self, atom: Atom) -> int:
        aid = self._atom_ids.get(atom)
        if aid is None:
            aid = len(self.atoms)
            self._atom_ids[atom] = aid
            self.atoms.append(atom)
            self.atom_texts.append(atom.text)
            rank, number = _point(self.scales, atom.name, atom.value)
            self._atom_eval.append((atom.relation, atom.value, rank, number))
            self._atom_dimension.append(atom.dimension)
            self.atoms_by_dimension.setdefault(atom.dimension, []).append(aid)
        return aid

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def behaviors(self) -> list[str]:
        return list(self.by_behavior)

    # ---- evaluation
    def facts(self, context: Context) -> dict[DimensionKey, _Fact]:
        out = {}
        for key, values in context.facts().items():
            name = key[2]
            ranks = tuple(self.scales.rank(name, v) for v in values)
            numbers = tuple(as_number(v) for v in values)
            out[key] = _Fact(values, ranks, numbers, is_multi_valued(key[1], name))
        return out

    def atom_states(self, facts: dict[DimensionKey, _Fact], atom_ids: Iterable[int] | None = None):
        """The state of every atom, as a list indexed by atom id; or, given `atom_ids`, of those atoms
        only, as a dict (one behaviour's frames touch a handful of the setting's thousands of atoms)."""
        if atom_ids is not None:
            states: dict[int, int] = {}
            for aid in atom_ids:
                if aid not in states:
                    fact = facts.get(self._atom_dimension[aid])
                    states[aid] = _U if fact is None else _evaluate(*self._atom_eval[aid], fact)
            return states
        every = [_U] * len(self.atoms)
        for key, fact in facts.items():
            for aid in self.atoms_by_dimension.get(key, ()):
                relation, value, rank, number = self._atom_eval[aid]
                every[aid] = _evaluate(relation, value, rank, number, fact)
        return every

    def behavior_states(self, behavior: str, facts: dict[DimensionKey, _Fact]) -> tuple[int, ...]:
        """The states of `behavior_atoms[behavior]`, in that order: only the atoms of the dimensions
        the facts give are evaluated, the others are UNKNOWN."""
        ids = self.behavior_atoms.get(behavior, ())
        states = [_U] * len(ids)
        if facts and ids:
            dimensions, bounds = self.behavior_dimensions[behavior]
            atom_eval = self._atom_eval
            for k, dimension in enumerate(dimensions):
                fact = facts.get(dimension)
                if fact is not None:
                    for position in range(bounds[k], bounds[k + 1]):
                        relation, value, rank, number = atom_eval[ids[position]]
                        states[position] = _evaluate(relation, value, rank, number, fact)
        return tuple(states)

    def conditions_phrase(self, atom_ids: Sequence[int]) -> str:
        """`statements.conditions_phrase` of these atoms (in this order), from each atom's phrase and
        order, made once: rendering them afresh was an eighth of a full query's reasoning. So is the phrase
        of each conjunction of several atoms asked (a frame's atoms, or those a context leaves unknown: at
        most a few per frame)."""
        if len(atom_ids) > 1:
            key = tuple(atom_ids)
            text = self._conjunction_phrases.get(key)
            if text is None:
                text = self._conjunction_phrases[key] = self._phrase(key)
            return text
        return self._phrase(atom_ids)

    def _phrase(self, atom_ids: Sequence[int]) -> str:
        phrases, order = self._phrases, self._phrase_order
        for aid in atom_ids:
            if phrases[aid] is None:
                atom = self.atoms[aid]
                phrases[aid], order[aid] = atom_phrase(atom), condition_order(atom)
        if len(atom_ids) == 1:
            return phrases[atom_ids[0]]
        return " and ".join([phrases[aid] for aid in sorted(atom_ids, key=order.__getitem__)])  # stable, as there


# -- judgements ---------------------------------------------------------------------------------
@dataclass(slots=True)
class FrameEvaluation:
    frame: Frame
    state: State
    constraints: list[str]  # the frame's canonical atom texts (compiled once)
    matched: list[str]
    failed: list[str]
    unknown: list[str]
    overridden_by: list[int]


@dataclass(slots=True)
class Condition:
    """What would make an UNKNOWN frame hold: its label, and its atoms the context does not decide."""

    label: str
    unknown: list[str]
    frame: int
    support: int
    overrides: list[int] = field(default_factory=list)  # for defeaters: the winning frames it would beat
    atoms: tuple[Atom, ...] = ()  # the unknown atoms themselves, for statements


@dataclass
class Judgement:
    behavior: str
    status: Status
    verdict: str | None
    distribution: dict[str, int]
    confidence: float | None
    contested: bool
    frames: list[FrameEvaluation]
    conditions: list[Condition]
    defeaters: list[Condition]
    statement: str
    setting: str | None = None
    open_labels: frozenset[str] = frozenset()  # labels of the UNKNOWN frames (for label filters)
    # What consumers derive from this (immutable, shared) answer, kept with it: the API's response model.
    derived: dict = field(default_factory=dict, compare=False, repr=False)


_NO_LABELS = {label.value: 0 for label in LABELS}
_PRECEDENCE = tuple(label.value for label in VERDICT_PRECEDENCE)
_LABEL_PHRASE = {label.value: phrase for label, phrase in LABEL_PHRASE.items()}  # by the labels frames hold


def _distribution(frames: Iterable[Frame]) -> dict[str, int]:
    dist = _NO_LABELS.copy()
    for frame in frames:
        dist[frame.label] += frame.support
    return dist


def verdict_of(distribution: dict[str, int]) -> tuple[str | None, float | None, bool]:
    """(verdict, confidence, contested) of a support-weighted label distribution."""
    total = sum(distribution.values())
    if total == 0:
        return None, None, False
    ranked = sorted(_PRECEDENCE, key=lambda label: -distribution[label])  # stable: precedence breaks ties
    top, second = distribution[ranked[0]], distribution[ranked[1]]
    contested = second > 0 and (top - second) / total <= CONTESTED_MARGIN
    return ranked[0], top / total, contested


def _article(setting: str | None) -> str:
    if not setting:
        return ""
    return f"In {'an' if setting[:1] in 'aeiou' else 'a'} {setting}, "


def _statement(j: Judgement, compiled: CompiledFrames, winners: list[int], open_ids: dict[int, tuple[int, ...]]) -> str:
    """`winners`: indexes of the maximal TRUE frames; `open_ids`: each UNKNOWN frame's unknown atoms, by frame id."""
    where = _article(j.setting)
    b = f'"{j.behavior}"'
    if j.status is Status.UNKNOWN:
        return f"{where}the bank has no frames for {b}; nothing is known about it here."
    if j.status is Status.EXCLUDED:
        return f"{where}none of the {len(j.frames)} frames for {b} fit this context."
    phrase = compiled.conditions_phrase
    if j.status is Status.CONDITIONAL:
        parts = [f"{_LABEL_PHRASE[c.label]} if {phrase(open_ids[c.frame])}" for c in j.conditions[:3]]
        more = f" (and {len(j.conditions) - 3} more conditions)" if len(j.conditions) > 3 else ""
        return f"{where}{b} depends on what is not known yet: " + "; ".join(parts) + more + "."
    frames = compiled.frames
    top = [i for i in winners if frames[i].label == j.verdict]
    why = phrase(compiled.frame_atoms[top[0]]) if top and frames[top[0]].atoms else ""
    text = f"{where}{b} is {_LABEL_PHRASE[j.verdict]}"
    text += f" here, because {why}." if why else " here."
    if j.contested:
        others = sorted({frames[i].label for i in winners if frames[i].label != j.verdict})
        text += f" Contested: equally supported frames say {', '.join(others)}."
    if j.defeaters:
        d = j.defeaters[0]
        text += f" It would be {_LABEL_PHRASE[d.label]} if {phrase(open_ids[d.frame])}."
    return text


class _LazyStates:
    """Atom id -> state for one behaviour's atoms, as a dict made on first use."""

    __slots__ = ("_ids", "_decided", "_states")

    def __init__(self, ids: tuple[int, ...], decided: tuple[int, ...]):
        self._ids, self._decided, self._states = ids, decided, None

    def __getitem__(self, aid: int) -> int:
        return self.resolved()[aid]

    def resolved(self) -> dict[int, int]:
        states = self._states
        if states is None:
            states = self._states = dict(zip(self._ids, self._decided))
        return states


def judge_behavior(
    compiled: CompiledFrames,
    behavior: str,
    facts: dict[DimensionKey, _Fact],
    *,
    states: Sequence[int] | dict[int, int] | None = None,
    detail: bool = True,
) -> Judgement:
    """The answer for one behaviour of the compiled setting.

    An answer depends on nothing but the states of the atoms of that behaviour's frames, so answers are
    remembered by those states (`_ANSWERS`): contexts that differ only in dimensions a behaviour's frames
    do not mention, or that decide its atoms alike, share one answer. Answers are never mutated."""
    atom_ids = compiled.behavior_atoms.get(behavior, ())
    if states is None:
        decided = compiled.behavior_states(behavior, facts)
        # What _judge reads, made only when the answer is worked out (a remembered one needs none).
        states = _LazyStates(atom_ids, decided)
    else:
        decided = tuple([states[a] for a in atom_ids])
    if not compiled.remember:
        return _judge(compiled, behavior, states, detail)
    key = (compiled, behavior, detail, decided)
    known = _ANSWERS.get(key)
    if known is None:
        known = _judge(compiled, behavior, states, detail)
        if len(_ANSWERS) >= ANSWERS_REMEMBERED:
            _ANSWERS.clear()  # crude but thread-safe under the GIL; refills with what is asked now
        _ANSWERS[key] = known
    return known


ANSWERS_REMEMBERED = 8192  # across settings; a large setting's full answer is ~15 KB
_ANSWERS: dict[tuple, "Judgement"] = {}


def forget_answers() -> None:
    """Drop every remembered answer (the frame cache calls this when the data changed)."""
    _ANSWERS.clear()


# An answer's "none" (no failed atoms, no overriding frames, ...) is this one list, and a list of all of a
# frame's atoms is its compiled texts: answers are shared and never mutated, and the lists an answer keeps
# alive are walked by the cycle collector again and again (a cold full query over the largest setting of
# the 155k corpus kept 15,052 lists alive, 4,803 with these shared).
_NONE: list = []
# The split (failed, matched, unknown texts) of a frame whose atoms are all in one state, by that state.
_UNIFORM = (lambda texts: (texts, _NONE, _NONE),  # all FALSE
            lambda texts: (_NONE, texts, _NONE),  # all TRUE
            lambda texts: (_NONE, _NONE, texts))  # all UNKNOWN


def _judge(compiled: CompiledFrames, behavior: str, states, detail: bool) -> Judgement:
    if type(states) is _LazyStates:
        states = states.resolved()  # read per atom below: a dict, not a method call each time
    indexes = compiled.by_behavior.get(behavior, [])
    frames, frame_atoms, sets = compiled.frames, compiled.frame_atoms, compiled.frame_sets
    # The frames' indexes by state (FALSE, TRUE, UNKNOWN: indexed by _F, _T, _U), in the behaviour's order.
    by_frame_state: tuple[list[int], list[int], list[int]] = ([], [], [])
    if detail:
        # Each frame's atom texts by state (failed, matched, unknown: indexed by _F, _T, _U) as answers hold
        # them: all of a frame's texts are its compiled list, none is _NONE. The frame is FALSE if any atom
        # is, else UNKNOWN if any is, else TRUE. Most frames' atoms share one state (a context gives a few
        # dimensions): their split is made without a list per state.
        frame_texts = compiled.frame_texts
        split: dict[int, tuple[list[str], list[str], list[str]]] = {}
        for i in indexes:
            ids = frame_atoms[i]
            constraints = frame_texts[i]
            if len(ids) == 1:
                s = states[ids[0]]
                split[i] = _UNIFORM[s](constraints)
            elif not ids:  # the empty frame: TRUE, its (empty) texts all three
                s = _T
                split[i] = (constraints, constraints, constraints)
            else:
                given = [states[aid] for aid in ids]
                s = _F if _F in given else _U if _U in given else _T
                if given.count(given[0]) == len(given):
                    split[i] = _UNIFORM[given[0]](constraints)
                else:
                    by_state = ([], [], [])
                    for state, text in zip(given, constraints):
                        by_state[state].append(text)
                    split[i] = (by_state[_F] or _NONE, by_state[_T] or _NONE, by_state[_U] or _NONE)
            by_frame_state[s].append(i)
    else:
        for i in indexes:  # the same states without the texts (inline: a call per frame cost as much)
            s = _T
            for aid in frame_atoms[i]:
                state = states[aid]
                if state == _F:
                    s = _F
                    break
                if state == _U:
                    s = _U
            by_frame_state[s].append(i)
    false, true, unknown = by_frame_state
    overridden: dict[int, list[int]] = {}
    for i in true:
        above = [frames[g].id for g in true if sets[g] > sets[i]]
        if above:
            overridden[i] = above
    winners = [i for i in true if i not in overridden]
    distribution = _distribution(frames[i] for i in winners)
    verdict, confidence, contested = verdict_of(distribution)
    if not indexes:
        status = Status.UNKNOWN
    elif true:
        status = Status.APPLIES
    elif unknown:
        status = Status.CONDITIONAL
    else:
        status = Status.EXCLUDED

    conditions: list[Condition] = []
    defeaters: list[Condition] = []
    evaluations: list[FrameEvaluation] = []
    if detail:
        frame_texts, atoms, supports = compiled.frame_texts, compiled.atoms, compiled.frame_supports
        open_texts: dict[int, list[str]] = {}  # the unknown atoms' texts of each UNKNOWN frame, by index
        open_ids: dict[int, tuple[int, ...]] = {}  # and their ids, by frame id
        # The frames as evidence: the winning TRUE ones, the overridden TRUE ones, UNKNOWN, FALSE; each group
        # by support, best first (a stable sort: frames of equal support keep their order).
        groups = ((State.TRUE, winners), (State.TRUE, [i for i in true if i in overridden]),
                  (State.UNKNOWN, unknown), (State.FALSE, false))
        for state, group in groups:
            for i in sorted(group, key=supports.__getitem__, reverse=True) if len(group) > 1 else group:
                failed, matched, open_ = split[i]
                open_texts[i] = open_
                evaluations.append(FrameEvaluation(frames[i], state, frame_texts[i], matched, failed, open_,
                                                   overridden.get(i, _NONE)))
        # By label, then the best supported, the simplest and (for a stable order) the text.
        keys = compiled._condition_keys
        for i in unknown:
            if keys[i] is None:  # of strings and numbers only: the cycle collector stops tracking it
                keys[i] = (frames[i].label, -frames[i].support, len(frame_atoms[i]), tuple(frame_texts[i]))
        for i in sorted(unknown, key=keys.__getitem__):
            frame = frames[i]
            unknown_texts = open_texts[i]
            ids = frame_atoms[i]
            if unknown_texts is not frame_texts[i]:  # only some of its atoms are unknown
                ids = tuple([aid for aid in ids if states[aid] == _U])
            open_ids[frame.id] = ids
            open_atoms = frame.atoms if len(ids) == len(frame.atoms) else tuple([atoms[aid] for aid in ids])
            beaten = [frames[w].id for w in winners if sets[i] > sets[w]]
            conditions.append(Condition(frame.label, unknown_texts, frame.id, frame.support, _NONE, open_atoms))
            if beaten and frame.label != verdict:
                defeaters.append(Condition(frame.label, unknown_texts, frame.id, frame.support, beaten, open_atoms))
    judgement = Judgement(
        behavior=behavior, status=status, verdict=verdict, distribution=distribution, confidence=confidence,
        contested=contested, frames=evaluations, conditions=conditions, defeaters=defeaters, statement="",
        setting=compiled.setting, open_labels=frozenset(frames[i].label for i in unknown),
    )
    if detail:
        judgement.statement = _statement(judgement, compiled, winners, open_ids)
    return judgement


def judge(compiled: CompiledFrames, context: Context, behavior: str) -> Judgement:
    return judge_behavior(compiled, behavior, compiled.facts(context))


def _keep(j: Judgement, labels: frozenset[str] | None, statuses: frozenset[str] | None) -> bool:
    if statuses and j.status.value not in statuses:
        return False
    if labels:
        # A label filter keeps answers with that verdict, and conditional ones that could end with it.
        return j.verdict in labels or (j.status is Status.CONDITIONAL and bool(j.open_labels & labels))
    return True


def query(
    compiled: CompiledFrames,
    context: Context,
    *,
    behaviors: Iterable[str] | None = None,
    labels: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[Judgement], int]:
    """Judgements for the setting's behaviours (or `behaviors`), filtered, `applies` first, then by
    behaviour; only the requested page is worked out in full. Returns (page, total after filters)."""
    facts = compiled.facts(context)
    states = compiled.atom_states(facts)
    wanted = list(behaviors) if behaviors is not None else list(compiled.by_behavior)
    label_set = frozenset(labels) if labels else None
    status_set = frozenset(statuses) if statuses else None
    whole = offset == 0 and (limit is None or limit >= len(wanted))  # one page holds every answer
    summaries = [judge_behavior(compiled, b, facts, states=states, detail=whole) for b in wanted]
    summaries = [j for j in summaries if _keep(j, label_set, status_set)]
    summaries.sort(key=lambda j: (STATUS_ORDER[j.status], j.behavior))
    if whole:
        return summaries, len(summaries)
    page = summaries[offset: None if limit is None else offset + limit]
    return [judge_behavior(compiled, j.behavior, facts, states=states) for j in page], len(summaries)


def unused_dimensions(context: Context, known: Iterable[DimensionKey]) -> list[DimensionKey]:
    """Facts about dimensions the bank has never seen: accepted, and reported back rather than dropped."""
    if not isinstance(known, (set, frozenset)):
        known = set(known)
    return [key for key in context.facts() if key not in known]
