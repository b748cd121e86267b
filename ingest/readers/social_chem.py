"""Social-Chem-101 (Forbes et al., EMNLP 2020): rules of thumb (RoTs) in the official TSV, streamed.

The file is tab-separated without quoting (fields hold bare `"`), one record a line, "" = unanswered.
Each data line yields one norm: the RoT as rule text, its action (when broken down) as the behaviour,
else the RoT without its judgment wording ("It's good to help friends" -> "help friends"). The label
follows `action-moral-judgment` (-2/-1 taboo, 0 normal, 1/2 expected); a line without one is labelled
from the RoT's own judgment wording ("it's rude" taboo, "it's okay" normal, "you should" expected) and
rejected when that says none of these. The agreement of the judgment the label came from (`action-agree`,
else `rot-agree`: 0-4 for <1%, 5-25%, 50%, 75-90%, >99% of people) is kept next to the label, never
folded into it; the published columns (area, ids, categories, foundations, legality, pressure, ...) are
the norm's attributes, and the situation is its example (an instance of doing the action: it follows an
expected or normal norm and breaks a taboo one). The first line of the real sample yields::

    NormRecord(row_number=1, raw="amitheasshole\\t1\\ttrain\\t4\\t...", setting=None,
               behavior="helping your friends when they're feeling down", label="expected",
               rule_text="It's good to help your friends when they're feeling down.", split="train",
               agreement=0.99, agreement_band=">99%",
               attributes={"area": "amitheasshole", "m": 1, "rot-agree": 4, "action-agree": 4,
                           "rot-categorization": ["morality-ethics", "social-norms"], ...},
               examples=(Example("adheres", "making a video trying to cheer up my friend", ...),))

Rejected with the line number and reason: a wrong field count, an empty RoT, a judgment or agreement
outside its range, no judgment at all, and `rot-bad = 1` (confusing or low quality; `keep_bad=True`,
`--keep-bad` on the CLI, keeps them).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from ingest.readers.csvutil import count_records
from ingest.readers.textlines import header, lines, undecodable
from ingest.records import Example, NormRecord, Record, Rejected
from normbank.errors import MissingColumns

CORPUS = "social-chem-101"
TITLE = "Social-Chem-101 (Forbes et al., EMNLP 2020)"
LICENSE = "CC BY-SA 4.0"
SOURCE_URL = "https://github.com/mbforbes/social-chemistry-101"
OPTIONS = ("keep_bad",)

REQUIRED_COLUMNS = ("area", "split", "rot-agree", "rot-bad", "rot-judgment", "action", "action-moral-judgment",
                    "action-agree", "situation", "rot", "rot-id")
# Published columns kept as the norm's attributes when present: `|`-lists, integers, text.
LIST_ATTRIBUTES = ("rot-categorization", "rot-moral-foundations", "characters")
INT_ATTRIBUTES = ("m", "rot-agree", "action-agree", "action-moral-judgment", "action-pressure", "n-characters")
TEXT_ATTRIBUTES = ("area", "rot-judgment", "rot-char-targeting", "action-agency", "action-legal",
                   "action-char-involved", "action-hypothetical", "situation-short-id", "rot-id", "rot-worker-id",
                   "breakdown-worker-id")

JUDGMENT_LABELS = {-2: "taboo", -1: "taboo", 0: "normal", 1: "expected", 2: "expected"}
AGREEMENT_BANDS = {0: "<1%", 1: "5-25%", 2: "50%", 3: "75-90%", 4: ">99%"}
AGREEMENT_SHARES = {0: 0.0, 1: 0.05, 2: 0.5, 3: 0.75, 4: 0.99}  # the lower end of each band

# The RoT's judgment wording, tried in this order (negations before the words they negate).
_WORDING = (
    ("normal", re.compile(r"\bnot (?:obligated|required|expected|necessary|wrong|bad|mandatory)\b|"
                          r"\b(?:don't|do not|doesn't|does not) (?:have|need) to\b")),
    ("taboo", re.compile(r"\bnot\b|n't\b|\bnever\b|\bbad\b|\bwrong\b|\brude\b|\bmean\b|\bunacceptable\b|"
                         r"\binappropriate\b|\bfrowned\b|\bcruel\b|\bselfish\b|\bdisrespectful\b|\bhurtful\b|"
                         r"\bimmoral\b|\billegal\b|\bunfair\b|\bdangerous\b|\bwrong\b|\bshameful\b|\bgross\b")),
    ("normal", re.compile(r"\bok(?:ay)?\b|\bfine\b|\bnormal\b|\bacceptable\b|\ballowed\b|\bunderstandable\b|"
                          r"\bcan\b|\bmay\b|\breasonable\b|\bright to\b|\bpermissible\b|\bcommon\b|\busual\b")),
    ("expected", re.compile(r"\bshould\b|\bgood\b|\bexpected\b|\bnice\b|\bkind\b|\bimportant\b|\bpolite\b|"
                            r"\bmust\b|\bhave to\b|\bneed to\b|\bencouraged\b|\bconsiderate\b|\bgreat\b|"
                            r"\badmirable\b|\bresponsible\b|\bright\b|\bbest\b|\bwise\b|\bsmart\b|\bcourteous\b|"
                            r"\brespectful\b|\bthoughtful\b|\bgenerous\b|\bhonorable\b|\bhealthy\b|\bhelpful\b|"
                            r"\bappropriate\b|\bobligat|\brequired\b|\bproper\b|\bought\b")),
)
_LEAD = re.compile(r"^[\s,:]*(?:to|when|if|that)\s+", re.IGNORECASE)


def _columns(path: Path) -> list[str]:
    names = header(path, "the Social-Chem-101 TSV header (" + ", ".join(REQUIRED_COLUMNS) + ", ...)").split("\t")
    names = [n.strip() for n in names]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise MissingColumns(
            f"{path} is not a Social-Chem-101 TSV: missing column(s) {', '.join(missing)} "
            f"(expected tab-separated columns {', '.join(REQUIRED_COLUMNS)}, ...)",
            details={"missing": missing, "header": names[:40]},
        )
    return names


def check(path: Path, keep_bad: bool = False) -> None:
    _columns(path)


def estimate(path: Path) -> int | None:
    return count_records(path)


def wording_label(judgment: str) -> str | None:
    """The label a RoT's judgment wording states ("it's rude" -> taboo), or None when it states none."""
    text = judgment.lower().replace("\u2019", "'")
    return next((label for label, pattern in _WORDING if pattern.search(text)), None)


def behavior_of(action: str, rot: str, judgment: str) -> str:
    """The action; without one, the RoT after its judgment wording ("It's good to X" -> "X")."""
    action = action.strip().rstrip(".").strip()
    if action:
        return action
    rot = rot.strip().rstrip(".").strip()
    judgment = judgment.strip().rstrip(".")
    if judgment and rot.lower().startswith(judgment.lower()):
        rest = _LEAD.sub("", rot[len(judgment):]).strip()
        if rest:
            return rest
    return rot


def _small_int(value: str, column: str, low: int, high: int) -> tuple[int | None, str | None]:
    """(the integer in `value`, or None if empty; a reason when it is not an integer in low..high)."""
    if not value:
        return None, None
    try:
        number = int(value)
    except ValueError:
        try:
            number = float(value.strip())
        except ValueError:
            number = None
        if number is not None and number.is_integer():
            number = int(number)
    if type(number) is not int or not low <= number <= high:
        return None, f"{column} {value!r} outside {low}..{high}"
    return number, None


def _integer(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        number, _ = _small_int(value, "", -10**9, 10**9)
        return value if number is None else number


# How each attribute column's text becomes a JSON value.
_CONVERT = {**dict.fromkeys(TEXT_ATTRIBUTES, str), **dict.fromkeys(INT_ATTRIBUTES, _integer),
            **dict.fromkeys(LIST_ATTRIBUTES, lambda v: [p.strip() for p in v.split("|") if p.strip()])}


class _Columns:
    """The positions of the columns a line is read by (looked up once per file, not once per line)."""

    def __init__(self, names: list[str]):
        index = {name: i for i, name in enumerate(names)}
        self.width = len(names)
        for name in REQUIRED_COLUMNS:
            setattr(self, name.replace("-", "_"), index[name])
        self.worker = index.get("rot-worker-id")
        self.attributes = [(name, index[name], convert) for name, convert in _CONVERT.items() if name in index]

    def attributes_of(self, fields: list[str]) -> dict[str, Any]:
        out = {}
        for name, i, convert in self.attributes:
            value = fields[i].strip()
            if value:
                out[name] = convert(value)
        return out


def _record(number: int, line: str, fields: list[str], col: _Columns, keep_bad: bool) -> Record:
    rot = fields[col.rot].strip()
    if not rot:
        return Rejected(number, line, "empty rule of thumb (rot)")
    bad = fields[col.rot_bad].strip()
    if bad not in {"", "0", "1", "0.0", "1.0"}:
        return Rejected(number, line, f"rot-bad {bad!r} outside 0..1")
    if bad.startswith("1") and not keep_bad:
        return Rejected(number, line, "rot-bad = 1: the RoT was marked confusing or low quality (keep_bad keeps it)")
    judgment, problem = _small_int(fields[col.action_moral_judgment].strip(), "action-moral-judgment", -2, 2)
    rot_agree, rot_problem = _small_int(fields[col.rot_agree].strip(), "rot-agree", 0, 4)
    action_agree, action_problem = _small_int(fields[col.action_agree].strip(), "action-agree", 0, 4)
    problem = problem or rot_problem or action_problem
    if problem:
        return Rejected(number, line, problem)
    wording = fields[col.rot_judgment]
    if judgment is not None:
        label, agree = JUDGMENT_LABELS[judgment], action_agree
    else:
        label, agree = wording_label(wording), rot_agree
        if label is None:
            return Rejected(number, line, f"no action-moral-judgment, and the RoT's judgment "
                                          f"{wording.strip()!r} says neither expected, normal nor taboo")
    situation = fields[col.situation].strip()
    worker = fields[col.worker].strip() if col.worker is not None else ""
    return NormRecord(
        row_number=number, raw=line, behavior=behavior_of(fields[col.action], rot, wording), label=label,
        rule_text=rot, split=fields[col.split].strip() or None, annotator=worker or None,
        agreement=AGREEMENT_SHARES.get(agree), agreement_band=AGREEMENT_BANDS.get(agree),
        attributes=col.attributes_of(fields),
        examples=(Example("violates" if label == "taboo" else "adheres", situation),) if situation else (),
    )


def read(path: Path, keep_bad: bool = False) -> Iterator[Record]:
    col = _Columns(_columns(path))
    for number, line, raw in lines(path, skip_header=True):
        if line is None:
            yield Rejected(number, *undecodable(raw))
            continue
        fields = line.split("\t")
        if len(fields) != col.width:
            yield Rejected(number, line, f"row has {len(fields)} fields, the header has {col.width}")
            continue
        yield _record(number, line, fields, col, keep_bad)
