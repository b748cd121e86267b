"""Write access: every write endpoint depends on `WriteAccess`, which checks `Authorization: Bearer ...`
against the tokens in NORMBANK_API_TOKEN (comma-separated, so a token can be rotated without downtime).

No token configured means writes are off (403); a missing or wrong token is 401. Tokens are compared in
constant time and never logged or echoed."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException


def configured_tokens(raw: str | None) -> tuple[bytes, ...]:
    """The tokens a setting value holds (comma-separated; blanks ignored)."""
    return tuple(t.strip().encode() for t in (raw or "").split(",") if t.strip())


def _presented(request: Request) -> bytes | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip().encode()


def token_matches(presented: bytes, tokens: tuple[bytes, ...]) -> bool:
    """Whether `presented` is one of `tokens`; compares against every token, each in constant time."""
    found = False
    for token in tokens:
        found |= hmac.compare_digest(presented, token)
    return found


async def require_write_access(request: Request) -> None:
    tokens: tuple[bytes, ...] = request.app.state.write_tokens
    if not tokens:
        raise HTTPException(403, "writes are off on this server: set NORMBANK_API_TOKEN to enable them")
    presented = _presented(request)
    if presented is None:
        raise HTTPException(401, "this endpoint needs a token: send 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if not token_matches(presented, tokens):
        raise HTTPException(401, "the token is not valid", headers={"WWW-Authenticate": "Bearer"})


WriteAccess = Annotated[None, Depends(require_write_access)]
