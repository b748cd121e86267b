"""database identity: one row with a uuid made when the schema is created, for cache keys

Revision ID: 0003
Revises: 0002
"""

import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "database_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(table, [{"id": 1, "uuid": str(uuid.uuid4()), "created_at": datetime.now(timezone.utc)}])


def downgrade() -> None:
    op.drop_table("database_identity")
