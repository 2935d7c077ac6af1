"""Catalog admin: the import_job table (a spreadsheet import run by a worker, its progress
and errors), a version on product and batch for the edit forms' optimistic lock, and an
index on the production date the batch list is sorted by.

Revision ID: b2d4f6a8c0e3
Revises: a7c9e1b3d5f7
Create Date: 2026-12-02 03:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'b2d4f6a8c0e3'
down_revision = 'a7c9e1b3d5f7'
branch_labels = None
depends_on = None


# product and batch gain their version in place (no batch mode: the case table's foreign
# keys refuse SQLite's copy of either); existing rows start at version 1.

def upgrade():
    op.create_table(
        'import_job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('products', 'batches', name='importkind', native_enum=False,
                                  create_constraint=False, length=16), nullable=False),
        sa.Column('status', sa.Enum('queued', 'checking', 'writing', 'done', 'refused', 'failed',
                                    name='importstatus', native_enum=False, create_constraint=False,
                                    length=16), nullable=False),
        sa.Column('filename', sa.String(length=120), nullable=False),
        sa.Column('stored_name', sa.String(length=80), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('total_rows', sa.Integer(), nullable=True),
        sa.Column('done_rows', sa.Integer(), nullable=False),
        sa.Column('created_rows', sa.Integer(), nullable=False),
        sa.Column('updated_rows', sa.Integer(), nullable=False),
        sa.Column('errors', sa.JSON(), nullable=True),
        sa.Column('error_count', sa.Integer(), nullable=False),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_import_job_created_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_job')),
    )
    op.create_index('ix_import_job_created', 'import_job', ['created_at'], unique=False)
    op.add_column('product', sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
    op.add_column('batch', sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
    op.create_index('ix_batch_production_date', 'batch', ['production_date', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_batch_production_date', table_name='batch')
    op.drop_column('batch', 'version')
    op.drop_column('product', 'version')
    op.drop_index('ix_import_job_created', table_name='import_job')
    op.drop_table('import_job')
