"""Batch register: the shift (班次) that made the batch, the regions it was shipped to
(储运部's list), and an active flag so an admin can retire a batch the cases still name.

Revision ID: e1f3a5c7b9d2
Revises: d2a4c6e8f0b1
Create Date: 2026-12-02 03:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'e1f3a5c7b9d2'
down_revision = 'd2a4c6e8f0b1'
branch_labels = None
depends_on = None


# Columns added in place, no batch mode: SQLite's batch copy of "batch" is refused by the
# case table's foreign key to it. NOT NULL columns carry a server default so existing rows
# get [] and true.

def upgrade():
    op.add_column('batch', sa.Column('shift', sa.String(length=20), nullable=True))
    op.add_column('batch', sa.Column('shipped_regions', sa.JSON(), nullable=False,
                                     server_default=sa.text("'[]'")))
    op.add_column('batch', sa.Column('active', sa.Boolean(), nullable=False,
                                     server_default=sa.true()))


def downgrade():
    op.drop_column('batch', 'active')
    op.drop_column('batch', 'shipped_regions')
    op.drop_column('batch', 'shift')
