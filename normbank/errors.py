"""Domain errors. `api/errors.py` alone turns them into HTTP responses; the CLI prints their message."""

from __future__ import annotations

from typing import Any


ECHO_CHARS = 80  # an error message quotes at most this much of what a client sent


def echo(text: object) -> str:
    """What a client sent, as an error message may quote it: a short prefix, repr-quoted."""
    text = str(text)
    return repr(text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS] + "...")


def prefix(text: object) -> str:
    """What a client sent, as error details may hold it: at most ECHO_CHARS characters."""
    return str(text)[:ECHO_CHARS]


class NormbankError(Exception):
    """Base of every error the service raises on purpose."""

    code = "normbank_error"

    def __init__(self, message: str, *, details: Any = None):
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(NormbankError):
    code = "invalid_input"


class InvalidRequest(InvalidInput):
    """A malformed request to the service (bad body, bad cursor): HTTP 422."""

    code = "invalid_request"


class UnparseableAtom(InvalidInput):
    """A constraint atom that matches none of the NormBank atom forms."""

    code = "unparseable_atom"


class ContradictoryFrame(InvalidInput):
    """A conjunction that no context can satisfy (a curator should fix or drop the row)."""

    code = "contradictory_frame"

    def __init__(self, reason: str, *, details: Any = None):
        super().__init__(reason, details=details)
        self.reason = reason


class NotFound(NormbankError):
    code = "not_found"


class NormNotFound(NotFound):
    code = "norm_not_found"


class SettingNotFound(NotFound):
    code = "setting_not_found"


class SourceNotFound(NotFound):
    code = "source_not_found"


class ImportNotFound(NotFound):
    code = "import_not_found"


class UnknownCorpus(NormbankError):
    code = "unknown_corpus"


class MissingColumns(NormbankError):
    code = "missing_columns"


class CorpusNotFound(NormbankError):
    code = "corpus_not_found"


class MalformedCorpus(InvalidInput):
    """A corpus file its reader cannot parse (say a CSV field longer than the csv module accepts)."""

    code = "malformed_corpus"


class InvalidMapping(InvalidInput):
    """A `table` mapping file that names an unknown column, misses a required key or cannot map a label."""

    code = "invalid_mapping"


class DatabaseUnavailable(NormbankError):
    code = "database_unavailable"


class IndexNotReady(NormbankError):
    code = "index_not_ready"
