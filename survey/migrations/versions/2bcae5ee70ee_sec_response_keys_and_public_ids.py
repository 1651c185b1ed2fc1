"""Separate server-chosen and client-chosen answer keys; opaque public ids for answers

An invitation's answer used the submission_key ``invitation-<id>``, in the same
unique column as the keys widget clients choose, so a client could take an
invitation's answer over by sending that key first. An invitation's answer is
now keyed by its invitation_id alone (already unique): its submission_key is
cleared, and the new check ck_responses_one_idempotency_key keeps the two kinds
of key from ever sharing a row.

Answers also get ``public_id``, a random id the widget API shows instead of the
row number (unique where set). Widget answers stored before get one, so their
edit tokens keep working; other old answers need none.

On SQLite the check needs a table recreate (batch mode), run with foreign keys
off as in 5d0b7e3c9a14, whose helper is reused.

Revision ID: 2bcae5ee70ee
Revises: c5e8a2f7d310
Create Date: 2026-12-06 09:10:00

"""
import importlib.util
import secrets
from pathlib import Path

from alembic import op
import sqlalchemy as sa


revision = '2bcae5ee70ee'
down_revision = 'c5e8a2f7d310'
branch_labels = None
depends_on = None


def _foreign_keys_off():
    path = Path(__file__).with_name("5d0b7e3c9a14_partial_indexes_on_responses.py")
    spec = importlib.util.spec_from_file_location("partial_indexes_on_responses", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._sqlite_foreign_keys_off()


def upgrade():
    responses = sa.table("responses", sa.column("id", sa.Integer), sa.column("channel", sa.String),
                         sa.column("submission_key", sa.String), sa.column("invitation_id", sa.Integer),
                         sa.column("public_id", sa.String))
    op.add_column("responses", sa.Column("public_id", sa.String(length=32), nullable=True))
    bind = op.get_bind()
    bind.execute(sa.update(responses).where(responses.c.invitation_id.isnot(None)).values(submission_key=None))
    ids = list(bind.scalars(sa.select(responses.c.id).where(responses.c.channel == "widget")))
    for start in range(0, len(ids), 1000):
        bind.execute(sa.update(responses).where(responses.c.id == sa.bindparam("row_id"))
                     .values(public_id=sa.bindparam("new_id")),
                     [{"row_id": row_id, "new_id": secrets.token_urlsafe(16)} for row_id in ids[start:start + 1000]])
    where = sa.text("public_id IS NOT NULL")
    op.create_index("uq_responses_public_id", "responses", ["public_id"], unique=True,
                    sqlite_where=where, postgresql_where=where)
    with _foreign_keys_off():
        with op.batch_alter_table("responses", schema=None) as batch_op:
            batch_op.create_check_constraint("one_idempotency_key", "invitation_id IS NULL OR submission_key IS NULL")


def downgrade():
    with _foreign_keys_off():
        with op.batch_alter_table("responses", schema=None) as batch_op:
            batch_op.drop_constraint(op.f("ck_responses_one_idempotency_key"), type_="check")
    op.drop_index("uq_responses_public_id", table_name="responses")
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_column("public_id")
    # Restore the old keys, which the code of that revision looks its answers up by.
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE responses SET submission_key = 'invitation-' || CAST(invitation_id AS VARCHAR(20)) "
                         "WHERE invitation_id IS NOT NULL"))
