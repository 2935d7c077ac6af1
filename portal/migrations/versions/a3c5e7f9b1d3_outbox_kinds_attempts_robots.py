"""Outbox: a kind per message (step, reminder, escalation, hurry, customer), an HTML part for
mail, a manual retry's starting point, every attempt with the provider's answer, and group robots configured per unit.

Revision ID: a3c5e7f9b1d3
Revises: f5b7d9e1a3c4
Create Date: 2026-12-02 00:50:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'a3c5e7f9b1d3'
down_revision = 'f5b7d9e1a3c4'
branch_labels = None
depends_on = None


# Columns added in place (nullable, or with a server default for the rows already there), so
# SQLite needs no batch copy of the outbox table.

def upgrade():
    op.add_column('outbox_message', sa.Column('kind', sa.String(length=16), server_default='step',
                                              nullable=False))
    op.add_column('outbox_message', sa.Column('html', sa.Text(), nullable=True))
    op.add_column('outbox_message', sa.Column('retries_from', sa.Integer(), server_default='0',
                                              nullable=False))
    op.create_table(
        'outbox_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('outcome', sa.String(length=10), nullable=False),
        sa.Column('response', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['message_id'], ['outbox_message.id'],
                                name=op.f('fk_outbox_attempt_message_id_outbox_message'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_attempt')),
    )
    op.create_index(op.f('ix_outbox_attempt_message_id'), 'outbox_attempt', ['message_id'], unique=False)
    op.create_table(
        'unit_robot',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('vendor', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('secret', sa.String(length=200), nullable=True),
        sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['unit_id'], ['org_unit.id'], name=op.f('fk_unit_robot_unit_id_org_unit')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_robot')),
    )
    op.create_index(op.f('ix_unit_robot_unit_id'), 'unit_robot', ['unit_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_unit_robot_unit_id'), table_name='unit_robot')
    op.drop_table('unit_robot')
    op.drop_index(op.f('ix_outbox_attempt_message_id'), table_name='outbox_attempt')
    op.drop_table('outbox_attempt')
    with op.batch_alter_table('outbox_message') as batch:
        batch.drop_column('retries_from')
        batch.drop_column('html')
        batch.drop_column('kind')
