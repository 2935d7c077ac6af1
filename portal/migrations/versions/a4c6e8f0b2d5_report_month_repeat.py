"""The dashboard's rollup counts repeat complaints (an earlier case from the same phone within
90 days): a column of report_month. Existing rows count none until `flask reports rollup`.

Revision ID: a4c6e8f0b2d5
Revises: b2d4f6a8c0e1
Create Date: 2026-12-02 04:45:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'a4c6e8f0b2d5'
down_revision = 'b2d4f6a8c0e1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('report_month') as batch:
        batch.add_column(sa.Column('repeat', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('report_month') as batch:
        batch.drop_column('repeat')
