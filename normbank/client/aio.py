"""The asyncio client: `Client`'s methods, awaited (the iterators are async iterators)."""

from __future__ import annotations

from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import Any, AsyncIterator, BinaryIO, Callable, Sequence, Union

import anyio
import anyio.to_thread
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

CHUNK = 1 << 16


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as file:
        while chunk := await file.read(CHUNK):
            yield chunk


class AsyncClient(_Base):
    """An asyncio client: the same methods and retries as `Client`, awaited. Use it as an async context
    manager, or await `close()`."""

    def __init__(self, base_url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 30.0, *,
                 retries: int = 3, backoff: float = 0.25, max_backoff: float = 5.0) -> None:
        super().__init__(base_url, token, timeout, retries, backoff, max_backoff)
        self._http = httpx.AsyncClient(**self._options)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _request(self, call: Call) -> httpx.Response:
        content = _chunks(call.upload) if isinstance(call.upload, Path) else call.upload
        try:
            return await self._http.request(call.method, call.path, params=call.params, json=call.body, content=content,
                                            headers=call.headers)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    async def _send(self, call: Call) -> Any:
        delays = self._delays()
        while True:
            try:
                return call.read(call.checked(await self._request(call)))
            except ApiError as failure:
                await anyio.sleep(self._pause(call, failure, delays))

    async def _pages(self, page: Callable[[str | None], Call]) -> AsyncIterator[Any]:
        """Every page from `page(None)` on, following `next_cursor`."""
        cursor = None
        while True:
            answer = await self._send(page(cursor))
            yield answer
            if not (cursor := answer.next_cursor):
                return

    async def judge(self, setting: str, behavior: str, *, person: Party = None, other: Party = None,
              environment: Facts = None) -> JudgeResponse:
        """POST /v1/judge: the verdict on one behaviour in a context."""
        return await self._send(Calls.judge(setting, behavior, person, other, environment))

    async def query(self, setting: str, *, person: Party = None, other: Party = None, environment: Facts = None,
              behavior: str | None = None, label: str | None = None, status: Sequence[str] | None = None,
              limit: int | None = None, cursor: str | None = None) -> QueryResponse:
        """POST /v1/query: one page of every behaviour of a setting, judged for a context."""
        return await self._send(Calls.query(setting, person, other, environment, behavior, label, status, limit, cursor))

    async def iter_query(self, setting: str, *, person: Party = None, other: Party = None, environment: Facts = None,
                   behavior: str | None = None, label: str | None = None, status: Sequence[str] | None = None,
                   limit: int | None = None) -> AsyncIterator[Result]:
        """Every result of `query`, page after page (`limit` results a page) until `next_cursor` is null."""
        async for page in self._pages(Calls.query_pages(setting, person, other, environment, behavior, label, status,
                                                        limit)):
            for result in page.results:
                yield result

    async def ground(self, situation: str, *, setting: str | None = None, person: Party = None, other: Party = None,
               environment: Facts = None, k: int | None = None, include_setting_less: bool | None = None) -> GroundResponse:
        """POST /v1/ground: the norms for a situation, what to ask, and a prompt-ready text."""
        return await self._send(Calls.ground(situation, setting, person, other, environment, k, include_setting_less))

    async def search(self, q: str, *, setting: str | None = None, label: str | None = None, k: int | None = None,
               mode: str | None = None, include_setting_less: bool | None = None) -> SearchResponse:
        """GET /v1/search: norms for a free text, best first."""
        return await self._send(Calls.search(q, setting, label, k, mode, include_setting_less))

    async def norm(self, norm_id: str) -> NormPublic:
        """GET /v1/norms/{id}: one norm, its source rows and examples."""
        return await self._send(Calls.norm(norm_id))

    async def norms(self, *, setting: str | None = None, behavior: str | None = None, label: str | None = None,
              source: str | None = None, limit: int | None = None, cursor: str | None = None) -> NormsPublic:
        """GET /v1/norms: one page of norms in id order."""
        return await self._send(Calls.norms(setting, behavior, label, source, limit, cursor))

    async def iter_norms(self, *, setting: str | None = None, behavior: str | None = None, label: str | None = None,
                   source: str | None = None, limit: int | None = None) -> AsyncIterator[NormPublic]:
        """Every norm `norms` lists, page after page."""
        async for page in self._pages(Calls.norms_pages(setting, behavior, label, source, limit)):
            for norm in page.data:
                yield norm

    async def settings(self) -> SettingsPublic:
        """GET /v1/settings."""
        return await self._send(Calls.settings())

    async def setting(self, name: str) -> SettingDetail:
        """GET /v1/settings/{name}."""
        return await self._send(Calls.setting(name))

    async def taxonomy(self) -> TaxonomyOut:
        """GET /v1/taxonomy."""
        return await self._send(Calls.taxonomy())

    async def sources(self) -> SourcesPublic:
        """GET /v1/sources."""
        return await self._send(Calls.sources())

    async def health(self) -> Health:
        """GET /healthz."""
        return await self._send(Calls.health())

    async def ready(self) -> Readiness:
        """GET /readyz: `status` is "ready" or "not ready" (with the reason in `checks`); not retried."""
        return await self._send(Calls.ready())

    # -- operations (see Client) --
    async def import_corpus(self, corpus: Corpus, *, format: str, source: str | None = None) -> ImportJobOut:
        """POST /v1/imports: queue an import of `corpus` (a file's path or bytes; a directory is sent as a
        tar.gz) in `format`; the job, `queued`. Not retried."""
        async with _upload(corpus) as upload:
            return await self._send(Calls.import_corpus(upload, format, source))

    async def import_job(self, job_id: str) -> ImportJobOut:
        """GET /v1/imports/{id}."""
        return await self._send(Calls.import_job(job_id))

    async def import_jobs(self, *, limit: int | None = None) -> ImportJobsOut:
        """GET /v1/imports: recent jobs, newest first."""
        return await self._send(Calls.import_jobs(limit))

    async def wait_for_import(self, job_id: str, *, timeout: float | None = None, interval: float = 0.5) -> ImportJobOut:
        """Poll the job until it has succeeded (returned) or failed (ImportFailed); TimeoutError after `timeout`."""
        pauses = polling(job_id, timeout, interval)
        while (job := finished(await self.import_job(job_id))) is None:
            await anyio.sleep(next(pauses))
        return job

    async def rejected(self, job_id: str) -> list[dict[str, Any]]:
        """GET /v1/imports/{id}/rejected: the rows the import rejected, as `{"row", "reason", "raw"}`."""
        return await self._send(Calls.rejected(job_id))

    async def remove_source(self, name: str) -> Removal:
        """DELETE /v1/sources/{name}. Not retried."""
        return await self._send(Calls.remove_source(name))

    async def iter_export(self, *, source: str | None = None, format: ExportFormat = "jsonl") -> AsyncIterator[bytes]:
        """GET /v1/export, streamed chunk by chunk."""
        call = Calls.export(source, format)
        try:
            async with self._http.stream(call.method, call.path, params=call.params) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_from(response)
                async for chunk in response.aiter_bytes():
                    yield chunk
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    async def export(self, to: Union[str, Path, BinaryIO], *, source: str | None = None,
                     format: ExportFormat = "jsonl") -> int:
        """Write `iter_export` to a path or a binary file (written off the event loop); the bytes written."""
        written = 0
        with (open(to, "wb") if isinstance(to, (str, Path)) else nullcontext(to)) as out:
            async for chunk in self.iter_export(source=source, format=format):
                written += await anyio.to_thread.run_sync(out.write, chunk)
        return written


@asynccontextmanager
async def _upload(corpus: Corpus) -> AsyncIterator[bytes | Path]:
    """`corpus_upload` off the event loop: packing a directory (NormDial: tens of megabytes) takes seconds."""
    packing = corpus_upload(corpus)
    upload = await anyio.to_thread.run_sync(packing.__enter__)
    try:
        yield upload
    finally:
        await anyio.to_thread.run_sync(packing.__exit__, None, None, None)
