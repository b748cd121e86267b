"""The query giving each norm of a source with its atom and row lists already written as JSON by the
database, so that the exporting process writes a norm's line in one `orjson.dumps` (the lists embedded
as they come) instead of assembling them.

The norm columns are those of `schema.models.Norm` (a column added there is exported without touching
this module). A norm's atoms are sorted by their text (code-point order), its source rows by number.
SQLite writes both lists per norm in correlated subqueries, each ordered. PostgreSQL writes each atom's
JSON once, then groups every norm's list in one pass over input sorted by (norm, atom text), which it
aggregates in that order as long as the query runs without parallel workers: `export_session` turns
those (and JIT compilation, which costs more than it saves here) off for the export's transaction.

Measured (docs/performance.md): letting PostgreSQL write the whole line instead made its backend the
bottleneck (escaping every text field as JSON costs it about 1 s per 120k norms, orjson a fraction).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import BigInteger, Table, Text, func, literal_column, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from ingest.loaders import SqliteLoader
from schema.models import Behavior, ConstraintAtom, Norm, NormConstraint, NormRow, Setting

# Norm columns the export writes as links by name (setting, behaviour, atoms, source) or leaves out.
LINKS = frozenset({"id", "norm_id", "source_id", "import_run_id", "setting_id", "behavior_id"})
_ATOM_KEYS = ("subject", "kind", "name", "relation", "value")


def exported_columns(table: Table) -> tuple[str, ...]:
    """The columns of `table` an export writes as they are."""
    return tuple(c.name for c in table.columns if c.name not in LINKS)


NORM_FIELDS = exported_columns(Norm.__table__)
_NORM = Norm.__tablename__
_ATOM, _LINK, _ROW = ConstraintAtom.__tablename__, NormConstraint.__tablename__, NormRow.__tablename__
_ROW_JSON = """'{"row_number":' || r.row_number || '}'"""


def _atom_json(postgres: bool) -> str:
    quote = (lambda c: f"to_json(a.{c})::text") if postgres else (lambda c: f"json_quote(a.{c})")
    return " || ".join(f"""'{"{" if i == 0 else ","}"{k}":' || {quote(k)}""" for i, k in enumerate(_ATOM_KEYS)) + " || '}'"


def _lists_sqlite(query: Select) -> tuple[Select, Any, Any]:
    """Correlated subqueries per norm, each list in its order."""
    atoms = (f"(SELECT '[' || group_concat(j, ',') || ']' FROM (SELECT {_atom_json(False)} AS j FROM {_LINK} nc "
             f"JOIN {_ATOM} a ON a.id = nc.atom_id WHERE nc.norm_id = {_NORM}.id ORDER BY a.text))")
    rows = (f"(SELECT '[' || group_concat(j, ',') || ']' FROM (SELECT {_ROW_JSON} AS j FROM {_ROW} r "
            f"WHERE r.norm_id = {_NORM}.id ORDER BY r.row_number))")
    return query, literal_column(atoms), literal_column(rows)


def _lists_postgres(query: Select, source_id: int) -> tuple[Select, Any, Any]:
    """Each atom's JSON written once, then every norm's lists grouped in one pass each over input sorted as
    listed."""
    of_source = f"SELECT id FROM {_NORM} WHERE source_id = :source"
    atoms = (f"WITH aj AS MATERIALIZED (SELECT a.id, a.text, {_atom_json(True)} AS j FROM {_ATOM} a) "
             f"SELECT norm_id, '[' || string_agg(j, ',') || ']' AS listed FROM (SELECT nc.norm_id, aj.j "
             f"FROM {_LINK} nc JOIN aj ON aj.id = nc.atom_id WHERE nc.norm_id IN ({of_source}) "
             f'ORDER BY nc.norm_id, aj.text COLLATE "C") x GROUP BY norm_id')
    rows = (f"SELECT norm_id, '[' || string_agg(j, ',') || ']' AS listed FROM (SELECT r.norm_id, {_ROW_JSON} AS j "
            f"FROM {_ROW} r WHERE r.norm_id IN ({of_source}) ORDER BY r.norm_id, r.row_number) x GROUP BY norm_id")
    al, rl = (text(sql).bindparams(source=source_id).columns(norm_id=BigInteger, listed=Text).subquery(name)
              for sql, name in ((atoms, "al"), (rows, "rl")))
    query = query.outerjoin(al, al.c.norm_id == Norm.id).outerjoin(rl, rl.c.norm_id == Norm.id)
    return query, al.c.listed, rl.c.listed


def norms_query(dialect: str, source_id: int) -> Select:
    """Per norm of the source, in the order of its first row: its id, setting, behaviour, exported columns,
    and its atoms and rows as JSON array texts."""
    query = (select(Norm.id, Setting.name, Behavior.name, *[Norm.__table__.c[f] for f in NORM_FIELDS])
             .join(Behavior, Behavior.id == Norm.behavior_id).outerjoin(Setting, Setting.id == Norm.setting_id))
    query, atoms, rows = _lists_postgres(query, source_id) if dialect == "postgresql" else _lists_sqlite(query)
    return (query.add_columns(func.coalesce(atoms, "[]"), func.coalesce(rows, "[]"))
            .where(Norm.source_id == source_id).order_by(Norm.row_number, Norm.id))


@contextmanager
def export_session(conn: Connection) -> Iterator[None]:
    """Settings for an export on `conn`. PostgreSQL, for the transaction: no parallel workers (so the lists
    keep their order) and no JIT compilation. SQLite: the import's larger page cache (ingest/loaders.py) while
    the export runs, instead of reading the same pages from the file again and again."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off",
                             execution_options={"stream_results": False})
        yield
        return
    raw = conn.connection.dbapi_connection
    previous = SqliteLoader.before_transaction(raw)
    try:
        yield
    finally:
        SqliteLoader.after_transaction(raw, previous)
