"""What each client method sends (`Calls`, shared by the blocking and the asyncio client), how an answer is
read, and the retry policy."""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping, Optional, Sequence, Union
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from api.models import (
    GroundResponse, Health, JudgeResponse, NormPublic, NormsPublic, PartyIn, QueryResponse, Readiness, SearchResponse,
    SettingDetail, SettingsPublic, SourcesPublic, TaxonomyOut,
)
from api.operations_models import ImportJobOut, ImportJobsOut, Removal
from normbank import __version__
from normbank.client.errors import ApiError, ImportFailed, Unreachable, error_from

Party = Union[PartyIn, Mapping[str, Any], None]
Facts = Optional[Mapping[str, Any]]
Corpus = Union[bytes, str, os.PathLike]  # the bytes of a corpus file, or the path of a file or directory
ExportFormat = Literal["jsonl", "normbank"]
FINISHED = ("succeeded", "failed")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    read: Callable[[httpx.Response], Any]  # the answer of a 2xx response
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    retry: bool = True  # a read: retried on connection errors and 503 (writes are sent once)
    answers: tuple[int, ...] = ()  # non-2xx statuses whose body is still the answer (readiness: 503)
    upload: bytes | Path | None = None  # a raw body: bytes, or a file streamed from disk

    @property
    def headers(self) -> dict[str, str]:
        """A file's length, so that a server refuses an upload over its limit before it is sent."""
        return {"content-length": str(self.upload.stat().st_size)} if isinstance(self.upload, Path) else {}

    def checked(self, response: httpx.Response) -> httpx.Response:
        """`response` if it is an answer; the exception of its error code otherwise."""
        if response.is_success or response.status_code in self.answers:
            return response
        raise error_from(response)


def _model(model: type[BaseModel]) -> Callable[[httpx.Response], Any]:
    """Reads the response bytes straight into `model` (pydantic parses and validates them in one pass)."""
    return lambda response: model.model_validate_json(response.content)


def _rejected_rows(response: httpx.Response) -> list[dict[str, Any]]:
    rows = csv.DictReader(io.StringIO(response.text, newline=""))
    return [{"row": int(r["row"]) if r["row"] else None, "reason": r["reason"], "raw": r["raw"]} for r in rows]


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _fields(**fields: Any) -> dict[str, Any]:
    """The given fields, without the ones left out (None)."""
    return {k: _jsonable(v) for k, v in fields.items() if v is not None}


def _context(setting: str, person: Party, other: Party, environment: Facts) -> dict[str, Any]:
    return _fields(setting=setting, person=person, other=other, environment=environment)


class Calls:
    """The API's endpoints as `Call`s."""

    @staticmethod
    def judge(setting: str, behavior: str, person: Party, other: Party, environment: Facts) -> Call:
        body = {**_context(setting, person, other, environment), "behavior": behavior}
        return Call("POST", "/v1/judge", _model(JudgeResponse), body=body)

    @staticmethod
    def query_pages(setting: str, person: Party, other: Party, environment: Facts, behavior: str | None,
                    label: str | None, status: Sequence[str] | None, limit: int | None) -> Callable[[str | None], Call]:
        return lambda cursor: Calls.query(setting, person, other, environment, behavior, label, status, limit, cursor)

    @staticmethod
    def query(setting: str, person: Party, other: Party, environment: Facts, behavior: str | None, label: str | None,
              status: Sequence[str] | None, limit: int | None, cursor: str | None) -> Call:
        body = {**_context(setting, person, other, environment),
                **_fields(behavior=behavior, label=label, status=list(status) if status else None, limit=limit,
                          cursor=cursor)}
        return Call("POST", "/v1/query", _model(QueryResponse), body=body)

    @staticmethod
    def ground(situation: str, setting: str | None, person: Party, other: Party, environment: Facts, k: int | None,
               include_setting_less: bool | None) -> Call:
        body = {"situation": situation, **_fields(setting=setting, person=person, other=other, environment=environment, k=k,
                                                  include_setting_less=include_setting_less)}
        return Call("POST", "/v1/ground", _model(GroundResponse), body=body)

    @staticmethod
    def search(q: str, setting: str | None, label: str | None, k: int | None, mode: str | None,
               include_setting_less: bool | None) -> Call:
        params = _fields(q=q, setting=setting, label=label, k=k, mode=mode,
                         include_setting_less=None if include_setting_less is None else str(include_setting_less).lower())
        return Call("GET", "/v1/search", _model(SearchResponse), params=params)

    @staticmethod
    def norm(norm_id: str) -> Call:
        return Call("GET", f"/v1/norms/{_segment(norm_id)}", _model(NormPublic))

    @staticmethod
    def norms(setting: str | None, behavior: str | None, label: str | None, source: str | None, limit: int | None,
              cursor: str | None) -> Call:
        params = _fields(setting=setting, behavior=behavior, label=label, source=source, limit=limit, cursor=cursor)
        return Call("GET", "/v1/norms", _model(NormsPublic), params=params)

    @staticmethod
    def norms_pages(setting: str | None, behavior: str | None, label: str | None, source: str | None,
                    limit: int | None) -> Callable[[str | None], Call]:
        return lambda cursor: Calls.norms(setting, behavior, label, source, limit, cursor)

    @staticmethod
    def setting(name: str) -> Call:
        return Call("GET", f"/v1/settings/{_segment(name)}", _model(SettingDetail))

    settings = staticmethod(lambda: Call("GET", "/v1/settings", _model(SettingsPublic)))
    taxonomy = staticmethod(lambda: Call("GET", "/v1/taxonomy", _model(TaxonomyOut)))
    sources = staticmethod(lambda: Call("GET", "/v1/sources", _model(SourcesPublic)))
    health = staticmethod(lambda: Call("GET", "/healthz", _model(Health)))
    ready = staticmethod(lambda: Call("GET", "/readyz", _model(Readiness), retry=False, answers=(503,)))

    # -- operations (the writes need the client's token) --
    @staticmethod
    def import_corpus(upload: bytes | Path, format: str, source: str | None) -> Call:
        return Call("POST", "/v1/imports", _model(ImportJobOut), params=_fields(format=format, source=source),
                    upload=upload, retry=False)

    @staticmethod
    def import_job(job_id: str) -> Call:
        return Call("GET", f"/v1/imports/{_segment(job_id)}", _model(ImportJobOut))

    @staticmethod
    def import_jobs(limit: int | None) -> Call:
        return Call("GET", "/v1/imports", _model(ImportJobsOut), params=_fields(limit=limit))

    @staticmethod
    def rejected(job_id: str) -> Call:
        return Call("GET", f"/v1/imports/{_segment(job_id)}/rejected", _rejected_rows)

    @staticmethod
    def remove_source(name: str) -> Call:
        return Call("DELETE", f"/v1/sources/{_segment(name)}", _model(Removal), retry=False)

    @staticmethod
    def export(source: str | None, format: ExportFormat) -> Call:
        return Call("GET", "/v1/export", httpx.Response.read, params=_fields(source=source, format=format), retry=False)


def _segment(text: str) -> str:
    return quote(text, safe="")




@contextmanager
def corpus_upload(corpus: Corpus) -> Iterator[bytes | Path]:
    """What to send for `corpus`: its bytes, its file, or, for a directory (NormDial, the taxonomy), a tar.gz
    of it made in a temporary folder (the server unpacks zip and tar.gz uploads)."""
    if isinstance(corpus, bytes):
        yield corpus
        return
    path = Path(corpus)
    if not path.is_dir():
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="normbank-upload-") as folder:
        yield Path(shutil.make_archive(str(Path(folder) / path.name), "gztar", root_dir=path.parent, base_dir=path.name))


def finished(job: ImportJobOut) -> ImportJobOut | None:
    """The job if it succeeded, None while it is queued or running; raises ImportFailed if it failed."""
    if job.status == "failed":
        raise ImportFailed(f"import {job.id} failed: {job.error}", details=job.model_dump(), job=job)
    return job if job.status in FINISHED else None


def polling(job_id: str, timeout: float | None, interval: float) -> Iterator[float]:
    """The pauses between polls of a job (`interval`, shortened to end at the deadline); TimeoutError once
    `timeout` seconds have passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise TimeoutError(f"import {job_id} has not finished after {timeout} s")
        yield interval if left is None else min(interval, left)


class _Base:
    def __init__(self, base_url: str, token: str | None, timeout: float, retries: int, backoff: float,
                 max_backoff: float) -> None:
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        headers = {"user-agent": f"normbank-client/{__version__}"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._options = {"base_url": base_url.rstrip("/"), "headers": headers, "timeout": timeout}

    def _delays(self) -> Iterator[float]:
        """The backoff: `backoff` seconds, then twice as long each time, `retries` times."""
        return (self.backoff * 2 ** n for n in range(self.retries))

    def _pause(self, call: Call, failure: ApiError, delays: Iterator[float]) -> float:
        """Seconds to wait before sending `call` again after `failure` (the server's Retry-After if it gave
        one, at most `max_backoff`); re-raises `failure` when it is not retried or the retries are spent."""
        retried = call.retry and (isinstance(failure, Unreachable) or failure.status == 503)
        delay = next(delays, None) if retried else None
        if delay is None:
            raise failure
        return min(delay if failure.retry_after is None else failure.retry_after, self.max_backoff)

    def _unreachable(self, exc: httpx.TransportError) -> Unreachable:
        return Unreachable(f"no answer from {self._options['base_url']}: {type(exc).__name__}: {exc}")
