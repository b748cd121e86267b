"""The client's exceptions: one class per code of the API's error envelope `{"error": {"code", "message",
"details"}}`, all `ApiError` (itself a `NormbankError`)."""

from __future__ import annotations

from typing import Any

import httpx

from normbank.errors import NormbankError


class ApiError(NormbankError):
    """An error answer of the API (or, as `Unreachable`, no answer at all)."""

    code = "api_error"

    def __init__(self, message: str, *, details: Any = None, status: int | None = None, code: str | None = None,
                 retry_after: float | None = None):
        super().__init__(message, details=details)
        self.status, self.retry_after = status, retry_after
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidRequest(ApiError):
    code = "invalid_request"


class NotFound(ApiError):
    code = "not_found"


class NormNotFound(NotFound):
    code = "norm_not_found"


class SettingNotFound(NotFound):
    code = "setting_not_found"


class SourceNotFound(NotFound):
    code = "source_not_found"


class ImportNotFound(NotFound):
    code = "import_not_found"


class UnreadableCorpus(InvalidRequest):
    """An upload its format's reader refuses: `unknown_corpus`, `missing_columns`, `malformed_corpus`
    (the class is picked by the code; `code` says which)."""

    code = "malformed_corpus"


class MethodNotAllowed(ApiError):
    code = "method_not_allowed"


class Unauthorized(ApiError):
    code = "unauthorized"


class Forbidden(ApiError):
    code = "forbidden"


class RequestTimeout(ApiError):
    code = "request_timeout"


class BodyTooLarge(ApiError):
    code = "body_too_large"


class DatabaseUnavailable(ApiError):
    code = "database_unavailable"


class IndexNotReady(ApiError):
    code = "index_not_ready"


class InternalError(ApiError):
    code = "internal_error"


class ImportFailed(ApiError):
    """An import job that ended `failed` (`wait_for_import`): `job` is its last state, `message` its error."""

    code = "import_failed"

    def __init__(self, message: str, *, job: Any, details: Any = None):
        super().__init__(message, details=details)
        self.job = job


class Unreachable(ApiError):
    """No answer: the connection failed (after the retries, for a read)."""

    code = "unreachable"


ERRORS: dict[str, type[ApiError]] = {cls.code: cls for cls in (
    InvalidRequest, NotFound, NormNotFound, SettingNotFound, SourceNotFound, ImportNotFound, UnreadableCorpus,
    MethodNotAllowed, Unauthorized, Forbidden, RequestTimeout, BodyTooLarge, DatabaseUnavailable, IndexNotReady,
    InternalError, Unreachable,
)} | {"unknown_corpus": UnreadableCorpus, "missing_columns": UnreadableCorpus, "invalid_mapping": UnreadableCorpus}


def error_from(response: httpx.Response) -> ApiError:
    """The exception for an error answer: its envelope's code picks the class (an unknown code: ApiError)."""
    try:
        error = response.json()["error"]
        code, message, details = str(error["code"]), str(error["message"]), error.get("details")
    except (ValueError, KeyError, TypeError):
        code, message, details = "http_error", f"HTTP {response.status_code}: {response.text[:200]}", None
    try:
        retry_after = float(response.headers["retry-after"])
    except (KeyError, ValueError):
        retry_after = None
    return ERRORS.get(code, ApiError)(message, details=details, status=response.status_code, code=code,
                                      retry_after=retry_after)


