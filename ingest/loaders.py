"""Bulk loading of normalised rows inside the import run's one transaction.

SQLite: `executemany` batches of INSERT OR IGNORE, each batch in key order, with a larger page cache for
the run. PostgreSQL: `COPY`, each batch in key order, straight into the tables that were empty when the run
began (the normaliser emits each key once per run: nothing to merge), and into temporary staging tables
for the others, merged into the real tables once at the end with INSERT ... SELECT ... ON CONFLICT DO
NOTHING. On both, a batch's new norms get their full-text documents right after it is loaded (overlapping
the next batch's normalisation), and support is counted as the rows go in when `norm` and `norm_row` began
empty, at the end from `norm_row` otherwise. Either way the run commits whole or leaves no trace, and
content-hash keys make re-imports insert nothing.
"""

from __future__ import annotations

from collections import Counter
from operator import itemgetter
from typing import Any, Iterator

from ingest.normalise import Batch
from schema import lexical

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
# Tables whose rows `ingest.normalise.Normaliser` emits at most once per key in a run (the taxonomy's
# roles, pairs and dimensions it does not remember).
_UNIQUE_PER_RUN = frozenset({"setting", "behavior", "constraint_atom", "norm", "norm_constraint", "norm_row",
                             "norm_example", "rejected_row"})
# Small parents merged after each batch when they were not empty, so their children can still go straight in.
_EAGER_PARENTS = frozenset({"setting", "behavior", "constraint_atom"})
# Of those, the ones with foreign keys to others of them (PostgreSQL checks each COPYed row at once).
_PARENTS = {"norm": ("setting", "behavior"), "norm_constraint": ("norm", "constraint_atom"), "norm_row": ("norm",),
            "norm_example": ("norm",)}
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

# PostgreSQL: the same values, from one grouped count of the norms this run gave rows (instead of a count per
# norm), written only where they changed (PostgreSQL rewrites every row it updates).
_PG_SUPPORT_SQL = """
UPDATE norm SET support = c.n
FROM (SELECT r.norm_id, count(*) AS n FROM norm_row r
      WHERE r.norm_id IN (SELECT norm_id FROM norm_row WHERE import_run_id = %s) GROUP BY r.norm_id) c
WHERE norm.id = c.norm_id AND norm.support <> c.n
"""

# SQLite's page cache for the run's transaction (the default 2 MB makes every B-tree insert of a large
# import a cache miss); a fixed cap, so memory stays flat in the file size. Atomicity is untouched.
SQLITE_CACHE_KIB = 128 * 1024
_BY_KEY = itemgetter(0)
# SQLite, with a worker process making the batches: the deferred indexes are built once this share of the
# expected records is in, and kept up for the rest. The worker is the slower side, so the loader builds them
# while it would otherwise wait for batches, instead of after the last one: at 155k rows the end of the run
# took 0.08 s instead of 0.55 and the run 0.04-0.4 s less (load ~1.4), for 0.05-0.15 CPU-s more.
EARLY_INDEX_SHARE = 0.7
_SUPPORT = COLUMNS["norm"][0].index("support")
# The fields of a norm row its full-text document is made from.
_DOCUMENT_FIELDS = itemgetter(*(COLUMNS["norm"][0].index(c) for c in ("id", "setting_id", "behavior_id", "statement",
                                                                        "rule_text", "category")))


class ForeignKeyMissing(RuntimeError):
    """Rows loaded with a foreign key's per-row checks off refer to rows that are not there."""


class _SupportCount:
    """Support counted as the rows go in, for runs that began with `norm` and `norm_row` empty: then a norm's
    support is the number of its rows in this run, and only norms with more than one need writing (28,898
    of the 121,325 norms of the 155k-row corpus). Instead of the grouped counts over `norm_row` at the end,
    in the run's serial tail: on SQLite 0.07 CPU-s instead of 0.21 (155k-row corpus).

    PostgreSQL holds each batch's norms back until the next batch's rows are counted (`stamp` writes the
    count so far into them), so only the norms with rows further on are updated at the end: a norm's rows
    are close together (93% of the 155k corpus's repeated rows are within 5,000 rows of its first), and
    PostgreSQL writes a new version of each row it updates. Updating all 28,898 cost 0.35 s of server CPU
    (the grouped count 0.67), the few left now under 0.02 s."""

    def __init__(self) -> None:
        self.rows: Counter[int] = Counter()
        self._stamped: dict[int, int] = {}  # support written into a norm's row, where not 1

    def add(self, norm_rows: list[tuple]) -> None:
        self.rows.update(map(_BY_KEY, norm_rows))

    def stamp(self, norms: list[tuple]) -> Iterator[tuple]:
        """The norm rows with their support so far (the rows were made with 1)."""
        rows, stamped = self.rows, self._stamped
        for row in norms:
            n = rows[row[0]]
            if n > 1:
                stamped[row[0]] = n
                row = (*row[:_SUPPORT], n, *row[_SUPPORT + 1:])
            yield row

    def changed(self) -> list[tuple[int, int]]:
        """(support, norm id) of the norms whose support is not the one their row was written with, by id."""
        stamped = self._stamped
        return sorted(((n, nid) for nid, n in self.rows.items() if n != stamped.get(nid, 1)), key=itemgetter(1))


class _Documents:
    """PostgreSQL: full-text documents of a batch's norms made from their rows (`lexical.norm_document`) and
    COPYed, when the norms go straight into `norm`, rather than an INSERT ... SELECT joining norm, behavior
    and setting on the server: 2.60 s of server CPU for the 155k-row corpus's documents instead of 2.83,
    nearly all of it to_tsvector. (On SQLite, executemany of the same rows cost what the INSERT ... SELECT
    did: 0.95 CPU-s.) The names come from the run's own setting and behaviour rows (the normaliser emits
    each once per run, with or before the first norm that names it); the rows are in the order of the
    batch's norms, which the loader sorts by id, as the SELECT had them."""

    def __init__(self) -> None:
        self._settings: dict[int, str] = {}
        self._behaviors: dict[int, str] = {}

    def rows(self, batch: Batch) -> Iterator[tuple[str, int, str]]:
        """(text, norm id, kind) of each norm of the batch. Call it for every batch, in order: it learns the
        batch's names at once, whether or not the rows are used."""
        self._settings.update(batch.setting)
        self._behaviors.update(batch.behavior)
        settings, behaviors, document = self._settings, self._behaviors, lexical.norm_document
        return ((document(rule_text, behaviors[bid], settings.get(sid), category, statement), nid, "norm")
                for nid, sid, bid, statement, rule_text, category in map(_DOCUMENT_FIELDS, batch.norm))


class SqliteLoader:
    """INSERT OR IGNORE in executemany batches, all inside the caller's BEGIN IMMEDIATE transaction."""

    def __init__(self, dbapi_connection: Any, run_id: int, *, expected_records: int | None = None):
        self.db = dbapi_connection
        self.run_id = run_id
        self.inserted: dict[str, int] = dict.fromkeys(COLUMNS, 0)
        # Records after which the deferred indexes are built (the rest go in with them), or None: at the end.
        self._build_at = int(expected_records * EARLY_INDEX_SHARE) if expected_records else None
        self._read = 0
        self._sql = {
            table: f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for table, (cols, _key) in COLUMNS.items()
        }
        # Norms get rowids above every earlier row's: a batch's new norms are those above the last seen.
        self._last_rowid = self.db.execute("SELECT coalesce(max(rowid), 0) FROM norm").fetchone()[0]
        self._documents_sql = lexical.norm_documents_sql("n.rowid > ? AND n.import_run_id = ?")
        self.documents_synced = True
        # Secondary indexes of tables empty at the start are dropped now and built once at the end, or after
        # EARLY_INDEX_SHARE of the expected records (a sort instead of a B-tree insert per row, for all or most
        # of the rows). Inside the run's transaction: readers keep seeing the
        # committed schema and data, and a killed run leaves them as they were.
        empty = [t for t in _UNIQUE_PER_RUN if self.db.execute(f"SELECT 1 FROM {t} LIMIT 1").fetchone() is None]
        self._support = _SupportCount() if {"norm", "norm_row"} <= set(empty) else None
        self._deferred: list[str] = []
        if empty:
            for name, sql in self.db.execute(
                f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                f"AND tbl_name IN ({', '.join('?' * len(empty))}) ORDER BY name", sorted(empty),
            ).fetchall():
                if not sql.upper().startswith("CREATE UNIQUE"):
                    self.db.execute(f'DROP INDEX "{name}"')
                    self._deferred.append(sql)

    def load(self, batch: Batch) -> None:
        for table in LOAD_ORDER:
            rows = getattr(batch, table)
            if rows:
                # In key order, B-tree inserts touch neighbouring pages. The sort is stable, so of a batch's
                # rows with one key the first in the file is inserted, and the others ignored.
                rows.sort(key=_BY_KEY)
                cursor = self.db.executemany(self._sql[table], rows)
                self.inserted[table] += max(cursor.rowcount, 0)
        if self._support is not None:
            self._support.add(batch.norm_row)
        if batch.norm:  # full-text documents of the norms this batch inserted, in rowid order as before
            self.db.execute(self._documents_sql, (self._last_rowid, self.run_id))
            self._last_rowid = self.db.execute("SELECT coalesce(max(rowid), 0) FROM norm").fetchone()[0]
        self._read += batch.read
        if self._build_at is not None and self._read >= self._build_at:
            self._build_deferred()

    def _build_deferred(self) -> None:
        for sql in self._deferred:
            self.db.execute(sql)
        self._deferred = []

    def finish(self) -> dict[str, int]:
        if self._support is not None:
            self.db.executemany("UPDATE norm SET support = ? WHERE id = ?", self._support.changed())
        else:
            self.db.execute(_SUPPORT_SQL.format(p="?"), (self.run_id,) * 3)
        self._build_deferred()
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
    """COPY straight into the tables that were empty when the run began (the normaliser emits each of
    their keys once per run, so nothing can conflict); COPY into ON COMMIT DROP staging tables, merged once
    at the end, for the others.

    Into tables that were empty, the rows go without their secondary indexes and without the foreign keys
    between two such tables (nor, where no foreign key refers to it, their primary key): all are dropped at
    the first batch and made again at the end, inside the run's transaction (a killed run rolls them back
    with it). Building an index once, and checking a foreign key with one join, costs a fraction of keeping
    them row by row (the foreign keys' per-row checks were most of a first import's database time). Until the run commits, those tables are locked, as they were empty
    a reader only waits to see the first import whole.

    Their foreign keys to tables that were not empty (import_run, source) stay: dropping one would lock the
    table it refers to against every reader (import_run gives the service its data version) until the run
    commits. A superuser's run turns their per-row checks off instead (`_disable_checks`: a lock on the
    loaded table only) and checks each once at the end."""

    def __init__(self, dbapi_connection: Any, run_id: int):
        self.db = dbapi_connection
        self.run_id = run_id
        self.inserted: dict[str, int] = dict.fromkeys(COLUMNS, 0)
        self._staged: set[str] = set()
        self._direct: set[str] | None = None  # tables COPYed straight into (decided at the first batch)
        self._eager: set[str] = set()  # staged tables merged after each batch (parents of direct tables)
        self._deferred: list[str] = []  # DDL to run at the end: indexes, then foreign keys
        self._unchecked: list[tuple] = []  # foreign keys whose per-row checks are off until `finish`
        self._support: _SupportCount | None = None  # when `norm_row` goes straight in (and so `norm` too)
        self._held: list[tuple] = []  # the last batch's norms, written once the next batch's rows are counted
        self.documents_synced = False  # True once norms go straight into `norm`: documents follow each batch
        self._documents = _Documents()

    def _start(self) -> set[str]:
        """The tables rows are COPYed straight into; drops what is deferred to `finish`."""
        tables = sorted(_UNIQUE_PER_RUN | {"norm_fts"})
        found = self.db.execute(
            " UNION ALL ".join(f"(SELECT '{t}' FROM {t} LIMIT 1)" for t in tables)).fetchall()
        empty = set(tables) - {row[0] for row in found}
        # A table goes straight in when it was empty and its parents' new rows are in place before its own:
        # they went straight in too, or they are small taxonomy tables merged batch by batch (`_eager`).
        # Otherwise (say norm_example empty but norm not) it is staged like the rest.
        direct: set[str] = set()
        for table in LOAD_ORDER:
            if table in empty and table in _UNIQUE_PER_RUN and all(
                    p in direct or p in _EAGER_PARENTS for p in _PARENTS.get(table, ())):
                direct.add(table)
        self._eager = {p for t in direct for p in _PARENTS.get(t, ()) if p not in direct}
        if "norm_row" in direct:  # and so `norm` too
            self._support = _SupportCount()
        if empty:
            names = sorted(empty)
            fks = self.db.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) AND confrelid = ANY(%s::regclass[]) "
                "ORDER BY conrelid::regclass::text, conname", (names, names)).fetchall()
            indexes = self.db.execute(
                "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
                "WHERE indrelid = ANY(%s::regclass[]) AND NOT indisprimary AND NOT indisunique "
                "ORDER BY indexrelid::regclass::text", (names,)).fetchall()
            # So are the primary keys of the tables rows go straight into, where no foreign key refers to
            # them (the normaliser emits each of their keys once per run, so nothing needs them before the
            # end). At 155k rows, norm_constraint's 320k rows cost 0.13 s + 0.11 s to build the key instead
            # of 0.48 s with it, norm_row's 155k 0.08 s + 0.05 s instead of 0.24 s (server CPU).
            keys = self.db.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint p "
                "WHERE contype = 'p' AND conrelid = ANY(%s::regclass[]) AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.confrelid = p.conrelid) "
                "ORDER BY conrelid::regclass::text", (sorted(direct),)).fetchall()
            for table, name, _definition in fks + keys:
                self.db.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _definition in indexes:
                self.db.execute(f"DROP INDEX {name}")
            self._deferred = [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                              for table, name, definition in keys]
            self._deferred += [definition for _name, definition in indexes] + [
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition in fks]
        if direct and self.db.execute("SELECT current_setting('is_superuser')").fetchone()[0] == "on":
            self._unchecked = self._disable_checks(sorted(direct))
        return direct

    def _disable_checks(self, tables: list[str]) -> list[tuple]:
        """Superuser only: disable the per-row checks of the foreign keys the tables rows go straight into
        keep (to tables that were not empty: import_run, source), as `pg_restore --disable-triggers` does;
        `finish` checks them once, locks the rows they refer to as the per-row checks do, and enables them
        again. Their per-row checks were a fifth of a first import's database time (1.2-1.3 s of server CPU
        at 155k rows). A non-superuser cannot disable them, and keeps them (dropping such a key would lock
        import_run against every reader until the run commits). The constraints themselves stay."""
        keys = self.db.execute(
            "SELECT c.conrelid::regclass::text, c.conname, c.confrelid::regclass::text, "
            "ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a "
            "      ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), "
            "ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a "
            "      ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i), "
            "ARRAY(SELECT t.tgname::text FROM pg_trigger t WHERE t.tgconstraint = c.oid AND t.tgrelid = c.conrelid "
            "      AND t.tgisinternal AND t.tgenabled <> 'D' ORDER BY t.tgname) "
            "FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[]) "
            "ORDER BY 1, 2", (tables,)).fetchall()
        unchecked = []
        for table, name, parent, columns, parent_columns, triggers in keys:
            if triggers:
                for trigger in triggers:
                    self.db.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{trigger}"')
                unchecked.append((table, name, parent, columns, parent_columns, triggers))
        return unchecked

    def _check_unchecked(self, cursor: Any) -> None:
        """The foreign keys `_disable_checks` left unchecked: every value of the rows is in the table it
        refers to (MATCH SIMPLE: rows with a null column pass), those rows locked FOR KEY SHARE as the per-row
        checks lock them; then their checks are enabled again."""
        for table, name, parent, columns, parent_columns, triggers in self._unchecked:
            cols = ", ".join(f'c."{c}"' for c in columns)
            not_null = " AND ".join(f'c."{c}" IS NOT NULL' for c in columns)
            parent_cols = ", ".join(f'p."{c}"' for c in parent_columns)
            wanted, found = cursor.execute(
                f"WITH k AS MATERIALIZED (SELECT DISTINCT {cols} FROM {table} c WHERE {not_null}), "
                f"f AS (SELECT 1 FROM ONLY {parent} p WHERE ({parent_cols}) IN (SELECT * FROM k) FOR KEY SHARE OF p) "
                f"SELECT (SELECT count(*) FROM k), (SELECT count(*) FROM f)").fetchone()
            if found != wanted:
                raise ForeignKeyMissing(f'table "{table}" has rows that violate foreign key constraint "{name}": '
                                        f"{wanted - found} value(s) not in {parent}")
            for trigger in triggers:
                cursor.execute(f'ALTER TABLE {table} ENABLE TRIGGER "{trigger}"')
        self._unchecked = []

    def _target_of(self, table: str) -> str:
        if self._direct is None:
            self._direct = self._start()
        if table in self._direct:
            return table
        if table not in self._staged:
            cols = ", ".join(COLUMNS[table][0])
            self.db.execute(f"CREATE TEMP TABLE stage_{table} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA")
            self._staged.add(table)
        return f"stage_{table}"

    def load(self, batch: Batch) -> None:
        with self.db.cursor() as cursor:
            norms: list[tuple] = []
            for table in LOAD_ORDER:
                rows = getattr(batch, table)
                if not rows:
                    continue
                target = self._target_of(table)
                cols = COLUMNS[table][0]
                rows.sort(key=_BY_KEY)  # as on SQLite: a batch's rows in key order
                if table == "norm" and self._support is not None:
                    norms = rows  # held back: see _SupportCount
                    continue
                with cursor.copy(f"COPY {target} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                if target == table:
                    self.inserted[table] += len(rows)
                    if table == "norm_row":
                        self._support.add(rows)
                elif table in self._eager:  # its new rows must be in place before the direct children's
                    self._merge(cursor, table)
                    cursor.execute(f"TRUNCATE {target}")
            if self._support is not None:  # the last batch's norms, now their rows up to this batch are counted
                held, self._held = self._held, norms
                self._copy_norms(cursor, held)
            documents = self._documents.rows(batch)
            if batch.norm and self._target_of("norm") == "norm":
                # Every norm of the batch is new: its documents go in now, while the next batch is made.
                with cursor.copy("COPY norm_fts (text, norm_id, kind) FROM STDIN") as copy:
                    for row in documents:
                        copy.write_row(row)
                self.documents_synced = True

    def _copy_norms(self, cursor: Any, norms: list[tuple]) -> None:
        if norms:
            with cursor.copy(f"COPY norm ({', '.join(COLUMNS['norm'][0])}) FROM STDIN") as copy:
                for row in self._support.stamp(norms):
                    copy.write_row(row)
            self.inserted["norm"] += len(norms)

    def _merge(self, cursor: Any, table: str) -> None:
        cols, key = COLUMNS[table]
        col_list = ", ".join(cols)
        # The first row of a key wins, as with INSERT OR IGNORE on SQLite.
        order = ", ".join(key) + (", row_number" if "row_number" in cols and "row_number" not in key else "")
        cursor.execute(
            f"INSERT INTO {table} ({col_list}) SELECT DISTINCT ON ({', '.join(key)}) {col_list} "
            f"FROM stage_{table} ORDER BY {order} ON CONFLICT DO NOTHING"
        )
        self.inserted[table] += max(cursor.rowcount, 0)

    def finish(self) -> dict[str, int]:
        with self.db.cursor() as cursor:
            for table in LOAD_ORDER:
                if table in self._staged and table not in self._eager:
                    self._merge(cursor, table)
            # Before the indexes it would update.
            if self._support is not None:
                held, self._held = self._held, []
                self._copy_norms(cursor, held)
                changed = self._support.changed()
                cursor.execute("UPDATE norm SET support = s.n FROM unnest(%s::bigint[], %s::bigint[]) AS s(n, id) "
                               "WHERE norm.id = s.id", ([n for n, _ in changed], [nid for _, nid in changed]))
            else:
                cursor.execute(_PG_SUPPORT_SQL, (self.run_id,))
            for statement in self._deferred:
                cursor.execute(statement)
            self._check_unchecked(cursor)
        return self.inserted


def make_loader(dialect: str, dbapi_connection: Any, run_id: int, *, expected_records: int | None = None):
    """The bulk loader for the dialect; `expected_records` (the reader's estimate, when a worker process makes
    the batches) lets the SQLite loader build its deferred indexes before the last batches."""
    if dialect == "sqlite":
        return SqliteLoader(dbapi_connection, run_id, expected_records=expected_records)
    if dialect == "postgresql":
        return PostgresLoader(dbapi_connection, run_id)
    raise ValueError(f"no bulk loader for {dialect}")
