"""The lexical side of retrieval: the database's own full-text search.

SQLite: an FTS5 table `norm_fts` (porter stemming, BM25 ranking). PostgreSQL: a table `norm_fts` with a
generated `tsvector` column and a GIN index (ts_rank_cd ranking). Both hold one document per norm (its
rule text, behaviour, setting and category, or its statement when it has no rule text: `_NORM_DOCUMENT`),
kept in step by the import pipeline's loaders (`norm_documents_sql`). Example situations are not documents:
on NormDial's dev fold they pulled in norms of look-alike situations (recall@5 0.59 with them, 0.72
without); they shape the dense side's norm prototypes instead. Alembic's autogenerate ignores them
(`is_lexical_object`): migrations create them with raw DDL.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import Connection

LEXICAL_TABLE_PREFIX = "norm_fts"
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
MAX_QUERY_TERMS = 64
STOPWORDS = frozenset(
    "a an and are as at be been but by for from had has have he her his i if in into is it its me my no not of on "
    "or our she so that the their them then there these they this to was we were what when where which who will "
    "with you your".split()
)


def is_lexical_object(name: str | None) -> bool:
    return bool(name) and name.startswith(LEXICAL_TABLE_PREFIX)


def terms(text: str) -> list[str]:
    """Distinct lower-case word tokens without stopwords, in order (a query's OR terms)."""
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(text.lower()):
        if token not in STOPWORDS and len(token) > 1:
            seen.setdefault(token, None)
    return list(seen)[:MAX_QUERY_TERMS]


# -- DDL (used by migrations) -------------------------------------------------------------------
SQLITE_DDL = [
    "CREATE VIRTUAL TABLE norm_fts USING fts5(text, norm_id UNINDEXED, kind UNINDEXED, "
    "tokenize = 'porter unicode61 remove_diacritics 2')",
]
POSTGRES_DDL = [
    "CREATE TABLE norm_fts (id BIGSERIAL PRIMARY KEY, norm_id BIGINT NOT NULL, kind TEXT NOT NULL, "
    "text TEXT NOT NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED)",
    "CREATE INDEX norm_fts_tsv ON norm_fts USING GIN (tsv)",
    "CREATE INDEX norm_fts_norm ON norm_fts (norm_id)",
]
DROP_DDL = ["DROP TABLE IF EXISTS norm_fts"]

# The text of a norm's document: what people would type to find it.
_NORM_DOCUMENT = (
    "coalesce(n.rule_text, '') || ' ' || b.name || ' ' || coalesce(s.name, '') || ' ' || "
    "coalesce(replace(n.category, '_', ' '), '') || ' ' || CASE WHEN n.rule_text IS NULL THEN n.statement ELSE '' END"
)


def norm_documents_sql(where: str) -> str:
    """INSERT of the documents of the norms `where` selects (a condition on `norm n`), in id order."""
    return (
        f"INSERT INTO norm_fts (text, norm_id, kind) SELECT {_NORM_DOCUMENT}, n.id, 'norm' FROM norm n "
        f"JOIN behavior b ON b.id = n.behavior_id LEFT JOIN setting s ON s.id = n.setting_id WHERE {where} "
        "ORDER BY n.id"
    )


def sync_run(conn: Connection, run_id: int) -> int:
    """Add documents for the norms an import run inserted; returns documents added. (The bulk loaders
    add them batch by batch instead, as they insert the norms: `ingest.loaders`.)"""
    norm_docs = conn.exec_driver_sql(norm_documents_sql(f"n.import_run_id = {int(run_id)}")).rowcount
    return max(norm_docs, 0)


def search(conn: Connection, text: str, *, limit: int = 100, kind: str | None = None) -> list[tuple[int, str, float]]:
    """(norm id, document kind, score) best first; higher scores are better on both databases."""
    words = terms(text)
    if not words:
        return []
    kind_filter = " AND kind = :kind" if kind else ""
    params: dict[str, Any] = {"limit": int(limit)}
    if kind:
        params["kind"] = kind
    from sqlalchemy import text as sql

    if conn.dialect.name == "sqlite":
        params["q"] = " OR ".join(f'"{w}"' for w in words)
        rows = conn.execute(sql(
            f"SELECT norm_id, kind, bm25(norm_fts) AS rank FROM norm_fts WHERE norm_fts MATCH :q{kind_filter} "
            "ORDER BY rank LIMIT :limit"
        ), params).all()
        return [(int(norm_id), k, -float(rank)) for norm_id, k, rank in rows]
    params["q"] = " | ".join(words)
    rows = conn.execute(sql(
        "SELECT norm_id, kind, ts_rank_cd(tsv, q, 1) AS rank FROM norm_fts, to_tsquery('english', :q) q "
        f"WHERE tsv @@ q{kind_filter} ORDER BY rank DESC LIMIT :limit"
    ), params).all()
    return [(int(norm_id), k, float(rank)) for norm_id, k, rank in rows]
