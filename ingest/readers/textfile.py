"""The one way readers open corpus files: UTF-8 text, and one-line errors that name the file and place.

Every reader reads text through `text_lines` (a plain text file, line by line), `csv_records` (CSV/TSV
records, numbered as data rows) or `load_json` (a JSON document), and checks a document's shape with
`expect`. Failures raise `MalformedCorpus` (or `CorpusNotFound` for an unreadable path) whose message is
one line: the file, the row or line, what was wrong and what was expected, e.g.::

    corpus.csv, row 2001 (line 2002): not UTF-8 (byte 0xe9 at column 17); expected UTF-8 text
    constraint_dict.json: not valid JSON at line 3, column 9: Expecting ',' delimiter
    constraint_dict.json: expected a JSON object of sections at the top level, got a list

Bytes that do not decode are found per line (decoding with `surrogateescape` and looking for the escaped
bytes), so the message names the row rather than an offset in a decoder's buffer. A NUL byte marks a
binary file (and PostgreSQL stores no NUL in text), so it fails the same way.
"""

from __future__ import annotations

import csv
import json
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

from normbank.errors import CorpusNotFound, MalformedCorpus

ENCODING = "UTF-8"
_BAD = re.compile("[\x00\udc80-\udcff]")  # a NUL, or a byte that did not decode (surrogateescape)


def place(path: Path, line: int, row: int | None = None) -> str:
    """'file, line 3', 'file, header (line 1)' or 'file, row 2 (line 3)': where a message points."""
    if row is None:
        return f"{path}, line {line}"
    return f"{path}, {'header' if row == 0 else f'row {row}'} (line {line})"


def fail(path: Path, message: str, *, line: int | None = None, row: int | None = None) -> MalformedCorpus:
    """The error to raise for a problem in `path` (at `line`, data row `row`): one line of text."""
    where = str(path) if line is None else place(path, line, row)
    message = " ".join(message.split())  # one line, whatever the cause's text held
    return MalformedCorpus(f"{where}: {message}", details={"path": str(path), "line": line, "row": row})


def _check_line(path: Path, text: str, line: int, row: int | None) -> None:
    bad = _BAD.search(text)
    if bad is None:
        return
    if bad.group() == "\x00":
        raise fail(path, f"holds a NUL byte at column {bad.start() + 1}; expected {ENCODING} text, not a "
                         "binary file", line=line, row=row)
    byte = ord(bad.group()) - 0xDC00
    raise fail(path, f"not {ENCODING} (byte 0x{byte:02x} at column {bad.start() + 1}); expected {ENCODING} "
                     "text (convert it, e.g. with iconv -t UTF-8)", line=line, row=row)


@contextmanager
def _open(path: Path) -> Iterator[Any]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")
    except OSError as exc:
        raise CorpusNotFound(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        try:
            yield handle
        except OSError as exc:  # a read error mid-file (a vanished network mount, EIO)
            raise CorpusNotFound(f"cannot read {path}: {exc.strerror or exc}") from None


def text_lines(path: Path) -> Iterator[str]:
    """The lines of a text file without their line ends, checked as UTF-8 (errors name the line)."""
    with _open(path) as handle:
        for number, text in enumerate(handle, start=1):
            _check_line(path, text, number, None)
            yield text.rstrip("\r\n")


class _Lines:
    """The file's lines for csv.reader, each checked as it is read; `row` is set by the caller so an
    error names the data row being parsed."""

    def __init__(self, path: Path, handle: Iterable[str]):
        self.path, self.handle, self.line, self.row = path, iter(handle), 0, None

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        text = next(self.handle)
        self.line += 1
        _check_line(self.path, text, self.line, self.row)
        return text


def csv_records(path: Path, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(row number, fields) for each record: the header is row 0, the first data row is row 1. A line
    that is not UTF-8 and csv's own errors (a field over `csv.field_size_limit()`) name the row and line."""
    with _open(path) as handle:
        lines = _Lines(path, handle)
        reader = csv.reader(lines, delimiter=delimiter)
        row = 0
        while True:
            lines.row = row
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise fail(path, str(exc), line=lines.line, row=row) from None
            yield row, fields
            row += 1


def load_json(path: Path) -> Any:
    """The JSON document in `path`; invalid text or JSON names the file, line and column."""
    text = "\n".join(text_lines(path))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(path, f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise fail(path, "JSON nested too deeply") from None


_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
               float: "a number", type(None): "null"}


def expect(path: Path, value: Any, kind: type, what: str) -> Any:
    """`value` when it is a `kind` (dict, list, str), else the error saying what shape was expected."""
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise fail(path, f"expected {_JSON_TYPES[kind]} {what}, got {_JSON_TYPES.get(type(value), type(value).__name__)}")
