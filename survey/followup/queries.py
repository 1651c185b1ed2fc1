"""Reading the follow-up inbox: low scores newest first, with what the team needs to act on them."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from survey.db import db
from survey.followup.models import FollowUp
from survey.kinds import KINDS
from survey.models import PainPointRecord, Response, Survey, pain_point_responses, utcnow

PER_PAGE = 25
#: Inbox views: which follow-up states each shows. "waiting" (not yet resolved) is the default.
VIEWS = {"waiting": ("open", "contacted"), "open": ("open",), "contacted": ("contacted",),
         "resolved": ("resolved",), "all": ("open", "contacted", "resolved")}
#: Time to first follow-up is measured over answers of this many recent days.
MEASURE_DAYS = 90


def threshold() -> sa.ColumnElement[int]:
    """Each survey's follow-up threshold in SQL (``Survey.followup_threshold``)."""
    negative_max = sa.case({code: spec.negative_max for code, spec in KINDS.items()}, value=Survey.kind)
    return sa.func.coalesce(Survey.followup_max_score, negative_max)


def needs_follow_up() -> sa.ColumnElement[bool]:
    return sa.and_(Response.score.is_not(None), Response.score <= threshold())


@dataclass
class InboxItem:
    response: Response
    follow_up: FollowUp | None
    pain_points: list[str]

    @property
    def state(self) -> str:
        return self.follow_up.state if self.follow_up else "open"

    @property
    def waited(self) -> dt.timedelta:
        """Until the first follow-up, or until now while there is none."""
        end = self.follow_up.first_followed_up_at if self.follow_up else None
        return (end or utcnow()) - self.response.created_at


def _filtered(view: str, survey_id: int | None, assignee_id: int | None, unassigned: bool) -> sa.Select:
    states = VIEWS[view]
    state = sa.func.coalesce(FollowUp.state, "open")
    query = (sa.select(Response, FollowUp).join(Survey, Survey.id == Response.survey_id)
             .outerjoin(FollowUp, FollowUp.response_id == Response.id)
             .where(needs_follow_up(), state.in_(states)))
    if survey_id is not None:
        query = query.where(Response.survey_id == survey_id)
    if assignee_id is not None:
        query = query.where(FollowUp.assignee_id == assignee_id)
    elif unassigned:
        query = query.where(FollowUp.assignee_id.is_(None))
    return query


def inbox(view: str = "waiting", *, survey_id: int | None = None, assignee_id: int | None = None,
          unassigned: bool = False, page: int = 1) -> tuple[list[InboxItem], int]:
    """One page of the inbox, newest answers first, and how many answers the view holds."""
    query = _filtered(view, survey_id, assignee_id, unassigned)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.execute(
        query.options(selectinload(Response.survey), selectinload(Response.contact))
        .order_by(Response.created_at.desc(), Response.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    ).all()
    labels = pain_points_of([response.id for response, _ in rows])
    return [InboxItem(response, follow_up, labels.get(response.id, [])) for response, follow_up in rows], total


def pain_points_of(response_ids: list[int]) -> dict[int, list[str]]:
    """Each answer's pain points from the newest analysis run that grouped it."""
    if not response_ids:
        return {}
    rows = db.session.execute(
        sa.select(pain_point_responses.c.response_id, PainPointRecord.run_id, PainPointRecord.label)
        .join(PainPointRecord, PainPointRecord.id == pain_point_responses.c.pain_point_id)
        .where(pain_point_responses.c.response_id.in_(response_ids))
        .order_by(PainPointRecord.run_id.desc(), PainPointRecord.rank)
    )
    newest_run: dict[int, int] = {}
    labels: dict[int, list[str]] = {}
    for response_id, run_id, label in rows:
        if newest_run.setdefault(response_id, run_id) == run_id:
            labels.setdefault(response_id, []).append(label)
    return labels


@dataclass
class Responsiveness:
    """Time to first follow-up over the low scores of the last ``MEASURE_DAYS`` days."""

    followed_up: int
    waiting: int
    median: dt.timedelta | None
    longest_waiting: dt.timedelta | None


def responsiveness(survey_id: int | None = None, now: dt.datetime | None = None) -> Responsiveness:
    now = now or utcnow()
    query = (sa.select(Response.created_at, FollowUp.first_followed_up_at)
             .join(Survey, Survey.id == Response.survey_id)
             .outerjoin(FollowUp, FollowUp.response_id == Response.id)
             .where(needs_follow_up(), Response.created_at >= now - dt.timedelta(days=MEASURE_DAYS)))
    if survey_id is not None:
        query = query.where(Response.survey_id == survey_id)
    times, waiting = [], []
    for created_at, first in db.session.execute(query):
        (times if first is not None else waiting).append((first or now) - created_at)
    return Responsiveness(followed_up=len(times), waiting=len(waiting),
                          median=statistics.median(times) if times else None,
                          longest_waiting=max(waiting) if waiting else None)


def duration_text(delta: dt.timedelta | None) -> str:
    """``2 d 4 h``, ``3 h 20 min``, ``12 min``: how long, to the nearest minute that matters."""
    if delta is None:
        return "–"
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
