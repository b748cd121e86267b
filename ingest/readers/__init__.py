"""The reader registry: every corpus the bank can import. The CLI, the HTTP import endpoint and the
docs are generated from `READERS`; adding a corpus means adding one module here and its fixture."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

from normbank.constraints import Atom
from normbank.errors import UnknownCorpus
from ingest.records import Record

# Reader modules, in the order the docs list them.
_MODULES = ("normbank", "taxonomy", "normdial", "normbank_jsonl")


@dataclass(frozen=True)
class Reader:
    """A corpus format: its constants and its `read(path)`."""

    format: str
    title: str
    licence: str
    url: str
    default_source: str
    taxonomy: bool  # loads taxonomy entries rather than norms
    read: Callable[[Path], Iterator[Record]]
    check: Callable[[Path], None]
    estimate: Callable[[Path], int | None]
    reject_frame: Callable[[tuple[Atom, ...]], str | None] | None  # the corpus's filter rules, if it has any
    module: ModuleType


def _reader(module: ModuleType) -> Reader:
    return Reader(
        format=module.CORPUS,
        title=module.TITLE,
        licence=module.LICENSE,
        url=module.SOURCE_URL,
        default_source=getattr(module, "DEFAULT_SOURCE", module.CORPUS),
        taxonomy=getattr(module, "TAXONOMY", False),
        read=module.read,
        check=module.check,
        estimate=getattr(module, "estimate", lambda path: None),
        reject_frame=getattr(module, "reject_frame", None),
        module=module,
    )


READERS: dict[str, Reader] = {
    reader.format: reader
    for reader in (_reader(importlib.import_module(f"ingest.readers.{name}")) for name in _MODULES)
}


def get_reader(format: str) -> Reader:
    try:
        return READERS[format]
    except KeyError:
        raise UnknownCorpus(
            f"unknown format {format!r}; known formats: {', '.join(READERS)}",
            details={"known": list(READERS)},
        ) from None
