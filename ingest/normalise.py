"""Records to table rows: parse and check constraints, compute stable ids, render statements.

Pure (no database): the loaders in `ingest.loaders` write what `Normaliser.batch` returns. Each row is a
tuple in its table's column order (`ingest.loaders.COLUMNS`, taken from `schema.models`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Iterable

from normbank.conjunctions import normalise_frame
from normbank.constraints import (
    AND, Atom, make_atom, normalise_text, normalise_value, render_atom, render_conjunction,
    split_conjunction,
)
from normbank.errors import ContradictoryFrame, InvalidInput
from normbank.ids import stable_id
from normbank.labels import Label
from normbank.scales import Scales
from normbank.statements import render_statement, when_phrase
from ingest.readers.csvutil import raw_line
from ingest.records import DimensionEntry, NormRecord, Record, Rejected, SettingEntry

# Distinct constraint texts kept parsed: rows repeat them, and the bound keeps memory flat in the file size.
FRAME_CACHE_SIZE = 1 << 17
# Behaviour names are unique-indexed; PostgreSQL's B-tree refuses keys over about 2.7 kB. Longer ones are
# rejected rows (readers of long free text shorten it: `ingest.readers.table.short_behavior`).
BEHAVIOR_MAX_CHARS = 1000
_LABELS = frozenset(label.value for label in Label)


# A parsed, checked conjunction with what every norm using it needs: its atoms' ids, its canonical text and
# its statement's conditions (`when_phrase`). A plain tuple of ints and strings: the cycle collector stops
# tracking those, and an import remembers one per distinct conjunction.
Frame = tuple[tuple[int, ...], str, str]


@dataclass
class Batch:
    """Rows for each table (tuples in the table's column order), and what the batch read and rejected."""

    setting: list[tuple] = field(default_factory=list)
    behavior: list[tuple] = field(default_factory=list)
    role: list[tuple] = field(default_factory=list)
    setting_behavior: list[tuple] = field(default_factory=list)
    dimension: list[tuple] = field(default_factory=list)
    dimension_value: list[tuple] = field(default_factory=list)
    constraint_atom: list[tuple] = field(default_factory=list)
    norm: list[tuple] = field(default_factory=list)
    norm_constraint: list[tuple] = field(default_factory=list)
    norm_row: list[tuple] = field(default_factory=list)
    norm_example: list[tuple] = field(default_factory=list)
    rejected_row: list[tuple] = field(default_factory=list)
    read: int = 0
    repeated_entries: int = 0  # roles, dimensions and values a taxonomy listed again (their rows are not repeated)
    rejected_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def taxonomy_entries(self) -> int:
        tables = (self.setting, self.role, self.behavior, self.dimension, self.dimension_value)
        return sum(map(len, tables)) + self.repeated_entries


def _remember(cache: dict, key: object, value: object) -> object:
    """Store in a bounded cache (emptied when full: rows that repeat a text are close to each other)."""
    if len(cache) >= FRAME_CACHE_SIZE:
        cache.clear()
    cache[key] = value
    return value


def _json(value: dict | None) -> str | None:
    return json.dumps(value, ensure_ascii=False) if value else None


class Normaliser:
    """Turns one run's records into rows, the row of each key emitted once per run (the first one).

    Settings, behaviours and atoms are emitted with the first row that names them, and a norm with its
    conjunction on the first row that states it (later rows of it only add a `norm_row`: its support), so
    a batch holds only rows that are new to the run and a loader may write them into an empty table as
    they are."""

    def __init__(self, *, source: str, source_id: int, run_id: int, scales: Scales,
                 reject_frame: Callable[[tuple[Atom, ...]], str | None] | None = None):
        """`reject_frame(atoms)`: why the corpus's filter rules drop a frame, or None."""
        self.source, self.source_id, self.run_id = source, source_id, run_id
        self.scales = scales
        self.reject_frame = reject_frame
        self._frames: dict[str, Frame | str] = {}  # constraint text -> its frame, or why it is rejected
        self._frames_of_atoms: dict[str, Frame | str] = {}  # its atom texts, as written but sorted -> the same
        # What was emitted, name or atom -> id: bounded by the vocabulary and the distinct atoms, not the rows.
        self._settings: dict[str, int] = {}
        self._behaviors: dict[str, int] = {}
        self._atom_ids: dict[Atom, int] = {}
        self._norms: dict[int, tuple[int, ...]] = {}  # norm id -> the atom ids emitted for its conjunction
        self._taxonomy_keys: set[int | tuple[int, int]] = set()  # roles, pairs, dimensions and values emitted

    # -- names, atoms, frames -------------------------------------------------------------------
    def _setting(self, batch: Batch, name: str) -> int:
        sid = self._settings.get(name)
        if sid is None:
            sid = self._settings[name] = stable_id("setting", name)
            batch.setting.append((sid, name))
        return sid

    def _behavior(self, batch: Batch, name: str) -> int:
        bid = self._behaviors.get(name)
        if bid is None:
            bid = self._behaviors[name] = stable_id("behavior", name)
            batch.behavior.append((bid, name))
        return bid

    def _atom(self, batch: Batch, atom: Atom) -> int:
        aid = self._atom_ids.get(atom)
        if aid is None:
            parts = (atom.subject.value, atom.kind.value, atom.name, atom.relation.value, atom.value)
            aid = self._atom_ids[atom] = stable_id("atom", *parts)
            batch.constraint_atom.append((aid, *parts, render_atom(atom)))
        return aid

    def _frame(self, batch: Batch, text: str) -> Frame | str:
        """The frame of a constraint text, or the reason it is rejected."""
        frame = self._frames.get(text)
        if frame is None:
            frame = _remember(self._frames, text, self._new_frame(batch, text))
        return frame

    def _new_frame(self, batch: Batch, text: str) -> Frame | str:
        # The same atoms in another order make the same frame. (Not so an unparseable atom's reason: it
        # names the first bad atom as written, so it is remembered by text only.)
        key = AND.join(sorted(set(split_conjunction(text))))
        frame = self._frames_of_atoms.get(key)
        if frame is not None:
            return frame
        try:
            atoms = normalise_frame(text, self.scales)
        except ContradictoryFrame as exc:
            frame = exc.message
        except InvalidInput as exc:
            return exc.message
        else:
            frame = (self.reject_frame and self.reject_frame(atoms)) or (
                tuple(self._atom(batch, atom) for atom in atoms), render_conjunction(atoms), when_phrase(atoms))
        return _remember(self._frames_of_atoms, key, frame)

    def _reject(self, batch: Batch, row_number: int, raw: str | list[str], reason: str) -> None:
        if not isinstance(raw, str):  # readers may hand over the fields: render them only for rejects
            raw = raw_line(raw)
        batch.rejected_row.append((self.run_id, self.source_id, row_number, raw, reason))
        key = reason.split(":")[0]
        batch.rejected_reasons[key] = batch.rejected_reasons.get(key, 0) + 1

    # -- records --------------------------------------------------------------------------------
    def _norm(self, batch: Batch, record: NormRecord) -> None:
        behavior = normalise_text(record.behavior)
        if not behavior:
            return self._reject(batch, record.row_number, record.raw, "empty behavior")
        if len(behavior) > BEHAVIOR_MAX_CHARS:
            return self._reject(batch, record.row_number, record.raw,
                                f"behavior longer than {BEHAVIOR_MAX_CHARS} characters")
        if record.label not in _LABELS:
            return self._reject(batch, record.row_number, record.raw, f"bad label {record.label!r}")
        frame = self._frame(batch, record.constraints if record.atoms is None else render_conjunction(record.atoms))
        if isinstance(frame, str):
            return self._reject(batch, record.row_number, record.raw, frame)
        atom_ids, constraints, when = frame
        setting = normalise_text(record.setting) if record.setting else None
        sid = self._setting(batch, setting) if setting else None
        bid = self._behavior(batch, behavior)
        nid = stable_id("norm", self.source, setting, behavior, record.label, constraints, record.rule_text,
                        record.culture, record.category)
        emitted = self._norms.get(nid)
        if emitted is None:
            self._norms[nid] = atom_ids
            batch.norm.append((
                nid, self.source_id, self.run_id, sid, bid, record.label, constraints,
                render_statement(setting, behavior, record.label, when=when), record.rule_text,
                record.culture, record.category, record.split, record.annotator, record.agreement, 1,
                record.row_number, _json(record.extra), record.agreement_band, _json(record.attributes),
            ))
            batch.norm_constraint.extend((nid, aid) for aid in atom_ids)
        elif emitted != atom_ids:
            # Another spelling whose atoms render to the same canonical text: they join the conjunction.
            new = tuple(aid for aid in dict.fromkeys(atom_ids) if aid not in emitted)
            self._norms[nid] = emitted + new
            batch.norm_constraint.extend((nid, aid) for aid in new)
        batch.norm_row.append((nid, record.row_number, self.run_id))
        for i, example in enumerate(record.examples):
            batch.norm_example.append((
                stable_id("example", nid, record.row_number, i), nid, self.source_id, self.run_id,
                record.row_number, example.polarity, example.situation, example.dialogue, _json(example.extra),
            ))

    def _taxonomy_row(self, batch: Batch, rows: list[tuple], key: int | tuple[int, int], row: tuple, *,
                      counted: bool = True) -> None:
        """Append a taxonomy row unless a row with its key was emitted already (then count it, if `counted`)."""
        if key not in self._taxonomy_keys:
            self._taxonomy_keys.add(key)
            rows.append(row)
        elif counted:
            batch.repeated_entries += 1

    def _setting_entry(self, batch: Batch, entry: SettingEntry) -> None:
        sid = self._setting(batch, normalise_text(entry.name))
        for role in entry.roles:
            role = normalise_value(role)
            if role:
                rid = stable_id("role", sid, role)
                self._taxonomy_row(batch, batch.role, rid, (rid, sid, role))
        for behavior in entry.behaviors:
            behavior = normalise_text(behavior)
            if behavior:
                pair = (sid, self._behavior(batch, behavior))
                self._taxonomy_row(batch, batch.setting_behavior, pair, pair, counted=False)

    def _dimension_entry(self, batch: Batch, entry: DimensionEntry) -> None:
        subject, name = entry.subject, normalise_text(entry.name)
        # Validate the name as an atom would use it, so every dimension can be constrained on.
        make_atom(subject, "environment" if subject == "environment" else "attribute", name, "eq", "x")
        did = stable_id("dimension", subject, name)
        scales = self.scales.extended(name, entry.values) if entry.ordered else self.scales
        self._taxonomy_row(batch, batch.dimension, did, (did, subject, name, entry.ordered))
        for value in entry.values:
            value = normalise_value(value)
            if value:
                rank = scales.rank(name, value) if entry.ordered else None
                vid = stable_id("dimension value", did, value)
                self._taxonomy_row(batch, batch.dimension_value, vid, (vid, did, value, rank))

    def batch(self, records: Iterable[Record]) -> Batch:
        batch = Batch()
        for record in records:
            batch.read += 1
            if isinstance(record, NormRecord):
                self._norm(batch, record)
            elif isinstance(record, Rejected):
                self._reject(batch, record.row_number, record.raw, record.reason)
            elif isinstance(record, SettingEntry):
                self._setting_entry(batch, record)
            elif isinstance(record, DimensionEntry):
                self._dimension_entry(batch, record)
            else:  # pragma: no cover - a reader bug
                raise TypeError(f"readers yield records, not {type(record).__name__}")
        return batch
