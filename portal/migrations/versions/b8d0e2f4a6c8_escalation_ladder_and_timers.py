"""The escalation ladder (levels and their recipients), each case's escalations and timers,
and the ladder level a case has reached.

Revision ID: b8d0e2f4a6c8
Revises: a3c5e7f9b1d3
Create Date: 2026-12-02 00:55:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'b8d0e2f4a6c8'
down_revision = 'a3c5e7f9b1d3'
branch_labels = None
depends_on = None


def upgrade():
    # With a server default, SQLite adds the column in place (no copy of the "case" table).
    op.add_column('case', sa.Column('ladder_level', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'ladder_level',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('after_minutes', sa.Float(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('level'),
    )
    op.create_table(
        'ladder_recipient',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('level_id', sa.Integer(), nullable=False),
        sa.Column('who', sa.Enum('step_leaders', 'role', 'user', name='who', native_enum=False,
                                 create_constraint=False, length=32), nullable=False),
        sa.Column('role', sa.Enum('rep', 'desk', 'quality', 'handler', 'leader', 'admin', name='role',
                                  native_enum=False, create_constraint=False, length=32), nullable=True),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('line', sa.String(length=40), nullable=True),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['level_id'], ['ladder_level.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['product_id'], ['product.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['org_unit.id']),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ladder_recipient_level_id', 'ladder_recipient', ['level_id'])
    op.create_table(
        'case_escalation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('trigger', sa.Enum('limit_passed', 'no_solution_4h', 'customer_rejected', 'media_threat',
                                     'above_authority', 'manual', name='trigger', native_enum=False,
                                     create_constraint=False, length=32), nullable=False),
        sa.Column('step', sa.Enum('verify', 'supplement', 'dispatch', 'acknowledge', 'investigate',
                                  'approve', 'implement', 'callback', 'sign_off', name='step',
                                  native_enum=False, create_constraint=False, length=32), nullable=True),
        sa.Column('clock', sa.String(length=24), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('recipients', sa.JSON(), nullable=False),
        sa.Column('message_ids', sa.JSON(), nullable=False),
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id']),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_case_escalation_case_id', 'case_escalation', ['case_id'])
    op.create_table(
        'case_timer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('step', sa.Enum('verify', 'supplement', 'dispatch', 'acknowledge', 'investigate',
                                  'approve', 'implement', 'callback', 'sign_off', name='step',
                                  native_enum=False, create_constraint=False, length=32), nullable=True),
        sa.Column('clock', sa.String(length=24), nullable=True),
        sa.Column('step_started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('level', sa.Integer(), nullable=True),
        sa.Column('fire_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outcome', sa.String(length=40), nullable=True),
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    op.create_index('ix_case_timer_case_id', 'case_timer', ['case_id'])
    op.create_index('ix_case_timer_pending', 'case_timer', ['fire_at'],
                    postgresql_where=sa.text('fired_at IS NULL AND cancelled_at IS NULL'),
                    sqlite_where=sa.text('fired_at IS NULL AND cancelled_at IS NULL'))


def downgrade():
    op.drop_index('ix_case_timer_pending', table_name='case_timer')
    op.drop_index('ix_case_timer_case_id', table_name='case_timer')
    op.drop_table('case_timer')
    op.drop_index('ix_case_escalation_case_id', table_name='case_escalation')
    op.drop_table('case_escalation')
    op.drop_index('ix_ladder_recipient_level_id', table_name='ladder_recipient')
    op.drop_table('ladder_recipient')
    op.drop_table('ladder_level')
    # In place on both (SQLite 3.35+ drops a column itself): a batch copy of "case" fails on
    # SQLite with the foreign keys of the tables that point at it.
    op.drop_column('case', 'ladder_level')
