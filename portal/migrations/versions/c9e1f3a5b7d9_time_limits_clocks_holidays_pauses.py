"""Time limits of their own: policies for case clocks too (step or clock), with reminder
points, breach action, repeat interval, on/off and fractional minutes; the holiday calendar
with make-up working days; pauses of a case's clocks.

Revision ID: c9e1f3a5b7d9
Revises: b8d0e2f4a6c8
Create Date: 2026-12-02 01:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'c9e1f3a5b7d9'
down_revision = 'b8d0e2f4a6c8'
branch_labels = None
depends_on = None

CLOCKS = ('progress_check', 'solution', 'resolved', 'signed', 'on_site', 'revisit')
STEPS = ('verify', 'supplement', 'dispatch', 'acknowledge', 'investigate', 'approve', 'implement',
         'callback', 'sign_off')


def upgrade():
    # sla_policy has no foreign keys: SQLite copies it in batch mode without complaint.
    with op.batch_alter_table('sla_policy', schema=None) as batch_op:
        batch_op.add_column(sa.Column('clock', sa.Enum(*CLOCKS, name='clock', native_enum=False,
                                                       length=32), nullable=True))
        batch_op.add_column(sa.Column('reminder_percents', sa.JSON(), nullable=False,
                                      server_default='[50, 80]'))
        batch_op.add_column(sa.Column('breach_action', sa.String(length=16), nullable=False,
                                      server_default='escalate'))
        batch_op.add_column(sa.Column('repeat_minutes', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.alter_column('step', existing_type=sa.Enum(*STEPS, name='step', native_enum=False,
                                                            length=32), nullable=True)
        batch_op.alter_column('klass', existing_type=sa.Enum(name='klass', native_enum=False, length=32),
                              type_=sa.String(length=32), existing_nullable=True)
        batch_op.alter_column('channel', existing_type=sa.Enum(name='channel', native_enum=False, length=32),
                              type_=sa.String(length=32), existing_nullable=True)
        batch_op.alter_column('minutes', existing_type=sa.Integer(), type_=sa.Float(),
                              existing_nullable=False)
        batch_op.create_check_constraint('one_target', '(step IS NULL) <> (clock IS NULL)')
        batch_op.create_check_constraint('minutes_not_negative', 'minutes >= 0')
    with op.batch_alter_table('sla_policy', schema=None) as batch_op:
        batch_op.alter_column('reminder_percents', server_default=None)
        batch_op.alter_column('breach_action', server_default=None)
        batch_op.alter_column('active', server_default=None)

    op.create_table('holiday',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.Enum('holiday', 'workday', name='daykind', native_enum=False, length=16), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_holiday')),
    sa.UniqueConstraint('day', name=op.f('uq_holiday_day'))
    )
    op.create_table('case_pause',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_pause_case_id_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_pause'))
    )
    op.create_index('ix_case_pause_case', 'case_pause', ['case_id', 'started_at'], unique=False)


def downgrade():
    op.drop_index('ix_case_pause_case', table_name='case_pause')
    op.drop_table('case_pause')
    op.drop_table('holiday')
    op.execute("DELETE FROM sla_policy WHERE step IS NULL")
    with op.batch_alter_table('sla_policy', schema=None) as batch_op:
        batch_op.drop_constraint('minutes_not_negative', type_='check')
        batch_op.drop_constraint('one_target', type_='check')
        batch_op.alter_column('minutes', existing_type=sa.Float(), type_=sa.Integer(),
                              existing_nullable=False)
        batch_op.alter_column('step', existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_column('active')
        batch_op.drop_column('repeat_minutes')
        batch_op.drop_column('breach_action')
        batch_op.drop_column('reminder_percents')
        batch_op.drop_column('clock')
