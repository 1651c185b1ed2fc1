"""What the team did about an answer: who has it, its state, and internal notes (who and when, always)."""

from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.db import db
from survey.models import Response, User, utcnow

#: Follow-up states in the order work moves through them.
STATES = ("open", "contacted", "resolved")
STATE_TITLES = {"open": "Open", "contacted": "Contacted", "resolved": "Resolved"}


class FollowUp(db.Model):
    """One answer's follow-up; made at the first action on it (an answer without one is open)."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey("responses.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    assignee_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    assigned_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    assigned_at: Mapped[Optional[dt.datetime]]
    state_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    state_at: Mapped[Optional[dt.datetime]]
    # The first time it left "open" (contacted or resolved): time to first follow-up ends here.
    first_followed_up_at: Mapped[Optional[dt.datetime]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    response: Mapped[Response] = relationship()
    assignee: Mapped[Optional[User]] = relationship(foreign_keys=[assignee_id])
    assigned_by: Mapped[Optional[User]] = relationship(foreign_keys=[assigned_by_id])
    state_by: Mapped[Optional[User]] = relationship(foreign_keys=[state_by_id])
    notes: Mapped[list["FollowUpNote"]] = relationship(back_populates="follow_up", cascade="all, delete-orphan",
                                                       order_by="FollowUpNote.id")

    __table_args__ = (
        sa.CheckConstraint(f"state IN {STATES}", name="state_known"),
        sa.Index("ix_follow_ups_assignee_state", "assignee_id", "state"),
    )


class FollowUpNote(db.Model):
    """An internal note on an answer's follow-up; customers never see it."""

    __tablename__ = "follow_up_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(sa.ForeignKey("follow_ups.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    follow_up: Mapped[FollowUp] = relationship(back_populates="notes")
    author: Mapped[Optional[User]] = relationship()
