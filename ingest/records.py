"""What readers yield: plain records, never database rows. The pipeline normalises and loads them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from normbank.constraints import Atom


@dataclass(slots=True)
class Example:
    """A situation (and dialogue) that follows (`adheres`) or breaks (`violates`) a norm."""

    polarity: str
    situation: str
    dialogue: str | None = None
    extra: dict[str, Any] | None = None


@dataclass(slots=True)
class NormRecord:
    """One source row stating a norm frame.

    `constraints` is NormBank constraint text (the pipeline parses and checks it); readers of corpora
    whose constraints are already structured pass `atoms` instead. Rows with equal setting, behaviour,
    label, rule text and normalised constraints collapse into one norm whose support counts them.
    """

    row_number: int
    raw: str | list[str]  # the row as text, or its fields (rendered as a CSV line only if it is rejected)
    behavior: str
    label: str
    setting: str | None = None
    constraints: str = ""
    atoms: tuple[Atom, ...] | None = None
    rule_text: str | None = None
    culture: str | None = None
    category: str | None = None
    split: str | None = None
    annotator: str | None = None
    agreement: float | None = None  # share of people who hold the label, 0..1 (lower end of `agreement_band`)
    agreement_band: str | None = None  # the agreement as the corpus reports it, e.g. "75-90%"
    extra: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = None  # the source row's own attributes, kept as published
    examples: tuple[Example, ...] = ()


@dataclass(slots=True)
class Rejected:
    """A source row the reader could not turn into a record, with the reason a curator can act on."""

    row_number: int
    raw: str
    reason: str


@dataclass(slots=True)
class SettingEntry:
    name: str
    roles: tuple[str, ...] = ()
    behaviors: tuple[str, ...] = ()


@dataclass(slots=True)
class DimensionEntry:
    """A dimension of PERSON/OTHER (attribute) or of the environment, with its known values."""

    subject: str
    name: str
    values: tuple[str, ...] = ()
    ordered: bool = False


TaxonomyEntry = Union[SettingEntry, DimensionEntry]
Record = Union[NormRecord, Rejected, SettingEntry, DimensionEntry]


@dataclass
class ImportReport:
    """The outcome of one import run (`normbank ingest --json` prints exactly these fields)."""

    source: str
    format: str
    read: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    run_id: int | None = None
    rejected_reasons: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "read": self.read,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "seconds": round(self.seconds, 3),
        }
