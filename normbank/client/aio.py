"""The asyncio client: `Client`'s methods, awaited (the iterators are async iterators)."""

from __future__ import annotations

from typing import Any, AsyncIterator, Sequence

import anyio
import httpx

from api.models import (
    GroundResponse, Health, JudgeResponse, NormPublic, NormsPublic, QueryResponse, Readiness, Result, SearchResponse,
    SettingDetail, SettingsPublic, SourcesPublic, TaxonomyOut,
)
from normbank.client.calls import Call, Calls, Facts, Party, _Base, _parse, _unreachable


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

    async def _send(self, call: Call) -> Any:
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
                    return _parse(call, response)
            await anyio.sleep(delay)
            attempt += 1

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
        cursor = None
        while True:
            page = await self.query(setting, person=person, other=other, environment=environment, behavior=behavior,
                              label=label, status=status, limit=limit, cursor=cursor)
            for result in page.results:
                yield result
            if not (cursor := page.next_cursor):
                return

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
        cursor = None
        while True:
            page = await self.norms(setting=setting, behavior=behavior, label=label, source=source, limit=limit, cursor=cursor)
            for norm in page.data:
                yield norm
            if not (cursor := page.next_cursor):
                return

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
