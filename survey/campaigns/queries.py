"""What the campaign pages read: campaigns with their counts, and a campaign's course per day."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from survey.db import db
from survey.invites.models import Campaign, Invitation
from survey.invites.operations import campaign_stats
from survey.models import Survey

PER_PAGE = 25
COURSE_DAYS = 60  # the chart shows at most this many days, the last ones


def campaigns_page(survey: Survey | None, page: int) -> tuple[list[tuple[Campaign, dict]], int]:
    """The newest campaigns (of one survey, or all), a page at a time, each with its counts."""
    query = sa.select(Campaign)
    if survey is not None:
        query = query.where(Campaign.survey_id == survey.id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    campaigns = db.session.scalars(query.order_by(Campaign.created_at.desc(), Campaign.id.desc())
                                   .offset((page - 1) * PER_PAGE).limit(PER_PAGE))
    return [(campaign, campaign_stats(campaign)) for campaign in campaigns], total


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def course_per_day(campaign: Campaign) -> list[tuple[dt.date, int, int]]:
    """``(day, e-mails sent, answers)`` for each day from the first sending to the last answer (UTC days)."""
    counts: dict[dt.date, list[int]] = {}
    for position, column in enumerate((Invitation.sent_at, Invitation.answered_at)):
        day = sa.func.date(column)
        rows = db.session.execute(sa.select(day, sa.func.count()).where(
            Invitation.campaign_id == campaign.id, column.is_not(None)).group_by(day)).all()
        for value, count in rows:
            counts.setdefault(_as_date(value), [0, 0])[position] += count
    if not counts:
        return []
    first, last = min(counts), max(counts)
    first = max(first, last - dt.timedelta(days=COURSE_DAYS - 1))
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return [(day, *counts.get(day, [0, 0])) for day in days]
