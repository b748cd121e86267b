"""The mapping file of the `table` reader (TOML): which column of a CSV, TSV or JSONL file is what.

    [source]            # provenance; every norm of the import carries it
    name = "ethics-commonsense"         # default: the mapping file's name
    licence = "MIT"
    url = "https://github.com/hendrycks/ethics"

    [file]
    format = "csv"      # csv, tsv or jsonl; default: from the data file's extension

    [columns]
    behavior = "input"  # required: what a person does
    label = "label"     # required: mapped through [labels]
    rule_text = ...     # optional: the norm as a sentence
    setting = ...       # optional: where (else the norm holds in any setting)
    constraints = ...   # optional: a conjunction in NormBank's constraint syntax
    example = "input"   # optional: an example situation
    split = ...; culture = ...; category = ...
    agreement = ...     # optional: the share of people who agree, 0..1
    attributes = ["is_short", "edited"]   # optional: kept as the norm's attributes

    [labels]            # required: every value of the label column -> expected, normal or taboo
    "1" = "taboo"
    "0" = "normal"

    [dimensions]        # optional: a column whose value constrains a dimension ("country" is the
    country = "region"  # environment's; "person.age bracket", "person.role", "other.role" the parties')

Everything is checked before a row is written: unknown keys, missing required keys, columns the file
does not have, and label values the map does not cover (the whole label column is read once for that).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from normbank.constraints import make_atom, normalise_text
from normbank.errors import InvalidInput, InvalidMapping
from normbank.labels import LABELS

FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SECTIONS = {
    "source": {"name", "licence", "url"},
    "file": {"format"},
    "columns": {"behavior", "label", "rule_text", "setting", "constraints", "example", "split", "culture",
                "category", "agreement", "attributes"},
    "labels": None,  # any keys: the label column's values
    "dimensions": None,  # any keys: dimension names
}
REQUIRED = ("columns.behavior", "columns.label", "labels")


@dataclass
class Mapping:
    path: Path
    source: str
    licence: str | None
    url: str | None
    format: str | None
    columns: dict[str, str]
    attributes: tuple[str, ...]
    labels: dict[str, str]
    dimensions: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # column -> (subject, kind, name)

    def used_columns(self) -> list[str]:
        return list(dict.fromkeys([*self.columns.values(), *self.attributes, *self.dimensions]))

    def file_format(self, data: Path) -> str:
        fmt = self.format or FORMATS.get(data.suffix.lower())
        if fmt is None:
            raise InvalidMapping(f"{self.path}: cannot tell the format of {data.name}: set file.format "
                                 f"to csv, tsv or jsonl", details={"key": "file.format"})
        return fmt


def _fail(path: Path, message: str, key: str) -> InvalidMapping:
    return InvalidMapping(f"{path}: {message}", details={"key": key})


def _dimension(path: Path, key: str) -> tuple[str, str, str]:
    """'country' -> (environment, environment, country); 'person.role' -> (person, role, role);
    'other.age bracket' -> (other, attribute, age bracket)."""
    subject, dot, name = key.partition(".")
    if not dot:
        subject, name = "environment", key
    subject, name = subject.strip().lower(), normalise_text(name)
    if subject not in {"person", "other", "environment"} or not name:
        raise _fail(path, f"dimensions.{key}: name a dimension as NAME (the environment's), person.NAME or "
                          f"other.NAME", f"dimensions.{key}")
    kind = "environment" if subject == "environment" else ("role" if name == "role" else "attribute")
    try:
        make_atom(subject, kind, name, "eq", "x")
    except InvalidInput as exc:
        raise _fail(path, f"dimensions.{key}: {exc.message}", f"dimensions.{key}") from None
    return subject, kind, name


def _check_keys(path: Path, data: dict[str, Any]) -> None:
    for section, value in data.items():
        if section not in SECTIONS:
            raise _fail(path, f"unknown key {section!r} (known: {', '.join(SECTIONS)})", section)
        if not isinstance(value, dict):
            raise _fail(path, f"{section} must be a table ([{section}])", section)
        known = SECTIONS[section]
        for key in value:
            if known is not None and key not in known:
                raise _fail(path, f"unknown key {section}.{key} (known: {', '.join(sorted(known))})",
                            f"{section}.{key}")
    for required in REQUIRED:
        section, _, key = required.partition(".")
        if section not in data or (key and key not in data[section]) or not data[section]:
            raise _fail(path, f"missing required key {required}", required)


def _strings(path: Path, section: str, values: dict[str, Any]) -> dict[str, str]:
    for key, value in values.items():
        if not isinstance(value, str) or not value.strip():
            raise _fail(path, f"{section}.{key} must be a non-empty string", f"{section}.{key}")
    return {str(k): v.strip() for k, v in values.items()}


def load_mapping(path: str | Path | None) -> Mapping:
    """The mapping at `path`, its keys checked (InvalidMapping names the key)."""
    if path is None:
        raise InvalidMapping("the table format needs a mapping file (--mapping MAP.toml)", details={"key": "mapping"})
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidMapping(f"no such mapping file: {path}", details={"key": "mapping"}) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidMapping(f"{path}: not a TOML mapping file: {exc}", details={"key": "mapping"}) from None
    _check_keys(path, data)
    columns = dict(data["columns"])
    attributes = columns.pop("attributes", [])
    if isinstance(attributes, str):
        attributes = [attributes]
    if not isinstance(attributes, list) or not all(isinstance(a, str) and a for a in attributes):
        raise _fail(path, "columns.attributes must be a list of column names", "columns.attributes")
    labels = _strings(path, "labels", data["labels"])
    for value, label in labels.items():
        if label not in LABELS:
            raise _fail(path, f"labels.{value} = {label!r}: a label is one of {', '.join(LABELS)}", f"labels.{value}")
    source = _strings(path, "source", data.get("source", {}))
    fmt = data.get("file", {}).get("format")
    if fmt is not None and fmt not in set(FORMATS.values()):
        raise _fail(path, f"file.format {fmt!r}: one of csv, tsv, jsonl", "file.format")
    dimensions = {column: _dimension(path, key)
                  for key, column in _strings(path, "dimensions", data.get("dimensions", {})).items()}
    return Mapping(path=path, source=source.get("name", path.stem), licence=source.get("licence"),
                   url=source.get("url"), format=fmt, columns=_strings(path, "columns", columns),
                   attributes=tuple(attributes), labels=labels, dimensions=dimensions)
