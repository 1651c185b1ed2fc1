"""Campaigns from the dashboard: a state, a send time, a reminder delay, cancelling

A campaign made on the dashboard may wait for its send time (state
``scheduled``) until the scheduler queues it; it records its reminder delay,
who made it, when it was cancelled and why it was refused. Campaigns made
before were queued at once: they become ``queued`` with ``queued_at`` their
creation time. Invitations whose mail was cancelled with their campaign are
``suppressed`` with the new reason ``cancelled``.

Revision ID: d4a7c1e08b52
Revises: b7d3c2e91f04
Create Date: 2026-12-06 12:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd4a7c1e08b52'
down_revision = 'b7d3c2e91f04'
branch_labels = None
depends_on = None

STATES = ('scheduled', 'queueing', 'queued', 'cancelled', 'refused')
OLD_REASONS = ('unsubscribed', 'bounced', 'throttled')
NEW_REASONS = OLD_REASONS + ('cancelled',)


def upgrade():
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.add_column(sa.Column('state', sa.String(length=12), server_default='queued', nullable=False))
        batch_op.add_column(sa.Column('send_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('queued_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('remind_after_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reminders_checked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('problem', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('created_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('submission_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(op.f('uq_campaigns_submission_key'), ['submission_key'])
        batch_op.create_foreign_key(op.f('fk_campaigns_created_by_id_users'), 'users', ['created_by_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_check_constraint(op.f('ck_campaigns_state_known'), f"state IN {STATES}")
        batch_op.create_check_constraint(op.f('ck_campaigns_remind_after_positive'),
                                         'remind_after_days IS NULL OR remind_after_days > 0')
        batch_op.create_index('ix_campaigns_state_send_at', ['state', 'send_at'], unique=False)
    op.execute("UPDATE campaigns SET queued_at = created_at")
    with op.batch_alter_table('invitations') as batch_op:
        batch_op.drop_constraint(op.f('ck_invitations_skip_reason_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_invitations_skip_reason_known'),
                                         f"skip_reason IS NULL OR skip_reason IN {NEW_REASONS}")


def downgrade():
    op.execute("UPDATE invitations SET skip_reason = 'throttled' WHERE skip_reason = 'cancelled'")
    with op.batch_alter_table('invitations') as batch_op:
        batch_op.drop_constraint(op.f('ck_invitations_skip_reason_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_invitations_skip_reason_known'),
                                         f"skip_reason IS NULL OR skip_reason IN {OLD_REASONS}")
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.drop_index('ix_campaigns_state_send_at')
        batch_op.drop_constraint(op.f('ck_campaigns_remind_after_positive'), type_='check')
        batch_op.drop_constraint(op.f('ck_campaigns_state_known'), type_='check')
        batch_op.drop_constraint(op.f('fk_campaigns_created_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(op.f('uq_campaigns_submission_key'), type_='unique')
        for column in ('submission_key', 'created_by_id', 'problem', 'cancelled_at', 'reminders_checked_at', 'remind_after_days', 'lease_until', 'queued_at',
                       'send_at', 'state'):
            batch_op.drop_column(column)
