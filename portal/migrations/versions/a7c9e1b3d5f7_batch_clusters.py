"""Batch clusters (批号聚集): the cluster rule, the clusters and the cases in each.

Revision ID: a7c9e1b3d5f7
Revises: f2a4c6e8b0d1
Create Date: 2026-12-02 03:50:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'a7c9e1b3d5f7'
down_revision = 'f2a4c6e8b0d1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cluster_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('min_cases', sa.Integer(), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('min_branches', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_cluster_rule_updated_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cluster_rule'))
    )
    op.create_table('batch_cluster',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('batch_no', sa.String(length=40), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('open_batch_no', sa.String(length=40), nullable=True),
    sa.Column('state', sa.Enum('open', 'closed', name='clusterstate', native_enum=False, length=16),
              nullable=False),
    sa.Column('trigger', sa.Enum('cases', 'branches', name='clustertrigger', native_enum=False, length=16),
              nullable=False),
    sa.Column('rule', sa.JSON(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by_case_id', sa.Integer(), nullable=True),
    sa.Column('serious', sa.Boolean(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('close_note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], name=op.f('fk_batch_cluster_batch_id_batch')),
    sa.ForeignKeyConstraint(['opened_by_case_id'], ['case.id'], name=op.f('fk_batch_cluster_opened_by_case_id_case')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_batch_cluster_decided_by_id_user')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user.id'], name=op.f('fk_batch_cluster_closed_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batch_cluster')),
    sa.UniqueConstraint('open_batch_no', name=op.f('uq_batch_cluster_open_batch_no'))
    )
    op.create_index(op.f('ix_batch_cluster_batch_no'), 'batch_cluster', ['batch_no'], unique=False)
    op.create_index('ix_batch_cluster_state_opened', 'batch_cluster', ['state', 'opened_at'], unique=False)
    op.create_table('batch_cluster_case',
    sa.Column('cluster_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['batch_cluster.id'], name=op.f('fk_batch_cluster_case_cluster_id_batch_cluster'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_batch_cluster_case_case_id_case')),
    sa.PrimaryKeyConstraint('cluster_id', 'case_id', name=op.f('pk_batch_cluster_case'))
    )
    op.create_index(op.f('ix_batch_cluster_case_case_id'), 'batch_cluster_case', ['case_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_batch_cluster_case_case_id'), table_name='batch_cluster_case')
    op.drop_table('batch_cluster_case')
    op.drop_index('ix_batch_cluster_state_opened', table_name='batch_cluster')
    op.drop_index(op.f('ix_batch_cluster_batch_no'), table_name='batch_cluster')
    op.drop_table('batch_cluster')
    op.drop_table('cluster_rule')
