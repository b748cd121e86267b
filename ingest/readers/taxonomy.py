"""The NormBank SCENE taxonomy directory (github.com/SALT-NLP/normbank, data/raw + constraint_dict.json).

Layout read::

    Settings-Roles/<setting>.txt               roles of a setting, one per line
    Behaviors-All-Hand-Filtered/<setting>.txt  candidate behaviours of a setting, one per line
    Attributes/<name>.txt                      values of a PERSON/OTHER attribute (order matters for scales)
    constraint_dict.json                       preset lists: environment dimensions, roles, attributes

Yields one `SettingEntry(name, roles, behaviors)` per setting (a setting may appear in only one of the
two folders) and one `DimensionEntry(subject, name, values, ordered)` per attribute of PERSON and OTHER
and per environment dimension, e.g.::

    SettingEntry(name="restaurant", roles=("barback", ...), behaviors=("add salt to your food", ...))
    DimensionEntry(subject="person", name="age bracket", values=("infant", ..., "senior citizen"), ordered=True)
    DimensionEntry(subject="environment", name="time of day", values=("early morning", ...), ordered=True)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from normbank.constraints import normalise_text
from normbank.errors import CorpusNotFound
from ingest.readers.textfile import ENCODING, expect, fail, load_json, text_lines
from ingest.records import DimensionEntry, Record, SettingEntry

CORPUS = "normbank-taxonomy"
TITLE = "NormBank SCENE taxonomy (settings, roles, behaviours, attribute scales)"
LICENSE = "CC BY-SA 4.0"
SOURCE_URL = "https://github.com/SALT-NLP/normbank"
DEFAULT_SOURCE = "normbank-taxonomy"
TAXONOMY = True

ROLES_DIR = "Settings-Roles"
BEHAVIORS_DIR = "Behaviors-All-Hand-Filtered"
ATTRIBUTES_DIR = "Attributes"
CONSTRAINT_DICT = "constraint_dict.json"

# docs/corpora.md: the order of these lists is a scale.
ORDERED_ATTRIBUTES = frozenset({"age bracket", "education", "children"})
# 'time period' is listed in order too, but mixes centuries with decades ('the 21st century' before
# '2010s'): ranks taken from it would be wrong, so we keep it unordered.
ORDERED_ENVIRONMENT = frozenset({"noise", "temperature", "time of day", "day of the week"})
# `*-subset.txt` files are subsets of another attribute's list, not attributes.
SUBSET_SUFFIX = "-subset"
# In NormBank, country is an environment constraint; the attribute interface offers it for people too.
ENVIRONMENT_FROM_ATTRIBUTES = ("country",)

_BAD_NAME = re.compile("[\x00\udc80-\udcff]")  # undecodable bytes in a file name (surrogateescape)
_PERSON_ATTRIBUTES = "the PERSON PERFORMING BEHAVIOR's attribute"
_OTHER_ATTRIBUTES = "some OTHER PERSON's attribute"
_PERSON_ROLES = "the PERSON PERFORMING BEHAVIOR's role"
_ENVIRONMENT = "the environment"


def check(path: Path) -> None:
    if not path.is_dir():
        raise CorpusNotFound(f"not a taxonomy directory: {path} (expected {ROLES_DIR}/, {BEHAVIORS_DIR}/, ...)")
    if not (path / ROLES_DIR).is_dir() and not (path / BEHAVIORS_DIR).is_dir():
        raise CorpusNotFound(f"{path} holds neither {ROLES_DIR}/ nor {BEHAVIORS_DIR}/")


def _lines(path: Path) -> list[str]:
    """Trimmed, case-folded, de-duplicated lines in file order."""
    seen: dict[str, None] = {}
    for line in text_lines(path):
        text = normalise_text(line)
        if text:
            seen.setdefault(text, None)
    return list(seen)


def _presets(path: Path) -> dict[str, dict[str, list[str]]]:
    """constraint_dict.json's sections this reader uses, each checked to be an object of lists of strings."""
    file = path / CONSTRAINT_DICT
    if not file.exists():
        return {}
    document = expect(file, load_json(file), dict, "of sections at the top level")
    presets: dict[str, dict[str, list[str]]] = {}
    for section in (_PERSON_ROLES, _PERSON_ATTRIBUTES, _OTHER_ATTRIBUTES, _ENVIRONMENT):
        entries = expect(file, document.get(section, {}), dict, f"for section {section!r} (name -> list of values)")
        for name, values in entries.items():
            what = f"of strings for {name[:80]!r} in section {section!r}"
            for value in expect(file, values, list, what):
                expect(file, value, str, f"in the list {what}")
        presets[section] = entries
    return presets


def _merge(*lists: list[str]) -> tuple[str, ...]:
    merged: dict[str, None] = {}
    for values in lists:
        for value in values:
            text = normalise_text(value)
            if text:
                merged.setdefault(text, None)
    return tuple(merged)


def _files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    files = sorted(folder.glob("*.txt"))
    for file in files:
        if _BAD_NAME.search(file.stem):
            raise fail(file, f"the file name is not {ENCODING} text (it names a setting or attribute)")
    return {normalise_text(p.stem): p for p in files}


def read(path: Path) -> Iterator[Record]:
    check(path)
    presets = _presets(path)

    role_files, behavior_files = _files(path / ROLES_DIR), _files(path / BEHAVIORS_DIR)
    preset_roles = {normalise_text(k).removesuffix(" role"): v for k, v in presets.get(_PERSON_ROLES, {}).items()}
    for setting in sorted(set(role_files) | set(behavior_files)):
        roles = _merge(_lines(role_files[setting]) if setting in role_files else [], preset_roles.get(setting, []))
        behaviors = tuple(_lines(behavior_files[setting])) if setting in behavior_files else ()
        yield SettingEntry(name=setting, roles=roles, behaviors=behaviors)

    attribute_files = {
        name: p for name, p in _files(path / ATTRIBUTES_DIR).items() if not name.endswith(SUBSET_SUFFIX)
    }
    for subject, key in (("person", _PERSON_ATTRIBUTES), ("other", _OTHER_ATTRIBUTES)):
        preset = {normalise_text(k): v for k, v in presets.get(key, {}).items()}
        for name in sorted(set(attribute_files) | set(preset)):
            values = _merge(_lines(attribute_files[name]) if name in attribute_files else [], preset.get(name, []))
            yield DimensionEntry(subject=subject, name=name, values=values, ordered=name in ORDERED_ATTRIBUTES)

    environment = {normalise_text(k): v for k, v in presets.get(_ENVIRONMENT, {}).items()}
    for name in ENVIRONMENT_FROM_ATTRIBUTES:
        if name in attribute_files:
            environment.setdefault(name, _lines(attribute_files[name]))
    for name in sorted(environment):
        yield DimensionEntry(
            subject="environment", name=name, values=_merge(environment[name]), ordered=name in ORDERED_ENVIRONMENT
        )
