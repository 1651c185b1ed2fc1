"""A retraining's last sign of life: training_runs.updated_at

A retraining whose process died was let go two hours after it started, by a rule of its own; an
analysis is let go ten minutes after its last progress (survey.insights.jobs.is_stale). Both now
follow that one rule: a running retraining stamps ``updated_at`` while it trains. Existing runs
take their last known moment (finished, else started).

Revision ID: f1c6d8a2b457
Revises: e7b2f0c4a913
Create Date: 2026-12-07 17:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'f1c6d8a2b457'
down_revision = 'e7b2f0c4a913'
branch_labels = None
depends_on = None

training_runs = sa.table('training_runs', sa.column('updated_at', sa.DateTime),
                         sa.column('started_at', sa.DateTime), sa.column('finished_at', sa.DateTime))


def upgrade():
    with op.batch_alter_table('training_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=True))
    op.execute(sa.update(training_runs).values(
        updated_at=sa.func.coalesce(training_runs.c.finished_at, training_runs.c.started_at)))
    with op.batch_alter_table('training_runs', schema=None) as batch_op:
        batch_op.alter_column('updated_at', existing_type=sa.DateTime(), nullable=False)


def downgrade():
    with op.batch_alter_table('training_runs', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
