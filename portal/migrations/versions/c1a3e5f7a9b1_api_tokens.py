"""Intake API (issue 14): integration tokens, their calls, idempotency keys.

Revision ID: c1a3e5f7a9b1
Revises: a4c6e8f0b2d5
Create Date: 2026-12-02 07:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'c1a3e5f7a9b1'
down_revision = 'a4c6e8f0b2d5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'api_token',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('prefix', sa.String(length=8), nullable=False),
        sa.Column('secret_sha256', sa.String(length=64), nullable=False),
        sa.Column('service_user_id', sa.Integer(), nullable=False),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.Column('branch_ids', sa.JSON(), nullable=False),
        sa.Column('hq', sa.Boolean(), nullable=False),
        sa.Column('read_only', sa.Boolean(), nullable=False),
        sa.Column('rate_per_minute', sa.Integer(), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['service_user_id'], ['user.id'], name=op.f('fk_api_token_service_user_id_user')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_api_token_created_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
        sa.UniqueConstraint('prefix', name=op.f('uq_api_token_prefix')),
    )
    op.create_table(
        'api_call',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('method', sa.String(length=8), nullable=False),
        sa.Column('path', sa.String(length=200), nullable=False),
        sa.Column('status', sa.SmallInteger(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=True),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('ms', sa.Integer(), nullable=False),
        sa.Column('ip', sa.String(length=45), nullable=True),
        sa.Column('idempotency_key', sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(['token_id'], ['api_token.id'], name=op.f('fk_api_call_token_id_api_token')),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_api_call_case_id_case')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_call')),
    )
    op.create_index('ix_api_call_token_at', 'api_call', ['token_id', 'at'])
    op.create_table(
        'api_idempotency',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('key_sha256', sa.String(length=64), nullable=False),
        sa.Column('request_sha256', sa.String(length=64), nullable=False),
        sa.Column('response', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['api_token.id'], name=op.f('fk_api_idempotency_token_id_api_token')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_idempotency')),
        sa.UniqueConstraint('token_id', 'key_sha256', name='uq_api_idempotency_token_key'),
    )


def downgrade():
    op.drop_table('api_idempotency')
    op.drop_index('ix_api_call_token_at', table_name='api_call')
    op.drop_table('api_call')
    op.drop_table('api_token')
