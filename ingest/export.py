"""Export the bank (or one source) as JSONL that `normbank ingest normbank-jsonl` reads back, or as
NormBank.csv's own layout.

The JSONL holds, per source in the order the sources were first imported: a `source` line, for a taxonomy
source its `setting` and `dimension` entries, one `norm` line per norm (its frame's atoms, its source rows
and its examples) and one `rejected` line per rejected row. Norm, row and example fields are taken from the
table definitions (`schema.models`), so a column added there is exported without touching this module.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any, Iterator

import orjson
from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from normbank.constraints import AND
from normbank.errors import SourceNotFound, echo
from normbank.ids import public_norm_id, stable_id
from normbank.labels import NORMBANK_LABEL_NUMBER, Label
from schema.models import (
    Behavior, ConstraintAtom, Dimension, DimensionValue, ImportRun, Norm, NormConstraint, NormExample, NormRow,
    RejectedRow, Role, Setting, SettingBehavior, Source,
)
from schema.queries import REMOVAL, SUCCEEDED, data_version

EXPORT_FORMAT = "normbank-jsonl"
EXPORT_VERSION = 1
# Keys and links the export writes by name (setting, behaviour, atoms, source) instead of as numbers.
_LINKS = frozenset({"id", "norm_id", "source_id", "import_run_id", "setting_id", "behavior_id"})
_TAXONOMY_KIND = "normbank-taxonomy"
_TEXT = itemgetter(0)


def exported_columns(table: Table) -> tuple[str, ...]:
    """The columns of `table` an export writes as they are."""
    return tuple(c.name for c in table.columns if c.name not in _LINKS)


NORM_FIELDS = exported_columns(Norm.__table__)
ROW_FIELDS = exported_columns(NormRow.__table__)
EXAMPLE_FIELDS = exported_columns(NormExample.__table__)


def _line(obj: dict) -> bytes:
    return orjson.dumps(obj) + b"\n"


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


def _grouped(conn: Connection, query) -> dict[int, list]:
    """The query's rows by their first column (fetched at once: row by row cost 10x more)."""
    out: dict[int, list] = {}
    for row in conn.execute(query).all():
        out.setdefault(row[0], []).append(row)
    return out


def _example_order(norm_id: int, row: int, examples: list[dict]) -> list[dict]:
    """A row's examples in the order the reader gave them (their ids hash that position)."""
    position = {stable_id("example", norm_id, row, i): i for i in range(len(examples))}
    return sorted(examples, key=lambda e: position.get(e.pop("_id"), len(examples)))


def _atoms(conn: Connection, of_source) -> tuple[dict[int, list], dict[int, tuple[str, dict]]]:
    """The norms' atom ids, and each atom once: (its text, its JSON), shared by every norm that uses it."""
    links = _grouped(conn, select(NormConstraint.norm_id, NormConstraint.atom_id)
                     .where(NormConstraint.norm_id.in_(of_source)))
    used = select(NormConstraint.atom_id).where(NormConstraint.norm_id.in_(of_source))
    atoms = {aid: (text, {"subject": subject, "kind": kind, "name": name, "relation": relation, "value": value})
             for aid, subject, kind, name, relation, value, text in conn.execute(
                 select(ConstraintAtom.id, ConstraintAtom.subject, ConstraintAtom.kind, ConstraintAtom.name,
                        ConstraintAtom.relation, ConstraintAtom.value, ConstraintAtom.text)
                 .where(ConstraintAtom.id.in_(used))).all()}
    return links, atoms


def _examples(norm_id: int, found: list) -> list[dict]:
    by_row: dict[int, list[dict]] = {}
    for e in found:
        item = {"_id": e[1], **dict(zip(EXAMPLE_FIELDS, e[2:]))}
        by_row.setdefault(item["row_number"], []).append(item)
    return [x for row in sorted(by_row) for x in _example_order(norm_id, row, by_row[row])]


def _norms(conn: Connection, source_id: int) -> Iterator[dict]:
    of_source = select(Norm.id).where(Norm.source_id == source_id)
    links, atoms = _atoms(conn, of_source)
    rows = _grouped(conn, select(NormRow.norm_id, *[NormRow.__table__.c[f] for f in ROW_FIELDS])
                    .where(NormRow.norm_id.in_(of_source)).order_by(NormRow.norm_id, NormRow.row_number))
    examples = _grouped(conn, select(NormExample.norm_id, NormExample.id, *[NormExample.__table__.c[f] for f in EXAMPLE_FIELDS])
                        .where(NormExample.norm_id.in_(of_source)))
    query = (select(Norm.id, Setting.name, Behavior.name, *[Norm.__table__.c[f] for f in NORM_FIELDS])
             .join(Behavior, Behavior.id == Norm.behavior_id).outerjoin(Setting, Setting.id == Norm.setting_id)
             .where(Norm.source_id == source_id).order_by(Norm.row_number, Norm.id))
    no_links: list = []
    for norm_id, setting, behavior, *values in conn.execution_options(yield_per=5000).execute(query):
        norm = {"type": "norm", "id": public_norm_id(norm_id), "setting": setting, "behavior": behavior,
                **dict(zip(NORM_FIELDS, values))}
        norm["atoms"] = [a[1] for a in sorted((atoms[link[1]] for link in links.get(norm_id, no_links)),
                                              key=_TEXT)]
        norm["rows"] = [dict(zip(ROW_FIELDS, r[1:])) for r in rows.get(norm_id, no_links)]
        found = examples.get(norm_id)
        norm["examples"] = _examples(norm_id, found) if found else []
        yield norm


def _rejected(conn: Connection, source_id: int) -> Iterator[dict]:
    query = (select(RejectedRow.row_number, RejectedRow.raw, RejectedRow.reason)
             .where(RejectedRow.source_id == source_id).order_by(RejectedRow.row_number))
    for row, raw, reason in conn.execution_options(yield_per=5000).execute(query):
        yield {"type": "rejected", "row_number": row, "raw": raw, "reason": reason}


def export_jsonl(conn: Connection, source: str | None = None) -> Iterator[bytes]:
    """The bank (or one source) as JSONL lines, streamed; `conn` must stay open while they are read."""
    chosen = export_sources(conn, source)
    yield _line({"type": "bank", "format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                 "data_version": data_version(conn), "exported_at": datetime.now(timezone.utc).isoformat()})
    for src in chosen:
        yield _line({"type": "source", "name": src["name"], "kind": src["kind"], "version": src["version"],
                     "licence": src["licence"], "url": src["url"], "sha256": src["sha256"]})
        if src["kind"] == _TAXONOMY_KIND:
            for entry in _taxonomy(conn):
                yield _line(entry)
        for item in _norms(conn, src["id"]):
            yield _line(item)
        for item in _rejected(conn, src["id"]):
            yield _line(item)


NORMBANK_CSV_HEADER = ("setting", "behavior", "setting-behavior", "constraints", "constraints_given",
                       "constraint_predict", "norm", "label", "split")


def export_normbank_csv(conn: Connection, source: str | None = None) -> Iterator[bytes]:
    """The norms that have a setting, one NormBank.csv row per source row behind each."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(NORMBANK_CSV_HEADER)
    for src in export_sources(conn, source):
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
    yield buffer.getvalue().encode()


def _atom_text(atom: dict) -> str:
    from normbank.constraints import render_atom, stored_atom

    return render_atom(stored_atom(atom["subject"], atom["kind"], atom["name"], atom["relation"], atom["value"]))
