"""History from day one and production volumes (portal/reports/history.py, volumes.py): the
imported ledger's monthly counts with their imports, and units produced per product and month
as entered or imported (the batch register's quantities are read where they are).

Revision ID: f1a3c5e7b9d2
Revises: e7b9c1d3f5a8
Create Date: 2026-12-02 04:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = 'f1a3c5e7b9d2'
down_revision = 'e7b9c1d3f5a8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ledger_import',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('source', sa.Enum('counts', 'cases', name='ledgersource', native_enum=False,
                                    create_constraint=False, length=16), nullable=False),
        sa.Column('filename', sa.String(length=120), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('data_rows', sa.Integer(), nullable=False),
        sa.Column('ledger_rows', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'ledger_month',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('category_id', sa.Integer(), nullable=True),
        sa.Column('branch_id', sa.Integer(), nullable=True),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('source', sa.Enum('counts', 'cases', name='ledgersource', native_enum=False,
                                    create_constraint=False, length=16), nullable=False),
        sa.Column('import_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['category_id'], ['category.id']),
        sa.ForeignKeyConstraint(['branch_id'], ['org_unit.id']),
        sa.ForeignKeyConstraint(['import_id'], ['ledger_import.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ledger_month_month', 'ledger_month', ['month'])
    op.create_table(
        'production_volume',
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('units', sa.BigInteger(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['product.id']),
        sa.ForeignKeyConstraint(['updated_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('product_id', 'month'),
    )
    op.create_index('ix_production_volume_month', 'production_volume', ['month'])


def downgrade():
    op.drop_index('ix_production_volume_month', table_name='production_volume')
    op.drop_table('production_volume')
    op.drop_index('ix_ledger_month_month', table_name='ledger_month')
    op.drop_table('ledger_month')
    op.drop_table('ledger_import')
