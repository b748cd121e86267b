"""NormBank.csv (Ziems et al., ACL 2023): one norm frame per row.

Columns used: `setting`, `behavior`, `constraints`, `norm` (required); `label`, `split`, `worker_id`
(optional; other columns of the extended exports are ignored). Each data row yields::

    NormRecord(row_number=1, raw="restaurant,drink alcohol,...", setting="restaurant",
               behavior="drink alcohol", label="taboo",
               constraints="[PERSON]'s role is 'customer' [AND] [PERSON]'s age bracket is less than 'young adult'",
               split="train", annotator=None)

or `Rejected(row_number, raw, reason)` for an empty behaviour or a bad label. Constraint text is parsed,
checked for contradictions and normalised by the pipeline, which also applies `reject_frame` below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from normbank.constraints import Atom, Kind, Relation, Subject
from normbank.labels import NORMBANK_LABEL_NUMBER, Label
from ingest.readers.csvutil import check_columns, count_records, raw_line, rows
from ingest.records import NormRecord, Record, Rejected

CORPUS = "normbank"
TITLE = "NormBank (Ziems et al., ACL 2023)"
LICENSE = "CC BY-SA 4.0"
SOURCE_URL = "https://github.com/SALT-NLP/normbank"
DEFAULT_SOURCE = "normbank"

REQUIRED_COLUMNS = ("setting", "behavior", "constraints", "norm")

# The NormBank authors dropped frames about being alive: every person in a scene is, so the frame
# says nothing about the norm (docs/corpora.md).
DROPPED_ATOMS = {
    Atom(Subject.PERSON, Kind.ATTRIBUTE, "condition or state", Relation.EQ, "alive"):
        "frames about 'condition or state is alive' were dropped by the NormBank authors (always true of a person)",
}


def check(path: Path) -> None:
    check_columns(path, REQUIRED_COLUMNS)


def estimate(path: Path) -> int | None:
    return count_records(path)


def reject_frame(atoms: tuple[Atom, ...]) -> str | None:
    """Why a parsed frame is dropped by this corpus's filter rules, or None: its first dropped atom's reason."""
    return next((DROPPED_ATOMS[atom] for atom in atoms if atom in DROPPED_ATOMS), None)


_LABELS = {label.value: (label.value, NORMBANK_LABEL_NUMBER[label]) for label in Label}  # norm -> (label, number)


def read(path: Path) -> Iterator[Record]:
    check(path)
    columns: tuple | None = None
    for number, header, fields in rows(path):
        if columns is None:
            index = {name: i for i, name in enumerate(header)}
            columns = tuple(index.get(name) for name in ("setting", "behavior", "constraints", "norm", "label",
                                                         "split", "worker_id"))
            setting_i, behavior_i, constraints_i, norm_i, label_i, split_i, worker_i = columns
            width = len(header)
        if len(fields) < width:
            yield Rejected(number, raw_line(fields), f"row has {len(fields)} fields, the header has {width}")
            continue
        behavior = fields[behavior_i].strip()
        if not behavior:
            yield Rejected(number, raw_line(fields), "empty behavior")
            continue
        norm = fields[norm_i].strip().lower()
        known = _LABELS.get(norm)
        if known is None:
            yield Rejected(number, raw_line(fields), f"bad norm {norm!r}: expected one of expected, normal, taboo")
            continue
        number_label = fields[label_i].strip() if label_i is not None else ""
        label, number_of_label = known
        if number_label and number_label != number_of_label:
            yield Rejected(
                number, raw_line(fields),
                f"label {number_label!r} does not match norm {norm!r} (expected 2, normal 1, taboo 0)",
            )
            continue
        yield NormRecord(
            row_number=number,
            raw=fields,
            setting=fields[setting_i].strip() or None,
            behavior=behavior,
            label=label,
            constraints=fields[constraints_i],
            split=(fields[split_i].strip() or None) if split_i is not None else None,
            annotator=(fields[worker_i].strip() or None) if worker_i is not None else None,
        )
