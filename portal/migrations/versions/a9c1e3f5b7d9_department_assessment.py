"""Department assessment (portal/reports/assessment.py): the configurable penalty rules and the
frozen, signed months.

Revision ID: a9c1e3f5b7d9
Revises: f1a3c5e7b9d2
Create Date: 2026-12-02 04:45:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'a9c1e3f5b7d9'
down_revision = 'f1a3c5e7b9d2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'penalty_rule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('target', sa.Enum('unit', 'person', name='target', native_enum=False,
                                    create_constraint=False, length=32), nullable=False),
        sa.Column('basis', sa.Enum('valid_case', 'not_closed_within', 'overdue', 'bottom_three', name='basis',
                                   native_enum=False, create_constraint=False, length=32), nullable=False),
        sa.Column('hours', sa.Integer(), nullable=True),
        sa.Column('category_id', sa.Integer(), nullable=True),
        sa.Column('amount', sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['category_id'], ['category.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'assessment_month',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('snapshot', sa.JSON(), nullable=False),
        sa.Column('frozen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('frozen_by_id', sa.Integer(), nullable=False),
        sa.Column('signature_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['frozen_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['signature_id'], ['signature.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('month'),
    )


def downgrade():
    op.drop_table('assessment_month')
    op.drop_table('penalty_rule')
