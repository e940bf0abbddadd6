"""customer directory: customers, their numbers, and the users' extensions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 03:21:37.140545
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('tier', sa.String(length=32), nullable=False),
    sa.Column('area', sa.String(length=16), nullable=False),
    sa.Column('account_manager_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('external_ref', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['account_manager_id'], ['users.id'], name=op.f('fk_customers_account_manager_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('external_ref', name=op.f('uq_customers_external_ref'))
    )
    op.create_table('customer_numbers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_numbers_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_numbers')),
    sa.UniqueConstraint('number', name=op.f('uq_customer_numbers_number'))
    )
    with op.batch_alter_table('customer_numbers', schema=None) as batch_op:
        batch_op.create_index('ix_customer_numbers_customer_id', ['customer_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extension', sa.String(length=40), nullable=True))
        batch_op.create_index('ix_users_extension', ['extension'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_extension')
        batch_op.drop_column('extension')

    with op.batch_alter_table('customer_numbers', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_numbers_customer_id')

    op.drop_table('customer_numbers')
    op.drop_table('customers')
