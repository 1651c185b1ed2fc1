"""Invitation tables: campaigns, one invitation per contact, and the outbox.

A *campaign* is one ``flask invite send``: a survey, a segment and the moment
it was queued. Each contact it reached gets an *invitation* (its links'
tokens, its expiry, its state); each e-mail that has to go out, invitation or
reminder, is an *outbox message* that the delivery worker claims and sends
(see ``survey.invites.delivery`` for the states a message goes through).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.db import db
from survey.models import Contact, Response, Survey, User, utcnow

# What the database stores. "expired" is derived (see Invitation.status) so
# it can never disagree with the clock.
INVITATION_STATES = ("queued", "sent", "failed", "answered", "suppressed")
INVITATION_STATUSES = INVITATION_STATES + ("expired",)
# Why a contact in the segment got no e-mail.
# "cancelled": an admin cancelled the campaign before its e-mail left.
SKIP_REASONS = ("unsubscribed", "bounced", "throttled", "cancelled")
# scheduled -> queueing -> queued; scheduled -> cancelled; scheduled -> refused (its survey
# had closed when it fell due); queued -> cancelled (its mail not yet sent is cancelled).
CAMPAIGN_STATES = ("scheduled", "queueing", "queued", "cancelled", "refused")
# "alert" and "digest" go to survey owners (survey.alerts), not to contacts.
MESSAGE_KINDS = ("invitation", "reminder", "alert", "digest")
# queued -> sending -> sent; queued -> failed (given up); sending -> uncertain
# (a worker died between the end of the data and the server's reply);
# queued -> cancelled (the contact unsubscribed or was forgotten first).
OUTBOX_STATES = ("queued", "sending", "sent", "failed", "uncertain", "cancelled")


def recipient_domain(address: str | None) -> str | None:
    """The part of an address after the last ``@``, lower-cased: what receivers throttle by."""
    return address.rpartition("@")[2].lower() or None if address else None


class Campaign(db.Model):
    """One sending of a survey to a set of contacts."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(sa.ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # {"plan": ["pro"], ...}: every key must match one of its values.
    segment: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    base_url: Mapped[str] = mapped_column(sa.String(500))
    sender: Mapped[str] = mapped_column(sa.String(320))
    expiry_days: Mapped[int]
    throttle_days: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # See CAMPAIGN_STATES; campaigns sent from the command line are queued at once.
    state: Mapped[str] = mapped_column(sa.String(12), default="queued", server_default="queued")
    # When it is to go out (None: at once), when its queueing started, and while it is
    # being queued, until when the worker holding it may (survey.invites.scheduling).
    send_at: Mapped[Optional[dt.datetime]]
    queued_at: Mapped[Optional[dt.datetime]]
    lease_until: Mapped[Optional[dt.datetime]]
    # One reminder to those who have not answered this many days after their e-mail.
    remind_after_days: Mapped[Optional[int]]
    # When the scheduler last looked for its reminders due (it looks at most hourly).
    reminders_checked_at: Mapped[Optional[dt.datetime]]
    cancelled_at: Mapped[Optional[dt.datetime]]
    # Why it did not go out (a refusal), for the campaign page.
    problem: Mapped[Optional[str]] = mapped_column(sa.String(500))
    created_by_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # The dashboard form's one-time key: a form sent twice (a double click, a reload)
    # finds the campaign the first one made instead of making a second.
    submission_key: Mapped[Optional[str]] = mapped_column(sa.String(64), unique=True)

    survey: Mapped[Survey] = relationship()
    created_by: Mapped[Optional[User]] = relationship()
    invitations: Mapped[list["Invitation"]] = relationship(back_populates="campaign", passive_deletes=True)

    __table_args__ = (
        sa.CheckConstraint("expiry_days > 0", name="expiry_positive"),
        sa.CheckConstraint("throttle_days >= 0", name="throttle_not_negative"),
        sa.CheckConstraint(f"state IN {CAMPAIGN_STATES}", name="state_known"),
        sa.CheckConstraint("remind_after_days IS NULL OR remind_after_days > 0", name="remind_after_positive"),
        # The scheduler's look-up: scheduled campaigns by due time.
        sa.Index("ix_campaigns_state_send_at", "state", "send_at"),
    )

    @property
    def links_expire_at(self) -> dt.datetime:
        """Its links work ``expiry_days`` from when it went out (a scheduled one: from its send time)."""
        return (self.queued_at or self.created_at) + dt.timedelta(days=self.expiry_days)

    def __repr__(self) -> str:
        return f"<Campaign {self.id} survey={self.survey_id} {self.name!r}>"


class Invitation(db.Model):
    """One contact invited by one campaign.

    Only SHA-256 hashes of the link tokens are stored: the first e-mail's and,
    once one was sent, the reminder's (both lead to the same answer). A
    skipped contact still gets a row, in state ``suppressed`` with the reason,
    so every contact of the segment is accounted for.
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    # NULL once the contact was forgotten; the row stays for the campaign's counts.
    contact_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    state: Mapped[str] = mapped_column(sa.String(12))
    skip_reason: Mapped[Optional[str]] = mapped_column(sa.String(12))
    token_hash: Mapped[Optional[str]] = mapped_column(sa.String(64), unique=True)
    reminder_token_hash: Mapped[Optional[str]] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    sent_at: Mapped[Optional[dt.datetime]]
    reminded_at: Mapped[Optional[dt.datetime]]
    answered_at: Mapped[Optional[dt.datetime]]
    # When the customer sent the follow-up form (a person, not a link scanner).
    confirmed_at: Mapped[Optional[dt.datetime]]
    last_error: Mapped[Optional[str]] = mapped_column(sa.String(500))
    # Score-link clicks confirmed by the follow-up page's script: a fan-out of
    # different scores within seconds is a link scanner, not a person.
    last_click_at: Mapped[Optional[dt.datetime]]
    last_click_score: Mapped[Optional[int]]
    scan_suspected_at: Mapped[Optional[dt.datetime]]

    campaign: Mapped[Campaign] = relationship(back_populates="invitations")
    contact: Mapped[Optional[Contact]] = relationship()
    response: Mapped[Optional[Response]] = relationship(
        primaryjoin="Invitation.id == foreign(Response.invitation_id)", viewonly=True, uselist=False,
    )

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "contact_id", name="uq_invitations_campaign_contact"),
        sa.Index("ix_invitations_campaign_state", "campaign_id", "state"),
        sa.CheckConstraint(f"state IN {INVITATION_STATES}", name="state_known"),
        sa.CheckConstraint(f"skip_reason IS NULL OR skip_reason IN {SKIP_REASONS}", name="skip_reason_known"),
        sa.CheckConstraint("(state = 'suppressed') = (skip_reason IS NOT NULL)", name="suppressed_has_reason"),
    )

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at <= (now or utcnow())

    @property
    def status(self) -> str:
        """The state as a person means it: ``expired`` once the link stopped working unanswered."""
        if self.state in ("queued", "sent") and self.is_expired():
            return "expired"
        return self.state

    @classmethod
    def status_is(cls, status: str, now: dt.datetime | None = None) -> sa.ColumnElement[bool]:
        """SQL filter for ``status`` (for listing invitations by what they are now)."""
        now = now or utcnow()
        live = cls.state.in_(("queued", "sent"))
        if status == "expired":
            return sa.and_(live, cls.expires_at <= now)
        if status in ("queued", "sent"):
            return sa.and_(cls.state == status, cls.expires_at > now)
        return cls.state == status

    def __repr__(self) -> str:
        return f"<Invitation {self.id} campaign={self.campaign_id} {self.state}>"


class OutboxMessage(db.Model):
    """An e-mail waiting to go out, going out, or gone, with the result of each try."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[Optional[int]] = mapped_column(
        sa.ForeignKey("invitations.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(12))
    state: Mapped[str] = mapped_column(sa.String(12), default="queued")
    message_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    # The sender's address. With MAIL_BOUNCE_ADDRESS set the worker sends from a signed
    # per-message return path instead, worked out from the id (survey.invites.bounces).
    envelope_from: Mapped[str] = mapped_column(sa.String(320))
    recipient: Mapped[Optional[str]] = mapped_column(sa.String(320))
    # The recipient's domain, lower-cased, and when the message was last handed to the
    # server: together they count the messages per minute to one domain (MAIL_DOMAIN_RATES).
    domain: Mapped[Optional[str]] = mapped_column(sa.String(255))
    attempted_at: Mapped[Optional[dt.datetime]]
    # The complete message as it goes on the wire. Erased once it has left (or
    # was given up), because it holds the recipient's working links.
    raw: Mapped[Optional[bytes]] = mapped_column(sa.LargeBinary)
    size: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The worker holding the message, and until when; see survey.invites.delivery.
    claim_token: Mapped[Optional[str]] = mapped_column(sa.String(32), index=True)
    lease_until: Mapped[Optional[dt.datetime]]
    last_error: Mapped[Optional[str]] = mapped_column(sa.String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[dt.datetime]]

    invitation: Mapped[Optional[Invitation]] = relationship()

    __table_args__ = (
        # With id last, claims read due messages in order straight from the index (no sort of the queue).
        sa.Index("ix_outbox_messages_due", "state", "next_attempt_at", "id"),
        sa.Index("ix_outbox_messages_domain_attempted", "domain", "attempted_at"),
        sa.CheckConstraint(f"state IN {OUTBOX_STATES}", name="state_known"),
        sa.CheckConstraint(f"kind IN {MESSAGE_KINDS}", name="kind_known"),
        sa.CheckConstraint("state NOT IN ('queued', 'sending') OR raw IS NOT NULL", name="pending_has_body"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind} {self.state}>"
