"""A user's personal seal (人名章) image, and the seal each signature was signed with.

Revision ID: d4a6c8e0f2b4
Revises: e1f3a5c7b9d2
Create Date: 2026-12-02 03:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'd4a6c8e0f2b4'
down_revision = 'e1f3a5c7b9d2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user') as batch_op:
        batch_op.add_column(sa.Column('seal_image_id', sa.Integer(), nullable=True))
    with op.batch_alter_table('signature') as batch_op:
        batch_op.add_column(sa.Column('seal_attachment_id', sa.Integer(), nullable=True))


def downgrade():
    # In place, not batch mode: SQLite's copy of `user` is refused by the foreign keys that
    # point at it (its ALTER TABLE DROP COLUMN, 3.35+, needs no copy).
    op.drop_column('signature', 'seal_attachment_id')
    op.drop_column('user', 'seal_image_id')
