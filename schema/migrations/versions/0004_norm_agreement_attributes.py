"""norm.agreement_band and norm.attributes: a corpus's agreement as reported, and the source row's attributes

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("norm", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreement_band", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attributes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("norm", schema=None) as batch_op:
        batch_op.drop_column("attributes")
        batch_op.drop_column("agreement_band")
