"""Records to table rows: parse and check constraints, compute stable ids, render statements.

Pure (no database): the loaders in `ingest.loaders` write what `Normaliser.batch` returns.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from operator import attrgetter
from dataclasses import dataclass, field
from typing import Callable, Iterable

from normbank.constraints import (
    ORDINAL_RELATIONS, Atom, contradiction, join_atom_texts, make_atom, normalise_frame, normalise_text, normalise_value,
    parse_atom, render_atom, render_conjunction,
)
from normbank.errors import InvalidInput
from normbank.ids import stable_id
from normbank.labels import Label
from normbank.scales import Scales
from normbank.statements import atom_phrase, condition_order, render_statement, when_of, when_phrase
from ingest.fastparse import fast_atom, split_conjunction
from ingest.readers.csvutil import raw_line
from ingest.records import DimensionEntry, NormRecord, Record, Rejected, SettingEntry

FRAME_CACHE_SIZE = 1 << 17  # distinct conjunctions kept parsed; bounds memory whatever the file size


# `normbank.ids.stable_id` spelt out for the ids computed once per row or per atom (same ids, less work).
_ID_MASK = (1 << 63) - 1
_SEP, _NONE = "\x1f", "\x00"


def _hash_id(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big") & _ID_MASK


def setting_id(name: str) -> int:
    return stable_id("setting", name)


def behavior_id(name: str) -> int:
    return stable_id("behavior", name)


def atom_id(atom: Atom) -> int:
    return _hash_id(_SEP.join(("atom", atom.subject.value, atom.kind.value, atom.name, atom.relation.value,
                               atom.value)))


def dimension_id(subject: str, name: str) -> int:
    return stable_id("dimension", subject, name)


def norm_id(source: str, setting: str | None, behavior: str, label: str, constraints: str, rule_text: str | None,
            culture: str | None = None, category: str | None = None) -> int:
    """Stable across re-imports: the source plus the normalised frame (and, for corpora that have them,
    the rule text, culture and category: the same text in two categories is two norms)."""
    return _hash_id(_SEP.join((
        "norm", source, _NONE if setting is None else setting, behavior, label, constraints,
        _NONE if rule_text is None else rule_text, _NONE if culture is None else culture,
        _NONE if category is None else category)))


@dataclass(frozen=True, slots=True)
class Frame:
    """A parsed, checked conjunction with what every norm using it needs: atom ids, canonical text and the
    statement's conditions (rendered once per distinct conjunction, not once per row)."""

    atoms: tuple[Atom, ...]
    atom_ids: tuple[int, ...]
    canonical: str
    when: str


@dataclass
class Batch:
    """Rows for each table, as tuples in the column order of `ingest.loaders.COLUMNS`."""

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
    taxonomy_entries: int = 0
    rejected_reasons: dict[str, int] = field(default_factory=dict)


_LABELS = {label.value: label.value for label in Label}


class _BoundedCache(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def put(self, key, value):
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class _AtomInfo:
    """One distinct atom of the run, made once: frames, sets of atoms and dimension groups hold these and
    hash them by identity (an `Atom` hashes three enums in Python). `id` is set once its row is emitted;
    `phrase` and `order` are its condition in a statement and that condition's place (`when_phrase`)."""

    __slots__ = ("atom", "text", "dimension", "ordinal", "id", "phrase", "order")

    def __init__(self, atom: Atom):
        self.atom = atom
        self.text = render_atom(atom)
        self.dimension = f"{atom.subject}{_SEP}{atom.kind}{_SEP}{atom.name}"  # one string: hashed in C
        self.ordinal = atom.relation in ORDINAL_RELATIONS
        self.id: int | None = None
        self.phrase = atom_phrase(atom)
        self.order = condition_order(atom)


_BY_TEXT = attrgetter("text")
_BY_ORDER = attrgetter("order")


class Normaliser:
    """Turns one run's records into rows; remembers what it already emitted to keep batches small.

    Each table's rows are emitted once per key within a run: taxonomy names, atoms, and each norm with its
    conjunction on the first row that states it (later rows only add a `norm_row`), so a loader of an
    empty table needs no merge."""

    def __init__(
        self,
        *,
        source: str,
        source_id: int,
        run_id: int,
        scales: Scales,
        reject_frame: Callable[[tuple[Atom, ...]], str | None] | None = None,
        reject_atom: Callable[[Atom], str | None] | None = None,
    ):
        """`reject_frame(atoms)`: why a frame is dropped, or None. Or `reject_atom(atom)`, when a frame is
        dropped for its first atom (in canonical order) with a reason: then each atom is asked once per run."""
        self.source, self.source_id, self.run_id = source, source_id, run_id
        self.scales = scales
        self.reject_frame = reject_frame
        self.reject_atom = reject_atom
        self._atom_rejects: dict[_AtomInfo, str | None] = {}  # reject_atom's answers (bounded by the atoms)
        self._frames = _BoundedCache(FRAME_CACHE_SIZE)  # raw constraint text -> Frame or reason
        self._atom_sets = _BoundedCache(FRAME_CACHE_SIZE)  # frozenset of atoms -> Frame or reason
        self._group_verdicts: dict[tuple[_AtomInfo, ...], str | None] = {}
        self._seen_settings: dict[str, int] = {}  # these three are bounded by the vocabulary, not the rows
        self._seen_behaviors: dict[str, int] = {}
        self._texts: dict[str, str] = {}
        self._atom_infos: dict[Atom, _AtomInfo] = {}  # bounded by the distinct atoms, not the rows
        self._parts: dict[str, _AtomInfo] = {}  # raw atom text -> its atom (bounded: FRAME_CACHE_SIZE)
        self._norms: dict[int, tuple[int, ...]] = {}  # norm id -> atom ids emitted (bounded by the norms)

    # -- frames ---------------------------------------------------------------------------------
    # Three levels of memory, each bounded: raw constraint text -> frame (rows repeat texts), atom set ->
    # frame (the same conjunction is written in several orders and spellings), and one dimension's atoms ->
    # contradiction verdict (dimensions' atom groups repeat far more often than whole conjunctions).
    def _frame(self, batch: Batch, text: str) -> Frame | str:
        """The frame of a constraint text, or the reason the conjunction is rejected."""
        frame = self._frames.get(text)
        if frame is None:
            try:
                # A generator, not a list: parse_atom remembers its errors with their tracebacks, whose
                # frames would otherwise keep every caller's frame (and the batch of records) alive.
                parts = self._parts
                infos = frozenset(parts.get(part) or self._part(part) for part in split_conjunction(text))
            except InvalidInput as exc:
                frame = exc.message
            else:
                frame = self._atom_sets.get(infos)
                if frame is None:
                    frame = self._atom_sets.put(infos, self._new_frame(batch, infos))
            self._frames.put(text, frame)
        return frame

    def _part(self, raw: str) -> _AtomInfo:
        """The atom of one raw atom text (parse_atom's errors propagate)."""
        info = self._parts.get(raw)
        if info is None:
            atom = fast_atom(raw) or parse_atom(raw)
            info = self._atom_infos.get(atom)
            if info is None:
                info = self._atom_infos[atom] = _AtomInfo(atom)
            if len(self._parts) < FRAME_CACHE_SIZE:
                self._parts[raw] = info
        return info

    def _new_frame(self, batch: Batch, info_set: frozenset[_AtomInfo]) -> Frame | str:
        infos = sorted(info_set, key=_BY_TEXT)  # as normalise_frame orders them
        atoms = tuple([info.atom for info in infos])
        reason = self._contradiction(infos)
        if reason is None and self.reject_atom:
            reason = self._rejected_atom(infos)
        elif reason is None and self.reject_frame:
            reason = self.reject_frame(atoms)
        if reason:
            return reason
        # when_phrase(atoms), from each atom's phrase made once (the sort is stable, as when_phrase's)
        when = when_of([info.phrase for info in sorted(infos, key=_BY_ORDER)])
        emit = self._emit_atom
        return Frame(atoms, tuple([info.id if info.id is not None else emit(batch, info) for info in infos]),
                     join_atom_texts([info.text for info in infos]), when)

    def _rejected_atom(self, infos: list[_AtomInfo]) -> str | None:
        rejects = self._atom_rejects
        for info in infos:
            reason = rejects.get(info, False)
            if reason is False:
                reason = rejects[info] = self.reject_atom(info.atom)
            if reason:
                return reason
        return None

    def _contradiction(self, infos: list[_AtomInfo]) -> str | None:
        """`normbank.constraints.contradiction(atoms)`, decided and remembered one dimension at a time."""
        if len({i.dimension for i in infos}) == len(infos) and not any(i.ordinal for i in infos):
            return None  # the common case: one equality atom per dimension cannot contradict itself
        groups: dict[str, list[_AtomInfo]] = {}
        for info in infos:
            groups.setdefault(info.dimension, []).append(info)
        for group in groups.values():
            key = tuple(group)
            reason = self._group_verdicts.get(key, False)
            if reason is False:
                reason = contradiction([info.atom for info in group], self.scales)
                if len(self._group_verdicts) < FRAME_CACHE_SIZE:
                    self._group_verdicts[key] = reason
            if reason:
                return reason
        return None

    def _setting(self, batch: Batch, name: str) -> int:
        sid = self._seen_settings.get(name)
        if sid is None:
            sid = self._seen_settings[name] = setting_id(name)
            batch.setting.append((sid, name))
        return sid

    def _behavior(self, batch: Batch, name: str) -> int:
        bid = self._seen_behaviors.get(name)
        if bid is None:
            bid = self._seen_behaviors[name] = behavior_id(name)
            batch.behavior.append((bid, name))
        return bid

    def _text(self, raw: str) -> str:
        """normalise_text, remembered: settings and behaviours repeat across rows."""
        text = self._texts.get(raw)
        if text is None:
            text = normalise_text(raw)
            if len(self._texts) < FRAME_CACHE_SIZE:
                self._texts[raw] = text
        return text

    def _atom(self, batch: Batch, atom: Atom) -> int:
        info = self._atom_infos.get(atom)
        if info is None:
            info = self._atom_infos[atom] = _AtomInfo(atom)
        return self._emit_atom(batch, info)

    @staticmethod
    def _emit_atom(batch: Batch, info: _AtomInfo) -> int:
        aid = info.id
        if aid is None:
            atom = info.atom
            aid = info.id = atom_id(atom)
            batch.constraint_atom.append(
                (aid, atom.subject.value, atom.kind.value, atom.name, atom.relation.value, atom.value, info.text)
            )
        return aid

    @staticmethod
    def _reject(batch: Batch, row_number: int, raw: str | list[str], reason: str, run_id: int, source_id: int) -> None:
        if not isinstance(raw, str):  # readers may hand over the fields: render them only for rejects
            raw = raw_line(raw)
        batch.rejected_row.append((run_id, source_id, row_number, raw, reason))
        key = reason.split(":")[0]
        batch.rejected_reasons[key] = batch.rejected_reasons.get(key, 0) + 1

    # -- records --------------------------------------------------------------------------------
    def _norm(self, batch: Batch, record: NormRecord) -> None:
        behavior = self._texts.get(record.behavior) or self._text(record.behavior)
        if not behavior:
            return self._reject(batch, record.row_number, record.raw, "empty behavior", self.run_id, self.source_id)
        label = _LABELS.get(record.label)
        if label is None:
            return self._reject(batch, record.row_number, record.raw, f"bad label {record.label!r}", self.run_id,
                                self.source_id)
        if record.atoms is not None:
            try:
                atoms = normalise_frame(render_conjunction(record.atoms), self.scales)
            except InvalidInput as exc:
                return self._reject(batch, record.row_number, record.raw, exc.message, self.run_id, self.source_id)
            frame: Frame | str = Frame(atoms, tuple(self._atom(batch, atom) for atom in atoms),
                                       render_conjunction(atoms), when_phrase(atoms))
        else:
            frame = self._frame(batch, record.constraints or "")
        if isinstance(frame, str):
            return self._reject(batch, record.row_number, record.raw, frame, self.run_id, self.source_id)
        setting = (self._texts.get(record.setting) or self._text(record.setting)) if record.setting else None
        sid = (self._seen_settings.get(setting) or self._setting(batch, setting)) if setting else None
        bid = self._seen_behaviors.get(behavior) or self._behavior(batch, behavior)
        nid = norm_id(self.source, setting, behavior, label, frame.canonical, record.rule_text, record.culture,
                      record.category)
        emitted = self._norms.get(nid)
        if emitted is None:  # the norm's first row in this run states it (later rows of it are its support)
            self._norms[nid] = frame.atom_ids
            batch.norm.append((
                nid, self.source_id, self.run_id, sid, bid, label, frame.canonical,
                render_statement(setting, behavior, label, when=frame.when), record.rule_text, record.culture,
                record.category, record.split, record.annotator, record.agreement, 1, record.row_number,
                json.dumps(record.extra, ensure_ascii=False) if record.extra else None,
            ))
            batch.norm_constraint.extend([(nid, aid) for aid in frame.atom_ids])
        elif emitted is not frame.atom_ids and emitted != frame.atom_ids:
            # Rare: another atom set with the same canonical text (an attribute named like a role). Its
            # atoms join the norm's conjunction, as inserting every row's pairs would make them.
            new = [aid for aid in dict.fromkeys(frame.atom_ids) if aid not in emitted]
            if new:
                self._norms[nid] = emitted + tuple(new)
                batch.norm_constraint.extend([(nid, aid) for aid in new])
        batch.norm_row.append((nid, record.row_number, self.run_id))
        for i, example in enumerate(record.examples):
            batch.norm_example.append((
                stable_id("example", nid, record.row_number, i), nid, self.source_id, self.run_id, record.row_number,
                example.polarity, example.situation, example.dialogue,
                json.dumps(example.extra, ensure_ascii=False) if example.extra else None,
            ))

    def _setting_entry(self, batch: Batch, entry: SettingEntry) -> None:
        name = normalise_text(entry.name)
        sid = self._setting(batch, name)
        for role in entry.roles:
            role = normalise_value(role)
            if role:
                batch.role.append((stable_id("role", sid, role), sid, role))
        for behavior in entry.behaviors:
            behavior = normalise_text(behavior)
            if behavior:
                batch.setting_behavior.append((sid, self._behavior(batch, behavior)))

    def _dimension_entry(self, batch: Batch, entry: DimensionEntry) -> None:
        subject, name = entry.subject, normalise_text(entry.name)
        # Validate the name as an atom would use it, so every dimension can be constrained on.
        kind = "environment" if subject == "environment" else "attribute"
        make_atom(subject, kind, name, "eq", "x")
        did = dimension_id(subject, name)
        scales = self.scales.extended(name, entry.values) if entry.ordered else self.scales
        batch.dimension.append((did, subject, name, entry.ordered))
        for value in entry.values:
            value = normalise_value(value)
            if value:
                rank = scales.rank(name, value) if entry.ordered else None
                batch.dimension_value.append((stable_id("dimension value", did, value), did, value, rank))

    def batch(self, records: Iterable[Record]) -> Batch:
        batch = Batch()
        for record in records:
            batch.read += 1
            if isinstance(record, NormRecord):
                self._norm(batch, record)
            elif isinstance(record, Rejected):
                self._reject(batch, record.row_number, record.raw, record.reason, self.run_id, self.source_id)
            elif isinstance(record, SettingEntry):
                self._setting_entry(batch, record)
            elif isinstance(record, DimensionEntry):
                self._dimension_entry(batch, record)
            else:  # pragma: no cover - a reader bug
                raise TypeError(f"readers yield records, not {type(record).__name__}")
        batch.taxonomy_entries = sum(
            len(rows) for rows in (batch.setting, batch.role, batch.behavior, batch.dimension, batch.dimension_value)
        )
        return batch
