"""Response models of the operations endpoints (imports as jobs, removing a source), apart from the routes
so that `normbank.client` can return them without importing FastAPI."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel


class ImportProgress(BaseModel):
    read: int


# An import job: queued, running, succeeded or failed; `report` is what `normbank ingest --json` prints.
class ImportJobOut(BaseModel):
    id: str
    status: str
    format: str
    source: Optional[str] = None
    filename: Optional[str] = None
    bytes: int
    created_at: Optional[str] = None
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    progress: ImportProgress
    report: Optional[dict[str, Any]] = None
    error: Optional[str] = None


class ImportJobsOut(BaseModel):
    data: list[ImportJobOut]
    count: int


# What DELETE /v1/sources/{name} took out of the bank.
class Removal(BaseModel):
    source: str
    norms: int
    rejected_rows: int
    run_id: int
