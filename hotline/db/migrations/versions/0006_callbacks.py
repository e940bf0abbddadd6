"""callbacks and the calls placed for them

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 11:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('callbacks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('call_id', sa.String(length=64), nullable=True),
    sa.Column('tier', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('agent_extension', sa.String(length=40), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('open_key', sa.String(length=40), nullable=True),
    sa.Column('source_key', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stop_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_callbacks_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callbacks'))
    )
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.create_index('ix_callbacks_state_next_attempt_at', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index('ux_callbacks_open_key', ['open_key'], unique=True)
        batch_op.create_index('ux_callbacks_source_key', ['source_key'], unique=True)
        batch_op.create_index('ix_callbacks_ticket_id', ['ticket_id'], unique=False)

    op.create_table('callback_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('callback_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('channel_id', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hung_up_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['callback_id'], ['callbacks.id'], name=op.f('fk_callback_attempts_callback_id_callbacks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_attempts')),
    sa.UniqueConstraint('channel_id', name=op.f('uq_callback_attempts_channel_id'))
    )
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_callback_attempts_callback_id', ['callback_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_callback_attempts_callback_id')
    op.drop_table('callback_attempts')
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_index('ix_callbacks_ticket_id')
        batch_op.drop_index('ux_callbacks_source_key')
        batch_op.drop_index('ux_callbacks_open_key')
        batch_op.drop_index('ix_callbacks_state_next_attempt_at')
    op.drop_table('callbacks')
