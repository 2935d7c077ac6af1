"""Case.escalation_level was never a ladder level: it counted the callbacks at which the
customer did not accept the result. Named for what it is, callback_rejections; the ladder's
level is Case.ladder_level (portal/escalation).

Revision ID: d2a4c6e8f0b1
Revises: c9e1f3a5b7d9
Create Date: 2026-12-02 01:10:00
"""
from alembic import op

revision = 'd2a4c6e8f0b1'
down_revision = 'c9e1f3a5b7d9'
branch_labels = None
depends_on = None


# RENAME COLUMN in place, the same statement on PostgreSQL and SQLite (3.25+): batch mode
# would copy the whole "case" table, which the tables referring to it refuse on SQLite.

def upgrade():
    op.execute('ALTER TABLE "case" RENAME COLUMN escalation_level TO callback_rejections')


def downgrade():
    op.execute('ALTER TABLE "case" RENAME COLUMN callback_rejections TO escalation_level')
