"""Confirmations nobody made: the correction form's other label, out of force

Until stop 27 the correction form sent both labels, and saving stored the one left as it was as a
confirmation: an analyst who corrected the sentiment also "confirmed" the theme they never looked
at, which then stayed out of the model's reach and taught every retrain as an own label. The form
now stores only what the analyst changed, or both when they press "Confirm both".

Such a confirmation is recognised by the correction saved with it: the same answer and analyst,
the other field, a changed value, stored in the same second just before it. It is taken out of
force the way a rewritten comment's labels are (``superseded_at``, here set to the row's own
``created_at``, which marks it): kept as history, no longer shown, counted or trained on, and the
field is the model's again (its value is the model's label it confirmed). Two confirmations saved together (the analyst pressed Save on labels
they agreed with) and every correction stay as they are.

Revision ID: e7b2f0c4a913
Revises: d5a2c8e4f6b1
Create Date: 2026-12-07 16:40:00

"""
import datetime as dt
import logging

from alembic import op
import sqlalchemy as sa


revision = 'e7b2f0c4a913'
down_revision = 'd5a2c8e4f6b1'
branch_labels = None
depends_on = None

#: How far apart one save's two rows can be stored (they were added and committed together).
SAME_SAVE = dt.timedelta(seconds=1)
WRITE_BATCH = 500  # ids per IN list, under every backend's parameter limit

label_corrections = sa.table("label_corrections", sa.column("id", sa.Integer), sa.column("response_id", sa.Integer),
                             sa.column("field", sa.String), sa.column("confirmed", sa.Boolean),
                             sa.column("user_id", sa.Integer), sa.column("created_at", sa.DateTime),
                             sa.column("superseded_at", sa.DateTime))


def implied_confirmations(bind) -> list[int]:
    """The ids of in-force confirmations stored beside a correction of the other field in one save."""
    confirmation, correction = label_corrections.alias("confirmation"), label_corrections.alias("correction")
    rows = bind.execute(
        sa.select(confirmation.c.id, confirmation.c.created_at, correction.c.created_at)
        .join(correction, sa.and_(correction.c.response_id == confirmation.c.response_id,
                                  correction.c.field != confirmation.c.field,
                                  correction.c.id < confirmation.c.id,
                                  sa.not_(correction.c.confirmed),
                                  sa.or_(correction.c.user_id == confirmation.c.user_id,
                                         sa.and_(correction.c.user_id.is_(None), confirmation.c.user_id.is_(None)))))
        .where(confirmation.c.confirmed, confirmation.c.superseded_at.is_(None))).all()
    # The time test in Python: date arithmetic differs between SQLite and PostgreSQL, and labels are few.
    return sorted({row[0] for row in rows if abs(row[1] - row[2]) <= SAME_SAVE})


def retract(bind, ids: list[int]) -> None:
    for start in range(0, len(ids), WRITE_BATCH):
        bind.execute(sa.update(label_corrections).where(label_corrections.c.id.in_(ids[start:start + WRITE_BATCH]))
                     .values(superseded_at=label_corrections.c.created_at))


def upgrade():
    ids = implied_confirmations(op.get_bind())
    retract(op.get_bind(), ids)
    logging.getLogger("alembic.runtime.migration").info(
        "Label confirmations saved beside a correction of the other label: %d taken out of force", len(ids))


def restore(bind) -> None:
    # Only this migration stamps a label superseded at the moment it was made (a rewrite comes later).
    bind.execute(sa.update(label_corrections)
                 .where(label_corrections.c.confirmed, label_corrections.c.superseded_at == label_corrections.c.created_at)
                 .values(superseded_at=None))


def downgrade():
    restore(op.get_bind())
