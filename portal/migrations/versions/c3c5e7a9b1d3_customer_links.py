"""The customer's progress page (issue 14): the case's unguessable link, ratings, appeals.

Revision ID: c3c5e7a9b1d3
Revises: c2b4d6f8a0c2
Create Date: 2026-12-02 07:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'c3c5e7a9b1d3'
down_revision = 'c2b4d6f8a0c2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=43), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_link_case_id_case')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_case_link_created_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_link')),
        sa.UniqueConstraint('token', name=op.f('uq_case_link_token')),
    )
    with op.batch_alter_table('case_link') as batch:
        batch.create_index(batch.f('ix_case_link_case_id'), ['case_id'], unique=False)
    op.create_table(
        'customer_rating',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('score_quality', sa.SmallInteger(), nullable=False),
        sa.Column('score_speed', sa.SmallInteger(), nullable=False),
        sa.Column('score_attitude', sa.SmallInteger(), nullable=False),
        sa.Column('score_info', sa.SmallInteger(), nullable=False),
        sa.Column('score_safety', sa.SmallInteger(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_customer_rating_case_id_case')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_rating')),
    )
    with op.batch_alter_table('customer_rating') as batch:
        batch.create_index(batch.f('ix_customer_rating_case_id'), ['case_id'], unique=False)
    op.create_table(
        'customer_appeal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('state_from', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_customer_appeal_case_id_case')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_appeal')),
    )
    with op.batch_alter_table('customer_appeal') as batch:
        batch.create_index(batch.f('ix_customer_appeal_case_id'), ['case_id'], unique=False)


def downgrade():
    for table in ('customer_appeal', 'customer_rating', 'case_link'):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(batch.f(f'ix_{table}_case_id'))
        op.drop_table(table)
