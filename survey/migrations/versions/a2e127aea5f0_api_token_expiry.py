"""API tokens get a lifetime: api_tokens.expires_at

The API refuses a token from expires_at on (survey.auth.operations.find_api_token).
NULL means the token never expires: every token made before this revision keeps
working as it did, and people may still choose "never" for a new one.

Revision ID: a2e127aea5f0
Revises: c41d7e0f2a95
Create Date: 2026-11-27 21:45:00

"""
import datetime as dt

from alembic import op
import sqlalchemy as sa


revision = 'a2e127aea5f0'
down_revision = 'c41d7e0f2a95'
branch_labels = None
depends_on = None

api_tokens = sa.table('api_tokens', sa.column('expires_at', sa.DateTime()), sa.column('revoked_at', sa.DateTime()))


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))


def downgrade():
    # Without the column every token would work for ever: an expired one must not come back,
    # so it is revoked as of its expiry. Tokens not yet expired lose their end date.
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    op.execute(sa.update(api_tokens)
               .where(api_tokens.c.revoked_at.is_(None), api_tokens.c.expires_at <= now)
               .values(revoked_at=api_tokens.c.expires_at))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
