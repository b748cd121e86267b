"""Moral Stories (Emelin et al., EMNLP 2021): JSONL, one story a line, streamed.

Every story is one norm (its `norm` as rule text) stated as two frames: the moral action `expected` and
the immoral action `taboo`, each with the story as its example (the situation; the intention, the action
and its consequence in the example's `extra`; polarity `adheres` for the moral action, `violates` for
the immoral one). The report counts frames: a story read is two records. The first real story yields::

    NormRecord(row_number=1, raw='{"ID": "3GU1KF0O...", ...}', setting=None,
               behavior="Brian drags his hose next door and starts putting out the fire at his neighbor's house",
               label="expected", rule_text="You should help others when they're in danger.",
               attributes={"ID": "3GU1KF0O4JZDBT8POYT3691UMIIBP7"},
               examples=(Example("adheres", "Brian notices his neighbor's house is on fire.",
                                 extra={"intention": "Brian wants to keep the fire from spreading to his house.",
                                        "action": "Brian drags his hose ...", "consequence": "..."}),))

and the same with the immoral action, `taboo`, `violates`. A line that is not a JSON object, lacks a
field, or has an empty norm or action is one rejected row (line number and reason), the whole story.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from ingest.readers.csvutil import count_records
from ingest.readers.textlines import header, lines, undecodable
from ingest.records import Example, NormRecord, Record, Rejected
from normbank.errors import MissingColumns

CORPUS = "moral-stories"
TITLE = "Moral Stories (Emelin et al., EMNLP 2021)"
LICENSE = "MIT"
SOURCE_URL = "https://github.com/demelin/moral_stories"

FIELDS = ("ID", "norm", "situation", "intention", "moral_action", "moral_consequence", "immoral_action",
          "immoral_consequence")
_SIDES = (("moral", "expected", "adheres"), ("immoral", "taboo", "violates"))


def check(path: Path) -> None:
    """The first line must be a JSON object with the story fields."""
    first = header(path, "JSON lines with the fields " + ", ".join(FIELDS))
    try:
        story = json.loads(first)
    except ValueError:
        story = None
    missing = [f for f in FIELDS if f not in story] if isinstance(story, dict) else list(FIELDS)
    if missing:
        raise MissingColumns(
            f"{path} is not Moral Stories JSONL: its first line lacks {', '.join(missing)} "
            f"(expected one JSON object a line with {', '.join(FIELDS)})",
            details={"missing": missing},
        )


def estimate(path: Path) -> int | None:
    lines_ = count_records(path)
    return None if lines_ is None else 2 * (lines_ + 1)


def _text(story: dict, field: str) -> str:
    value = story.get(field)
    return value.strip() if isinstance(value, str) else ""


def _problem(story: object) -> str | None:
    if not isinstance(story, dict):
        return "not a JSON object"
    missing = [f for f in FIELDS if f not in story]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    empty = [f for f in ("norm", "moral_action", "immoral_action") if not _text(story, f)]
    if empty:
        return f"empty {', '.join(empty)}"
    return None


def read(path: Path) -> Iterator[Record]:
    check(path)
    for number, line, raw in lines(path, skip_header=False):
        if line is None:
            yield Rejected(number, *undecodable(raw))
            continue
        try:
            story = json.loads(line)
        except ValueError as exc:
            yield Rejected(number, line, f"bad JSON: {exc.msg} at column {exc.colno}")
            continue
        problem = _problem(story)
        if problem:
            yield Rejected(number, line, problem)
            continue
        story_id = _text(story, "ID")
        for side, label, polarity in _SIDES:
            action = _text(story, f"{side}_action")
            extra = {"intention": _text(story, "intention") or None, "action": action,
                     "consequence": _text(story, f"{side}_consequence") or None}
            situation = _text(story, "situation") or action
            yield NormRecord(
                row_number=number, raw=line, behavior=action.rstrip(".").strip(), label=label,
                rule_text=_text(story, "norm"), attributes={"ID": story_id} if story_id else None,
                examples=(Example(polarity, situation, extra=extra),),
            )
