"""The corrective-action sheet (纠正预防单): its table, its yearly number counter, and its
links to the cases it answers and to its evidence photos.

Revision ID: f2a4c6e8b0d1
Revises: d4a6c8e0f2b4
Create Date: 2026-12-02 03:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'f2a4c6e8b0d1'
down_revision = 'd4a6c8e0f2b4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('corrective_action_counter',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_corrective_action_counter'))
    )
    op.create_table('corrective_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('issued', 'responded', 'approved', 'returned', 'closed',
                               name='sheetstate', native_enum=False, length=32), nullable=False),
    sa.Column('layout', sa.Enum('standard', '8d', name='layout', native_enum=False, length=16),
              nullable=False),
    sa.Column('issuing_unit_id', sa.Integer(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('receiving_unit_id', sa.Integer(), nullable=False),
    sa.Column('batch_no', sa.String(length=40), nullable=True),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('product_name', sa.String(length=100), nullable=True),
    sa.Column('production_date', sa.Date(), nullable=True),
    sa.Column('nonconformity', sa.Text(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('investigation', sa.Text(), nullable=True),
    sa.Column('whys', sa.JSON(), nullable=True),
    sa.Column('correction', sa.Text(), nullable=True),
    sa.Column('prevention', sa.Text(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('responded_by_id', sa.Integer(), nullable=True),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('effective', sa.Boolean(), nullable=True),
    sa.Column('verification_evidence', sa.Text(), nullable=True),
    sa.Column('verified_on', sa.Date(), nullable=True),
    sa.Column('verified_by_id', sa.Integer(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=True),
    sa.Column('return_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('team', sa.JSON(), nullable=True),
    sa.Column('containment', sa.JSON(), nullable=True),
    sa.Column('root_cause_occurrence', sa.Text(), nullable=True),
    sa.Column('root_cause_escape', sa.Text(), nullable=True),
    sa.Column('closure_note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batch.id'], name=op.f('fk_corrective_action_batch_id_batch')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user.id'], name=op.f('fk_corrective_action_issued_by_id_user')),
    sa.ForeignKeyConstraint(['issuing_unit_id'], ['org_unit.id'], name=op.f('fk_corrective_action_issuing_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['owner_id'], ['user.id'], name=op.f('fk_corrective_action_owner_id_user')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_corrective_action_product_id_product')),
    sa.ForeignKeyConstraint(['receiving_unit_id'], ['org_unit.id'], name=op.f('fk_corrective_action_receiving_unit_id_org_unit')),
    sa.ForeignKeyConstraint(['responded_by_id'], ['user.id'], name=op.f('fk_corrective_action_responded_by_id_user')),
    sa.ForeignKeyConstraint(['verified_by_id'], ['user.id'], name=op.f('fk_corrective_action_verified_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_corrective_action')),
    sa.UniqueConstraint('number', name=op.f('uq_corrective_action_number'))
    )
    op.create_index('ix_corrective_action_state_due', 'corrective_action', ['state', 'due_at'], unique=False)
    op.create_index('ix_corrective_action_receiving', 'corrective_action',
                    ['receiving_unit_id', 'issued_at'], unique=False)
    op.create_index('ix_corrective_action_batch_no', 'corrective_action', ['batch_no'], unique=False)
    op.create_table('corrective_action_case',
    sa.Column('sheet_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_corrective_action_case_case_id_case')),
    sa.ForeignKeyConstraint(['sheet_id'], ['corrective_action.id'], name=op.f('fk_corrective_action_case_sheet_id_corrective_action'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sheet_id', 'case_id', name=op.f('pk_corrective_action_case'))
    )
    op.create_index(op.f('ix_corrective_action_case_case_id'), 'corrective_action_case', ['case_id'], unique=False)
    op.create_table('corrective_action_attachment',
    sa.Column('sheet_id', sa.Integer(), nullable=False),
    sa.Column('attachment_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachment.id'], name=op.f('fk_corrective_action_attachment_attachment_id_attachment')),
    sa.ForeignKeyConstraint(['sheet_id'], ['corrective_action.id'], name=op.f('fk_corrective_action_attachment_sheet_id_corrective_action'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sheet_id', 'attachment_id', name=op.f('pk_corrective_action_attachment'))
    )


def downgrade():
    op.drop_table('corrective_action_attachment')
    op.drop_index(op.f('ix_corrective_action_case_case_id'), table_name='corrective_action_case')
    op.drop_table('corrective_action_case')
    op.drop_index('ix_corrective_action_batch_no', table_name='corrective_action')
    op.drop_index('ix_corrective_action_receiving', table_name='corrective_action')
    op.drop_index('ix_corrective_action_state_due', table_name='corrective_action')
    op.drop_table('corrective_action')
    op.drop_table('corrective_action_counter')
