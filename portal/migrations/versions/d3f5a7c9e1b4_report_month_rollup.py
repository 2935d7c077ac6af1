"""The dashboard's monthly rollup of cases (portal/reports/rollup.py), and an index on
case.closed_at for "closed this month". The rollup starts empty and is kept by the case
transactions from here on; a database that already holds cases runs `flask reports rollup`.

Revision ID: d3f5a7c9e1b4
Revises: c6e8a0b2d4f7
Create Date: 2026-12-02 04:30:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'd3f5a7c9e1b4'
down_revision = 'c6e8a0b2d4f7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_month',
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('branch_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('category_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.Column('rejected', sa.BigInteger(), nullable=False),
        sa.Column('closed', sa.BigInteger(), nullable=False),
        sa.Column('closed_48h', sa.BigInteger(), nullable=False),
        sa.Column('close_seconds', sa.BigInteger(), nullable=False),
        sa.Column('score_quality_sum', sa.BigInteger(), nullable=False),
        sa.Column('score_speed_sum', sa.BigInteger(), nullable=False),
        sa.Column('score_attitude_sum', sa.BigInteger(), nullable=False),
        sa.Column('score_info_sum', sa.BigInteger(), nullable=False),
        sa.Column('score_safety_sum', sa.BigInteger(), nullable=False),
        sa.Column('score_quality_n', sa.BigInteger(), nullable=False),
        sa.Column('score_speed_n', sa.BigInteger(), nullable=False),
        sa.Column('score_attitude_n', sa.BigInteger(), nullable=False),
        sa.Column('score_info_n', sa.BigInteger(), nullable=False),
        sa.Column('score_safety_n', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('month', 'branch_id', 'product_id', 'category_id', 'unit_id',
                                name=op.f('pk_report_month')),
    )
    op.create_index('ix_case_closed', 'case', ['closed_at'])


def downgrade():
    op.drop_index('ix_case_closed', table_name='case')
    op.drop_table('report_month')
