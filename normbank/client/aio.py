"""The asyncio client: `Client`'s methods, awaited (the iterators are async iterators)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable, Sequence

import httpx

from api.models import (
    GroundResponse, Health, JudgeResponse, NormPublic, NormsPublic, QueryResponse, Readiness, Result, SearchResponse,
    SettingDetail, SettingsPublic, SourcesPublic, TaxonomyOut,
)
from normbank.client.calls import Call, Calls, Facts, Party, _Base, _parse, _unreachable, next_cursor_of


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

    async def _fetch(self, call: Call) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.request(call.method, call.path, params=call.params, json=call.body)
            except httpx.TransportError as exc:
                delay = self._retry_after(attempt, call, None)
                if delay is None:
                    raise _unreachable(exc, self._options["base_url"]) from None
            else:
                delay = self._retry_after(attempt, call, response)
                if delay is None:
                    return response
            await asyncio.sleep(delay)
            attempt += 1

    async def _send(self, call: Call) -> Any:
        return _parse(call, await self._fetch(call))

    async def _pages(self, call_for: Callable[[str | None], Call]) -> AsyncIterator[Any]:
        """Every page; the next one is asked for while this one's models are built on a worker thread."""
        call = call_for(None)
        pending: asyncio.Task | None = asyncio.ensure_future(self._fetch(call))
        try:
            while pending is not None:
                response = await pending
                cursor = next_cursor_of(response)
                following = call_for(cursor) if cursor else None
                pending = asyncio.ensure_future(self._fetch(following)) if following else None
                yield await asyncio.to_thread(_parse, call, response)
                call = following
        finally:
            if pending is not None:
                pending.cancel()

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
        async for page in self._pages(lambda cursor: Calls.query(setting, person, other, environment, behavior, label,
                                                                  status, limit, cursor)):
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
        async for page in self._pages(lambda cursor: Calls.norms(setting, behavior, label, source, limit, cursor)):
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
