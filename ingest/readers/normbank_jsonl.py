"""A normbank export (`normbank export`, `GET /v1/export`): JSONL, one bank header line, then per source a
`source` line followed by its taxonomy entries, norms and rejected rows (see ingest/export.py). Reading it
back into an empty bank gives the same norms (same ids), rows, examples, rejected rows and answers.

The file may hold several sources: `sections(path)` gives one reader per source, carrying the source's
name, format, licence and URL, and the pipeline imports them in file order in one transaction. Each norm
line yields one record per source row behind the norm, e.g.::

    NormRecord(row_number=2, raw='{"type":"norm",...}', setting="restaurant", behavior="drink alcohol",
               label="taboo", atoms=(Atom(person, role, role, eq, customer), ...), split="train",
               examples=(...the examples of row 2...))
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

import orjson

from normbank.constraints import stored_atom
from normbank.errors import CorpusNotFound, MalformedCorpus
from ingest.records import DimensionEntry, Example, NormRecord, Record, Rejected, SettingEntry

CORPUS = "normbank-jsonl"
TITLE = "A normbank export (JSONL, any number of sources)"
LICENSE = "each source keeps its own licence"
SOURCE_URL = "https://github.com/normbank/normbank"  # the format is this project's own
DEFAULT_SOURCE = "normbank-export"

_RECORD_FIELDS = {f.name for f in dataclasses.fields(NormRecord)} - {"row_number", "raw", "constraints", "atoms",
                                                                     "examples", "behavior", "setting", "label"}
_EXAMPLE_FIELDS = {f.name for f in dataclasses.fields(Example)}


def check(path: Path) -> None:
    if not path.is_file():
        raise CorpusNotFound(f"no such file: {path}")
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        header = orjson.loads(first)
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != CORPUS:
        raise MalformedCorpus(f"{path}: not a normbank export (its first line must be the bank header of a "
                              f"{CORPUS} file)")


def _lines(path: Path, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, bytes, dict]]:
    """(line number, line, object) from the byte offset `start` up to `stop`."""
    with path.open("rb") as handle:
        handle.seek(start)
        number = 0
        while stop is None or handle.tell() < stop:
            line = handle.readline()
            if not line:
                return
            number += 1
            try:
                yield number, line, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise MalformedCorpus(f"{path}: a line that is not JSON after byte {start}: {exc}") from None


def source_sections(path: Path) -> list[tuple[dict, int, int]]:
    """(source line, start offset, end offset) of each source in the file."""
    found: list[tuple[dict, int]] = []
    with path.open("rb") as handle:
        offset = 0
        for line in handle:
            if line.startswith(b'{"type":"source"'):
                found.append((orjson.loads(line), offset + len(line)))
            offset += len(line)
    return [(src, start, found[i + 1][1] if i + 1 < len(found) else offset) for i, (src, start) in enumerate(found)]


def _norm_records(item: dict, raw: str) -> Iterator[NormRecord]:
    atoms = tuple(stored_atom(a["subject"], a["kind"], a["name"], a["relation"], a["value"]) for a in item["atoms"])
    fields = {k: item[k] for k in _RECORD_FIELDS if k in item}
    examples: dict[int, list[Example]] = {}
    for e in item.get("examples", ()):
        examples.setdefault(e["row_number"], []).append(Example(**{k: e[k] for k in _EXAMPLE_FIELDS if k in e}))
    first = item["row_number"]
    rows = sorted({r["row_number"] for r in item.get("rows", ())} | {first}, key=lambda r: (r != first, r))
    for row in rows:
        yield NormRecord(row_number=row, raw=raw, behavior=item["behavior"], label=item["label"],
                         setting=item.get("setting"), atoms=atoms, examples=tuple(examples.get(row, ())), **fields)


def _records(path: Path, start: int = 0, stop: int | None = None) -> Iterator[Record]:
    for number, line, item in _lines(path, start, stop):
        kind = item.get("type") if isinstance(item, dict) else None
        try:
            if kind == "norm":
                yield from _norm_records(item, line.decode())
            elif kind == "rejected":
                yield Rejected(item["row_number"], item["raw"], item["reason"])
            elif kind == "setting":
                yield SettingEntry(item["name"], tuple(item["roles"]), tuple(item["behaviors"]))
            elif kind == "dimension":
                yield DimensionEntry(item["subject"], item["name"], tuple(item["values"]), bool(item["ordered"]))
            elif kind not in ("bank", "source"):
                raise MalformedCorpus(f"{path}: unknown line type {str(kind)[:40]!r}")
        except (KeyError, TypeError) as exc:
            raise MalformedCorpus(f"{path}: a {kind} line without a valid {exc}") from None


def read(path: Path) -> Iterator[Record]:
    """Every record of the file, as if it were one source (the pipeline uses `sections` instead)."""
    check(path)
    yield from _records(path)


def sections(path: Path) -> list[tuple[dict, Iterator[Record]]]:
    """Per source in the file: its source line and a lazy iterator over its records."""
    check(path)
    return [(src, _records(path, start, stop)) for src, start, stop in source_sections(path)]
