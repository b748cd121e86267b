"""NormDial (Li et al., EMNLP 2023): American and Chinese conversational norms with labelled dialogues.

Layout read::

    American/<adherence|violation>/<category>/cleaned_dialogue.csv   columns "", American_Norm,
                                                                      American_Situation, Labeled_Dialogue
    Chinese/<adherence|violation>/<category>/cleaned_dialogue.csv    columns "", Norm, Situation,
                                                                      cn_Norm, cn_Situation, Labeled_Dialogue

Files are read in sorted order of their relative paths (American before Chinese, adherence before
violation, categories alphabetically). `row_number` counts data rows across the whole directory from 1 in
that order, so it is unique within the source; adding or removing a file renumbers the rows after it.
A file's own `""` row index is kept in the example's `extra`.

Every row yields one record for its norm (culture, polarity folder, category, norm text), all rows of a
norm with identical norm fields so that the pipeline collapses them into one norm whose support is the
row count. The first data row of the fixture's `American/adherence/greeting/cleaned_dialogue.csv` yields::

    NormRecord(row_number=1, raw='3,"Greeting Elders First: ...', setting=None,
               behavior="greet the eldest person first", label="expected",
               atoms=(Atom(ENVIRONMENT, ENVIRONMENT, "country", EQ, "the united states"),),
               rule_text="Greeting Elders First: When an American family gathers, ...",
               culture="American", category="greeting", extra=None,
               examples=(Example(polarity="adheres",
                                 situation="Maria brings her fiancé Daniel to a Sunday lunch at ...",
                                 dialogue="Norm Action: Greet the eldest person first\\nActor of the Norm:\\n...",
                                 extra={"file": "American/adherence/greeting/cleaned_dialogue.csv", "index": 3,
                                        "norm_action": "Greet the eldest person first",
                                        "actor": "Daniel: greeter"}),))

The behaviour is what the norm is about, never its category (`choose_behavior`): for an adherence norm the
most frequent `Norm Action` of its rows in its file; for a violation norm its short title first (the
violation dialogues' actions often name the behaviour the norm breaks); else a phrase drawn from the norm
text (`ingest.readers.phrases`: "it is acceptable to not offer thanks ..." -> "not offer thanks"). Chinese
dialogues have no `Norm Action`, so a Chinese row of `Chinese/adherence/apology` yields the behaviour from
the norm's short title and the Chinese texts as imported::

    NormRecord(row_number=6, ..., behavior="light apologies", label="expected",
               atoms=(Atom(ENVIRONMENT, ENVIRONMENT, "country", EQ, "china"),),
               rule_text="Light Apologies: For a small inconvenience such as ...", culture="Chinese",
               category="apology", extra={"rule_text_zh": "规范：轻微道歉：对于撞到别人这样的小麻烦，..."},
               examples=(Example(polarity="adheres", situation="On a crowded bus in Shanghai, ...",
                                 dialogue="Actor of the Norm:\\n小李: apologizer\\n\\n(小李：哎呀，不好意思！): ...",
                                 extra={"file": "Chinese/adherence/apology/cleaned_dialogue.csv", "index": 4,
                                        "norm_action": None, "actor": "小李: apologizer",
                                        "situation_zh": "情境：在上海拥挤的公交车上，..."}),))

A row is `Rejected(row_number, raw, reason)` when its norm text or situation is empty (after removing
the label) or its field count differs from the header's; `raw` is the row as one CSV record.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from normbank.constraints import Atom, make_atom, normalise_text
from normbank.errors import CorpusNotFound
from ingest.readers.csvutil import check_columns, rows
from ingest.readers.phrases import behavior_phrase
from ingest.records import Example, NormRecord, Record, Rejected

CORPUS = "normdial"
TITLE = "NormDial (Li et al., EMNLP 2023)"
LICENSE = "research dataset, no licence published"
SOURCE_URL = "https://github.com/Aochong-Li/NormDial"
DEFAULT_SOURCE = "normdial"

FILE_NAME = "cleaned_dialogue.csv"
INDEX_COLUMN = ""  # the pandas row index; optional, kept in the example's extra


@dataclass(frozen=True)
class Culture:
    """A culture folder: its columns and the country its norms hold in."""

    norm_column: str
    situation_column: str
    country: Atom
    norm_zh_column: str | None = None
    situation_zh_column: str | None = None

    @property
    def required_columns(self) -> tuple[str, ...]:
        columns = (self.norm_column, self.situation_column, self.norm_zh_column, self.situation_zh_column)
        return tuple(c for c in columns if c) + ("Labeled_Dialogue",)


def _country(value: str) -> Atom:
    return make_atom("environment", "environment", "country", "eq", value)


CULTURES: dict[str, Culture] = {
    "American": Culture("American_Norm", "American_Situation", _country("the united states")),
    "Chinese": Culture("Norm", "Situation", _country("china"), "cn_Norm", "cn_Situation"),
}
# Polarity folder -> (norm label, example polarity). Violation files state the behaviour that breaks the
# culture's norm, so that behaviour is taboo and their dialogues are examples of breaking the norm.
POLARITIES: dict[str, tuple[str, str]] = {
    "adherence": ("expected", "adheres"),
    "violation": ("taboo", "violates"),
}
# A norm text's leading 'Title:' names its behaviour only when it is short; longer text before a colon is
# a sentence that happens to contain one ("..., including but not limited to the following: ...").
TITLE_MAX_WORDS = 8

_NORM_LABEL = re.compile(r"^(?:(?:american|chinese)\s+)?norm\s*[:：]\s*", re.IGNORECASE)
_SITUATION_LABEL = re.compile(r"^(?:(?:american|chinese)\s+)?situation\s*[:：]\s*", re.IGNORECASE)
_TITLE = re.compile(r"^([^:：.。!?！？\n]+)[:：]\s*\S")
_NORM_ACTION = re.compile(r"^\s*Norm Action\s*:[ \t]*(.*?)\s*$", re.MULTILINE)
_ACTOR = "Actor of the Norm"
_TURN = re.compile(r"\b(?:Adhered|Violated|Not Relevant)\s*\|")  # a labelled dialogue turn


def _files(path: Path) -> list[Path]:
    files = [
        file
        for culture in CULTURES for polarity in POLARITIES
        for file in (path / culture / polarity).glob(f"*/{FILE_NAME}") if file.is_file()
    ]
    return sorted(files, key=lambda file: file.relative_to(path).as_posix())


def check(path: Path) -> None:
    if not path.exists():
        raise CorpusNotFound(f"no such directory: {path}")
    if not path.is_dir():
        raise CorpusNotFound(f"not a NormDial directory: {path} (expected American/ and/or Chinese/)")
    if not any((path / culture).is_dir() for culture in CULTURES):
        raise CorpusNotFound(f"{path} holds neither American/ nor Chinese/")
    files = _files(path)
    if not files:
        raise CorpusNotFound(
            f"{path} holds no <American|Chinese>/<adherence|violation>/<category>/{FILE_NAME}"
        )
    for file in files:
        check_columns(file, CULTURES[file.parts[-4]].required_columns)


def estimate(path: Path) -> int | None:
    """Data rows in every file (a real CSV count: fields span lines, and the files are small)."""
    return sum(1 for file in _files(path) for _ in rows(file))


# -- text helpers ----------------------------------------------------------------------------------
def rule_text(norm: str) -> str:
    """The norm text trimmed, without a leading 'Norm:' / 'American Norm:' label."""
    return _NORM_LABEL.sub("", norm.strip(), count=1).strip()


def situation_text(situation: str) -> str:
    """The situation trimmed, without a leading 'Situation:' / 'American Situation:' label."""
    return _SITUATION_LABEL.sub("", situation.strip(), count=1).strip()


def norm_action(dialogue: str) -> str | None:
    """The `Norm Action:` line of a labelled dialogue (American files only)."""
    match = _NORM_ACTION.search(dialogue)
    return match.group(1) if match and match.group(1) else None


def actor(dialogue: str) -> str | None:
    """The `Actor of the Norm` line(s): text on the label's line, or the lines under it up to a blank
    line, `Dialogue:` or the first labelled turn (some dialogues start right after the actors)."""
    lines = dialogue.splitlines()
    for i, line in enumerate(lines):
        _, found, rest = line.partition(_ACTOR)
        if found:
            break
    else:
        return None
    inline = rest.lstrip(":： \t").strip()
    if inline:
        return inline
    actors = []
    for line in lines[i + 1:]:
        text = line.strip()
        if not text or text.rstrip(":：").lower() == "dialogue" or _TURN.search(text):
            break
        actors.append(text)
    return "\n".join(actors) or None


def title_of(rule: str) -> str | None:
    """The norm text's leading short 'Title:' ("Withholding Thanks: ..."), normalised, or None."""
    match = _TITLE.match(rule)
    if match and len(match.group(1).split()) <= TITLE_MAX_WORDS:
        return normalise_text(match.group(1))
    return None


def behavior_from_text(rule: str) -> str:
    """A short behaviour for a norm without a usable `Norm Action`: its leading title, else a phrase drawn
    from its text ("it is acceptable to not offer thanks ..." -> "not offer thanks ..."); never its category."""
    return title_of(rule) or behavior_phrase(rule) or normalise_text(rule)


def choose_behavior(rule: str, actions: Counter, polarity: str) -> str:
    """The behaviour of one norm from its rows' `Norm Action`s (normalised, counted) and its text.

    An adherence norm takes its most frequent action (ties: the first seen), else `behavior_from_text`. A
    violation norm takes its title first: the violation dialogues' `Norm Action` often names the behaviour
    the norm breaks ("express gratitude" under "Neglecting Gratitude for Favors"), which labelled taboo
    would say the opposite of the norm; the title names the violating behaviour."""
    action = actions.most_common(1)[0][0] if actions else None
    if polarity == "violation":
        return title_of(rule) or action or behavior_from_text(rule)
    return action or behavior_from_text(rule)


def _normalised_action(action: str) -> str:
    return normalise_text(action).rstrip(".").strip()


def raw_line(fields: list[str]) -> str:
    """A row back as one CSV record. Unlike `csvutil.raw_line` (empty line terminator, so a newline is
    not quoted) this quotes multi-line fields, which NormDial has in every row, so the raw reads back."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(fields)
    return buffer.getvalue().removesuffix("\r\n")


# -- rows ------------------------------------------------------------------------------------------
@dataclass
class _Row:
    number: int
    raw: str
    rule_text: str
    situation: str
    dialogue: str | None
    action: str | None
    extra: dict
    rule_text_zh: str | None


def _parse(path: Path, file: Path, offset: int) -> tuple[list[_Row | Rejected], int]:
    """One file's rows in order (parsed or rejected), and how many data rows it holds."""
    relative = file.relative_to(path).as_posix()
    culture = CULTURES[file.parts[-4]]
    parsed: list[_Row | Rejected] = []
    count = 0
    for local, header, fields in rows(file):
        count = local
        number = offset + local
        raw = raw_line(fields)
        if len(fields) != len(header):
            parsed.append(Rejected(number, raw, f"row has {len(fields)} fields, the header has {len(header)}"))
            continue
        row = dict(zip(header, fields))
        rule = rule_text(row[culture.norm_column])
        if not rule:
            parsed.append(Rejected(number, raw, "empty norm text"))
            continue
        situation = situation_text(row[culture.situation_column])
        if not situation:
            parsed.append(Rejected(number, raw, "empty situation"))
            continue
        dialogue = row["Labeled_Dialogue"]
        index = row.get(INDEX_COLUMN, "").strip()
        extra = {
            "file": relative,
            "index": int(index) if index.isdigit() else (index or None),
            "norm_action": norm_action(dialogue),
            "actor": actor(dialogue),
        }
        if culture.situation_zh_column:
            extra["situation_zh"] = row[culture.situation_zh_column].strip() or None
        rule_zh = row[culture.norm_zh_column].strip() if culture.norm_zh_column else None
        parsed.append(_Row(number, raw, rule, situation, dialogue if dialogue.strip() else None,
                           extra["norm_action"], extra, rule_zh or None))
    return parsed, count


def _file_records(path: Path, file: Path, offset: int) -> tuple[list[Record], int]:
    culture_name, polarity, category = file.parts[-4:-1]
    culture = CULTURES[culture_name]
    label, example_polarity = POLARITIES[polarity]
    parsed, count = _parse(path, file, offset)

    # Group first so every row of a norm gets the same behaviour (and Chinese text).
    norms: dict[str, list[_Row]] = {}
    for row in parsed:
        if isinstance(row, _Row):
            norms.setdefault(row.rule_text, []).append(row)
    behaviors: dict[str, str] = {}
    extras: dict[str, dict | None] = {}
    for rule, norm_rows in norms.items():
        actions = Counter(_normalised_action(r.action) for r in norm_rows if r.action)
        actions.pop("", None)
        # most_common keeps first-seen order among equal counts: ties go to the first action seen.
        behaviors[rule] = choose_behavior(rule, actions, polarity)
        # cn_Norm never differs between rows of one English norm in the real data; if it did, the first wins.
        rule_zh = next((r.rule_text_zh for r in norm_rows if r.rule_text_zh), None)
        extras[rule] = {"rule_text_zh": rule_zh} if rule_zh else None

    records: list[Record] = []
    for row in parsed:
        if isinstance(row, Rejected):
            records.append(row)
            continue
        records.append(NormRecord(
            row_number=row.number,
            raw=row.raw,
            setting=None,
            behavior=behaviors[row.rule_text],
            label=label,
            atoms=(culture.country,),
            rule_text=row.rule_text,
            culture=culture_name,
            category=category,
            extra=extras[row.rule_text],
            examples=(Example(polarity=example_polarity, situation=row.situation, dialogue=row.dialogue,
                              extra=row.extra),),
        ))
    return records, count


def read(path: Path) -> Iterator[Record]:
    check(path)
    offset = 0
    for file in _files(path):
        records, count = _file_records(path, file, offset)
        yield from records
        offset += count
