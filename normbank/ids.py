"""Stable content-hash ids: the same content gets the same id in every database and every re-import."""

from __future__ import annotations

import hashlib

_MASK = (1 << 63) - 1  # positive signed 64-bit: fits BIGINT on PostgreSQL and INTEGER on SQLite
_SEP = "\x1f"


def stable_id(*parts: object) -> int:
    """A 63-bit id from the parts' text (None is kept distinct from the empty string)."""
    text = _SEP.join(["\x00" if p is None else p if type(p) is str else str(p) for p in parts])
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big") & _MASK


def public_norm_id(norm_id: int) -> str:
    """Norm ids travel as 16 hex digits: JSON numbers lose precision above 2**53 in most clients."""
    return f"{norm_id:016x}"


def parse_norm_id(text: str) -> int | None:
    """The integer id of a public norm id, or None when the text is not one."""
    if len(text) != 16:
        return None
    try:
        value = int(text, 16)
    except ValueError:
        return None
    return value if value <= _MASK else None
