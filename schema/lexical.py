"""The lexical (full-text) side of retrieval: SQLite FTS5 and PostgreSQL tsvector. Filled in by the
retrieval work; here only the names migrations and Alembic's autogenerate must know about."""

from __future__ import annotations

LEXICAL_TABLE_PREFIX = "norm_fts"


def is_lexical_object(name: str | None) -> bool:
    return bool(name) and name.startswith(LEXICAL_TABLE_PREFIX)
