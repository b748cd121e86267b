"""import_run.job_id: the HTTP import job a run belongs to (an export's sources are one run each)

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("job_id", sa.Text(), nullable=True))
    # Jobs imported before this revision knew their (last) run only.
    op.execute("UPDATE import_run SET job_id = (SELECT j.id FROM import_job j WHERE j.run_id = import_run.id) "
               "WHERE id IN (SELECT run_id FROM import_job WHERE run_id IS NOT NULL)")


def downgrade() -> None:
    with op.batch_alter_table("import_run", schema=None) as batch_op:
        batch_op.drop_column("job_id")
