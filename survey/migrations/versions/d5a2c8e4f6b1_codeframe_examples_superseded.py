"""Codeframe examples of a rewritten comment: codeframe_examples.superseded_at

An analyst's example (or exclusion) of a pain point judged the comment's text at the time. When
the customer rewrites the comment in its edit window the row is kept with the earlier text but
stamped ``superseded_at``: no longer taught to the sort, excluded, or shown as an example (the
screen lists it as the earlier text), as label_corrections.superseded_at does for labels.
Existing rows stay in force.

Revision ID: d5a2c8e4f6b1
Revises: c3f7a9e1d4b2
Create Date: 2026-12-07 07:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd5a2c8e4f6b1'
down_revision = 'c3f7a9e1d4b2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('codeframe_examples', schema=None) as batch_op:
        batch_op.add_column(sa.Column('superseded_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('codeframe_examples', schema=None) as batch_op:
        batch_op.drop_column('superseded_at')
