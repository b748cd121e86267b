"""Limits on what a client may send: the body's size and how slowly it may send it.

An ASGI middleware rather than a route dependency, so that neither a large body nor a slow one ever
reaches the application: a body over `max_body_bytes` is refused with 413 (at once when its
Content-Length says so, else as soon as the bytes received pass the limit), and a body whose next part
takes longer than `read_timeout` seconds to arrive is refused with 408. Both answer with the API's error
envelope. Once the body is in, the timeout no longer applies: a streamed answer (an export) may take as long
as it takes, while the server waits to hear whether the client went away.
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body


class _Refused(HTTPException):
    """Raised from `receive`: FastAPI lets an HTTPException through its body parsing, so the app's own
    error handler answers it; the middleware answers it itself when it is raised before the app."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(status, message)
        self.status, self.code, self.message = status, code, message


async def _refuse(send: Send, refused: _Refused) -> None:
    body = orjson.dumps(error_body(refused.code, refused.message))
    await send({"type": "http.response.start", "status": refused.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, read_timeout: float,
                 upload_limits: dict[str, int] | None = None):
        """`upload_limits`: paths that take uploads (POST) -> their own body limit."""
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.upload_limits = upload_limits or {}
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.upload_limits.get(scope["path"], self.max_body_bytes) if scope["method"] == "POST" else self.max_body_bytes
        too_large = _Refused(413, "body_too_large", f"the request body is larger than {limit} bytes")
        length = dict(scope.get("headers", ())).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            return await _refuse(send, too_large)
        received = 0
        started = complete = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:  # the body is all in: what comes next is the client leaving, however late
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout)
            except asyncio.TimeoutError:
                raise _Refused(408, "request_timeout",
                               f"the request body did not arrive within {self.read_timeout:g} seconds") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large
                complete = not message.get("more_body", False)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _Refused as refused:
            if started:
                raise
            await _refuse(send, refused)
