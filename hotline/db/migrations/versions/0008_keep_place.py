"""keep your place: the requests of callers who pressed 1 to be called back

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('keep_place_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('caller_number', sa.String(length=40), nullable=True),
    sa.Column('call_id', sa.String(length=64), nullable=False),
    sa.Column('queue', sa.String(length=80), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=True),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('callback_id', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('carried', sa.Boolean(), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=True),
    sa.Column('open_key', sa.String(length=40), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['callback_id'], ['callbacks.id'], name=op.f('fk_keep_place_requests_callback_id_callbacks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_keep_place_requests'))
    )
    with op.batch_alter_table('keep_place_requests', schema=None) as batch_op:
        batch_op.create_index('ix_keep_place_requests_state_queue', ['state', 'queue'], unique=False)
        batch_op.create_index('ux_keep_place_requests_open_key', ['open_key'], unique=True)
        batch_op.create_index('ix_keep_place_requests_callback_id', ['callback_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('keep_place_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_keep_place_requests_callback_id')
        batch_op.drop_index('ux_keep_place_requests_open_key')
        batch_op.drop_index('ix_keep_place_requests_state_queue')
    op.drop_table('keep_place_requests')
