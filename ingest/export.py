"""Export the bank (or one source) as JSONL that `normbank ingest normbank-jsonl` reads back, or as
NormBank.csv's own layout.

The JSONL holds, per source in the order the sources were first imported: a `source` line, for a taxonomy
source its `setting` and `dimension` entries, one `norm` line per norm (its frame's atoms, its source rows
and its examples) and one `rejected` line per rejected row. Norm and example fields are taken from the
table definitions (`schema.models`), so a column added there is exported without touching this module; a
norm's source rows are their row numbers.

Each source's norms come from one query in which the database also writes each norm's atom and row lists as
JSON (ingest/export_sql.py), read from a server-side cursor; a norm's line is one orjson dump, and lines
leave a thousand to a chunk.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from itertools import chain, groupby, islice
from operator import itemgetter
from typing import Any, Iterator

import orjson
from orjson import Fragment
from sqlalchemy import select
from sqlalchemy.engine import Connection

from normbank.constraints import AND
from normbank.errors import SourceNotFound, echo
from normbank.ids import public_norm_id, stable_id
from normbank.labels import NORMBANK_LABEL_NUMBER, Label
from ingest.export_sql import NORM_FIELDS, exported_columns, export_session, norms_query
from schema.models import (
    Behavior, Dimension, DimensionValue, ImportRun, Norm, NormExample, RejectedRow, Role, Setting, SettingBehavior,
    Source,
)
from schema.queries import REMOVAL, SUCCEEDED, data_version

__all__ = ["NORM_FIELDS", "EXAMPLE_FIELDS", "export_jsonl", "export_normbank_csv", "export_sources"]

EXPORT_FORMAT = "normbank-jsonl"
EXPORT_VERSION = 1
_TAXONOMY_KIND = "normbank-taxonomy"
_FIRST = itemgetter(0)
_NONE: list = []
_FETCHED = 5000  # rows per fetch from a server-side cursor
_LINES_PER_CHUNK = 1000  # lines joined into one chunk: a streamed HTTP answer sends each chunk on its own
EXAMPLE_FIELDS = exported_columns(NormExample.__table__)
_NORM_KEYS = ("type", "id", "setting", "behavior", *NORM_FIELDS)


def _line(obj: dict) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


def _chunks(items: Iterator[dict]) -> Iterator[bytes]:
    """The items as JSONL, a thousand lines to a chunk."""
    return _joined(map(_line, items))


def _joined(lines: Iterator[bytes]) -> Iterator[bytes]:
    """The lines a thousand to a chunk."""
    while batch := list(islice(lines, _LINES_PER_CHUNK)):
        yield b"".join(batch)


def export_sources(conn: Connection, source: str | None = None) -> list[dict[str, Any]]:
    """The sources to export (all live ones, or the one named), in the order of their first import."""
    removed_or_last = {}
    first = {}
    for sid, run_id, fmt in conn.execute(select(ImportRun.source_id, ImportRun.id, ImportRun.format)
                                         .where(ImportRun.status.in_(SUCCEEDED)).order_by(ImportRun.id)):
        first.setdefault(sid, run_id)
        removed_or_last[sid] = fmt
    rows = conn.execute(select(Source)).mappings().all()
    out = [dict(r) for r in rows if r["id"] in first and removed_or_last[r["id"]] != REMOVAL]
    out.sort(key=lambda r: first[r["id"]])
    if source is not None:
        out = [r for r in out if r["name"] == source]
        if not out:
            raise SourceNotFound(f"no source named {echo(source)}", details={"source": source[:80]})
    return out


def _taxonomy(conn: Connection) -> Iterator[dict]:
    roles: dict[int, list[str]] = {}
    for sid, name in conn.execute(select(Role.setting_id, Role.name).order_by(Role.name)):
        roles.setdefault(sid, []).append(name)
    behaviors: dict[int, list[str]] = {}
    for sid, name in conn.execute(select(SettingBehavior.setting_id, Behavior.name)
                                  .join(Behavior, Behavior.id == SettingBehavior.behavior_id).order_by(Behavior.name)):
        behaviors.setdefault(sid, []).append(name)
    for sid, name in conn.execute(select(Setting.id, Setting.name).order_by(Setting.name)):
        yield {"type": "setting", "name": name, "roles": roles.get(sid, []), "behaviors": behaviors.get(sid, [])}
    values: dict[int, list[str]] = {}
    for did, value in conn.execute(select(DimensionValue.dimension_id, DimensionValue.value)
                                   .order_by(DimensionValue.rank, DimensionValue.value)):
        values.setdefault(did, []).append(value)
    for did, subject, name, ordered in conn.execute(select(Dimension.id, Dimension.subject, Dimension.name,
                                                           Dimension.ordered).order_by(Dimension.subject, Dimension.name)):
        yield {"type": "dimension", "subject": subject, "name": name, "ordered": bool(ordered),
               "values": values.get(did, [])}


def _streamed(conn: Connection, query) -> Iterator:
    """The query's rows from a server-side cursor (PostgreSQL), fetched `_FETCHED` at a time: memory stays
    flat."""
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": _FETCHED})
    return chain.from_iterable(result.partitions())


class _PerNorm:
    """The rows of a query ordered like the norms (norm id first), handed out per norm as the norms pass:
    a merge in one pass, the query streamed."""

    def __init__(self, rows: Iterator):
        self._groups = groupby(rows, key=_FIRST)
        self._next = next(self._groups, None)

    def take(self, norm_id: int) -> list:
        if self._next is None or self._next[0] != norm_id:
            return _NONE
        found = list(self._next[1])
        self._next = next(self._groups, None)
        return found


def _example_order(norm_id: int, row: int, examples: list[dict]) -> list[dict]:
    """A row's examples in the order the reader gave them (their ids hash that position)."""
    position = {stable_id("example", norm_id, row, i): i for i in range(len(examples))}
    return sorted(examples, key=lambda e: position.get(e.pop("_id"), len(examples)))


def _examples(norm_id: int, found: list) -> list[dict]:
    by_row: dict[int, list[dict]] = {}
    for e in found:
        item = {"_id": e[1], **dict(zip(EXAMPLE_FIELDS, e[2:]))}
        by_row.setdefault(item["row_number"], []).append(item)
    return [x for row in sorted(by_row) for x in _example_order(norm_id, row, by_row[row])]


def _norm_lines(conn: Connection, source_id: int) -> Iterator[bytes]:
    """The source's norms as JSONL lines, in the order of their first row: one dumps per norm, its atom and
    row lists embedded as the database wrote them (ingest/export_sql.py); the examples (of the few corpora
    that have any) come from a second query in the same order, merged as they pass."""
    examples = _PerNorm(_streamed(conn, select(NormExample.norm_id, NormExample.id, *[
        NormExample.__table__.c[f] for f in EXAMPLE_FIELDS]).join(Norm, Norm.id == NormExample.norm_id)
        .where(Norm.source_id == source_id).order_by(Norm.row_number, Norm.id)))
    for norm_id, *values, atoms, rows in _streamed(conn, norms_query(conn.dialect.name, source_id)):
        norm = dict(zip(_NORM_KEYS, ("norm", public_norm_id(norm_id), *values)))
        norm["atoms"], norm["rows"] = Fragment(atoms), Fragment(rows)
        found = examples.take(norm_id)
        norm["examples"] = _examples(norm_id, found) if found else _NONE
        yield _line(norm)


def _norms(conn: Connection, source_id: int) -> Iterator[dict]:
    """The source's norms as the export writes them, as dicts."""
    return map(orjson.loads, _norm_lines(conn, source_id))


def _rejected(conn: Connection, source_id: int) -> Iterator[dict]:
    query = (select(RejectedRow.row_number, RejectedRow.raw, RejectedRow.reason)
             .where(RejectedRow.source_id == source_id).order_by(RejectedRow.row_number))
    for row, raw, reason in _streamed(conn, query):
        yield {"type": "rejected", "row_number": row, "raw": raw, "reason": reason}


def export_jsonl(conn: Connection, source: str | None = None) -> Iterator[bytes]:
    """The bank (or one source) as JSONL lines, streamed; `conn` must stay open while they are read."""
    chosen = export_sources(conn, source)
    yield _line({"type": "bank", "format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                 "data_version": data_version(conn), "exported_at": datetime.now(timezone.utc).isoformat()})
    with export_session(conn):
        for src in chosen:
            yield _line({"type": "source", "name": src["name"], "kind": src["kind"], "version": src["version"],
                         "licence": src["licence"], "url": src["url"], "sha256": src["sha256"]})
            if src["kind"] == _TAXONOMY_KIND:
                yield from _chunks(_taxonomy(conn))
            yield from _joined(_norm_lines(conn, src["id"]))
            yield from _chunks(_rejected(conn, src["id"]))


NORMBANK_CSV_HEADER = ("setting", "behavior", "setting-behavior", "constraints", "constraints_given",
                       "constraint_predict", "norm", "label", "split")


def export_normbank_csv(conn: Connection, source: str | None = None) -> Iterator[bytes]:
    """The norms that have a setting, one NormBank.csv row per source row behind each."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(NORMBANK_CSV_HEADER)
    with export_session(conn):
        yield from _csv_rows(conn, export_sources(conn, source), writer, buffer)
    yield buffer.getvalue().encode()


def _csv_rows(conn: Connection, sources: list[dict], writer, buffer: io.StringIO) -> Iterator[bytes]:
    for src in sources:
        for norm in _norms(conn, src["id"]):
            if norm["setting"] is None:
                continue
            texts = sorted({_atom_text(a) for a in norm["atoms"]}) if norm["atoms"] else []
            constraints = norm["constraints"]
            given = AND.join(texts[:-1]) + AND if len(texts) > 1 else ""
            number = NORMBANK_LABEL_NUMBER[Label(norm["label"])]
            for row in norm["rows"] or [{"row_number": norm["row_number"]}]:
                writer.writerow((norm["setting"], norm["behavior"], f"{norm['setting']} [BEHAVIOR] {norm['behavior']}",
                                 constraints, given, texts[-1] if texts else "", norm["label"], number, norm["split"] or ""))
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()


def _atom_text(atom: dict) -> str:
    from normbank.constraints import render_atom, stored_atom

    return render_atom(stored_atom(atom["subject"], atom["kind"], atom["name"], atom["relation"], atom["value"]))
