"""The codeframe's tables: a survey's own named pain points, their examples, the analysts' edits.

* :class:`CodeframePoint` -- a named problem of one survey (theme, keywords, hidden or not);
* :class:`CodeframeExample` -- a comment that belongs to a point (``role="example"``:
  the team's example text or a comment an analyst confirmed) or that an analyst
  took out of it (``role="excluded"``); both feed the next sort while in force
  (``superseded_at`` empty: the customer has not rewritten the comment since);
* :class:`CodeframeEdit` -- every change, with who and when (the audit trail);
* :class:`DismissedProposal` -- a discovered group an analyst said no to, so it
  is not proposed again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from analysis.labels import THEMES
from survey.db import db
from survey.models import User, utcnow

EXAMPLE_ROLES = ("example", "excluded")
NAME_MAX = 200


def text_key(text: str) -> str:
    """What makes two example texts the same: whitespace and case folded, hashed (texts may be long)."""
    return hashlib.sha256(" ".join(text.split()).casefold().encode("utf-8")).hexdigest()


class CodeframePoint(db.Model):
    __tablename__ = "codeframe_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    theme: Mapped[str] = mapped_column(sa.String(8))
    keywords: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    hidden: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    examples: Mapped[list["CodeframeExample"]] = relationship(
        back_populates="point", cascade="all, delete-orphan", order_by="CodeframeExample.id")

    def in_force(self, role: str) -> list["CodeframeExample"]:
        """Its examples (or exclusions) that still judge the comment's text: what is shown, counted and taught."""
        return [e for e in self.examples if e.role == role and e.superseded_at is None]

    def superseded(self) -> list["CodeframeExample"]:
        """Its analysts' judgements of comments the customer has rewritten since: kept as history only."""
        return [e for e in self.examples if e.superseded_at is not None]

    __table_args__ = (
        sa.UniqueConstraint("survey_id", "name", name="uq_codeframe_points_survey_name"),
        sa.CheckConstraint(f"theme IN {THEMES}", name="theme_known"),
    )

    def __repr__(self) -> str:
        return f"<CodeframePoint {self.name!r}>"


class CodeframeExample(db.Model):
    __tablename__ = "codeframe_examples"

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(sa.ForeignKey("codeframe_points.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(8), default="example")
    text: Mapped[str] = mapped_column(sa.Text)
    text_key: Mapped[str] = mapped_column(sa.String(64))
    # The survey's comment this came from, when an analyst picked one (NULL for a team's text).
    response_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("responses.id", ondelete="SET NULL"),
                                                       index=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Set when the customer rewrites the comment: the analyst judged the earlier text (``text``, kept),
    # so from then on it is neither shown as an example, nor taught, nor excluded; as
    # ``label_corrections.superseded_at`` for labels (survey.labels.IN_FORCE).
    superseded_at: Mapped[Optional[dt.datetime]]

    point: Mapped[CodeframePoint] = relationship(back_populates="examples")

    __table_args__ = (
        sa.UniqueConstraint("point_id", "role", "text_key", name="uq_codeframe_examples_point_role_text"),
        sa.CheckConstraint(f"role IN {EXAMPLE_ROLES}", name="role_known"),
    )


class CodeframeEdit(db.Model):
    """One change to a survey's codeframe: what, by whom (a user, or the command line), when."""

    __tablename__ = "codeframe_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(sa.String(254))  # the user's e-mail, or "cli"
    action: Mapped[str] = mapped_column(sa.String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    user: Mapped[Optional[User]] = relationship()


class DismissedProposal(db.Model):
    """A proposed pain point an analyst dismissed; a later proposal like it stays out."""

    __tablename__ = "codeframe_dismissed"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    terms: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    response_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("survey_id", "label", name="uq_codeframe_dismissed_survey_label"),)
