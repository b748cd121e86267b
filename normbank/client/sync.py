"""The blocking client."""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Sequence, Union

import httpx

from api.models import (
    GroundResponse, Health, JudgeResponse, NormPublic, NormsPublic, QueryResponse, Readiness, Result, SearchResponse,
    SettingDetail, SettingsPublic, SourcesPublic, TaxonomyOut,
)
from api.operations_models import ImportJobOut, ImportJobsOut, Removal
from normbank.client.calls import (
    Call, Calls, Corpus, ExportFormat, Facts, Party, _Base, corpus_upload, finished, polling,
)
from normbank.client.errors import ApiError, error_from


class Client(_Base):
    """A blocking client. `retries` extra attempts for a read that meets a connection error or a 503,
    waiting `backoff` seconds, then twice as long each time (at most `max_backoff`, or the server's
    Retry-After). Use it as a context manager, or call `close()`."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 30.0, *,
                 retries: int = 3, backoff: float = 0.25, max_backoff: float = 5.0) -> None:
        super().__init__(base_url, token, timeout, retries, backoff, max_backoff)
        self._http = httpx.Client(**self._options)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, call: Call) -> httpx.Response:
        try:
            if isinstance(call.upload, Path):
                with call.upload.open("rb") as body:
                    return self._http.request(call.method, call.path, params=call.params, content=body,
                                              headers=call.headers)
            return self._http.request(call.method, call.path, params=call.params, json=call.body, content=call.upload)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    def _send(self, call: Call) -> Any:
        delays = self._delays()
        while True:
            try:
                return call.read(call.checked(self._request(call)))
            except ApiError as failure:
                time.sleep(self._pause(call, failure, delays))

    def _pages(self, page: Callable[[str | None], Call]) -> Iterator[Any]:
        """Every page from `page(None)` on, following `next_cursor`."""
        cursor = None
        while True:
            answer = self._send(page(cursor))
            yield answer
            if not (cursor := answer.next_cursor):
                return

    def judge(self, setting: str, behavior: str, *, person: Party = None, other: Party = None,
              environment: Facts = None) -> JudgeResponse:
        """POST /v1/judge: the verdict on one behaviour in a context."""
        return self._send(Calls.judge(setting, behavior, person, other, environment))

    def query(self, setting: str, *, person: Party = None, other: Party = None, environment: Facts = None,
              behavior: str | None = None, label: str | None = None, status: Sequence[str] | None = None,
              limit: int | None = None, cursor: str | None = None) -> QueryResponse:
        """POST /v1/query: one page of every behaviour of a setting, judged for a context."""
        return self._send(Calls.query(setting, person, other, environment, behavior, label, status, limit, cursor))

    def iter_query(self, setting: str, *, person: Party = None, other: Party = None, environment: Facts = None,
                   behavior: str | None = None, label: str | None = None, status: Sequence[str] | None = None,
                   limit: int | None = None) -> Iterator[Result]:
        """Every result of `query`, page after page (`limit` results a page) until `next_cursor` is null."""
        for page in self._pages(Calls.query_pages(setting, person, other, environment, behavior, label, status, limit)):
            yield from page.results

    def ground(self, situation: str, *, setting: str | None = None, person: Party = None, other: Party = None,
               environment: Facts = None, k: int | None = None, include_setting_less: bool | None = None) -> GroundResponse:
        """POST /v1/ground: the norms for a situation, what to ask, and a prompt-ready text."""
        return self._send(Calls.ground(situation, setting, person, other, environment, k, include_setting_less))

    def search(self, q: str, *, setting: str | None = None, label: str | None = None, k: int | None = None,
               mode: str | None = None, include_setting_less: bool | None = None) -> SearchResponse:
        """GET /v1/search: norms for a free text, best first."""
        return self._send(Calls.search(q, setting, label, k, mode, include_setting_less))

    def norm(self, norm_id: str) -> NormPublic:
        """GET /v1/norms/{id}: one norm, its source rows and examples."""
        return self._send(Calls.norm(norm_id))

    def norms(self, *, setting: str | None = None, behavior: str | None = None, label: str | None = None,
              source: str | None = None, limit: int | None = None, cursor: str | None = None) -> NormsPublic:
        """GET /v1/norms: one page of norms in id order."""
        return self._send(Calls.norms(setting, behavior, label, source, limit, cursor))

    def iter_norms(self, *, setting: str | None = None, behavior: str | None = None, label: str | None = None,
                   source: str | None = None, limit: int | None = None) -> Iterator[NormPublic]:
        """Every norm `norms` lists, page after page."""
        for page in self._pages(Calls.norms_pages(setting, behavior, label, source, limit)):
            yield from page.data

    def settings(self) -> SettingsPublic:
        """GET /v1/settings."""
        return self._send(Calls.settings())

    def setting(self, name: str) -> SettingDetail:
        """GET /v1/settings/{name}."""
        return self._send(Calls.setting(name))

    def taxonomy(self) -> TaxonomyOut:
        """GET /v1/taxonomy."""
        return self._send(Calls.taxonomy())

    def sources(self) -> SourcesPublic:
        """GET /v1/sources."""
        return self._send(Calls.sources())

    def health(self) -> Health:
        """GET /healthz."""
        return self._send(Calls.health())

    def ready(self) -> Readiness:
        """GET /readyz: `status` is "ready" or "not ready" (with the reason in `checks`); not retried."""
        return self._send(Calls.ready())

    # -- operations: the writes send the token given to the client (Unauthorized without it, Forbidden when
    # the server's writes are off) --
    def import_corpus(self, corpus: Corpus, *, format: str, source: str | None = None) -> ImportJobOut:
        """POST /v1/imports: queue an import of `corpus` (a file's path or bytes; a directory is sent as a
        tar.gz) in `format` (a reader's name, e.g. "normbank", "normdial"); the job, `queued`. Not retried."""
        with corpus_upload(corpus) as upload:
            return self._send(Calls.import_corpus(upload, format, source))

    def import_job(self, job_id: str) -> ImportJobOut:
        """GET /v1/imports/{id}: the job's status, progress and, when done, its report."""
        return self._send(Calls.import_job(job_id))

    def import_jobs(self, *, limit: int | None = None) -> ImportJobsOut:
        """GET /v1/imports: recent jobs, newest first."""
        return self._send(Calls.import_jobs(limit))

    def wait_for_import(self, job_id: str, *, timeout: float | None = None, interval: float = 0.5) -> ImportJobOut:
        """Poll the job every `interval` seconds until it has succeeded (returned) or failed (ImportFailed,
        with the job); TimeoutError after `timeout` seconds."""
        pauses = polling(job_id, timeout, interval)
        while (job := finished(self.import_job(job_id))) is None:
            time.sleep(next(pauses))
        return job

    def rejected(self, job_id: str) -> list[dict[str, Any]]:
        """GET /v1/imports/{id}/rejected: the rows the import rejected, as `{"row", "reason", "raw"}`."""
        return self._send(Calls.rejected(job_id))

    def remove_source(self, name: str) -> Removal:
        """DELETE /v1/sources/{name}: remove a source's norms, rows, examples and rejected rows. Not retried."""
        return self._send(Calls.remove_source(name))

    def iter_export(self, *, source: str | None = None, format: ExportFormat = "jsonl") -> Iterator[bytes]:
        """GET /v1/export, streamed: the bank (or one source) as JSONL (or NormBank.csv), chunk by chunk."""
        call = Calls.export(source, format)
        try:
            with self._http.stream(call.method, call.path, params=call.params) as response:
                if not response.is_success:
                    response.read()
                    raise error_from(response)
                yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    def export(self, to: Union[str, Path, BinaryIO], *, source: str | None = None, format: ExportFormat = "jsonl") -> int:
        """Write `iter_export` to a path or a binary file; the bytes written."""
        with (open(to, "wb") if isinstance(to, (str, Path)) else nullcontext(to)) as out:
            return sum(out.write(chunk) for chunk in self.iter_export(source=source, format=format))
