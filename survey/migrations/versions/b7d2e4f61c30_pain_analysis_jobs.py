"""Analyses started from the dashboard: analysis_jobs (progress, one at a time)

Revision ID: b7d2e4f61c30
Revises: e5b1c07d9a22
Create Date: 2026-12-06 09:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d2e4f61c30'
down_revision = 'e5b1c07d9a22'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'analysis_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('survey_id', sa.Integer(), nullable=True),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('running', sa.Boolean(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('step', sa.String(length=200), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('message', sa.String(length=1000), nullable=True),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['survey_id'], ['surveys.id'], name=op.f('fk_analysis_jobs_survey_id_surveys'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_analysis_jobs_requested_by_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['run_id'], ['analysis_runs.id'], name=op.f('fk_analysis_jobs_run_id_analysis_runs'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analysis_jobs')),
        sa.UniqueConstraint('running', name='uq_analysis_jobs_running'),
    )


def downgrade():
    op.drop_table('analysis_jobs')
