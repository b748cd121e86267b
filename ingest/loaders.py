"""Bulk loading of normalised rows inside the import run's one transaction.

SQLite: `executemany` batches of INSERT OR IGNORE, each batch in key order, with a larger page cache for
the run. PostgreSQL: `COPY` into temporary staging tables, merged into the real tables once at the end
with INSERT ... SELECT ... ON CONFLICT DO NOTHING (new norms get their support as they are inserted). Either
way the run commits whole or leaves no trace, and content-hash keys make re-imports insert nothing.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from ingest.normalise import Batch

# Column order of the row tuples `ingest.normalise.Batch` holds, and the conflict key of each table.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "setting": (("id", "name"), ("id",)),
    "behavior": (("id", "name"), ("id",)),
    "role": (("id", "setting_id", "name"), ("id",)),
    "setting_behavior": (("setting_id", "behavior_id"), ("setting_id", "behavior_id")),
    "dimension": (("id", "subject", "name", "ordered"), ("id",)),
    "dimension_value": (("id", "dimension_id", "value", "rank"), ("id",)),
    "constraint_atom": (("id", "subject", "kind", "name", "relation", "value", "text"), ("id",)),
    "norm": (
        ("id", "source_id", "import_run_id", "setting_id", "behavior_id", "label", "constraints", "statement",
         "rule_text", "culture", "category", "split", "annotator", "agreement", "support", "row_number", "extra"),
        ("id",),
    ),
    "norm_constraint": (("norm_id", "atom_id"), ("norm_id", "atom_id")),
    "norm_row": (("norm_id", "row_number", "import_run_id"), ("norm_id", "row_number")),
    "norm_example": (
        ("id", "norm_id", "source_id", "import_run_id", "row_number", "polarity", "situation", "dialogue", "extra"),
        ("id",),
    ),
    "rejected_row": (("import_run_id", "source_id", "row_number", "raw", "reason"), ("source_id", "row_number")),
}
# Parents before children (foreign keys).
LOAD_ORDER = tuple(COLUMNS)
TAXONOMY_TABLES = ("setting", "role", "behavior", "dimension", "dimension_value")

# Support = the norm's source rows. Norms new in this run were inserted with support 1, so only two kinds
# need counting: norms with several rows in this run, and norms of earlier runs that gained rows. On a
# first import that is the ~20% of duplicated frames rather than every norm (PostgreSQL rewrites every
# row it updates).
_SUPPORT_SQL = """
UPDATE norm SET support = (SELECT count(*) FROM norm_row r WHERE r.norm_id = norm.id)
WHERE id IN (SELECT norm_id FROM norm_row WHERE import_run_id = {p} GROUP BY norm_id HAVING count(*) > 1)
   OR id IN (SELECT r.norm_id FROM norm_row r JOIN norm n ON n.id = r.norm_id
             WHERE r.import_run_id = {p} AND n.import_run_id <> {p})
"""


# SQLite's page cache for the run's transaction (the default 2 MB makes every B-tree insert of a large
# import a cache miss); a fixed cap, so memory stays flat in the file size. Atomicity is untouched.
SQLITE_CACHE_KIB = 128 * 1024
_BY_KEY = itemgetter(0)

# PostgreSQL counts new norms' support as it inserts them; only norms of earlier runs that gained rows
# are recounted.
_SUPPORT_WINDOW = ("count(*) OVER (PARTITION BY id ORDER BY row_number "
                   "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)")
_OLD_NORMS_SUPPORT_SQL = """
UPDATE norm SET support = (SELECT count(*) FROM norm_row r WHERE r.norm_id = norm.id)
WHERE id IN (SELECT r.norm_id FROM norm_row r JOIN norm n ON n.id = r.norm_id
             WHERE r.import_run_id = {p} AND n.import_run_id <> {p})
"""


class SqliteLoader:
    """INSERT OR IGNORE in executemany batches, all inside the caller's BEGIN IMMEDIATE transaction."""

    def __init__(self, dbapi_connection: Any, run_id: int):
        self.db = dbapi_connection
        self.run_id = run_id
        self.inserted: dict[str, int] = dict.fromkeys(COLUMNS, 0)
        self._sql = {
            table: f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for table, (cols, _key) in COLUMNS.items()
        }

    def load(self, batch: Batch) -> None:
        for table in LOAD_ORDER:
            rows = getattr(batch, table)
            if rows:
                # In key order, B-tree inserts touch neighbouring pages. The sort is stable, so of a batch's
                # rows with one key the first in the file is inserted, and the others ignored.
                rows.sort(key=_BY_KEY)
                cursor = self.db.executemany(self._sql[table], rows)
                self.inserted[table] += max(cursor.rowcount, 0)

    def finish(self) -> dict[str, int]:
        self.db.execute(_SUPPORT_SQL.format(p="?"), (self.run_id,) * 3)
        return self.inserted

    @staticmethod
    def before_transaction(db: Any) -> dict[str, int]:
        """Set the bulk-load PRAGMAs (they cannot change inside a transaction); returns the previous values."""
        previous = {name: db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("cache_size", "temp_store")}
        db.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        db.execute("PRAGMA temp_store = MEMORY")  # sorts and temporary B-trees of the final statements
        return previous

    @staticmethod
    def after_transaction(db: Any, previous: dict[str, int]) -> None:
        for name, value in previous.items():
            db.execute(f"PRAGMA {name} = {int(value)}")


class PostgresLoader:
    """COPY into ON COMMIT DROP staging tables; one merge per table at the end."""

    def __init__(self, dbapi_connection: Any, run_id: int):
        self.db = dbapi_connection
        self.run_id = run_id
        self.inserted: dict[str, int] = dict.fromkeys(COLUMNS, 0)
        self._staged: set[str] = set()

    def _stage(self, table: str) -> None:
        if table not in self._staged:
            cols = ", ".join(COLUMNS[table][0])
            self.db.execute(f"CREATE TEMP TABLE stage_{table} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA")
            self._staged.add(table)

    def load(self, batch: Batch) -> None:
        with self.db.cursor() as cursor:
            for table in LOAD_ORDER:
                rows = getattr(batch, table)
                if not rows:
                    continue
                self._stage(table)
                cols = COLUMNS[table][0]
                with cursor.copy(f"COPY stage_{table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)

    def finish(self) -> dict[str, int]:
        with self.db.cursor() as cursor:
            for table in LOAD_ORDER:
                if table not in self._staged:
                    continue
                cols, key = COLUMNS[table]
                col_list = ", ".join(cols)
                # The first row of a key wins, as with INSERT OR IGNORE on SQLite.
                order = ", ".join(key) + (", row_number" if "row_number" in cols and "row_number" not in key else "")
                # A new norm's support is its rows in this run (one staged norm row per source row), so it
                # is inserted right rather than updated afterwards (PostgreSQL rewrites updated rows). The
                # window is ordered like the DISTINCT ON, so one sort serves both.
                select_list = ", ".join(_SUPPORT_WINDOW if (table, c) == ("norm", "support") else c for c in cols)
                cursor.execute(
                    f"INSERT INTO {table} ({col_list}) SELECT DISTINCT ON ({', '.join(key)}) {select_list} "
                    f"FROM stage_{table} ORDER BY {order} ON CONFLICT DO NOTHING"
                )
                self.inserted[table] = max(cursor.rowcount, 0)
            cursor.execute(_OLD_NORMS_SUPPORT_SQL.format(p="%s"), (self.run_id,) * 2)
        return self.inserted


def make_loader(dialect: str, dbapi_connection: Any, run_id: int):
    if dialect == "sqlite":
        return SqliteLoader(dbapi_connection, run_id)
    if dialect == "postgresql":
        return PostgresLoader(dbapi_connection, run_id)
    raise ValueError(f"no bulk loader for {dialect}")
