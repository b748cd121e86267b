"""What each client method sends (`Calls`, shared by the blocking and the asyncio client), how an answer is
read, and the retry policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, Union
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from api.models import (
    GroundResponse, Health, JudgeResponse, NormPublic, NormsPublic, PartyIn, QueryResponse, Readiness, SearchResponse,
    SettingDetail, SettingsPublic, SourcesPublic, TaxonomyOut,
)
from normbank import __version__
from normbank.client.errors import Unreachable, error_from

Party = Union[PartyIn, Mapping[str, Any], None]
Facts = Optional[Mapping[str, Any]]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    model: type[BaseModel]
    params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    retry: bool = True  # a read (every endpoint so far): retried on connection errors and 503
    answers: tuple[int, ...] = ()  # non-2xx statuses whose body is still the model (readiness: 503)


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
        return Call("POST", "/v1/judge", JudgeResponse, body=body)

    @staticmethod
    def query(setting: str, person: Party, other: Party, environment: Facts, behavior: str | None, label: str | None,
              status: Sequence[str] | None, limit: int | None, cursor: str | None) -> Call:
        body = {**_context(setting, person, other, environment),
                **_fields(behavior=behavior, label=label, status=list(status) if status else None, limit=limit,
                          cursor=cursor)}
        return Call("POST", "/v1/query", QueryResponse, body=body)

    @staticmethod
    def ground(situation: str, setting: str | None, person: Party, other: Party, environment: Facts, k: int | None,
               include_setting_less: bool | None) -> Call:
        body = {"situation": situation, **_fields(setting=setting, person=person, other=other, environment=environment, k=k,
                                                  include_setting_less=include_setting_less)}
        return Call("POST", "/v1/ground", GroundResponse, body=body)

    @staticmethod
    def search(q: str, setting: str | None, label: str | None, k: int | None, mode: str | None,
               include_setting_less: bool | None) -> Call:
        params = _fields(q=q, setting=setting, label=label, k=k, mode=mode,
                         include_setting_less=None if include_setting_less is None else str(include_setting_less).lower())
        return Call("GET", "/v1/search", SearchResponse, params=params)

    @staticmethod
    def norm(norm_id: str) -> Call:
        return Call("GET", f"/v1/norms/{_segment(norm_id)}", NormPublic)

    @staticmethod
    def norms(setting: str | None, behavior: str | None, label: str | None, source: str | None, limit: int | None,
              cursor: str | None) -> Call:
        params = _fields(setting=setting, behavior=behavior, label=label, source=source, limit=limit, cursor=cursor)
        return Call("GET", "/v1/norms", NormsPublic, params=params)

    @staticmethod
    def setting(name: str) -> Call:
        return Call("GET", f"/v1/settings/{_segment(name)}", SettingDetail)

    settings = staticmethod(lambda: Call("GET", "/v1/settings", SettingsPublic))
    taxonomy = staticmethod(lambda: Call("GET", "/v1/taxonomy", TaxonomyOut))
    sources = staticmethod(lambda: Call("GET", "/v1/sources", SourcesPublic))
    health = staticmethod(lambda: Call("GET", "/healthz", Health))
    ready = staticmethod(lambda: Call("GET", "/readyz", Readiness, retry=False, answers=(503,)))


def _segment(text: str) -> str:
    return quote(text, safe="")


def _parse(call: Call, response: httpx.Response) -> BaseModel:
    if response.is_success or response.status_code in call.answers:
        return call.model.model_validate_json(response.content)
    raise error_from(response)


class _Base:
    def __init__(self, base_url: str, token: str | None, timeout: float, retries: int, backoff: float,
                 max_backoff: float) -> None:
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        headers = {"user-agent": f"normbank-client/{__version__}"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._options = {"base_url": base_url.rstrip("/"), "headers": headers, "timeout": timeout}

    def _retry_after(self, attempt: int, call: Call, response: httpx.Response | None) -> float | None:
        """Seconds to wait before trying `call` again, or None: do not retry."""
        if not call.retry or attempt >= self.retries:
            return None
        if response is not None and response.status_code != 503:
            return None
        delay = self.backoff * 2 ** attempt
        if response is not None:
            try:
                delay = float(response.headers.get("retry-after", delay))
            except ValueError:
                pass
        return min(delay, self.max_backoff)


def _unreachable(exc: httpx.TransportError, base_url: str) -> Unreachable:
    return Unreachable(f"no answer from {base_url}: {type(exc).__name__}: {exc}")


