"""Every answer carries the bank's data version in the `X-Normbank-Data-Version` header: it changes with
each import or removal, so clients can cache answers and cite what they were based on.

An ASGI middleware (no body buffering, so streamed answers stay streamed). It pins the frame cache's
current generation when the request arrives (the cache asks the database at most every
NORMBANK_CACHE_CHECK_SECONDS) and hands it to the routes (`api.deps.get_cache`), so the header names the
data the answer was computed from even when the cache moves on meanwhile; when the database cannot be
reached the header is left out rather than failing the answer."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-normbank-data-version"
log = logging.getLogger("normbank.api")


class DataVersionHeader:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cache = scope["app"].state.cache
        try:  # off the event loop only when the database has to be asked
            generation = cache.fresh() or await run_in_threadpool(cache.current)
        except Exception as exc:  # noqa: BLE001 - the answer matters more than its header
            log.debug("no data version for the answer: %s", str(exc).splitlines()[0][:200])
            generation = None
        else:
            scope.setdefault("state", {})["generation"] = generation

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start" and generation is not None:
                message = {**message, "headers": [*message.get("headers", []), (HEADER, generation.stamp.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_version)
