"""queue counters kept with the call events (the baseline a resync after a restart needs)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 03:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('queue_counters',
    sa.Column('queue', sa.String(length=80), nullable=False),
    sa.Column('completed', sa.Integer(), nullable=False),
    sa.Column('abandoned', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('queue', name=op.f('pk_queue_counters'))
    )


def downgrade() -> None:
    op.drop_table('queue_counters')
