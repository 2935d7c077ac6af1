"""The bigram search index of cases (portal/search) and typical cases (portal/knowledge).
The index starts empty; a database that already holds cases runs `flask search-reindex`.

Revision ID: e7b9c1d3f5a8
Revises: d3f5a7c9e1b4
Create Date: 2026-12-02 04:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'e7b9c1d3f5a8'
down_revision = 'd3f5a7c9e1b4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'case_term',
        sa.Column('term', sa.String(length=20), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_term_case_id_case'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('term', 'case_id', name=op.f('pk_case_term')),
    )
    op.create_table(
        'typical_case',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('lessons', sa.Text(), nullable=False),
        sa.Column('tags', sa.String(length=200), nullable=False),
        sa.Column('marked_by_id', sa.Integer(), nullable=False),
        sa.Column('marked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_typical_case_case_id_case')),
        sa.ForeignKeyConstraint(['marked_by_id'], ['user.id'], name=op.f('fk_typical_case_marked_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_typical_case')),
        sa.UniqueConstraint('case_id', name=op.f('uq_typical_case_case_id')),
    )


def downgrade():
    op.drop_table('typical_case')
    op.drop_table('case_term')
