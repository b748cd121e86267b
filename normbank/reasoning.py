"""Which norms apply: three-valued, non-monotonic judgement of one behaviour's frames in a context.

The rules (docs/reasoning.md says them for users):

* A frame is FALSE if any atom is FALSE, TRUE if all are TRUE (the empty frame is TRUE), else UNKNOWN
  (atoms are evaluated by `normbank.compiled`).
* A TRUE frame is overridden by a TRUE frame whose atoms are a strict superset of its own: the more
  specific frame wins. The verdict is the label distribution over the remaining (maximal) TRUE frames,
  weighted by support; confidence is the top label's share; the answer is `contested` when the top two
  shares differ by at most CONTESTED_MARGIN. Ties go to the label earlier in VERDICT_PRECEDENCE (a warning
  is the safer answer for an agent).
* Conditions are the UNKNOWN frames with their unknown atoms; defeaters are those UNKNOWN frames strictly
  more specific than a winning frame and carrying another label: what would change the verdict.
* Status: `applies` (some frame TRUE), `conditional` (only UNKNOWN frames), `excluded` (every frame
  FALSE), `unknown` (no frame at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Iterable

from normbank.compiled import FALSE, TRUE, UNKNOWN, CompiledFrames, Fact, Frame
from normbank.constraints import Atom
from normbank.context import Context, DimensionKey
from normbank.labels import LABEL_PHRASE, LABELS, Label
from normbank.statements import conditions_phrase

__all__ = ["CONTESTED_MARGIN", "CompiledFrames", "Condition", "Frame", "FrameEvaluation", "Judgement", "State",
           "Status", "judge", "judge_behavior", "query", "unused_dimensions", "verdict_of"]

CONTESTED_MARGIN = 0.2  # top two labels within 20 points of share: 1 vs 1 and 3 vs 2 are contested; 3 vs 1 is not
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
_STATE = {FALSE: State.FALSE, TRUE: State.TRUE, UNKNOWN: State.UNKNOWN}
_PRECEDENCE = tuple(label.value for label in VERDICT_PRECEDENCE)
_LABEL_PHRASE = {label.value: phrase for label, phrase in LABEL_PHRASE.items()}


@dataclass(slots=True)
class FrameEvaluation:
    """One frame as evidence: its state, which atoms matched, failed or are unknown, and what overrides it."""

    frame: Frame
    state: State
    constraints: tuple[str, ...]  # the frame's canonical atom texts
    matched: tuple[str, ...]
    failed: tuple[str, ...]
    unknown: tuple[str, ...]
    overridden_by: tuple[int, ...]


@dataclass(slots=True)
class Condition:
    """What would make an UNKNOWN frame hold: its label, and its atoms the context does not decide."""

    label: str
    unknown: tuple[str, ...]
    frame: int
    support: int
    overrides: tuple[int, ...] = ()  # for defeaters: the winning frames it would beat
    atoms: tuple[Atom, ...] = ()  # the unknown atoms themselves, for statements


@dataclass(eq=False)
class Judgement:
    """The answer for one behaviour in one context. Answers are shared between contexts that decide the
    behaviour's atoms alike, so they are never mutated once made."""

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


def verdict_of(distribution: dict[str, int]) -> tuple[str | None, float | None, bool]:
    """(verdict, confidence, contested) of a support-weighted label distribution."""
    total = sum(distribution.values())
    if total == 0:
        return None, None, False
    ranked = sorted(_PRECEDENCE, key=lambda label: -distribution[label])  # stable: precedence breaks ties
    top, second = distribution[ranked[0]], distribution[ranked[1]]
    contested = second > 0 and (top - second) / total <= CONTESTED_MARGIN
    return ranked[0], top / total, contested


def judge_behavior(compiled: CompiledFrames, behavior: str, facts: dict[DimensionKey, Fact], *,
                   detail: bool = True, every_state: list[int] | None = None) -> Judgement:
    """The answer for one behaviour of the compiled frames. Without `detail` only the status, verdict and
    distribution are worked out (enough to filter and sort a query's answers). `every_state`, the states of
    all the compiled atoms (`CompiledFrames.atom_states`), saves working out this behaviour's."""
    if every_state is None:
        states = compiled.behavior_states(behavior, facts)
    else:
        states = tuple([every_state[a] for a in compiled.behavior_atoms.get(behavior, ())])
    key = (behavior, detail, states)
    answer = compiled.remembered(key)
    if answer is None:
        by_atom = dict(zip(compiled.behavior_atoms.get(behavior, ()), states))
        answer = _judge(compiled, behavior, by_atom, detail)
        compiled.remember(key, answer)
    return answer


def judge(compiled: CompiledFrames, context: Context, behavior: str) -> Judgement:
    return judge_behavior(compiled, behavior, compiled.facts(context))


_ALL_IN = {FALSE: lambda texts: (texts, (), ()), TRUE: lambda texts: ((), texts, ()),
           UNKNOWN: lambda texts: ((), (), texts)}


def _classify(compiled: CompiledFrames, indexes: list[int], states: dict[int, int], detail: bool):
    """The frames' indexes by state (FALSE, TRUE, UNKNOWN) and, with `detail`, each frame's atom texts split
    by state (failed, matched, unknown)."""
    by_state: tuple[list[int], list[int], list[int]] = ([], [], [])
    splits: dict[int, tuple] = {}
    for i in indexes:
        given = [states[a] for a in compiled.frame_atoms[i]]
        uniform = not given or given.count(given[0]) == len(given)
        state = (given[0] if given else TRUE) if uniform else FALSE if FALSE in given else UNKNOWN
        by_state[state].append(i)
        if detail:
            texts = compiled.frame_texts[i]
            if uniform:
                splits[i] = _ALL_IN[state](texts)
            else:
                parts: tuple[list[str], list[str], list[str]] = ([], [], [])
                for text, atom_state in zip(texts, given):
                    parts[atom_state].append(text)
                splits[i] = (tuple(parts[FALSE]), tuple(parts[TRUE]), tuple(parts[UNKNOWN]))
    return by_state, splits


def _judge(compiled: CompiledFrames, behavior: str, states: dict[int, int], detail: bool) -> Judgement:
    indexes = compiled.by_behavior.get(behavior, [])
    frames, sets = compiled.frames, compiled.frame_sets
    (false, true, unknown), splits = _classify(compiled, indexes, states, detail)
    overridden = {i: above for i in true if (above := tuple(frames[g].id for g in true if sets[g] > sets[i]))}
    winners = [i for i in true if i not in overridden]
    distribution = {label.value: 0 for label in LABELS}
    for i in winners:
        distribution[frames[i].label] += frames[i].support
    verdict, confidence, contested = verdict_of(distribution)
    status = (Status.UNKNOWN if not indexes else Status.APPLIES if true else
              Status.CONDITIONAL if unknown else Status.EXCLUDED)
    judgement = Judgement(
        behavior=behavior, status=status, verdict=verdict, distribution=distribution, confidence=confidence,
        contested=contested, frames=[], conditions=[], defeaters=[], statement="", setting=compiled.setting,
        open_labels=frozenset(frames[i].label for i in unknown),
    )
    if detail:
        judgement.frames = _evidence(compiled, splits, winners, overridden, unknown, false)
        judgement.conditions, judgement.defeaters = _conditions(compiled, states, splits, unknown, winners, verdict)
        judgement.statement = _statement(judgement, compiled, winners)
    return judgement


def _evidence(compiled: CompiledFrames, splits: dict[int, tuple], winners: list[int],
              overridden: dict[int, tuple[int, ...]], unknown: list[int], false: list[int]) -> list[FrameEvaluation]:
    """The frames as evidence: the winning TRUE ones, the overridden TRUE ones, UNKNOWN, FALSE; each group
    by support, best first (frames of equal support keep their order)."""
    frames = compiled.frames
    groups = ((State.TRUE, winners), (State.TRUE, list(overridden)), (State.UNKNOWN, unknown), (State.FALSE, false))
    out = []
    for state, group in groups:
        for i in sorted(group, key=lambda i: -frames[i].support) if len(group) > 1 else group:
            failed, matched, open_ = splits[i]
            out.append(FrameEvaluation(frames[i], state, compiled.frame_texts[i], matched, failed, open_,
                                       overridden.get(i, ())))
    return out


def _conditions(compiled: CompiledFrames, states: dict[int, int], splits: dict[int, tuple], unknown: list[int],
                winners: list[int], verdict: str | None) -> tuple[list[Condition], list[Condition]]:
    """Conditions by label, then the best supported, the simplest and the text; and the defeaters among them."""
    frames, sets = compiled.frames, compiled.frame_sets
    conditions, defeaters = [], []
    for i in sorted(unknown, key=compiled.condition_rank.__getitem__):
        frame = frames[i]
        open_texts = splits[i][2]
        open_atoms = frame.atoms if len(open_texts) == len(frame.atoms) else tuple(
            compiled.atoms[a] for a in compiled.frame_atoms[i] if states[a] == UNKNOWN)
        conditions.append(Condition(frame.label, open_texts, frame.id, frame.support, (), open_atoms))
        if winners and frame.label != verdict:
            beaten = tuple(frames[w].id for w in winners if sets[i] > sets[w])
            if beaten:
                defeaters.append(Condition(frame.label, open_texts, frame.id, frame.support, beaten, open_atoms))
    return conditions, defeaters


def _where(setting: str | None) -> str:
    return f"In {'an' if setting[:1] in 'aeiou' else 'a'} {setting}, " if setting else ""


def _statement(j: Judgement, compiled: CompiledFrames, winners: list[int]) -> str:
    where, b = _where(j.setting), f'"{j.behavior}"'
    if j.status is Status.UNKNOWN:
        return f"{where}the bank has no frames for {b}; nothing is known about it here."
    if j.status is Status.EXCLUDED:
        return f"{where}none of the {len(j.frames)} frames for {b} fit this context."
    if j.status is Status.CONDITIONAL:
        parts = [f"{_LABEL_PHRASE[c.label]} if {conditions_phrase(c.atoms)}" for c in j.conditions[:3]]
        more = f" (and {len(j.conditions) - 3} more conditions)" if len(j.conditions) > 3 else ""
        return f"{where}{b} depends on what is not known yet: " + "; ".join(parts) + more + "."
    frames = compiled.frames
    top = [i for i in winners if frames[i].label == j.verdict]
    why = conditions_phrase(frames[top[0]].atoms) if top and frames[top[0]].atoms else ""
    text = f"{where}{b} is {_LABEL_PHRASE[j.verdict]}" + (f" here, because {why}." if why else " here.")
    if j.contested:
        others = sorted({frames[i].label for i in winners if frames[i].label != j.verdict})
        text += f" Contested: equally supported frames say {', '.join(others)}."
    if j.defeaters:
        d = j.defeaters[0]
        text += f" It would be {_LABEL_PHRASE[d.label]} if {conditions_phrase(d.atoms)}."
    return text


def _keep(j: Judgement, labels: frozenset[str] | None, statuses: frozenset[str] | None) -> bool:
    if statuses and j.status.value not in statuses:
        return False
    if labels:
        # A label filter keeps answers with that verdict, and conditional ones that could end with it.
        return j.verdict in labels or (j.status is Status.CONDITIONAL and bool(j.open_labels & labels))
    return True


def query(compiled: CompiledFrames, context: Context, *, behaviors: Iterable[str] | None = None,
          labels: Iterable[str] | None = None, statuses: Iterable[str] | None = None, offset: int = 0,
          limit: int | None = None) -> tuple[list[Judgement], int]:
    """Judgements for the setting's behaviours (or `behaviors`), filtered, `applies` first, then by
    behaviour; only the requested page is worked out in full. Returns (page, total after filters)."""
    facts = compiled.facts(context)
    every = compiled.atom_states(facts)
    wanted = list(behaviors) if behaviors is not None else list(compiled.by_behavior)
    label_set = frozenset(labels) if labels else None
    status_set = frozenset(statuses) if statuses else None
    whole = offset == 0 and (limit is None or limit >= len(wanted))  # one page holds every answer
    answers = [judge_behavior(compiled, b, facts, detail=whole, every_state=every) for b in wanted]
    answers = [j for j in answers if _keep(j, label_set, status_set)]
    answers.sort(key=lambda j: (STATUS_ORDER[j.status], j.behavior))
    if whole:
        return answers, len(answers)
    page = answers[offset: None if limit is None else offset + limit]
    return [judge_behavior(compiled, j.behavior, facts, every_state=every) for j in page], len(answers)


def unused_dimensions(context: Context, known: Iterable[DimensionKey]) -> list[DimensionKey]:
    """Facts about dimensions the bank has never seen: accepted, and reported back rather than dropped."""
    known = known if isinstance(known, (set, frozenset)) else set(known)
    return [key for key in context.facts() if key not in known]
