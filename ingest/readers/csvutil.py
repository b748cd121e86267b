"""Helpers shared by the CSV/TSV readers (files are opened by `textfile`, the one error path for files)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable, Iterator

from normbank.errors import CorpusNotFound, MissingColumns
from ingest.readers.textfile import csv_records


def require_file(path: Path) -> None:
    if not path.exists():
        raise CorpusNotFound(f"no such file: {path}")
    if not path.is_file():
        raise CorpusNotFound(f"not a file: {path}")


def read_header(path: Path, delimiter: str = ",") -> list[str]:
    return next((fields for _, fields in csv_records(path, delimiter)), [])


def check_columns(path: Path, required: Iterable[str], delimiter: str = ",") -> list[str]:
    """The header, after checking that every required column is present (MissingColumns names them)."""
    require_file(path)
    header = [h.strip() for h in read_header(path, delimiter)]
    missing = [c for c in required if c not in header]
    if missing:
        raise MissingColumns(
            f"{path} is missing column(s) {', '.join(missing)} (has: {', '.join(header) or 'nothing'})",
            details={"missing": missing, "header": header},
        )
    return header


def rows(path: Path, delimiter: str = ",") -> Iterator[tuple[int, list[str], list[str]]]:
    """(record number starting at 1 for the first data row, header, fields) for each record."""
    header: list[str] = []
    for number, fields in csv_records(path, delimiter):
        if number == 0:
            header = [h.strip() for h in fields]
        else:
            yield number, header, fields


def raw_line(fields: list[str], delimiter: str = ",") -> str:
    """A record back as one CSV line, as stored with a rejected row."""
    buffer = io.StringIO()
    # A real line terminator makes the writer quote fields that contain newlines; then drop it.
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerow(fields)
    return buffer.getvalue()[:-1]


def count_records(path: Path) -> int | None:
    """A fast estimate of the data records in a file (newlines minus the header), for progress bars."""
    try:
        with path.open("rb") as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None
    return max(lines - 1, 0)
