"""Core ORM models: surveys, answers, contacts, users, labels and pain points.

Feature packages add their own tables in their own ``models`` modules
(``survey.invites.models``, ``survey.widget.models``); ``survey.models_all``
imports every one so migrations and ``create_all`` see the whole schema.
Invariants live in the database as named constraints.

Why one module over 400 lines: the core tables refer to each other, and their
named constraints are easiest to check against the migrations in one place.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from analysis.labels import SENTIMENTS, THEMES
from survey.db import db
from survey.kinds import KINDS, SurveyKind


def utcnow() -> dt.datetime:
    """Naive UTC: SQLite keeps no time zones, so every timestamp is UTC by rule."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


CHANNELS = ("link", "email", "widget", "import")
ROLES = ("admin", "analyst")


def new_public_key() -> str:
    """An unguessable survey key: 128 bits, URL-safe, never starting with "-".

    A leading "-" would make ``flask survey … KEY`` read the key as an option.
    """
    while True:
        key = secrets.token_urlsafe(16)
        if not key.startswith("-"):
            return key


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[Optional[dt.datetime]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[Optional[dt.datetime]]

    __table_args__ = (sa.CheckConstraint(f"role IN {ROLES}", name="role_known"),)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_locked(self) -> bool:
        """Locked for a while after repeated failed sign-ins (survey.auth.operations.authenticate)."""
        return self.locked_until is not None and self.locked_until > utcnow()

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class LoginSession(db.Model):
    """One signed-in browser: its cookie carries a random id whose SHA-256 is stored here.

    A session works while it has no ``ended_at`` (sign-out, an admin ending the user's
    sessions, a password change) and is younger than LOGIN_SESSION_HOURS, so a copied
    cookie stops working the moment its session is ended on the server.
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[Optional[dt.datetime]]

    user: Mapped[User] = relationship()


TOKEN_EXPIRY_WARNING_DAYS = 14  # the tokens page marks tokens that expire this soon


class ApiToken(db.Model):
    """A per-user read token for /api/v1; only its SHA-256 is stored.

    It works until ``expires_at`` (refused from that moment on); NULL means it
    never expires, as for every token made before tokens had a lifetime.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[Optional[dt.datetime]]
    revoked_at: Mapped[Optional[dt.datetime]]
    expires_at: Mapped[Optional[dt.datetime]]

    user: Mapped[User] = relationship()

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    def days_left(self, now: dt.datetime | None = None) -> int | None:
        """Calendar days (UTC) from ``now`` to the expiry date, as the page shows that date:
        0 on the day itself and once expired, None if it never expires."""
        if self.expires_at is None:
            return None
        return max(0, (self.expires_at.date() - (now or utcnow()).date()).days)

    def status(self, now: dt.datetime | None = None) -> str:
        """``revoked``, ``expired``, ``expiring`` (within TOKEN_EXPIRY_WARNING_DAYS) or ``active``."""
        now = now or utcnow()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is None:
            return "active"
        if self.is_expired(now):
            return "expired"
        if self.expires_at - now <= dt.timedelta(days=TOKEN_EXPIRY_WARNING_DAYS):
            return "expiring"
        return "active"


class Survey(db.Model):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_key: Mapped[str] = mapped_column(sa.String(43), unique=True, default=new_public_key)
    kind: Mapped[str] = mapped_column(sa.String(8))
    name: Mapped[str] = mapped_column(sa.String(200))
    subject: Mapped[str] = mapped_column(sa.String(200))
    question: Mapped[str] = mapped_column(sa.String(500))
    low_label: Mapped[str] = mapped_column(sa.String(80))
    high_label: Mapped[str] = mapped_column(sa.String(80))
    followup_enabled: Mapped[bool] = mapped_column(default=True)
    # Follow-up prompt per score band; see survey.kinds.band().
    followup_negative: Mapped[str] = mapped_column(sa.String(300))
    followup_neutral: Mapped[str] = mapped_column(sa.String(300))
    followup_positive: Mapped[str] = mapped_column(sa.String(300))
    thank_you: Mapped[str] = mapped_column(sa.String(1000))
    is_open: Mapped[bool] = mapped_column(default=True)
    # Schedule (survey.schedule): no answers from closes_at on (naive UTC), no new ones past max_responses.
    closes_at: Mapped[Optional[dt.datetime]]
    max_responses: Mapped[Optional[int]]
    # Scores up to here need a follow-up (survey.followup); None: the top of the kind's negative band.
    followup_max_score: Mapped[Optional[int]]
    owner_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # E-mail invitations
    email_subject: Mapped[Optional[str]] = mapped_column(sa.String(200))
    email_intro: Mapped[Optional[str]] = mapped_column(sa.Text)
    throttle_days: Mapped[Optional[int]]  # None: the site-wide THROTTLE_DAYS
    # Widget
    widget_cap_days: Mapped[int] = mapped_column(default=90, server_default="90")
    keep_query_string: Mapped[bool] = mapped_column(default=False)

    owner: Mapped[Optional[User]] = relationship()
    origins: Mapped[list["SurveyOrigin"]] = relationship(
        back_populates="survey", cascade="all, delete-orphan", order_by="SurveyOrigin.origin"
    )

    __table_args__ = (
        sa.CheckConstraint(f"kind IN {tuple(KINDS)}", name="kind_known"),
        sa.CheckConstraint("widget_cap_days >= 0", name="cap_not_negative"),
        sa.CheckConstraint("throttle_days IS NULL OR throttle_days >= 0", name="throttle_not_negative"),
        sa.CheckConstraint("max_responses IS NULL OR max_responses >= 1", name="max_responses_positive"),
    )

    @property
    def spec(self) -> SurveyKind:
        return KINDS[self.kind]

    @property
    def scale(self) -> range:
        return self.spec.scale

    @property
    def followup_threshold(self) -> int:
        """The highest score that lands in the follow-up inbox."""
        return self.spec.negative_max if self.followup_max_score is None else self.followup_max_score

    def followup_prompt(self, score: int | None) -> str:
        """The follow-up question for this score's band (the neutral one before a score)."""
        if score is None:
            return self.followup_neutral
        return getattr(self, f"followup_{self.spec.band(score)}")

    def __repr__(self) -> str:
        return f"<Survey {self.public_key} {self.kind} {self.name!r}>"


class SurveyOrigin(db.Model):
    """An origin (scheme://host[:port]) allowed to post widget answers."""

    __tablename__ = "survey_origins"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(sa.String(255))

    survey: Mapped[Survey] = relationship(back_populates="origins")

    __table_args__ = (sa.UniqueConstraint("survey_id", "origin", name="uq_survey_origins_survey_origin"),)


class Contact(db.Model):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased so duplicates merge case-insensitively on every backend.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[Optional[str]] = mapped_column(sa.String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    unsubscribed_at: Mapped[Optional[dt.datetime]]
    bounced_at: Mapped[Optional[dt.datetime]]
    last_surveyed_at: Mapped[Optional[dt.datetime]]

    __table_args__ = (sa.CheckConstraint("email = lower(email)", name="email_lowercase"),)


class Response(db.Model):
    """One answer to a survey: a score, a comment, or both."""

    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The id the public widget API shows (random, so it tells a sender nothing; survey.operations.new_public_id).
    public_id: Mapped[Optional[str]] = mapped_column(sa.String(32))
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    score: Mapped[Optional[int]]
    comment: Mapped[Optional[str]] = mapped_column(sa.Text)
    channel: Mapped[str] = mapped_column(sa.String(8))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Imported feedback keeps its id from the source, so a re-import adds nothing.
    external_id: Mapped[Optional[str]] = mapped_column(sa.String(200))
    # Idempotency key the client chose for the form or API call that created it (double-click,
    # retry). An invitation's answer has none: its invitation_id is its key, so no client can pick it.
    submission_key: Mapped[Optional[str]] = mapped_column(sa.String(64), unique=True)
    # contact_id, invitation_id and external_id are NULL for most answers: their indexes
    # (below) are partial, so an answer's insert writes no B-tree entry for a NULL.
    contact_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"))
    invitation_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("invitations.id", ondelete="SET NULL"))
    meta: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    ua_family: Mapped[Optional[str]] = mapped_column(sa.String(64))
    referrer_origin: Mapped[Optional[str]] = mapped_column(sa.String(255))
    page_url: Mapped[Optional[str]] = mapped_column(sa.String(2000))
    # Lets the widget add its comment later (PATCH); only the SHA-256 is stored.
    edit_token_hash: Mapped[Optional[str]] = mapped_column(sa.String(64))
    # The labels in force, kept here so filters are one indexed column: the
    # newest model's, unless an analyst corrected them (survey.labels keeps
    # this in step; a correction always wins). Indexed with survey_id only
    # (ix_responses_survey_created): every answer's insert writes each index.
    sentiment: Mapped[Optional[str]] = mapped_column(sa.String(8))
    theme: Mapped[Optional[str]] = mapped_column(sa.String(8))
    label_version: Mapped[Optional[str]] = mapped_column(sa.String(64))

    survey: Mapped[Survey] = relationship()
    contact: Mapped[Optional[Contact]] = relationship()

    __table_args__ = (
        sa.CheckConstraint(f"channel IN {CHANNELS}", name="channel_known"),
        sa.CheckConstraint("score IS NOT NULL OR comment IS NOT NULL", name="score_or_comment"),
        # Server-chosen keys (invitation_id) and client-chosen ones (submission_key) never share a row,
        # so a client cannot pre-empt or take over an invitation's answer with a key of its choosing.
        sa.CheckConstraint("invitation_id IS NULL OR submission_key IS NULL", name="one_idempotency_key"),
        # Unique indexes, not constraints, so they can be partial; NULLs never conflicted anyway.
        sa.Index("uq_responses_invitation_id", "invitation_id", unique=True,
                 sqlite_where=sa.text("invitation_id IS NOT NULL"),
                 postgresql_where=sa.text("invitation_id IS NOT NULL")),
        sa.Index("uq_responses_public_id", "public_id", unique=True,
                 sqlite_where=sa.text("public_id IS NOT NULL"), postgresql_where=sa.text("public_id IS NOT NULL")),
        sa.Index("uq_responses_survey_external_id", "survey_id", "external_id", unique=True,
                 sqlite_where=sa.text("external_id IS NOT NULL"), postgresql_where=sa.text("external_id IS NOT NULL")),
        sa.Index("ix_responses_contact_id", "contact_id",
                 sqlite_where=sa.text("contact_id IS NOT NULL"), postgresql_where=sa.text("contact_id IS NOT NULL")),
        # One survey's answers by date; the results page's counts per score, day, label and
        # channel read only this index (it carries those columns), never the table.
        sa.Index("ix_responses_survey_created", "survey_id", "created_at", "score", "sentiment", "theme", "channel"),
        # Newest comments first, and how many there are, without reading the score-only answers.
        sa.Index("ix_responses_survey_commented", "survey_id", "created_at", "id",
                 sqlite_where=sa.text("comment IS NOT NULL"), postgresql_where=sa.text("comment IS NOT NULL")),
    )


class ResponseLabel(db.Model):
    """What a model version said about a response's comment."""

    __tablename__ = "response_labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey("responses.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(sa.String(64))
    sentiment: Mapped[str] = mapped_column(sa.String(8))
    sentiment_proba: Mapped[float]
    sentiment_probs: Mapped[dict[str, float]] = mapped_column(sa.JSON)
    theme: Mapped[str] = mapped_column(sa.String(8))
    theme_proba: Mapped[float]
    theme_probs: Mapped[dict[str, float]] = mapped_column(sa.JSON)
    # [{"text": masked clause, "sentiment": ..., "theme": ..., ...}, ...]
    clauses: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    labelled_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    response: Mapped[Response] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("response_id", "model_version", name="uq_response_labels_response_version"),
        sa.CheckConstraint(f"sentiment IN {SENTIMENTS}", name="sentiment_known"),
        sa.CheckConstraint(f"theme IN {THEMES}", name="theme_known"),
    )


class LabelCorrection(db.Model):
    """An analyst's label: it outranks every model label and feeds training.

    ``confirmed`` marks a confirmation: the analyst said the label the model had already given is
    right ("Confirm both" on the correction form; the label in force does not change, but it is
    now the analyst's judgement, so it leaves the label queue, survives later runs and teaches the
    next retrain like a correction). A label merely left as the form showed it is not stored.

    ``superseded_at`` is set when the customer rewrites the comment: the label judged the old
    text, so from then on it is no longer in force, shown, counted or trained on; the row stays
    as the analyst's history (who labelled the earlier text, what and when). Migration
    e7b2f0c4a913 set it, to the row's own ``created_at``, on the confirmations the form used to
    store for the label left as it was beside a correction of the other: nobody judged those.
    """

    __tablename__ = "label_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(sa.ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[str] = mapped_column(sa.String(16))
    confirmed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    user_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[Optional[dt.datetime]]

    user: Mapped[Optional[User]] = relationship()

    __table_args__ = (
        sa.CheckConstraint("field IN ('sentiment', 'theme')", name="field_known"),
        sa.CheckConstraint(
            f"(field = 'sentiment' AND value IN {SENTIMENTS}) OR (field = 'theme' AND value IN {THEMES})",
            name="value_known",
        ),
    )


class AnalysisRun(db.Model):
    """One run of ``flask analyze``; its pain points hang off it."""

    __tablename__ = "analysis_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(sa.String(64))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[dt.datetime]]
    report_dir: Mapped[Optional[str]] = mapped_column(sa.String(1000))
    summary: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    pain_points: Mapped[list["PainPointRecord"]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="PainPointRecord.rank"
    )


class AnalysisJob(db.Model):
    """An analysis started from the dashboard: it runs in the background and reports its progress here.

    ``running`` is True while it runs and NULL after; its unique constraint lets
    only one job run at a time, across every web process (NULLs never collide).
    """

    __tablename__ = "analysis_jobs"
    __table_args__ = (sa.UniqueConstraint("running", name="uq_analysis_jobs_running"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    requested_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    run_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("analysis_runs.id", ondelete="SET NULL"))
    running: Mapped[Optional[bool]]
    status: Mapped[str] = mapped_column(sa.String(16), default="running")  # running, done, nothing, failed
    step: Mapped[str] = mapped_column(sa.String(200), default="starting")
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    message: Mapped[Optional[str]] = mapped_column(sa.String(1000))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[Optional[dt.datetime]]


pain_point_responses = sa.Table(
    "pain_point_responses",
    db.metadata,
    sa.Column("pain_point_id", sa.ForeignKey("pain_points.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("response_id", sa.ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True),
)


class PainPointRecord(db.Model):
    """A pain point of one run as stored for the dashboard (found by ``analysis.painpoints.PainPoint``)."""

    __tablename__ = "pain_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("analysis_runs.id", ondelete="CASCADE"), index=True)
    survey_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"))
    rank: Mapped[int]
    label: Mapped[str] = mapped_column(sa.String(200))
    theme: Mapped[str] = mapped_column(sa.String(8))
    count: Mapped[int]
    share: Mapped[float]
    score_impact: Mapped[Optional[float]]
    impact: Mapped[float]
    quotes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # "discovered", "codeframe" (a survey's own pain point) or "proposal" (see survey.codeframe).
    source: Mapped[str] = mapped_column(sa.String(10), default="discovered", server_default="discovered")
    trend: Mapped[Optional[dict[str, Any]]] = mapped_column(sa.JSON)

    run: Mapped[AnalysisRun] = relationship(back_populates="pain_points")
    responses: Mapped[list[Response]] = relationship(secondary=pain_point_responses)

    __table_args__ = (
        sa.CheckConstraint(f"theme IN {THEMES}", name="theme_known"),
        sa.CheckConstraint("source IN ('discovered', 'codeframe', 'proposal')", name="source_known"),
    )
