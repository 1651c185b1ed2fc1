"""Confirmations in the label queue: label_corrections.confirmed

An analyst who chooses the label the model already gave confirms it: the row is
stored like a correction (who and when; it leaves the label queue and teaches the
next retrain) but marked ``confirmed`` so nothing calls it a correction. Existing
rows were all corrections.

Revision ID: a7c3e9d2f481
Revises: f3a8c2d5e107
Create Date: 2026-12-07 00:55:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a7c3e9d2f481'
down_revision = 'f3a8c2d5e107'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('label_corrections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('label_corrections', schema=None) as batch_op:
        batch_op.drop_column('confirmed')
