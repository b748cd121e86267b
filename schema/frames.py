"""Frames of a setting, loaded from the database once, compiled and kept in memory.

A `Generation` holds what one data stamp (schema.identity) needs: setting ids, scales, known dimensions,
the linking vocabulary, compiled settings (loaded on first use) and recently used norms. `FrameCache`
answers from one generation at a time and moves to the next when the data changes (an import or a
removal committed, in this process or another: checked at most every `check_seconds`), loading it off
the request path.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import Any, Callable, Iterable, Sequence

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

log = logging.getLogger("normbank.cache")

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


def follows(old: str, new: str) -> bool:
    """Whether data stamp `new` is a later state of the same database than `old` (an import or a removal
    committed since): then answers from `old` are answers as of an earlier data version, not lies. A new
    database identity, or an import id that did not grow (a rollback, a restored backup), is not."""
    old_db, _, old_rest = old.partition(":")
    new_db, _, new_rest = new.partition(":")
    try:
        return old_db == new_db and int(new_rest.partition(":")[0]) > int(old_rest.partition(":")[0])
    except ValueError:
        return False


class Generation:
    """One data stamp's settings, scales, dimensions and vocabulary, compiled and kept in memory. Parts
    not loaded yet are loaded on first use, once (concurrent callers wait for the one load)."""

    def __init__(self, engine: Engine, stamp: str):
        self.engine = engine
        self.stamp = stamp  # schema.identity.data_stamp of the data this generation holds
        self._lock = threading.RLock()
        self._settings: dict[str, CompiledFrames] = {}
        self._setting_ids: dict[str, int] | None = None
        self._scales: Scales | None = None
        self._dimensions: set[DimensionKey] | None = None
        self._vocabulary: Vocabulary | None = None
        self._norms: dict[int, tuple[Any, tuple[Atom, ...]]] = {}
        self._loose: dict[tuple[int, ...], CompiledFrames] = {}

    def _load(self, attribute: str, read):
        value = getattr(self, attribute)
        if value is None:
            with self._lock:
                value = getattr(self, attribute)
                if value is None:
                    with self.engine.connect() as conn:
                        value = read(conn)
                    setattr(self, attribute, value)
        return value

    def setting_ids(self) -> dict[str, int]:
        return self._load("_setting_ids", lambda conn: dict(conn.execute(select(Setting.name, Setting.id)).all()))

    def scales(self) -> Scales:
        return self._load("_scales", load_scales)

    def dimensions(self) -> set[DimensionKey]:
        return self._load("_dimensions", known_dimensions)

    def vocabulary(self) -> Vocabulary:
        """What free text can link to (settings, roles, behaviours, values)."""
        return self._load("_vocabulary", vocabulary)

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

    def current(self) -> Generation:
        """Itself: a generation answers like the cache (`FrameCache.current`) pinned to its data."""
        return self

    def compiled_settings(self) -> list[str]:
        """The settings compiled so far, in the order they were first asked for."""
        return list(self._settings)

    def norms(self, ids: Sequence[int]) -> dict[int, tuple[Any, tuple[Atom, ...]]]:
        """Norms by id: their `catalog.norm_select` row and their atoms in text order. Ids no longer in the
        bank are left out."""
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
                kept.update(fresh)
                _trim(kept, NORMS_KEPT)
        return out

    def loose(self, frames: Sequence[Frame]) -> CompiledFrames:
        """Frames without a setting (the candidates of one behaviour, say) compiled together, in id order;
        kept by their ids, so a request that meets the same frames again judges them from memory."""
        frames = sorted(frames, key=lambda f: f.id)
        key = tuple(f.id for f in frames)
        compiled = self._loose.get(key)
        if compiled is None:
            compiled = CompiledFrames(frames, self.scales())
            with self._lock:
                self._loose[key] = compiled
                _trim(self._loose, LOOSE_KEPT)
        return compiled

    def warm(self, settings: Iterable[str] | None = None) -> None:
        """Load everything but the norms and loose frames, and compile `settings` (default: all)."""
        self.scales(), self.dimensions(), self.vocabulary()
        for name in settings if settings is not None else list(self.setting_ids()):
            if name in self.setting_ids():
                self.get(name)


class FrameCache:
    """The frames of one database, one `Generation` per data stamp. Every `check_seconds` at most, a call
    asks the database for its stamp. When an import or a removal moved it on, the next generation is loaded
    in a background thread (with the settings the current one had compiled) and swapped in when complete;
    until then answers come from the current generation, whole. When the database was created again or
    rolled back, the old generation would lie: it is dropped and the new one loaded on the caller's thread.
    """

    def __init__(self, engine: Engine, *, check_seconds: float = 1.0, on_switch: Callable[[], None] = lambda: None):
        self.engine = engine
        self.check_seconds = check_seconds
        self.on_switch = on_switch  # called after a background load replaced a generation (the old one is garbage)
        self._lock = threading.Lock()
        self._generation: Generation | None = None
        self._checked = 0.0
        self._loader: threading.Thread | None = None

    def fresh(self) -> Generation | None:
        """The current generation when it was checked against the database within `check_seconds`, else None
        (then `current` asks the database): lets an async caller skip a thread hop when no I/O is due."""
        generation = self._generation
        if generation is not None and time.monotonic() - self._checked < self.check_seconds:
            return generation
        return None

    def current(self) -> Generation:
        """The generation to answer from; one request should use one generation throughout."""
        generation = self.fresh()
        if generation is not None:
            return generation
        with self.engine.connect() as conn:
            stamp = data_stamp(conn)
        with self._lock:
            self._checked = time.monotonic()
            generation = self._generation
            if generation is not None and generation.stamp == stamp:
                return generation
            if generation is not None and follows(generation.stamp, stamp):
                self._load_in_background(generation)
                return generation
            self._generation = Generation(self.engine, stamp)  # filled by the callers, on first use
            return self._generation

    def close(self, timeout: float = 30.0) -> None:
        """Wait for a background load to finish (a server shutting down), so no thread reads the database after."""
        loader = self._loader
        if loader is not None and loader.is_alive():
            loader.join(timeout)

    def _load_in_background(self, old: Generation) -> threading.Thread:
        """Start loading the next generation unless a load runs already; the caller holds the lock."""
        if self._loader is not None and self._loader.is_alive():
            return self._loader

        pending = [old]  # emptied by the load, so that nothing keeps the old generation alive after the swap

        def load() -> None:
            previous = pending.pop()
            try:
                with self.engine.connect() as conn:
                    generation = Generation(self.engine, data_stamp(conn))
                generation.warm(previous.compiled_settings())
            except Exception:  # noqa: BLE001 - the current generation keeps answering; the next check retries
                log.warning("could not load the new data version; answering from %s", previous.stamp, exc_info=True)
                with self._lock:
                    self._checked = 0.0
                return
            with self._lock:
                switched = self._generation is previous
                if switched:
                    self._generation = generation
                    self._checked = 0.0  # it may already be behind: look again on the next call
            log.info("frame cache: %s data stamp %s", "switched to" if switched else "dropped", generation.stamp)
            del previous, generation
            if switched:
                self.on_switch()

        self._loader = threading.Thread(target=load, name="normbank-frame-cache-load", daemon=True)
        self._loader.start()
        return self._loader

    def refresh(self) -> None:
        """Bring the cache up to the database's data now, the current generation answering meanwhile; for
        the writer that just committed (an import or a removal here), so that it reads its own write."""
        with self.engine.connect() as conn:
            stamp = data_stamp(conn)
        for _ in range(3):  # a load that began before this write committed is followed by one more
            with self._lock:
                generation = self._generation
                if generation is None or not follows(generation.stamp, stamp):
                    return  # up to date, newer, or to be loaded on use
                loader = self._load_in_background(generation)
            loader.join()

    def invalidate(self) -> None:
        """Forget everything now: the next call loads the data again on its own thread."""
        with self._lock:
            self._generation = None
            self._checked = 0.0

    @property
    def stamp(self) -> str:
        """The data stamp of the generation answers come from."""
        return self.current().stamp

    # One generation's answers, for callers that make a single call (a request making several pins one
    # with `current()`).
    def setting_ids(self) -> dict[str, int]:
        return self.current().setting_ids()

    def scales(self) -> Scales:
        return self.current().scales()

    def dimensions(self) -> set[DimensionKey]:
        return self.current().dimensions()

    def vocabulary(self) -> Vocabulary:
        return self.current().vocabulary()

    def resolve(self, setting: str) -> str:
        return self.current().resolve(setting)

    def get(self, setting: str) -> CompiledFrames:
        return self.current().get(setting)

    def norms(self, ids: Sequence[int]) -> dict[int, tuple[Any, tuple[Atom, ...]]]:
        return self.current().norms(ids)

    def loose(self, frames: Sequence[Frame]) -> CompiledFrames:
        return self.current().loose(frames)

    def warm(self, settings: Iterable[str] | None = None) -> None:
        self.current().warm(settings)


def _trim(kept: dict, size: int) -> None:
    """Drop the oldest entries beyond `size` (dicts keep insertion order); the caller holds the lock."""
    for key in list(itertools.islice(kept, max(0, len(kept) - size))):
        del kept[key]
