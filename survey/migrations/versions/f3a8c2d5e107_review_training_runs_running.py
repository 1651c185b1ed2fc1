"""Dashboard retraining one at a time: training_runs.running (unique)

``running`` is True while a retraining runs and NULL after, like
``analysis_jobs.running``: its unique constraint refuses a second one started
at the same moment (a double click, two admins, two web hosts). A run still
"running" when this upgrade runs lost its process to the restart the upgrade
needs, so it is recorded as failed.

Revision ID: f3a8c2d5e107
Revises: d4e9a7c1b2f3
Create Date: 2026-12-07 00:10:00

"""
import datetime as dt

from alembic import op
import sqlalchemy as sa


revision = 'f3a8c2d5e107'
down_revision = 'd4e9a7c1b2f3'
branch_labels = None
depends_on = None

training_runs = sa.table('training_runs', sa.column('state', sa.String), sa.column('error', sa.Text),
                         sa.column('finished_at', sa.DateTime))


def upgrade():
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    op.execute(sa.update(training_runs).where(training_runs.c.state == 'running')
               .values(state='failed', finished_at=now,
                       error='it stopped before it finished (Rapport was upgraded); start it again'))
    with op.batch_alter_table('training_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('running', sa.Boolean(), nullable=True))
        batch_op.create_unique_constraint('uq_training_runs_running', ['running'])


def downgrade():
    with op.batch_alter_table('training_runs', schema=None) as batch_op:
        batch_op.drop_constraint('uq_training_runs_running', type_='unique')
        batch_op.drop_column('running')
