"""The constraint-framed relational schema (docs/schema.md).

Ids of taxonomy entries, atoms and norms are content hashes (`normbank.ids.stable_id`), so readers can
name rows without asking the database and a re-import of the same content inserts nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _hash_pk() -> Any:
    return Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


def _fk(target: str, *, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(BigInteger, ForeignKey(target), nullable=nullable, index=index))


# A corpus the bank has imported from (one per name; re-imports of a new file version reuse it).
class Source(SQLModel, table=True):
    __tablename__ = "source"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    kind: str = Field(sa_column=Column(Text, nullable=False))
    version: Optional[str] = Field(default=None, sa_column=Column(Text))
    licence: Optional[str] = Field(default=None, sa_column=Column(Text))
    url: Optional[str] = Field(default=None, sa_column=Column(Text))
    sha256: Optional[str] = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=_utcnow)


# One invocation of the import pipeline: committed whole, or recorded as failed with its error.
class ImportRun(SQLModel, table=True):
    __tablename__ = "import_run"
    id: Optional[int] = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    format: str = Field(sa_column=Column(Text, nullable=False))
    path: str = Field(sa_column=Column(Text, nullable=False))
    sha256: Optional[str] = Field(default=None, sa_column=Column(Text))
    status: str = Field(sa_column=Column(Text, nullable=False))
    started_at: datetime = Field(default_factory=_utcnow)
    finished_at: Optional[datetime] = None
    read: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    error: Optional[str] = Field(default=None, sa_column=Column(Text))
    # The HTTP import job that made the run (None: the command line); an export's sources are one run each.
    job_id: Optional[str] = Field(default=None, sa_column=Column(Text))


# A source row the pipeline refused, with the reason a curator needs to fix it.
class RejectedRow(SQLModel, table=True):
    __tablename__ = "rejected_row"
    __table_args__ = (UniqueConstraint("source_id", "row_number", name="uq_rejected_row_source_row"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    import_run_id: int = Field(foreign_key="import_run.id", index=True)
    source_id: int = Field(foreign_key="source.id")
    row_number: int
    raw: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))


# A place where norms hold (restaurant, library, ...).
class Setting(SQLModel, table=True):
    __tablename__ = "setting"
    id: int = _hash_pk()
    name: str = Field(sa_column=Column(Text, nullable=False, unique=True))


# A role people take in a setting (waiter in a restaurant).
class Role(SQLModel, table=True):
    __tablename__ = "role"
    __table_args__ = (UniqueConstraint("setting_id", "name", name="uq_role_setting_name"),)
    id: int = _hash_pk()
    setting_id: int = _fk("setting.id")
    name: str = Field(sa_column=Column(Text, nullable=False))


# A dimension constraints talk about: an attribute of PERSON/OTHER or a property of the environment.
class Dimension(SQLModel, table=True):
    __tablename__ = "dimension"
    __table_args__ = (UniqueConstraint("subject", "name", name="uq_dimension_subject_name"),)
    id: int = _hash_pk()
    subject: str = Field(sa_column=Column(Text, nullable=False))
    name: str = Field(sa_column=Column(Text, nullable=False))
    ordered: bool = False


# A known value of a dimension; `rank` orders the values of an ordered scale.
class DimensionValue(SQLModel, table=True):
    __tablename__ = "dimension_value"
    __table_args__ = (UniqueConstraint("dimension_id", "value", name="uq_dimension_value"),)
    id: int = _hash_pk()
    dimension_id: int = _fk("dimension.id")
    value: str = Field(sa_column=Column(Text, nullable=False))
    rank: Optional[int] = None


# Something a person does (normalised text, unique across settings).
class Behavior(SQLModel, table=True):
    __tablename__ = "behavior"
    id: int = _hash_pk()
    name: str = Field(sa_column=Column(Text, nullable=False, unique=True))


# Which behaviours the taxonomy lists for a setting (candidates, whether or not norms exist yet).
class SettingBehavior(SQLModel, table=True):
    __tablename__ = "setting_behavior"
    setting_id: int = Field(sa_column=Column(BigInteger, ForeignKey("setting.id"), primary_key=True))
    behavior_id: int = Field(sa_column=Column(BigInteger, ForeignKey("behavior.id"), primary_key=True))


# One norm frame: setting + behaviour + label, holding under the conjunction in norm_constraint.
class Norm(SQLModel, table=True):
    __tablename__ = "norm"
    __table_args__ = (Index("ix_norm_setting_behavior", "setting_id", "behavior_id"),)
    id: int = _hash_pk()
    source_id: int = Field(foreign_key="source.id", index=True)
    import_run_id: int = Field(foreign_key="import_run.id")
    setting_id: Optional[int] = _fk("setting.id", nullable=True)
    behavior_id: int = _fk("behavior.id", index=True)
    label: str = Field(sa_column=Column(Text, nullable=False))
    constraints: str = Field(sa_column=Column(Text, nullable=False))
    statement: str = Field(sa_column=Column(Text, nullable=False))
    rule_text: Optional[str] = Field(default=None, sa_column=Column(Text))
    culture: Optional[str] = Field(default=None, sa_column=Column(Text))
    category: Optional[str] = Field(default=None, sa_column=Column(Text))
    split: Optional[str] = Field(default=None, sa_column=Column(Text))
    annotator: Optional[str] = Field(default=None, sa_column=Column(Text))
    agreement: Optional[float] = None  # the share of people who hold the label (lower end of the corpus's band)
    support: int = 1
    row_number: int
    extra: Optional[dict] = Field(default=None, sa_column=Column(JSON))
    # The agreement as the corpus reports it (e.g. Social-Chem-101's "75-90%"), next to `agreement`.
    agreement_band: Optional[str] = Field(default=None, sa_column=Column(Text))
    # The source row's own attributes as published (Social-Chem-101's area, ids, legality, ...).
    attributes: Optional[dict] = Field(default=None, sa_column=Column(JSON))


# One source row behind a norm: identical frames collapse into one norm, their rows stay traceable.
class NormRow(SQLModel, table=True):
    __tablename__ = "norm_row"
    norm_id: int = Field(sa_column=Column(BigInteger, ForeignKey("norm.id"), primary_key=True))
    row_number: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    import_run_id: int = Field(foreign_key="import_run.id", index=True)


# One typed constraint, shared by every frame that uses it.
class ConstraintAtom(SQLModel, table=True):
    __tablename__ = "constraint_atom"
    __table_args__ = (
        UniqueConstraint("subject", "kind", "name", "relation", "value", name="uq_constraint_atom"),
    )
    id: int = _hash_pk()
    subject: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(sa_column=Column(Text, nullable=False))
    name: str = Field(sa_column=Column(Text, nullable=False))
    relation: str = Field(sa_column=Column(Text, nullable=False))
    value: str = Field(sa_column=Column(Text, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))


# The conjunction of a frame: which atoms must all hold.
class NormConstraint(SQLModel, table=True):
    __tablename__ = "norm_constraint"
    norm_id: int = Field(sa_column=Column(BigInteger, ForeignKey("norm.id"), primary_key=True))
    atom_id: int = Field(sa_column=Column(BigInteger, ForeignKey("constraint_atom.id"), primary_key=True, index=True))


# An example situation or dialogue for a norm, following it (adheres) or breaking it (violates).
class NormExample(SQLModel, table=True):
    __tablename__ = "norm_example"
    id: int = _hash_pk()
    norm_id: int = _fk("norm.id", index=True)
    source_id: int = Field(foreign_key="source.id")
    import_run_id: int = Field(foreign_key="import_run.id")
    row_number: int
    polarity: str = Field(sa_column=Column(Text, nullable=False))
    situation: str = Field(sa_column=Column(Text, nullable=False))
    dialogue: Optional[str] = Field(default=None, sa_column=Column(Text))
    extra: Optional[dict] = Field(default=None, sa_column=Column(JSON))


# What a vector index on disk was built from, so a stale one is detected.
class IndexMeta(SQLModel, table=True):
    __tablename__ = "index_meta"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    model: str = Field(sa_column=Column(Text, nullable=False))
    dimension: int
    rows: int
    data_version: int
    path: str = Field(sa_column=Column(Text, nullable=False))
    built_at: datetime = Field(default_factory=_utcnow)


# Which database this is: one row, a uuid written when the schema is created (migration 0003). A database
# dropped and created again gets a new one, so caches keyed on it (schema.identity.data_stamp) cannot
# answer from the old one.
class DatabaseIdentity(SQLModel, table=True):
    __tablename__ = "database_identity"
    id: Optional[int] = Field(default=None, primary_key=True)
    uuid: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=_utcnow)


# An import posted over HTTP: queued, run by the server that took the upload, then succeeded or failed.
class ImportJob(SQLModel, table=True):
    __tablename__ = "import_job"
    id: str = Field(sa_column=Column(Text, primary_key=True))
    status: str = Field(sa_column=Column(Text, nullable=False, index=True))
    format: str = Field(sa_column=Column(Text, nullable=False))
    source: Optional[str] = Field(default=None, sa_column=Column(Text))
    filename: Optional[str] = Field(default=None, sa_column=Column(Text))
    upload: str = Field(sa_column=Column(Text, nullable=False))
    bytes: int = Field(sa_column=Column(BigInteger, nullable=False))
    owner: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=_utcnow)
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    read: int = 0
    run_id: Optional[int] = None
    report: Optional[dict] = Field(default=None, sa_column=Column(JSON))
    error: Optional[str] = Field(default=None, sa_column=Column(Text))
