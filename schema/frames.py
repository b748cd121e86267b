"""Frames of a setting, loaded from the database once, compiled and kept in memory.

`FrameCache` loads a setting's frames lazily on first use and drops everything when the data version
changes (an import committed, in this process or another: checked at most every `check_seconds`).
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Iterable, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection, Engine

from normbank.constraints import Atom, Kind, Subject, normalise_text, stored_atom
from normbank.context import DimensionKey
from normbank.errors import SettingNotFound, echo, prefix
from normbank.linking import Vocabulary
from normbank.compiled import CompiledFrames, Frame
from normbank.scales import Scales
from schema.catalog import norm_atoms, norm_select
from schema.models import Behavior, ConstraintAtom, Dimension, Norm, NormConstraint, Setting, Source
from schema.identity import data_stamp
from schema.queries import load_scales
from schema.texts import vocabulary

# Free-text requests (grounding, search) rank the same popular norms again and again: their rows and atoms,
# and the compiled frames of setting-less candidates, are kept per data version, first in first out.
NORMS_KEPT = 20_000
LOOSE_KEPT = 4_096
# Built once, like `catalog.norm_atoms`'s: constructing the statement cost more than running it.
_NORM_ROWS = norm_select().where(Norm.id.in_(bindparam("ids", expanding=True)))


def load_frames(conn: Connection, setting_id: int | None) -> list[Frame]:
    """Every frame of a setting (None: frames without a setting), with provenance."""
    norms = conn.execute(
        select(Norm.id, Behavior.name, Norm.label, Norm.support, Source.name, Source.licence, Norm.row_number,
               Norm.statement, Source.url)
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
              support=support, source=source, licence=licence, row_number=row, statement=statement, url=url)
        for nid, behavior, label, support, source, licence, row, statement, url in norms
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
        self._stamp: str | None = None  # schema.identity.data_stamp of what the cache holds
        self._checked = 0.0
        self._settings: dict[str, CompiledFrames] = {}
        self._setting_ids: dict[str, int] | None = None
        self._scales: Scales | None = None
        self._dimensions: set[DimensionKey] | None = None
        self._vocabulary: Vocabulary | None = None
        self._norms: dict[int, tuple[Any, tuple[Atom, ...]]] = {}
        self._loose: dict[tuple[int, ...], CompiledFrames] = {}

    def _clear(self) -> None:
        self._settings = {}
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
            self._stamp = None
            self._checked = 0.0

    def _fresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.check_seconds and self._stamp is not None:
            return
        with self.engine.connect() as conn:
            stamp = data_stamp(conn)
        with self._lock:
            if stamp != self._stamp:
                self._clear()
                self._stamp = stamp
            self._checked = now

    @property
    def stamp(self) -> str:
        """The data stamp the cached answers were computed for."""
        self._fresh()
        return self._stamp or ""

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

    def vocabulary(self) -> Vocabulary:
        """What free text can link to (settings, roles, behaviours, values), per data version."""
        self._fresh()
        vocab = self._vocabulary
        if vocab is None:
            with self.engine.connect() as conn:
                vocab = self._vocabulary = vocabulary(conn)
        return vocab

    def resolve(self, setting: str) -> str:
        """The bank's name for a setting (case and spacing normalised), or SettingNotFound."""
        name = normalise_text(setting)
        if name not in self.setting_ids():
            raise SettingNotFound(f"unknown setting {echo(setting)}", details={"setting": prefix(setting)})
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
