"""Frames of a setting, loaded from the database once, compiled and kept in memory.

`FrameCache` loads a setting's frames lazily on first use and drops everything when the data version
changes (an import committed, in this process or another: checked at most every `check_seconds`).

Compiled settings are millions of long-lived objects. Left to the cycle collector, every full collection
walks all of them, and answering new contexts (which allocates) triggers full collections: over the 155k
corpus with all 129 settings compiled, 4,800 judges of new contexts cost 268-289 us of CPU each, with
full collections pausing 430-450 ms; with the compiled settings frozen (`gc.freeze`, after each
compilation) 106 us, and 8.7 ms at most. Reference counting still frees them; `gc.unfreeze` hands them
back to the collector when the cache drops them.

Answers are made by the tens of thousands (a full query over the largest setting of the 155k corpus makes
~18k objects), and with the default young-generation threshold of 700 the collector ran 25 young, 2 middle
and, every fifth query, a full collection per such query. A cache that compiles a setting raises that
threshold to `YOUNG_THRESHOLD`, for the whole process and for good (it is not restored when the cache
drops its settings). Measured over 300 queries of new contexts with answers kept as the service keeps
them: 0.3 ms of collection per query instead of 1.3-1.4, and p99 43 ms instead of 80-113. In
`bench_reasoning.py`'s cold pass (answers forgotten before each query) a query's objects, fewer than the
threshold, are freed before any collection: no collection instead of 6.2 ms of it per query through the
service (2.6 ms in the reasoner alone), as its collector counts show. Only cyclic garbage waits longer;
the rest is freed by reference counting as before.
"""

from __future__ import annotations

import gc
import itertools
import threading
import time
from typing import Any, Iterable, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Engine

from normbank.constraints import Atom, Kind, Subject, normalise_text, stored_atom
from normbank.context import DimensionKey
from normbank.errors import SettingNotFound
from normbank.reasoning import CompiledFrames, Frame, forget_answers
from normbank.scales import Scales
from schema.catalog import norm_atoms, norm_select
from schema.models import Behavior, ConstraintAtom, Dimension, Norm, NormConstraint, Setting, Source
from schema.queries import data_version, load_scales

# Free-text requests (grounding, search) rank the same popular norms again and again: their rows and atoms,
# and the compiled frames of setting-less candidates, are kept per data version, first in first out.
NORMS_KEPT = 20_000
LOOSE_KEPT = 4_096
YOUNG_THRESHOLD = 50_000  # the cycle collector's young generation, once settings are compiled (docstring)
# Built once, like `catalog.norm_atoms`'s: constructing the statement cost more than running it.
_NORM_ROWS = norm_select().where(Norm.id.in_(bindparam("ids", expanding=True)))


def load_frames(conn: Connection, setting_id: int | None) -> list[Frame]:
    """Every frame of a setting (None: frames without a setting), with provenance."""
    norms = conn.execute(
        select(Norm.id, Behavior.name, Norm.label, Norm.support, Source.name, Source.licence, Norm.row_number,
               Norm.statement)
        .join(Behavior, Behavior.id == Norm.behavior_id)
        .join(Source, Source.id == Norm.source_id)
        .where(Norm.setting_id == setting_id if setting_id is not None else Norm.setting_id.is_(None))
    ).all()
    atoms_of: dict[int, list[Atom]] = {}
    cache: dict[int, Atom] = {}
    rows = conn.execute(
        select(NormConstraint.norm_id, ConstraintAtom.id, ConstraintAtom.subject, ConstraintAtom.kind,
               ConstraintAtom.name, ConstraintAtom.relation, ConstraintAtom.value)
        .join(ConstraintAtom, ConstraintAtom.id == NormConstraint.atom_id)
        .join(Norm, Norm.id == NormConstraint.norm_id)
        .where(Norm.setting_id == setting_id if setting_id is not None else Norm.setting_id.is_(None))
    )
    for norm_id, atom_id, subject, kind, name, relation, value in rows:
        atom = cache.get(atom_id)
        if atom is None:
            atom = cache[atom_id] = stored_atom(subject, kind, name, relation, value)
        atoms_of.setdefault(norm_id, []).append(atom)
    frames = [
        Frame(id=nid, behavior=behavior, label=label, atoms=tuple(sorted(atoms_of.get(nid, ()), key=lambda a: a.text)),
              support=support, source=source, licence=licence, row_number=row, statement=statement)
        for nid, behavior, label, support, source, licence, row, statement in norms
    ]
    frames.sort(key=lambda f: (f.behavior, len(f.atoms), f.id))
    return frames


def known_dimensions(conn: Connection) -> set[DimensionKey]:
    """Dimensions the bank has seen: in any imported atom, or in an imported taxonomy."""
    keys: set[DimensionKey] = set()
    for subject, kind, name in conn.execute(
        select(ConstraintAtom.subject, ConstraintAtom.kind, ConstraintAtom.name).distinct()
    ):
        keys.add((Subject(subject), Kind(kind), name))
    for subject, name in conn.execute(select(Dimension.subject, Dimension.name)):
        kind = Kind.ENVIRONMENT if subject == "environment" else Kind.ATTRIBUTE
        keys.add((Subject(subject), kind, name))
    for subject in (Subject.PERSON, Subject.OTHER):
        keys.add((subject, Kind.ROLE, "role"))
        keys.add((subject, Kind.BEHAVIOR, "behavior"))
    return keys


class FrameCache:
    """Compiled settings, scales and known dimensions for one database, invalidated by imports."""

    def __init__(self, engine: Engine, *, check_seconds: float = 1.0):
        self.engine = engine
        self.check_seconds = check_seconds
        self._lock = threading.RLock()
        self._version: int | None = None
        self._checked = 0.0
        self._settings: dict[str, CompiledFrames] = {}
        self._setting_ids: dict[str, int] | None = None
        self._scales: Scales | None = None
        self._dimensions: set[DimensionKey] | None = None
        self._vocabulary = None
        self._norms: dict[int, tuple[Any, tuple[Atom, ...]]] = {}
        self._loose: dict[tuple[int, ...], CompiledFrames] = {}
        self._collect_before_freezing = False

    def _clear(self) -> None:
        forget_answers()  # answers remembered for the old frames would only take up room
        if self._settings:
            gc.unfreeze()  # the old settings (and whatever was frozen with them) go back to the collector,
            self._collect_before_freezing = True  # which runs before the next freeze could re-freeze them
        self._settings.clear()
        self._setting_ids = None
        self._scales = None
        self._dimensions = None
        self._vocabulary = None
        self._norms = {}  # new dicts: a fill still running for the old version sees it was dropped
        self._loose = {}

    def invalidate(self) -> None:
        """Forget everything now (an import in this process committed)."""
        with self._lock:
            self._clear()
            self._version = None
            self._checked = 0.0

    def _fresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.check_seconds and self._version is not None:
            return
        with self.engine.connect() as conn:
            version = data_version(conn)
        with self._lock:
            if version != self._version:
                self._clear()
                self._version = version
            self._checked = now

    @property
    def version(self) -> int:
        self._fresh()
        return self._version or 0

    def setting_ids(self) -> dict[str, int]:
        self._fresh()
        ids = self._setting_ids
        if ids is None:
            with self.engine.connect() as conn:
                ids = dict(conn.execute(select(Setting.name, Setting.id)).all())
            self._setting_ids = ids
        return ids

    def scales(self) -> Scales:
        self._fresh()
        scales = self._scales
        if scales is None:
            with self.engine.connect() as conn:
                scales = self._scales = load_scales(conn)
        return scales

    def dimensions(self) -> set[DimensionKey]:
        self._fresh()
        dims = self._dimensions
        if dims is None:
            with self.engine.connect() as conn:
                dims = self._dimensions = known_dimensions(conn)
        return dims

    def vocabulary(self):
        """What free text can link to (settings, roles, behaviours, values), per data version."""
        from schema.texts import vocabulary

        self._fresh()
        vocab = self._vocabulary
        if vocab is None:
            with self.engine.connect() as conn:
                vocab = self._vocabulary = vocabulary(conn)
        return vocab

    def hot(self, setting: str) -> bool:
        """True when this setting (by its exact name), the vocabulary, the scales and the dimensions are in
        memory and no staleness check is due: `get` and friends will not touch the database."""
        return (
            self._version is not None
            and time.monotonic() - self._checked < self.check_seconds
            and self._setting_ids is not None and normalise_text(setting) in self._settings
            and self._vocabulary is not None and self._scales is not None and self._dimensions is not None
        )

    def resolve(self, setting: str) -> str:
        """The bank's name for a setting (case and spacing normalised), or SettingNotFound."""
        name = normalise_text(setting)
        if name not in self.setting_ids():
            raise SettingNotFound(f"unknown setting {setting!r}", details={"setting": setting})
        return name

    def get(self, setting: str) -> CompiledFrames:
        name = self.resolve(setting)
        compiled = self._settings.get(name)
        if compiled is not None:
            return compiled
        with self._lock:
            compiled = self._settings.get(name)
            if compiled is None:
                with self.engine.connect() as conn:
                    frames = load_frames(conn, self.setting_ids()[name])
                compiled = CompiledFrames(frames, self.scales(), setting=name)
                self._settings[name] = compiled
                if self._collect_before_freezing:
                    gc.collect()
                    self._collect_before_freezing = False
                gc.freeze()  # out of the cycle collector's sight (module docstring)
                young, middle, old = gc.get_threshold()
                if 0 < young < YOUNG_THRESHOLD:  # 0: collection turned off by the process; left so
                    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
        return compiled

    def norms(self, ids: Sequence[int]) -> dict[int, tuple[Any, tuple[Atom, ...]]]:
        """Norms by id: their `catalog.norm_select` row and their atoms in text order. Ids no longer in the
        bank are left out."""
        self._fresh()
        kept = self._norms
        out, missing = {}, []
        for norm_id in ids:
            entry = kept.get(norm_id)
            if entry is None:
                missing.append(norm_id)
            else:
                out[norm_id] = entry
        if missing:
            with self.engine.connect() as conn:
                rows = conn.execute(_NORM_ROWS, {"ids": missing}).all()
                atoms = norm_atoms(conn, [r.id for r in rows])
            by_id = {r.id: r for r in rows}
            fresh = {i: (by_id[i], tuple(atoms[i])) for i in missing if i in by_id}
            out.update(fresh)
            with self._lock:
                if self._norms is kept:  # still this data version's
                    kept.update(fresh)
                    _trim(kept, NORMS_KEPT)
        return out

    def loose(self, frames: Sequence[Frame]) -> CompiledFrames:
        """Frames without a setting (the candidates of one behaviour, say) compiled together, in id order;
        kept by their ids, so a request that meets the same frames again judges them from memory."""
        scales = self.scales()  # first: a data change found here drops the kept compilations
        frames = sorted(frames, key=lambda f: f.id)
        key = tuple(f.id for f in frames)
        kept = self._loose
        compiled = kept.get(key)
        if compiled is None:
            compiled = CompiledFrames(frames, scales)
            with self._lock:
                if self._loose is kept:
                    kept[key] = compiled
                    _trim(kept, LOOSE_KEPT)
        return compiled

    def warm(self, settings: Iterable[str] | None = None) -> None:
        for name in settings if settings is not None else list(self.setting_ids()):
            self.get(name)


def _trim(kept: dict, size: int) -> None:
    """Drop the oldest entries beyond `size` (dicts keep insertion order); the caller holds the lock."""
    for key in list(itertools.islice(kept, max(0, len(kept) - size))):
        del kept[key]
