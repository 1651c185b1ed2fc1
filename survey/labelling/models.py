"""Retraining from the dashboard: one row per training an admin started.

A run trains a *candidate* model version beside the one in use; it is only
used once an admin switches to it, after comparing the two versions'
scores (``scores``). States: running -> ready -> switched | discarded, or
running -> failed (``error`` says why; also when its process died, by the rule
analyses follow: ``survey.insights.jobs.is_stale``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.db import db
from survey.models import User, utcnow

TRAINING_STATES = ("running", "ready", "failed", "switched", "discarded")


class TrainingRun(db.Model):
    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(16), default="running")
    #: True while it runs and NULL after: its unique constraint lets one run at a time, on every host.
    running: Mapped[Optional[bool]]
    requested_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Its last sign of life while it runs: survey.insights.jobs.is_stale judges it, as it does an analysis.
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[dt.datetime]]
    #: Analyst corrections the candidate learnt from (own labels).
    corrections: Mapped[int] = mapped_column(default=0)
    previous_version: Mapped[Optional[str]] = mapped_column(sa.String(64))
    candidate_version: Mapped[Optional[str]] = mapped_column(sa.String(64))
    #: {"old": {...}, "new": {...}} per task, see survey.labelling.operations.compare.
    scores: Mapped[Optional[dict[str, Any]]] = mapped_column(sa.JSON)
    error: Mapped[Optional[str]] = mapped_column(sa.Text)

    requested_by: Mapped[Optional[User]] = relationship()

    __table_args__ = (
        sa.CheckConstraint(f"state IN {TRAINING_STATES}", name="training_state_known"),
        sa.UniqueConstraint("running", name="uq_training_runs_running"),
    )
