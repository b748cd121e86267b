"""The reader registry: every corpus the bank can import. The CLI, the HTTP import endpoint and the
docs are generated from `READERS`; adding a corpus means adding one module here and its fixture.

A reader module defines CORPUS, TITLE, LICENSE, SOURCE_URL, `check(path, **options)` and
`read(path, **options)`; optionally DEFAULT_SOURCE, TAXONOMY, `estimate(path)`, `reject_frame(atoms)`,
OPTIONS (the keyword options its `check` and `read` take, e.g. social-chem-101's `keep_bad`) and
`provenance(path, **options)` (the source name, licence and URL, when the file decides them, as the
`table` reader's mapping does)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Mapping

from normbank.constraints import Atom
from normbank.errors import InvalidInput, UnknownCorpus
from ingest.records import Record

# Reader modules, in the order the docs list them.
_MODULES = ("normbank", "taxonomy", "normdial", "social_chem", "moral_stories", "table", "normbank_jsonl")


@dataclass(frozen=True)
class Reader:
    """A corpus format: its constants and its `read(path)`."""

    format: str
    title: str
    licence: str
    url: str
    default_source: str
    taxonomy: bool  # loads taxonomy entries rather than norms
    read: Callable[..., Iterator[Record]]  # read(path, **options)
    check: Callable[..., None]  # check(path, **options): fails before anything is written
    estimate: Callable[[Path], int | None]
    reject_frame: Callable[[tuple[Atom, ...]], str | None] | None  # the corpus's filter rules, if it has any
    module: ModuleType
    options: tuple[str, ...] = ()

    def check_options(self, options: Mapping[str, Any]) -> None:
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            takes = ", ".join(self.options) or "none"
            raise InvalidInput(f"format {self.format!r} takes no option {', '.join(unknown)} (it takes: {takes})",
                               details={"unknown": unknown, "known": list(self.options)})

    def provenance(self, path: Path, options: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
        """(default source name, licence, URL) of what `path` holds."""
        describe = getattr(self.module, "provenance", None)
        if describe is None:
            return self.default_source, self.licence, self.url
        return describe(path, **options)


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
        options=tuple(getattr(module, "OPTIONS", ())),
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
