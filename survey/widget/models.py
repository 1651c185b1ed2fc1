"""What the widget keeps besides answers: how many bot submissions it turned away."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from survey.db import db

BOT_REASONS = ("honeypot", "too_fast")


class BotCatch(db.Model):
    """Submissions caught by a bot trap, per survey, day (UTC) and trap; never stored as answers."""

    __tablename__ = "widget_bot_catches"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    day: Mapped[dt.date]
    reason: Mapped[str] = mapped_column(sa.String(16))
    count: Mapped[int]

    __table_args__ = (
        sa.UniqueConstraint("survey_id", "day", "reason", name="uq_widget_bot_catches_survey_day_reason"),
        sa.CheckConstraint(f"reason IN {BOT_REASONS}", name="reason_known"),
        sa.CheckConstraint("count > 0", name="count_positive"),
    )
