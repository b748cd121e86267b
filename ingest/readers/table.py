"""Any CSV, TSV or JSONL file through a mapping file (`ingest.readers.mapping`): one norm per row.

`normbank ingest table cm_test.csv --mapping examples/mappings/ethics-commonsense.toml` reads ETHICS
commonsense morality; its first row (`0,I told my baby I loved her when she cried.,True,False`) yields::

    NormRecord(row_number=1, raw=[...], setting=None, behavior="I told my baby I loved her when she cried.",
               label="normal", attributes={"is_short": "True", "edited": "False"},
               examples=(Example("adheres", "I told my baby I loved her when she cried."),))

A behaviour longer than BEHAVIOR_MAX_CHARS (a forum post) is cut to its first sentence ("AITA for ...?");
the whole text stays in the example. The mapping is checked whole before a row is written (`check`). A row whose field count differs from the
header's, whose behaviour or label is empty, whose constraints do not parse or whose agreement is not a
share is rejected with its row number (data rows count from 1; JSONL: lines) and the reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

from ingest.readers.csvutil import check_columns, count_records, raw_line, rows
from ingest.readers.mapping import Mapping, load_mapping
from ingest.readers.textlines import header, lines, undecodable
from ingest.records import Example, NormRecord, Record, Rejected
from normbank.constraints import AND, make_atom, render_atom
from normbank.errors import InvalidInput, InvalidMapping, MissingColumns

CORPUS = "table"
TITLE = "Any CSV, TSV or JSONL table, through a TOML mapping file"
LICENSE = "as the mapping says"
SOURCE_URL = None
OPTIONS = ("mapping",)
_DELIMITERS = {"csv": ",", "tsv": "\t"}
# A behaviour is a short phrase; a longer cell (ETHICS's forum posts) is cut to its first sentence (else
# at a word) within this many characters, and the whole text is kept as the example when none is mapped.
BEHAVIOR_MAX_CHARS = 300
_SENTENCE_END = re.compile(r"[.?!](?=\s)|\s\|\s|\n")


def short_behavior(text: str, limit: int = BEHAVIOR_MAX_CHARS) -> str:
    """`text` when it fits in `limit` characters; else its first sentence, or its first words and '…'."""
    if len(text) <= limit:
        return text
    end = _SENTENCE_END.search(text)
    if end is not None and 0 < end.end() <= limit:
        return text[:end.end()].strip(" |")
    cut = text[:limit - 1].rsplit(None, 1)[0] if " " in text[:limit - 1] else text[:limit - 1]
    return cut.rstrip() + "…"


def provenance(path: Path, mapping: str | Path | None = None) -> tuple[str, str | None, str | None]:
    found = load_mapping(mapping)
    return found.source, found.licence, found.url


def estimate(path: Path) -> int | None:
    return count_records(path)


def _dicts(path: Path, fmt: str) -> Iterator[tuple[int, Any, dict[str, Any] | str]]:
    """(row number, raw, the row as a dict or why it is not one) for each data row."""
    if fmt == "jsonl":
        for number, line, raw in lines(path, skip_header=False):
            if line is None:
                text, reason = undecodable(raw)
                yield number, text, reason
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                yield number, line, f"bad JSON: {exc.msg} at column {exc.colno}"
                continue
            yield number, line, row if isinstance(row, dict) else "not a JSON object"
        return
    for number, names, fields in rows(path, _DELIMITERS[fmt]):
        if len(fields) != len(names):
            yield number, fields, f"row has {len(fields)} fields, the header has {len(names)}"
            continue
        yield number, fields, dict(zip(names, fields))


def _text(row: dict[str, Any], column: str | None) -> str:
    if column is None:
        return ""
    value = row.get(column)
    if value is None:
        return ""
    return (value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)).strip()


def _header(path: Path, mapping: Mapping, fmt: str) -> list[str]:
    if fmt != "jsonl":
        return check_columns(path, mapping.used_columns(), _DELIMITERS[fmt])
    first = header(path, "JSON lines with the columns " + ", ".join(mapping.used_columns()))
    try:
        keys = list(json.loads(first))
    except (ValueError, TypeError):
        keys = []
    missing = [c for c in mapping.used_columns() if c not in keys]
    if missing:
        raise MissingColumns(f"{path} is missing column(s) {', '.join(missing)} named by {mapping.path} "
                             f"(its first line has: {', '.join(map(str, keys)) or 'no JSON object'})",
                             details={"missing": missing, "header": keys})
    return keys


def check(path: Path, mapping: str | Path | None = None) -> None:
    """The mapping, the file's columns and every label value, before anything is written."""
    found = load_mapping(mapping)
    fmt = found.file_format(path)
    _header(path, found, fmt)
    unmapped: dict[str, int] = {}
    for number, _raw, row in _dicts(path, fmt):
        if isinstance(row, dict):
            value = _text(row, found.columns["label"])
            if value and value not in found.labels:
                unmapped.setdefault(value, number)
    if unmapped:
        values = ", ".join(f"{v!r} (first on row {n})" for v, n in list(unmapped.items())[:10])
        raise InvalidMapping(f"{found.path}: [labels] has no mapping for label value(s) {values} of column "
                             f"{found.columns['label']!r}", details={"key": "labels", "unmapped": list(unmapped)})


def _constraints(row: dict[str, Any], mapping: Mapping) -> str:
    parts = [_text(row, mapping.columns.get("constraints"))]
    for column, (subject, kind, name) in mapping.dimensions.items():
        value = _text(row, column)
        if value:
            parts.append(render_atom(make_atom(subject, kind, name, "eq", value)))
    return AND.join(p for p in parts if p)


def _record(number: int, raw: Any, row: dict[str, Any], mapping: Mapping) -> Record:
    columns = mapping.columns
    behavior = _text(row, columns["behavior"])
    if not behavior:
        return Rejected(number, raw, f"empty behavior (column {columns['behavior']!r})")
    value = _text(row, columns["label"])
    if not value:
        return Rejected(number, raw, f"empty label (column {columns['label']!r})")
    label = mapping.labels.get(value)
    if label is None:  # the file changed since `check`
        return Rejected(number, raw, f"label value {value!r} has no mapping")
    agreement = None
    if columns.get("agreement") and _text(row, columns["agreement"]):
        try:
            agreement = float(_text(row, columns["agreement"]))
        except ValueError:
            agreement = -1.0
        if not 0.0 <= agreement <= 1.0:
            return Rejected(number, raw, f"agreement {_text(row, columns['agreement'])!r} is not a share in 0..1")
    try:
        constraints = _constraints(row, mapping)
    except InvalidInput as exc:
        return Rejected(number, raw, exc.message)
    example = _text(row, columns.get("example")) or (behavior if len(behavior) > BEHAVIOR_MAX_CHARS else "")
    attributes = {name: row[name] for name in mapping.attributes if row.get(name) not in (None, "")}
    return NormRecord(
        row_number=number, raw=raw, behavior=short_behavior(behavior), label=label, setting=_text(row, columns.get("setting")) or None,
        constraints=constraints, rule_text=_text(row, columns.get("rule_text")) or None,
        culture=_text(row, columns.get("culture")) or None, category=_text(row, columns.get("category")) or None,
        split=_text(row, columns.get("split")) or None, agreement=agreement, attributes=attributes or None,
        examples=(Example("violates" if label == "taboo" else "adheres", example),) if example else (),
    )


def read(path: Path, mapping: str | Path | None = None) -> Iterator[Record]:
    found = load_mapping(mapping)
    fmt = found.file_format(path)
    _header(path, found, fmt)
    for number, raw, row in _dicts(path, fmt):
        if isinstance(row, str):
            yield Rejected(number, raw if isinstance(raw, str) else raw_line(raw), row)
        else:
            yield _record(number, raw, row, found)
