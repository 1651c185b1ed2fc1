"""Webhook endpoints (per survey) and their deliveries, the durable queue the worker sends from."""

from __future__ import annotations

import datetime as dt
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.db import db
from survey.models import Response, Survey, User, utcnow

#: A delivery waits ``queued`` (claimed by a worker while its lease lasts) until it is
#: ``delivered`` (a 2xx reply) or ``failed`` (out of attempts or time, or a test event's one try).
DELIVERY_STATES = ("queued", "delivered", "failed")
EVENT_TYPES = ("answer.created", "answer.updated", "ping")


class WebhookEndpoint(db.Model):
    """An HTTPS address that receives a survey's new and changed answers, signed with ``secret``.

    ``scanned_until`` is the endpoint's durable cursor: answers changed before it
    (less the scan overlap, survey.webhooks.events) have been turned into deliveries.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    # The signing key; kept as is because signing needs it. Shown once, when made or rotated.
    secret: Mapped[str] = mapped_column(sa.String(100))
    # After a rotation the old key also signs (a second v1=) until previous_secret_until.
    previous_secret: Mapped[Optional[str]] = mapped_column(sa.String(100))
    previous_secret_until: Mapped[Optional[dt.datetime]]
    enabled: Mapped[bool] = mapped_column(default=True)
    # Answers changed from here on are sent: set when made and when enabled again.
    sending_since: Mapped[dt.datetime] = mapped_column(default=utcnow)
    scanned_until: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    secret_rotated_at: Mapped[Optional[dt.datetime]]

    survey: Mapped[Survey] = relationship()
    created_by: Mapped[Optional[User]] = relationship()

    __table_args__ = (sa.UniqueConstraint("survey_id", "url", name="uq_webhook_endpoints_survey_url"),)


class WebhookDelivery(db.Model):
    """One event for one endpoint: its body (signed again at each try) and what its tries gave.

    ``event_id`` is the idempotency id receivers de-duplicate on: the same on every try.
    (endpoint, response, the answer's updated_at) is unique, so two workers scanning the
    same answer at once queue it once.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(sa.String(40), unique=True)
    event_type: Mapped[str] = mapped_column(sa.String(20))
    response_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("responses.id", ondelete="SET NULL"))
    response_updated_at: Mapped[Optional[dt.datetime]]
    # What the receiver last heard of the answer (score and comment): a change of labels alone sends nothing.
    fingerprint: Mapped[Optional[str]] = mapped_column(sa.String(32))
    body: Mapped[Optional[str]] = mapped_column(sa.Text)  # erased once delivered
    state: Mapped[str] = mapped_column(sa.String(10), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[Optional[str]] = mapped_column(sa.String(32))
    lease_until: Mapped[Optional[dt.datetime]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[Optional[dt.datetime]]
    delivered_at: Mapped[Optional[dt.datetime]]
    last_status: Mapped[Optional[int]]  # the HTTP status of the last try; NULL: no reply
    last_error: Mapped[Optional[str]] = mapped_column(sa.String(500))
    reply_excerpt: Mapped[Optional[str]] = mapped_column(sa.String(300))  # the reply's first bytes, never more
    duration_ms: Mapped[Optional[int]]

    endpoint: Mapped[WebhookEndpoint] = relationship()
    response: Mapped[Optional[Response]] = relationship()

    __table_args__ = (
        sa.CheckConstraint(f"state IN {DELIVERY_STATES}", name="state_known"),
        sa.CheckConstraint(f"event_type IN {EVENT_TYPES}", name="event_type_known"),
        sa.UniqueConstraint("endpoint_id", "response_id", "response_updated_at",
                            name="uq_webhook_deliveries_endpoint_response_version"),
        sa.Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )
