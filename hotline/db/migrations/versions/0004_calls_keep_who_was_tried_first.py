"""calls keep who was tried first

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 04:39:33.925489
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('route_first_try', sa.String(length=40), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_column('route_first_try')

