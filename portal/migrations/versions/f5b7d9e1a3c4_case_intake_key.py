"""The intake form's key on the case, unique, so the same form sent twice (Back, then
submit; or two taps at once) makes one case.

Revision ID: f5b7d9e1a3c4
Revises: e4a6c8d0f2b3
Create Date: 2026-12-01 22:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'f5b7d9e1a3c4'
down_revision = 'e4a6c8d0f2b3'
branch_labels = None
depends_on = None


# A nullable column and a unique index, no batch mode: SQLite adds both in place (a UNIQUE
# constraint would need the whole "case" table copied, which its foreign keys refuse), and
# cases registered before this revision keep NULL, which a unique index allows many times.

def upgrade():
    op.add_column('case', sa.Column('intake_key', sa.String(length=64), nullable=True))
    op.create_index('ix_case_intake_key', 'case', ['intake_key'], unique=True)


def downgrade():
    op.drop_index('ix_case_intake_key', table_name='case')
    op.drop_column('case', 'intake_key')
