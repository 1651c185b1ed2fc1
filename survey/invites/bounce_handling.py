"""What a bounce changes: a hard bounce marks its contact bounced and cancels their queued mail.

``survey.invites.bounces`` reads the bounce e-mail (no database); this module
acts on what it found, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from survey.db import db
from survey.invites.addressbook import cancel_queued_mail, find_contact
from survey.invites.bounces import ParsedBounce, RecipientReport, mask, read_tag
from survey.invites.models import OutboxMessage
from survey.models import Contact, utcnow


@dataclass
class BounceOutcome:
    """What one bounce e-mail did: ``kind`` is hard, soft or ignored; ``marked`` the contacts newly bounced."""

    kind: str
    summary: str
    marked: int = 0


def record_bounce(parsed: ParsedBounce, *, now: dt.datetime | None = None) -> BounceOutcome:
    """Act on one parsed bounce e-mail (``survey.invites.bounces.parse_bounce``), in one transaction.

    A hard bounce (``Action: failed``, ``Status: 5.x.x``) marks the contact
    bounced exactly as a 5xx refusal during SMTP does, so later campaigns and
    reminders skip it; the bounced message keeps the DSN's status as its
    error, its invitation (if still just ``sent``) becomes ``failed``, and the
    contact's mail still queued is cancelled. It is matched to its message by
    the signed VERP tag, else by the quoted ``Message-ID`` of a message Rapport
    sent, else, only when ``MAIL_BOUNCE_ADDRESS`` is unset and the bounce
    carries no tag, by the failed address. A tag whose signature is wrong is
    never matched by address. Soft bounces, delivery notices and mail that is
    no DSN change nothing. Processing the same bounce again changes nothing.
    """
    now = now or utcnow()
    if not parsed.is_dsn:
        return BounceOutcome("ignored", f"not a bounce ({parsed.problem or 'no delivery status'}): ignored")
    hard = parsed.hard
    if not hard:
        report = (parsed.soft or parsed.recipients)[0]
        detail = " ".join(filter(None, (report.status, report.action)))
        if parsed.soft:
            return BounceOutcome("soft", f"soft bounce: {mask(report.address)} ({detail}): ignored")
        return BounceOutcome("ignored", f"delivery notice: {mask(report.address)} ({detail or 'no action'}): ignored")
    report = hard[0]
    message, forged = _bounced_message(parsed)
    targets: list[tuple[Contact, OutboxMessage | None, RecipientReport]] = []
    if message is not None:
        contact = message.invitation.contact if message.invitation is not None else None
        if contact is None:
            return BounceOutcome("ignored", f"hard bounce: {mask(report.address)} ({report.status}) of a message "
                                            "whose contact was forgotten: ignored")
        targets.append((contact, message, report))
    elif forged:
        return BounceOutcome("ignored", f"hard bounce: {mask(report.address)} ({report.status}) with a bounce tag "
                                        "that is forged or names no message: ignored")
    elif current_app.config.get("MAIL_BOUNCE_ADDRESS"):
        return BounceOutcome("ignored", f"hard bounce: {mask(report.address)} ({report.status}) without a bounce tag "
                                        "or a Message-ID Rapport sent: ignored")
    else:
        for each in hard:
            contact = find_contact(each.address or "")
            if contact is not None and all(contact is not t[0] for t in targets):
                targets.append((contact, None, each))
        if not targets:
            return BounceOutcome("ignored", f"hard bounce: {mask(report.address)} ({report.status}) matches no "
                                            "contact: ignored")
    summaries, marked = [], 0
    for contact, bounced_message, each in targets:
        first_time = _mark_bounced(contact, bounced_message, each, now)
        marked += first_time
        summaries.append(f"{mask(contact.email)} ({each.status}), "
                         + ("contact marked bounced" if first_time else "already marked bounced"))
    db.session.commit()
    return BounceOutcome("hard", "hard bounce: " + "; ".join(summaries), marked=marked)


def _bounced_message(parsed: ParsedBounce) -> tuple[OutboxMessage | None, bool]:
    """The outbox message a bounce is about, and whether it carried a tag that did not check out."""
    secret = current_app.config["SECRET_KEY"]
    forged = False
    for tag in parsed.tags:
        message_id = read_tag(tag, secret)
        message = db.session.get(OutboxMessage, message_id) if message_id is not None else None
        if message is not None:
            return message, False
        forged = True
    for quoted in parsed.original_message_ids[:5]:
        message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.message_id == quoted[:255]))
        if message is not None:
            return message, False
    return None, forged


def _mark_bounced(contact: Contact, message: OutboxMessage | None, report: RecipientReport,
                  now: dt.datetime) -> bool:
    """Record a hard bounce (the caller commits); True if the contact was not marked bounced before."""
    first_time = db.session.execute(
        sa.update(Contact).where(Contact.id == contact.id, Contact.bounced_at.is_(None)).values(bounced_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount == 1
    reason = " ".join(filter(None, ("bounced after delivery:", report.status, report.diagnostic)))
    if message is not None:
        if message.state == "sent" and not (message.last_error or "").startswith("bounced after delivery"):
            message.last_error = reason[:1000]
        invitation = message.invitation
        if invitation is not None and message.kind == "invitation" and invitation.state == "sent":
            invitation.state, invitation.last_error = "failed", reason[:500]
    cancel_queued_mail(contact.id, reason="bounced")
    return first_time


