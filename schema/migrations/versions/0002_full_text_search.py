"""full-text search tables (SQLite FTS5, PostgreSQL tsvector + GIN), filled from existing rows

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from schema import lexical

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for statement in lexical.SQLITE_DDL if bind.dialect.name == "sqlite" else lexical.POSTGRES_DDL:
        op.execute(statement)
    # Existing data gets its documents too, as if every committed run had just been imported.
    for (run_id,) in bind.exec_driver_sql("SELECT id FROM import_run WHERE status = 'committed' ORDER BY id"):
        lexical.sync_run(bind, run_id)


def downgrade() -> None:
    for statement in lexical.DROP_DDL:
        op.execute(statement)
