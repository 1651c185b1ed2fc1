"""What became of a campaign: the dashboard's and ``flask invite status``'s numbers, read-only."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from survey.db import db
from survey.invites.campaigns import describe_segment
from survey.invites.models import Campaign, Invitation, OutboxMessage
from survey.models import utcnow

# The delivery rate is measured over the messages sent in this last stretch of time.
RATE_WINDOW = dt.timedelta(minutes=5)


def campaign_stats(campaign: Campaign, now: dt.datetime | None = None) -> dict:
    """Counts of the campaign's invitations (one grouped query) and of its outbox messages.

    ``sent`` counts invitations whose first e-mail left; ``answered`` those
    answered (from the e-mail, channel ``email``); ``response_rate`` is
    answered / sent (None before anything was sent). ``delivery`` says how
    fast its mail is leaving and how long the rest will take.
    """
    now = now or utcnow()
    inv = Invitation

    def count(*conditions) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((sa.and_(*conditions), 1), else_=0)), 0)

    counted = {
        "invited": sa.func.count(),
        "queued": count(inv.status_is("queued", now)),
        "sent": count(inv.sent_at.is_not(None)),
        "failed": count(inv.state == "failed"),
        "answered": count(inv.answered_at.is_not(None)),
        "expired": count(inv.status_is("expired", now)),
        "suppressed": count(inv.skip_reason.in_(("unsubscribed", "bounced"))),
        "skipped_unsubscribed": count(inv.skip_reason == "unsubscribed"),
        "skipped_bounced": count(inv.skip_reason == "bounced"),
        "skipped_throttled": count(inv.skip_reason == "throttled"),
        "skipped_cancelled": count(inv.skip_reason == "cancelled"),
        "reminded": count(inv.reminded_at.is_not(None)),
    }
    row = db.session.execute(sa.select(*(c.label(n) for n, c in counted.items()))
                             .where(inv.campaign_id == campaign.id)).one()
    numbers = {name: int(getattr(row, name)) for name in counted}
    outbox = dict(db.session.execute(
        sa.select(OutboxMessage.state, sa.func.count()).join(inv, OutboxMessage.invitation_id == inv.id)
        .where(inv.campaign_id == campaign.id).group_by(OutboxMessage.state)
    ).all())
    sent, answered = numbers["sent"], numbers["answered"]
    return {
        "campaign": campaign.id,
        "survey": campaign.survey.public_key,
        "name": campaign.name,
        "segment": describe_segment(campaign.segment or {}),
        "created_at": campaign.created_at.isoformat(timespec="seconds"),
        "state": campaign.state,
        "send_at": campaign.send_at and campaign.send_at.isoformat(timespec="seconds"),
        **numbers,
        "response_rate": round(answered / sent, 4) if sent else None,
        "channel": "email",
        "outbox": {state: outbox.get(state, 0) for state in sorted(outbox)},
        "delivery": delivery_progress(campaign, outbox, now),
    }


def delivery_progress(campaign: Campaign, outbox: dict[str, int], now: dt.datetime) -> dict | None:
    """Messages per minute over the last few minutes, what is left, and when it should be done.

    None once nothing of the campaign is waiting to leave. ``seconds_left``
    is None while nothing was sent recently (no worker running, or all of it
    waiting for a retry or for a domain's rate limit).
    """
    left = outbox.get("queued", 0) + outbox.get("sending", 0)
    if not left:
        return None
    since = now - RATE_WINDOW
    recent, first = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(OutboxMessage.sent_at))
        .join(Invitation, OutboxMessage.invitation_id == Invitation.id)
        .where(Invitation.campaign_id == campaign.id, OutboxMessage.sent_at >= since)).one()
    # Over the time since the first of those messages, so a campaign that started a minute
    # ago is not reported at a fifth of its rate.
    seconds = max((now - first).total_seconds(), 1.0) if recent else RATE_WINDOW.total_seconds()
    per_second = recent / seconds
    progress = {
        "left": left,
        "per_minute": round(per_second * 60, 1),
        "seconds_left": round(left / per_second) if per_second else None,
    }
    return {**progress, "summary": describe_progress(progress)}


def describe_progress(progress: dict) -> str:
    """``delivering 1,234/min, 56,789 left, about 46 min``: for the status command and the survey page."""
    if progress["seconds_left"] is None:
        return f"waiting to deliver {progress['left']:,} (nothing sent in the last {RATE_WINDOW.seconds // 60} min)"
    seconds = progress["seconds_left"]
    eta = f"{seconds} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
    return f"delivering {progress['per_minute']:,.0f}/min, {progress['left']:,} left, about {eta}"
