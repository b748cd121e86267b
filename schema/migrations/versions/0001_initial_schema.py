"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 21:05:19.403745
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('behavior',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('constraint_atom',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('relation', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subject', 'kind', 'name', 'relation', 'value', name='uq_constraint_atom')
    )
    op.create_table('dimension',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('ordered', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('subject', 'name', name='uq_dimension_subject_name')
    )
    op.create_table('index_meta',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('dimension', sa.Integer(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('data_version', sa.Integer(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('built_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('setting',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('version', sa.Text(), nullable=True),
    sa.Column('licence', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('sha256', sa.Text(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('dimension_value',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('dimension_id', sa.BigInteger(), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['dimension_id'], ['dimension.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dimension_id', 'value', name='uq_dimension_value')
    )
    op.create_table('import_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('format', sa.Text(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('sha256', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('read', sa.Integer(), nullable=False),
    sa.Column('loaded', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_run_source_id'), ['source_id'], unique=False)

    op.create_table('role',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('setting_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['setting_id'], ['setting.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('setting_id', 'name', name='uq_role_setting_name')
    )
    op.create_table('setting_behavior',
    sa.Column('setting_id', sa.BigInteger(), nullable=False),
    sa.Column('behavior_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['behavior_id'], ['behavior.id'], ),
    sa.ForeignKeyConstraint(['setting_id'], ['setting.id'], ),
    sa.PrimaryKeyConstraint('setting_id', 'behavior_id')
    )
    op.create_table('norm',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('import_run_id', sa.Integer(), nullable=False),
    sa.Column('setting_id', sa.BigInteger(), nullable=True),
    sa.Column('behavior_id', sa.BigInteger(), nullable=False),
    sa.Column('label', sa.Text(), nullable=False),
    sa.Column('constraints', sa.Text(), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('rule_text', sa.Text(), nullable=True),
    sa.Column('culture', sa.Text(), nullable=True),
    sa.Column('category', sa.Text(), nullable=True),
    sa.Column('split', sa.Text(), nullable=True),
    sa.Column('annotator', sa.Text(), nullable=True),
    sa.Column('agreement', sa.Float(), nullable=True),
    sa.Column('support', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['behavior_id'], ['behavior.id'], ),
    sa.ForeignKeyConstraint(['import_run_id'], ['import_run.id'], ),
    sa.ForeignKeyConstraint(['setting_id'], ['setting.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('norm', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_norm_behavior_id'), ['behavior_id'], unique=False)
        batch_op.create_index('ix_norm_setting_behavior', ['setting_id', 'behavior_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_norm_source_id'), ['source_id'], unique=False)

    op.create_table('rejected_row',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_run_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['import_run_id'], ['import_run.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_id', 'row_number', name='uq_rejected_row_source_row')
    )
    with op.batch_alter_table('rejected_row', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejected_row_import_run_id'), ['import_run_id'], unique=False)

    op.create_table('norm_constraint',
    sa.Column('norm_id', sa.BigInteger(), nullable=False),
    sa.Column('atom_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['atom_id'], ['constraint_atom.id'], ),
    sa.ForeignKeyConstraint(['norm_id'], ['norm.id'], ),
    sa.PrimaryKeyConstraint('norm_id', 'atom_id')
    )
    with op.batch_alter_table('norm_constraint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_norm_constraint_atom_id'), ['atom_id'], unique=False)

    op.create_table('norm_example',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('norm_id', sa.BigInteger(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('import_run_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('polarity', sa.Text(), nullable=False),
    sa.Column('situation', sa.Text(), nullable=False),
    sa.Column('dialogue', sa.Text(), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['import_run_id'], ['import_run.id'], ),
    sa.ForeignKeyConstraint(['norm_id'], ['norm.id'], ),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('norm_example', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_norm_example_norm_id'), ['norm_id'], unique=False)

    op.create_table('norm_row',
    sa.Column('norm_id', sa.BigInteger(), nullable=False),
    sa.Column('row_number', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('import_run_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['import_run_id'], ['import_run.id'], ),
    sa.ForeignKeyConstraint(['norm_id'], ['norm.id'], ),
    sa.PrimaryKeyConstraint('norm_id', 'row_number')
    )
    with op.batch_alter_table('norm_row', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_norm_row_import_run_id'), ['import_run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('norm_row', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_norm_row_import_run_id'))

    op.drop_table('norm_row')
    with op.batch_alter_table('norm_example', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_norm_example_norm_id'))

    op.drop_table('norm_example')
    with op.batch_alter_table('norm_constraint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_norm_constraint_atom_id'))

    op.drop_table('norm_constraint')
    with op.batch_alter_table('rejected_row', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejected_row_import_run_id'))

    op.drop_table('rejected_row')
    with op.batch_alter_table('norm', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_norm_source_id'))
        batch_op.drop_index('ix_norm_setting_behavior')
        batch_op.drop_index(batch_op.f('ix_norm_behavior_id'))

    op.drop_table('norm')
    op.drop_table('setting_behavior')
    op.drop_table('role')
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_run_source_id'))

    op.drop_table('import_run')
    op.drop_table('dimension_value')
    op.drop_table('source')
    op.drop_table('setting')
    op.drop_table('index_meta')
    op.drop_table('dimension')
    op.drop_table('constraint_atom')
    op.drop_table('behavior')
