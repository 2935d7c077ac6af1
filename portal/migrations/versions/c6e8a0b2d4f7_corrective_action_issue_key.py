"""The issue form's key on the corrective-action sheet, unique, so the same form sent twice
(Back, then submit; or two taps at once) issues one sheet and takes one number.

Revision ID: c6e8a0b2d4f7
Revises: b2d4f6a8c0e3
Create Date: 2026-12-02 04:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'c6e8a0b2d4f7'
down_revision = 'b2d4f6a8c0e3'
branch_labels = None
depends_on = None


# A nullable column and a unique index, added in place on SQLite too (as case.intake_key).

def upgrade():
    op.add_column('corrective_action', sa.Column('issue_key', sa.String(length=64), nullable=True))
    op.create_index('ix_corrective_action_issue_key', 'corrective_action', ['issue_key'], unique=True)


def downgrade():
    op.drop_index('ix_corrective_action_issue_key', table_name='corrective_action')
    op.drop_column('corrective_action', 'issue_key')
