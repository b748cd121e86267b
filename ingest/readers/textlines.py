"""Line-at-a-time reading for the formats whose records never span lines (TSV without quoting, JSONL).

Bytes are decoded line by line, so a line that is not UTF-8 becomes a rejected row with its number
rather than ending the import; `header` fails on a file that does not start with a UTF-8 text line (a
binary file, say), before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ingest.readers.csvutil import require_file
from normbank.errors import MalformedCorpus

HEADER_BYTES = 1 << 16  # a header line longer than this is not a header


def _decode(line: bytes) -> str:
    return line.decode("utf-8").rstrip("\r\n")


def header(path: Path, expected: str) -> str:
    """The first line of a text file; MalformedCorpus (naming what was `expected`) when it is not text."""
    require_file(path)
    with path.open("rb") as handle:
        first = handle.readline(HEADER_BYTES)
    first = first.removeprefix(b"\xef\xbb\xbf")
    try:
        text = _decode(first)
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text or (first and not first.endswith(b"\n") and len(first) >= HEADER_BYTES):
        raise MalformedCorpus(f"{path} is not a UTF-8 text file: expected {expected}",
                              details={"path": str(path), "expected": expected})
    return text


def lines(path: Path, *, skip_header: bool) -> Iterator[tuple[int, str | None, bytes]]:
    """(number, text or None when the line is not UTF-8, raw bytes) per non-empty line. Numbers count data
    lines from 1: the line after the header, or the file's first line when there is no header."""
    with path.open("rb") as handle:
        if skip_header:
            handle.readline()
        for number, raw in enumerate(handle, start=1):
            if number == 1 and not skip_header:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                yield number, _decode(raw), raw
            except UnicodeDecodeError:
                yield number, None, raw


def undecodable(raw: bytes) -> tuple[str, str]:
    """(raw as stored with the rejected row, reason) for a line that is not UTF-8."""
    return raw.decode("utf-8", errors="replace").rstrip("\r\n"), "line is not valid UTF-8"
