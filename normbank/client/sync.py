"""The blocking client."""

from __future__ import annotations

import time
from typing import Any, Iterator, Sequence

import httpx

from api.models import (
    GroundResponse, Health, JudgeResponse, NormPublic, NormsPublic, QueryResponse, Readiness, Result, SearchResponse,
    SettingDetail, SettingsPublic, SourcesPublic, TaxonomyOut,
)
from normbank.client.calls import Call, Calls, Facts, Party, _Base, _parse, _unreachable


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

    def _send(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = self._http.request(call.method, call.path, params=call.params, json=call.body)
            except httpx.TransportError as exc:
                delay = self._retry_after(attempt, call, None)
                if delay is None:
                    raise _unreachable(exc, self._options["base_url"]) from None
            else:
                delay = self._retry_after(attempt, call, response)
                if delay is None:
                    return _parse(call, response)
            time.sleep(delay)
            attempt += 1

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
        cursor = None
        while True:
            page = self.query(setting, person=person, other=other, environment=environment, behavior=behavior,
                              label=label, status=status, limit=limit, cursor=cursor)
            yield from page.results
            if not (cursor := page.next_cursor):
                return

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
        cursor = None
        while True:
            page = self.norms(setting=setting, behavior=behavior, label=label, source=source, limit=limit, cursor=cursor)
            yield from page.data
            if not (cursor := page.next_cursor):
                return

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
