"""the floor: agent state intervals and actions taken on the floor

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 08:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_states',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('extension', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agent_states_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['by_user_id'], ['users.id'], name=op.f('fk_agent_states_by_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_states'))
    )
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.create_index('ix_agent_states_extension_started_at', ['extension', 'started_at'], unique=False)
        batch_op.create_index('ix_agent_states_open', ['extension', 'ended_at'], unique=False)

    op.create_table('floor_actions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('target_extension', sa.String(length=40), nullable=True),
    sa.Column('target_user_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['users.id'], name=op.f('fk_floor_actions_actor_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['target_user_id'], ['users.id'], name=op.f('fk_floor_actions_target_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_floor_actions'))
    )
    with op.batch_alter_table('floor_actions', schema=None) as batch_op:
        batch_op.create_index('ix_floor_actions_at', ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('floor_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_floor_actions_at')
    op.drop_table('floor_actions')
    with op.batch_alter_table('agent_states', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_states_open')
        batch_op.drop_index('ix_agent_states_extension_started_at')
    op.drop_table('agent_states')
