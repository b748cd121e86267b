"""Free text in, grounded norms out: hybrid retrieval, frame applicability, /v1/search and /v1/ground.

Ranking: dense candidates (norm prototypes: a norm's text moved towards its example situations; one
FAISS search per corpus, the query through the map learned from that corpus's own situations) and lexical candidates (full-text search over norm documents) are fused by standardised
score (`score_fusion`); then each candidate
frame is evaluated against the context: FALSE frames drop out, a TRUE frame overridden by a more specific
TRUE frame gives way to it, and applicable frames rank above conditional ones.
"""

from __future__ import annotations

import statistics
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from sqlalchemy.pool import SingletonThreadPool

from normbank.constraints import Atom, Kind, Subject
from normbank.context import Context
from normbank.errors import SourceNotFound, echo, prefix
from normbank.ids import public_norm_id
from normbank.compiled import Frame
from normbank.reasoning import State, judge_behavior
from normbank.retrieval.fusion import best_per_key, score_fusion
from normbank.statements import atom_phrase
from schema.catalog import agreement_of
from schema.frames import FrameCache, Generation
from schema.queries import source_names
from api.retrieval import Retriever

CANDIDATES = 100  # per retriever, before fusion
MODES = ("hybrid", "dense", "lexical")
# Weights of the dense list (norm prototypes) and the lexical list (full-text search over norm
# documents) in score fusion. Equal weights were chosen on NormDial's dev fold alone; in a bank that also
# holds NormBank frames, the long rule texts of NormDial win the full-text search for any situation that
# shares a word with them ("dinner", "friends") and crowd out the frame the situation is about. Half the
# weight on the lexical side, chosen on the dev half of tests/bench/grounding_mixed.py (sample + NormDial
# without a setting: top-3 0.611 at 1.0, 0.667 at 0.5, 0.389 at 2.0); it costs NormDial's test fold about
# a point (docs/performance.md, "Restructuring and mixed banks").
WEIGHTS = {"dense": 1.0, "lexical": 0.5}
PROMPT_TEXT_CHARS = 320
# A frame that applies to the context ranks as if it were this many standard deviations (of the
# candidates' relevance) more relevant: it wins over a conditional frame about as relevant, never over a
# clearly more relevant one (a frame that always applies but matched an incidental word stays below).
APPLIES_BONUS = 0.5


@dataclass(slots=True)
class Candidate:
    id: int
    score: float
    setting: str | None = None
    behavior: str = ""
    label: str = ""
    statement: str = ""
    rule_text: str | None = None
    source: dict = field(default_factory=dict)
    agreement: dict | None = None
    atoms: tuple[Atom, ...] = ()
    status: str = "unknown"
    unknown: list[Atom] = field(default_factory=list)
    defeaters: list[tuple[str, list[Atom], int]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.rule_text or self.statement


def source_of(name: str | None, licence: str | None, row: int | None, url: str | None = None) -> dict[str, Any]:
    """A norm's provenance as answers cite it (SourceRef)."""
    return {"name": name or "", "licence": licence, "url": url, "row": row}


def check_sources(cache: FrameCache | Generation, names: Sequence[str] | None) -> frozenset[str] | None:
    """The `sources` filter of /v1/search and /v1/ground as a set (None: every source); an unknown name
    is a SourceNotFound (404) naming the known ones."""
    if not names:
        return None
    with cache.engine.connect() as conn:
        known = source_names(conn)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SourceNotFound(f"unknown source {echo(unknown[0])}" + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
                             + f"; known: {', '.join(sorted(known))}",
                             details={"unknown": [prefix(name) for name in unknown], "known": sorted(known)})
    return frozenset(names)


def _lexical(retriever: Retriever, text: str, k: int) -> list[tuple[int, float]]:
    return best_per_key((norm_id, score) for norm_id, _kind, score in retriever.lexical(text, k, kind="norm"))


_side_pool: ThreadPoolExecutor | None = None
_side_pool_lock = threading.Lock()


def _side() -> ThreadPoolExecutor:
    """Threads for the full-text search of hybrid ranking, made on first use (never before a fork)."""
    global _side_pool
    if _side_pool is None:
        with _side_pool_lock:
            if _side_pool is None:
                _side_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="normbank-lexical")
    return _side_pool


def rank(retriever: Retriever, text: str, *, mode: str = "hybrid", k: int = CANDIDATES) -> list[tuple[int, float]]:
    """Norm ids best first for a free text, by dense, lexical or fused retrieval. In hybrid mode the
    full-text search runs on another thread while the query is encoded: the database and the model
    runtime both release the GIL, so on a machine with a second core the lexical list costs no wall time."""
    if mode == "lexical":
        return _lexical(retriever, text, k)[:k]
    if mode == "dense":
        return retriever.dense_norms(text, k)
    if not retriever.dense_available():  # hybrid without an index: the lexical list, standardised
        return score_fusion([_lexical(retriever, text, k)], [WEIGHTS["lexical"]])[:k]
    # In-memory SQLite holds one database per thread (SingletonThreadPool): search it on this thread.
    aside = not isinstance(retriever.engine.pool, SingletonThreadPool)
    pending = _side().submit(_lexical, retriever, text, k) if aside else None
    dense = retriever.dense_norms(text, k)  # if it raises, the search finishes unread
    found = pending.result() if pending is not None else _lexical(retriever, text, k)
    return score_fusion([dense, found], [WEIGHTS["dense"], WEIGHTS["lexical"]])[:k]


def load_candidates(cache: FrameCache | Generation, scored: Sequence[tuple[int, float]]) -> list[Candidate]:
    """The candidates' frames and provenance, in the given order (kept in memory by the frame cache)."""
    norms = cache.norms([norm_id for norm_id, _ in scored])
    out = []
    for norm_id, score in scored:
        entry = norms.get(norm_id)
        if entry is None:
            continue  # the index is older than a deletion: skip what is gone
        r, atoms = entry
        out.append(Candidate(
            id=norm_id, score=score, setting=r.setting, behavior=r.behavior, label=r.label, statement=r.statement,
            rule_text=r.rule_text, source=source_of(r.source, r.licence, r.row_number, r.url),
            agreement=agreement_of(r.agreement, r.agreement_band), atoms=atoms,
        ))
    return out


def apply_context(candidates: list[Candidate], cache: FrameCache | Generation, context: Context, k: int) -> list[Candidate]:
    """Evaluate each candidate frame against the context; drop FALSE ones, replace overridden ones by the
    frames that override them; rank the survivors by relevance, an applicable frame lifted by
    APPLIES_BONUS standard deviations of the survivors' relevance over a conditional one."""
    by_setting: dict[str | None, list[Candidate]] = {}
    for c in candidates:
        by_setting.setdefault(c.setting, []).append(c)
    kept: dict[int, Candidate] = {}
    loose_facts = None  # facts depend on the scales only: one set for every setting-less compilation
    for setting, group in by_setting.items():
        by_behavior: dict[str, list[Candidate]] = {}
        for c in group:
            by_behavior.setdefault(c.behavior, []).append(c)
        if setting is not None:
            compiled = cache.get(setting)
            facts = compiled.facts(context)
        for behavior, same_behavior in by_behavior.items():
            if setting is None:  # only frames of one behaviour interact: compile (and keep) each behaviour's
                compiled = cache.loose([Frame(id=c.id, behavior=behavior, label=c.label, atoms=c.atoms)
                                        for c in same_behavior])
                facts = loose_facts = loose_facts if loose_facts is not None else compiled.facts(context)
            judgement = judge_behavior(compiled, behavior, facts)
            evaluations = {e.frame.id: e for e in judgement.frames}
            for c in same_behavior:
                e = evaluations.get(c.id)
                if e is None or e.state is State.FALSE:
                    continue
                if e.overridden_by:
                    for winner_id in e.overridden_by:  # the more specific frame speaks instead
                        if winner_id not in kept:  # a frame of the same compilation
                            w = evaluations[winner_id]
                            kept[winner_id] = Candidate(
                                id=winner_id, score=c.score, setting=setting, behavior=behavior, label=w.frame.label,
                                statement=w.frame.statement or "", atoms=w.frame.atoms,
                                source=source_of(w.frame.source, w.frame.licence, w.frame.row_number, w.frame.url),
                                status="applies",
                                defeaters=_defeaters(judgement, winner_id),
                            )
                    continue
                c.status = "applies" if e.state is State.TRUE else "conditional"
                c.unknown = [a for a in c.atoms if a.text in set(e.unknown)]
                c.defeaters = _defeaters(judgement, c.id) if e.state is State.TRUE else []
                if c.id not in kept or kept[c.id].score < c.score:
                    kept[c.id] = c
    scores = [c.score for c in kept.values()]
    spread = statistics.pstdev(scores) if len(scores) > 1 else 0.0
    bonus = APPLIES_BONUS * (spread or 1.0)
    return sorted(kept.values(), key=lambda c: (-(c.score + bonus * (c.status == "applies")),
                                                c.status != "applies"))[:k]


def _defeaters(judgement, frame_id: int) -> list[tuple[str, list[Atom], int]]:
    return [(d.label, list(d.atoms), d.frame) for d in judgement.defeaters if frame_id in d.overrides]


# -- what the agent should find out, and the prompt -------------------------------------------------
def _who(atom: Atom) -> str:
    return {"person": "the person's", "other": "the other person's", "environment": "the"}[atom.subject.value]


def asks(candidates: Iterable[Candidate]) -> list[dict]:
    """Unknown dimensions that would change the top answers, most consequential first."""
    found: dict[tuple[str, str, str], dict] = {}
    for rank_, c in enumerate(candidates, start=1):
        atoms = [(a, c.id) for a in c.unknown] + [(a, d_id) for _l, d_atoms, d_id in c.defeaters for a in d_atoms]
        for atom, norm_id in atoms:
            key = atom.dimension
            entry = found.setdefault(key, {
                "subject": atom.subject.value, "kind": atom.kind.value, "name": atom.name,
                "question": _question(atom), "values": [], "norms": [], "first": rank_,
            })
            if atom.value not in entry["values"]:
                entry["values"].append(atom.value)
            if public_norm_id(norm_id) not in entry["norms"]:
                entry["norms"].append(public_norm_id(norm_id))
    ordered = sorted(found.values(), key=lambda e: (e["first"], -len(e["norms"])))
    for entry in ordered:
        entry.pop("first")
    return ordered


def _question(atom: Atom) -> str:
    if atom.kind is Kind.ROLE:
        return f"What is {'the person' if atom.subject is Subject.PERSON else 'the other person'}'s role?"
    if atom.kind is Kind.BEHAVIOR:
        return "What else is the person doing?"
    return f"What is {_who(atom)} {atom.name}?"


def _short(text: str, limit: int = PROMPT_TEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _prompt_text(c: Candidate) -> str:
    """What a prompt line says: the source's text, but a taboo norm's statement. A violation norm's text
    describes the violating behaviour as if it were allowed ("it is acceptable to leave without thanking"):
    labelled TABOO it would read as a double negative, while the statement says what is taboo."""
    return c.statement or c.text if c.label == "taboo" else c.text


def prompt(candidates: Sequence[Candidate], ask_list: Sequence[dict], situation: str | None = None) -> str:
    """Compact, prompt-ready text with citations by norm id."""
    if not candidates:
        return "No norms in the bank match this situation."
    lines = ["Social norms that bear on this situation (from normbank; cite them by [id]):"]
    for c in candidates:
        if c.status == "applies":
            when = "applies"
        else:
            when = "applies if " + " and ".join(atom_phrase(a) for a in c.unknown) if c.unknown else "may apply"
        lines.append(f"- [{public_norm_id(c.id)}] {c.label.upper()} ({when}): {_short(_prompt_text(c))}")
        for label, atoms, _ in c.defeaters[:1]:
            lines.append(f"  but {label} if " + " and ".join(atom_phrase(a) for a in atoms))
    if ask_list:
        lines.append("To be sure, find out: " + "; ".join(
            f"{a['question']} ({', '.join(a['values'][:4])})" for a in ask_list[:5]) + ".")
    return "\n".join(lines)
