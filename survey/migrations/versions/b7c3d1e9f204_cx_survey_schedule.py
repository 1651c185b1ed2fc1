"""Survey schedule: surveys.closes_at and surveys.max_responses

A survey stops taking answers at its close date (naive UTC) or once it holds
max_responses answers (survey.schedule). NULL means no date / no cap, which
is what every survey made before this revision keeps.

Revision ID: b7c3d1e9f204
Revises: b7c3d9e1f022
Create Date: 2026-12-06 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7c3d1e9f204'
down_revision = 'b7c3d9e1f022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closes_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('max_responses', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_surveys_max_responses_positive'), 'max_responses IS NULL OR max_responses >= 1')


def downgrade():
    with op.batch_alter_table('surveys', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_surveys_max_responses_positive'), type_='check')
        batch_op.drop_column('max_responses')
        batch_op.drop_column('closes_at')
