"""The query in which the database writes each norm's export line, so that the exporting process only
streams text.

Per norm of one source, in the order of its first row, the query gives `(norm id, line)`: the norm's JSON
object up to and including `"examples":`, the caller appending the examples and the closing brace. The
keys are the columns of `schema.models.Norm` (a column added there is exported without touching this
module), each written as JSON by the database according to its type; the norm's atoms are sorted by their
text (code-point order), its source rows by number.

SQLite writes the atom and row lists per norm in correlated subqueries, each ordered. PostgreSQL groups
all of them in one pass over input sorted by (norm, atom text), which it aggregates in that order as long
as the query runs without parallel workers: `export_session` turns those (and JIT compilation, which
costs more than it saves here) off for the export's transaction.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Table, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import TextClause

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


class _Dialect:
    """How one database writes a value as JSON text (never NULL: 'null')."""

    def __init__(self, name: str):
        self.postgres = name == "postgresql"

    def scalar(self, expr: str) -> str:
        """A text, number or NULL as JSON."""
        return f"coalesce(to_json({expr})::text, 'null')" if self.postgres else f"json_quote({expr})"

    def column(self, expr: str, column: Column) -> str:
        if isinstance(column.type, JSON):  # stored as JSON text already: written as it is
            return f"coalesce(CAST({expr} AS TEXT), 'null')"
        if isinstance(column.type, Float) and not self.postgres:
            # SQLite's JSON functions write 15 significant digits: not always the same number read back.
            return (f"CASE WHEN {expr} IS NULL THEN 'null' WHEN CAST(printf('%!.15g', {expr}) AS REAL) = {expr} "
                    f"THEN printf('%!.15g', {expr}) ELSE printf('%!.17g', {expr}) END")
        return self.scalar(expr)

    def hex16(self, expr: str) -> str:
        """The public norm id (normbank.ids.public_norm_id)."""
        return f"lpad(to_hex({expr}), 16, '0')" if self.postgres else f"printf('%016x', {expr})"

    def text_order(self, expr: str) -> str:
        return f'{expr} COLLATE "C"' if self.postgres else expr  # SQLite's default (BINARY) is code-point order


def _object(pairs: list[tuple[str, str]]) -> str:
    """SQL concatenating a JSON object's text from (key, JSON-valued SQL expression) pairs."""
    parts = []
    for i, (key, value) in enumerate(pairs):
        parts += [f"""'{"{" if i == 0 else ","}"{key}":'""", value]
    return " || ".join(parts)


def _atom_json(d: _Dialect) -> str:
    return _object([(k, d.scalar(f"a.{k}")) for k in _ATOM_KEYS]) + " || '}'"


def _row_json() -> str:
    return """'{"row_number":' || r.row_number || '}'"""


def _lists_sqlite(d: _Dialect) -> tuple[str, str, str]:
    """(atoms, rows, joins): per norm `n`, correlated subqueries, each list in its order."""
    atoms = (f"(SELECT '[' || group_concat(j, ',') || ']' FROM (SELECT {_atom_json(d)} AS j FROM {_LINK} nc "
             f"JOIN {_ATOM} a ON a.id = nc.atom_id WHERE nc.norm_id = n.id ORDER BY a.text))")
    rows = (f"(SELECT '[' || group_concat(j, ',') || ']' FROM (SELECT {_row_json()} AS j FROM {_ROW} r "
            f"WHERE r.norm_id = n.id ORDER BY r.row_number))")
    return atoms, rows, ""


def _lists_postgres(d: _Dialect) -> tuple[str, str, str]:
    """(atoms, rows, joins): every norm's lists grouped in one pass each, over input sorted as listed."""
    of_source = f"SELECT id FROM {_NORM} WHERE source_id = :source"
    atoms = (f"SELECT norm_id, '[' || string_agg(j, ',') || ']' AS listed FROM (SELECT nc.norm_id, aj.j "
             f"FROM {_LINK} nc JOIN (SELECT a.id, a.text, {_atom_json(d)} AS j FROM {_ATOM} a) aj "
             f"ON aj.id = nc.atom_id WHERE nc.norm_id IN ({of_source}) "
             f"ORDER BY nc.norm_id, {d.text_order('aj.text')}) x GROUP BY norm_id")
    rows = (f"SELECT norm_id, '[' || string_agg(j, ',') || ']' AS listed FROM (SELECT r.norm_id, {_row_json()} AS j "
            f"FROM {_ROW} r WHERE r.norm_id IN ({of_source}) ORDER BY r.norm_id, r.row_number) x GROUP BY norm_id")
    joins = f"LEFT JOIN ({atoms}) al ON al.norm_id = n.id LEFT JOIN ({rows}) rl ON rl.norm_id = n.id"
    return "al.listed", "rl.listed", joins


def norm_lines(dialect: str) -> TextClause:
    """The query (parameter `source`: a source id) giving each norm's `(id, line)`, the line ending in
    `"examples":`."""
    d = _Dialect(dialect)
    atoms, rows, joins = (_lists_postgres if d.postgres else _lists_sqlite)(d)
    columns = Norm.__table__.c
    line = _object([("type", "'\"norm\"'"), ("id", f"""'"' || {d.hex16('n.id')} || '"'"""),
                    ("setting", d.scalar("s.name")), ("behavior", d.scalar("b.name")),
                    *[(f, d.column(f"n.{f}", columns[f])) for f in NORM_FIELDS],
                    ("atoms", f"coalesce({atoms}, '[]')"), ("rows", f"coalesce({rows}, '[]')"),
                    ("examples", "''")])
    return text(f"SELECT n.id, {line} AS line FROM {_NORM} n JOIN {Behavior.__tablename__} b ON b.id = n.behavior_id "
                f"LEFT JOIN {Setting.__tablename__} s ON s.id = n.setting_id {joins} "
                f"WHERE n.source_id = :source ORDER BY n.row_number, n.id")


def export_session(conn: Connection) -> None:
    """Settings for the export's transaction (PostgreSQL: no parallel workers, so lists keep their order;
    no JIT compilation)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off",
                             execution_options={"stream_results": False})
