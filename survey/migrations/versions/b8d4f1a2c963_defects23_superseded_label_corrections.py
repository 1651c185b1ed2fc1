"""Analysts' labels on a rewritten comment: label_corrections.superseded_at

A correction or confirmation judged the comment's text at the time. When the customer
rewrites the comment in its edit window, the label no longer describes it: the row is kept
(who labelled the earlier text, what and when) but stamped ``superseded_at`` and from then on
neither in force, nor shown, nor counted, nor trained on. Existing rows stay in force.

Revision ID: b8d4f1a2c963
Revises: a7c3e9d2f481
Create Date: 2026-12-07 03:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b8d4f1a2c963'
down_revision = 'a7c3e9d2f481'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('label_corrections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('superseded_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('label_corrections', schema=None) as batch_op:
        batch_op.drop_column('superseded_at')
