"""Comments of invisible characters only, stored before textrules.comment_text, become no comment

Since the last fix a comment of only whitespace and format characters (zero-width spaces and
joiners, word joiners, direction marks, soft hyphens) is stored as none; older ones still counted
as comments in every metric and carried a model's labels of an invisible text. Each such comment
(by the same rule, ``survey.textrules.comment_text``) is set to NULL and its labels go as on a
rewrite: the model's labels deleted, analysts' labels kept as history but ``superseded_at``.

An answer with no score keeps its comment (a row needs a score or a comment, and nothing stored
is deleted); the migration logs how many such answers it left. Nothing to undo on downgrade:
the invisible text is not kept.

Revision ID: c3f7a9e1d4b2
Revises: b8d4f1a2c963
Create Date: 2026-12-07 07:00:00

"""
import datetime as dt
import logging

from alembic import op
import sqlalchemy as sa

from survey.textrules import comment_text


revision = 'c3f7a9e1d4b2'
down_revision = 'b8d4f1a2c963'
branch_labels = None
depends_on = None

READ_BATCH = 5000   # comments read at a time, by id: a million comments never sit in memory at once
WRITE_BATCH = 500   # ids per IN list, under every backend's parameter limit

responses = sa.table("responses", sa.column("id", sa.Integer), sa.column("comment", sa.Text),
                     sa.column("score", sa.Integer), sa.column("sentiment", sa.String),
                     sa.column("theme", sa.String), sa.column("label_version", sa.String))
response_labels = sa.table("response_labels", sa.column("response_id", sa.Integer))
label_corrections = sa.table("label_corrections", sa.column("response_id", sa.Integer),
                             sa.column("superseded_at", sa.DateTime))


def clear_invisible_comments(bind) -> tuple[list[int], list[int]]:
    """``(cleared, left)``: the ids of answers whose invisible comment became NULL, and of those
    left as they were because they have no score."""
    cleared, left, last = [], [], 0
    while True:
        rows = bind.execute(sa.select(responses.c.id, responses.c.comment, responses.c.score)
                            .where(responses.c.id > last, responses.c.comment.is_not(None))
                            .order_by(responses.c.id).limit(READ_BATCH)).all()
        if not rows:
            break
        last = rows[-1].id
        for response_id, comment, score in rows:
            if comment_text(comment) is None:
                (cleared if score is not None else left).append(response_id)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    for start in range(0, len(cleared), WRITE_BATCH):
        ids = cleared[start:start + WRITE_BATCH]
        bind.execute(sa.delete(response_labels).where(response_labels.c.response_id.in_(ids)))
        bind.execute(sa.update(label_corrections)
                     .where(label_corrections.c.response_id.in_(ids), label_corrections.c.superseded_at.is_(None))
                     .values(superseded_at=now))
        bind.execute(sa.update(responses).where(responses.c.id.in_(ids))
                     .values(comment=None, sentiment=None, theme=None, label_version=None))
    return cleared, left


def upgrade():
    cleared, left = clear_invisible_comments(op.get_bind())
    log = logging.getLogger("alembic.runtime.migration")
    log.info("Invisible comments: %d set to no comment", len(cleared))
    if left:
        log.warning("Invisible comments: %d answer(s) without a score keep theirs (ids %s)", len(left),
                    ", ".join(map(str, left[:20])) + (" …" if len(left) > 20 else ""))


def downgrade():
    pass  # the invisible text is not kept, and it was no comment
