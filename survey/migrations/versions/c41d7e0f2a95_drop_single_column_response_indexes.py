"""Drop the responses indexes on created_at, sentiment and theme alone

Every query on them also names the survey, and ix_responses_survey_created
(survey_id, created_at, score, sentiment, theme, channel) serves those; the
three single-column indexes only made each answer's insert, and each label
update, write three more B-trees.

Revision ID: c41d7e0f2a95
Revises: a820b9d15653
Create Date: 2026-11-27 21:40:00

"""
from alembic import op


revision = 'c41d7e0f2a95'
down_revision = 'a820b9d15653'
branch_labels = None
depends_on = None

INDEXES = {"ix_responses_created_at": "created_at", "ix_responses_sentiment": "sentiment",
           "ix_responses_theme": "theme"}


def upgrade():
    for name in INDEXES:
        op.drop_index(name, table_name="responses")


def downgrade():
    for name, column in INDEXES.items():
        op.create_index(name, "responses", [column], unique=False)
