"""The `normbank` command's edge: arguments checked as they are parsed, and every failure reported as one
line (`normbank: error: ...`) with no traceback. `cli.py` builds the commands with these."""

from __future__ import annotations

import argparse
import socket
import sys
from typing import NoReturn

from normbank.errors import NormbankError


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `normbank query: error: argument --limit: ... (see --help)`."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def positive_int(text: str) -> int:
    """An argument that is a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text[:40]!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {value}")
    return value


def port(text: str) -> int:
    """A TCP port number, 1 to 65535."""
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {value}")
    return value


def non_empty(text: str) -> str:
    """A text argument that holds something other than spaces (surrounding spaces are dropped)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text.strip()


def check_port_free(host: str, number: int) -> None:
    """Raise when `host:number` cannot be listened on (another server holds it, or the host is not one
    of this machine's addresses), before anything claims to serve there."""
    try:
        infos = socket.getaddrinfo(host, number, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise NormbankError(f"cannot serve on {host}:{number}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as exc:
            hint = " (another server is listening there; choose another --port)" if exc.errno == 98 else ""
            raise NormbankError(f"cannot serve on {host}:{number}: {exc.strerror}{hint}") from None


def database_error(exc: BaseException) -> str | None:
    """A database driver's error as one line without SQL or parameters, or None for other errors."""
    alchemy = sys.modules.get("sqlalchemy.exc")
    if alchemy is None or not isinstance(exc, alchemy.DBAPIError):
        return None
    reason = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0] if exc.orig else type(exc).__name__
    hint = " (the database file or its folder is read-only)" if "readonly database" in reason else ""
    return f"the database refused the command: {reason}{hint}"
