"""Tables of the owners' e-mails: who wants which, which low scores were alerted, what went to whom.

``alerted_responses`` is the worker's per-answer mark: an answer is in it once
an alert batch covered it, so the answer write path does no extra work and a
re-run finds only what is new. ``owner_mails`` records each e-mail queued to a
survey owner with its outbox message; its unique constraints make a second
queueing of the same alert batch, or of the same week's digest, to the same
person impossible. Everything of one batch (or one survey's digest) commits
together, so a crash leaves either all of it or none.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.db import db
from survey.models import Survey, User, utcnow

#: What an owner e-mail is; also the two things a person can opt out of.
OWNER_MAIL_KINDS = ("alert", "digest")


class MailPreference(db.Model):
    """A person's choice of owner e-mails; no row means both are on."""

    __tablename__ = "mail_preferences"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    low_score_alerts: Mapped[bool] = mapped_column(default=True)
    weekly_digest: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def wants(self, kind: str) -> bool:
        return self.low_score_alerts if kind == "alert" else self.weekly_digest


class AlertBatch(db.Model):
    """One round of low-score alerts for a survey: the answers it covered went to its owners at once."""

    __tablename__ = "alert_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    answers: Mapped[int] = mapped_column(default=0)
    recipients: Mapped[int] = mapped_column(default=0)  # 0: nobody wanted it (still marked, never re-sent)

    survey: Mapped[Survey] = relationship()

    __table_args__ = (sa.Index("ix_alert_batches_survey_created", "survey_id", "created_at"),)


class AlertedResponse(db.Model):
    """An answer some alert batch covered: the primary key makes a second alert for it impossible."""

    __tablename__ = "alerted_responses"

    response_id: Mapped[int] = mapped_column(sa.ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("alert_batches.id", ondelete="CASCADE"), index=True)


class OwnerMail(db.Model):
    """One alert or digest e-mail queued to one person."""

    __tablename__ = "owner_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8))
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("alert_batches.id", ondelete="CASCADE"))
    week: Mapped[Optional[str]] = mapped_column(sa.String(8))  # ISO week of a digest, "2026-W49"
    outbox_message_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("outbox_messages.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("batch_id", "user_id", name="uq_owner_mails_batch_user"),
        sa.UniqueConstraint("survey_id", "week", "user_id", name="uq_owner_mails_survey_week_user"),
        sa.CheckConstraint(f"kind IN {OWNER_MAIL_KINDS}", name="kind_known"),
        sa.CheckConstraint("(kind = 'alert') = (batch_id IS NOT NULL)", name="alert_has_batch"),
        sa.CheckConstraint("(kind = 'digest') = (week IS NOT NULL)", name="digest_has_week"),
    )
