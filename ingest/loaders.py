"""Bulk loading of normalised rows inside the import run's one transaction.

SQLite: `executemany` of INSERT OR IGNORE. PostgreSQL: `COPY`, straight into the tables that were empty,
and for the others into a staging table merged with INSERT ... SELECT ... ON CONFLICT DO NOTHING. Either
way a key already in the table keeps its row (so a re-import inserts nothing), each batch's new norms get
their full-text documents as soon as they are in, and support is counted from `norm_row` once at the
end. The run commits whole or leaves no trace.
"""

from __future__ import annotations

from dataclasses import fields
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, UniqueConstraint
from sqlmodel import SQLModel

from ingest.normalise import Batch
from schema import lexical
from schema import models  # noqa: F401 - registers the tables in SQLModel.metadata

# The tables a batch holds rows for, parents before children (foreign keys).
_TABLES: dict[str, Table] = {
    table.name: table for table in SQLModel.metadata.sorted_tables
    if table.name in {f.name for f in fields(Batch) if f.default_factory is list}
}
LOAD_ORDER = tuple(_TABLES)
TAXONOMY_TABLES = ("setting", "role", "behavior", "dimension", "dimension_value")


def _columns(table: Table) -> tuple[str, ...]:
    """The columns a row tuple fills: all but a key the database numbers itself."""
    return tuple(c.name for c in table.columns if c is not table.autoincrement_column)


def _conflict_key(table: Table) -> tuple[str, ...]:
    """What makes a row the same row: the primary key, or for a numbered one its unique constraint."""
    if table.autoincrement_column is None:
        return tuple(c.name for c in table.primary_key)
    unique = next(c for c in table.constraints if isinstance(c, UniqueConstraint))
    return tuple(c.name for c in unique.columns)


COLUMNS = {name: _columns(table) for name, table in _TABLES.items()}
KEYS = {name: _conflict_key(table) for name, table in _TABLES.items()}

# SQLite's page cache during a run, in KiB: the default 2 MB makes most B-tree inserts of a large import
# cache misses. A fixed cap, so memory stays flat in the file size.
SQLITE_CACHE_KIB = 128 * 1024

# A batch's rows go in ordered by their first column (the key of most tables): B-tree inserts then touch
# neighbouring pages. The sort is stable, so of a batch's rows with one key the first in the file wins.
_BY_FIRST = itemgetter(0)

# Support = the norm's source rows, for every norm this run gave rows (written only where it changed).
_SUPPORT_SQL = """
UPDATE norm SET support = c.n
FROM (SELECT r.norm_id, count(*) AS n FROM norm_row r
      WHERE r.norm_id IN (SELECT norm_id FROM norm_row WHERE import_run_id = {p}) GROUP BY r.norm_id) AS c
WHERE norm.id = c.norm_id AND norm.support <> c.n
"""


class SqliteLoader:
    """INSERT OR IGNORE in executemany batches, all inside the caller's BEGIN IMMEDIATE transaction."""

    @staticmethod
    def before_transaction(db: Any) -> int:
        """A larger page cache for the run (it cannot change inside a transaction); returns the previous size."""
        previous = db.execute("PRAGMA cache_size").fetchone()[0]
        db.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        return previous

    @staticmethod
    def after_transaction(db: Any, previous: int) -> None:
        db.execute(f"PRAGMA cache_size = {int(previous)}")

    def __init__(self, dbapi_connection: Any, run_id: int):
        self.db = dbapi_connection
        self.run_id = run_id
        self.inserted: dict[str, int] = dict.fromkeys(LOAD_ORDER, 0)
        self._sql = {table: f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                     for table, cols in COLUMNS.items()}
        # Norms get rowids above every earlier row's: a batch's new norms are those above the last seen.
        self._last_rowid = self._max_rowid()
        self._documents_sql = lexical.norm_documents_sql("n.rowid > ? AND n.import_run_id = ?")

    def _max_rowid(self) -> int:
        return self.db.execute("SELECT coalesce(max(rowid), 0) FROM norm").fetchone()[0]

    def load(self, batch: Batch) -> None:
        for table in LOAD_ORDER:
            rows = getattr(batch, table)
            if rows:
                rows.sort(key=_BY_FIRST)
                cursor = self.db.executemany(self._sql[table], rows)
                self.inserted[table] += max(cursor.rowcount, 0)
        if batch.norm:
            self.db.execute(self._documents_sql, (self._last_rowid, self.run_id))
            self._last_rowid = self._max_rowid()

    def finish(self) -> dict[str, int]:
        self.db.execute(_SUPPORT_SQL.format(p="?"), (self.run_id,))
        return self.inserted


class PostgresLoader:
    """COPY straight into the tables that were empty when the run began (the normaliser emits each key
    once per run, so nothing in them can conflict); into ON COMMIT DROP staging tables for the others,
    merged after each batch with INSERT ... SELECT ... ON CONFLICT DO NOTHING."""

    def __init__(self, dbapi_connection: Any, run_id: int):
        self.db = dbapi_connection
        self.run_id = run_id
        self.inserted: dict[str, int] = dict.fromkeys(LOAD_ORDER, 0)
        self._staged: set[str] = set()
        found = self.db.execute(" UNION ALL ".join(f"(SELECT '{t}' FROM {t} LIMIT 1)" for t in LOAD_ORDER)).fetchall()
        self._empty = set(LOAD_ORDER) - {name for (name,) in found}
        self._documents_sql = lexical.norm_documents_sql(
            "n.id IN (SELECT unnest(%s::bigint[])) AND n.import_run_id = %s")

    def load(self, batch: Batch) -> None:
        with self.db.cursor() as cursor:
            for table in LOAD_ORDER:
                rows = getattr(batch, table)
                if rows:
                    rows.sort(key=_BY_FIRST)
                    self._write(cursor, table, rows)
            if batch.norm:  # the batch's new norms: those of its norms that this run inserted
                cursor.execute(self._documents_sql, ([row[0] for row in batch.norm], self.run_id))

    def _write(self, cursor: Any, table: str, rows: list[tuple]) -> None:
        cols = ", ".join(COLUMNS[table])
        target = table if table in self._empty else self._stage(cursor, table)
        with cursor.copy(f"COPY {target} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if target == table:
            self.inserted[table] += len(rows)
            return
        # In the order of the rows in the file, so that the first row of a key wins, as on SQLite.
        key = KEYS[table]
        order = ", ".join(key + (("row_number",) if "row_number" in COLUMNS[table] and "row_number" not in key else ()))
        cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {target} ORDER BY {order} "
                       "ON CONFLICT DO NOTHING")
        self.inserted[table] += max(cursor.rowcount, 0)
        cursor.execute(f"TRUNCATE {target}")

    def _stage(self, cursor: Any, table: str) -> str:
        # IF NOT EXISTS: the sources of an export load one after another in one transaction.
        if table not in self._staged:
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS stage_{table} ON COMMIT DROP AS "
                           f"SELECT {', '.join(COLUMNS[table])} FROM {table} WITH NO DATA")
            self._staged.add(table)
        return f"stage_{table}"

    def finish(self) -> dict[str, int]:
        with self.db.cursor() as cursor:
            cursor.execute(_SUPPORT_SQL.format(p="%s"), (self.run_id,))
        return self.inserted


def make_loader(dialect: str, dbapi_connection: Any, run_id: int) -> SqliteLoader | PostgresLoader:
    if dialect == "sqlite":
        return SqliteLoader(dbapi_connection, run_id)
    if dialect == "postgresql":
        return PostgresLoader(dbapi_connection, run_id)
    raise ValueError(f"no bulk loader for {dialect}")
