"""Dashboard retraining: training_runs

One row per retraining an admin starts from the label queue: its state, the
model it would replace, the candidate it trained and both versions' scores.

Revision ID: b7d3c2e91f04
Revises: 3a9f2cc75e9c
Create Date: 2026-12-06 09:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d3c2e91f04'
down_revision = '3a9f2cc75e9c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'training_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('corrections', sa.Integer(), nullable=False),
        sa.Column('previous_version', sa.String(length=64), nullable=True),
        sa.Column('candidate_version', sa.String(length=64), nullable=True),
        sa.Column('scores', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('running', 'ready', 'failed', 'switched', 'discarded')",
                           name=op.f('ck_training_runs_training_state_known')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_training_runs_requested_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_training_runs')),
    )


def downgrade():
    op.drop_table('training_runs')
