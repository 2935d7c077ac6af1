"""Compensation rules name who approves; cases remember an on-the-spot settlement.

Revision ID: b7e1c2a9d4f0
Revises: da8ec14d6fbf
Create Date: 2026-12-01 21:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'b7e1c2a9d4f0'
down_revision = 'da8ec14d6fbf'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('compensation_rule') as batch_op:
        batch_op.add_column(sa.Column('approver', sa.Enum('department', 'company', name='approver',
                                                         native_enum=False, length=32), nullable=False,
                                      server_default='department'))
    # PROCEDURES.md §7: serious complaints go to headquarters for a leader's decision.
    op.execute("UPDATE compensation_rule SET approver = 'company' WHERE klass = 'serious'")
    with op.batch_alter_table('case') as batch_op:
        batch_op.add_column(sa.Column('settled_on_spot', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('case') as batch_op:
        batch_op.drop_column('settled_on_spot')
    with op.batch_alter_table('compensation_rule') as batch_op:
        batch_op.drop_column('approver')
