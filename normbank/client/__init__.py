"""A typed Python client for the normbank HTTP API: `Client` (blocking) and `AsyncClient` (asyncio), on httpx.

    from normbank.client import Client

    with Client("http://127.0.0.1:8000") as bank:
        grounded = bank.ground("A teenager orders a beer at a sushi place", k=3)
        print(grounded.prompt)

One method per endpoint, each returning the API's own response model (`api.models`,
`api.operations_models`); `iter_query` and `iter_norms` follow `next_cursor` to the last page. The
operations (`import_corpus`, `wait_for_import`, `remove_source`, `export`, ...) send the client's token as
`Authorization: Bearer`. An error answer raises the exception class of its code (`SettingNotFound`,
`Unauthorized`, ...; all `ApiError`, with `code`, `message`, `details` and `status`). Reads are idempotent,
so a connection failure or a 503 is retried with exponential backoff (`retries`, `backoff`) before it is
raised; writes are sent once. Only pydantic and httpx are needed: nothing here imports
the server's machinery (torch, faiss, the database).
"""

from normbank.client.aio import AsyncClient
from normbank.client.errors import (
    ERRORS, ApiError, BodyTooLarge, DatabaseUnavailable, Forbidden, ImportFailed, ImportNotFound, IndexNotReady,
    InternalError, InvalidRequest, MethodNotAllowed, NormNotFound, NotFound, RequestTimeout, SettingNotFound,
    SourceNotFound, Unauthorized, UnreadableCorpus, Unreachable,
)
from normbank.client.sync import Client

__all__ = [
    "Client", "AsyncClient", "ERRORS", "ApiError", "BodyTooLarge", "DatabaseUnavailable", "Forbidden", "ImportFailed",
    "ImportNotFound", "IndexNotReady", "InternalError", "InvalidRequest", "MethodNotAllowed", "NormNotFound", "NotFound",
    "RequestTimeout", "SettingNotFound", "SourceNotFound", "Unauthorized", "UnreadableCorpus", "Unreachable",
]
