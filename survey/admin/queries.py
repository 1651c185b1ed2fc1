"""Read-only summaries of surveys shared by the dashboard and the API."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from wtforms import SelectChoice

from survey.db import db
from survey.display import isolated
from survey.metrics import MetricResult, metric_for
from survey.models import Response, Survey, User
from survey.results.queries import expand
from survey.schedule import state

NO_OWNER = 0  # the owner choice meaning nobody: the survey's alerts and digest go to every admin


@dataclass
class SurveySummary:
    survey: Survey
    responses: int
    metric: MetricResult
    state: str  # survey.schedule.state: open, closed or full


def score_counts(survey_ids: list[int]) -> dict[int, dict[int, int]]:
    """``{survey_id: {score: count}}``: one grouped query instead of every score."""
    counts: dict[int, dict[int, int]] = defaultdict(dict)
    if not survey_ids:
        return counts
    rows = db.session.execute(
        sa.select(Response.survey_id, Response.score, sa.func.count())
        .where(Response.survey_id.in_(survey_ids), Response.score.is_not(None))
        .group_by(Response.survey_id, Response.score)
    )
    for survey_id, score, count in rows:
        counts[survey_id][score] = count
    return counts


def response_counts(survey_ids: list[int]) -> dict[int, int]:
    if not survey_ids:
        return {}
    return dict(db.session.execute(
        sa.select(Response.survey_id, sa.func.count()).where(Response.survey_id.in_(survey_ids))
        .group_by(Response.survey_id)
    ).all())


def metric_from_counts(kind: str, counts: dict[int, int]) -> MetricResult:
    return metric_for(kind, expand(counts))


def summarise(surveys: list[Survey]) -> list[SurveySummary]:
    """Each survey with its number of answers and its all-time metric."""
    ids = [survey.id for survey in surveys]
    scores, totals = score_counts(ids), response_counts(ids)
    return [SurveySummary(survey, totals.get(survey.id, 0), metric_from_counts(survey.kind, scores.get(survey.id, {})),
                          state(survey, answers=totals.get(survey.id, 0)))
            for survey in surveys]


def all_surveys() -> list[Survey]:
    """Open surveys first, then the newest."""
    return list(db.session.scalars(sa.select(Survey).order_by(Survey.is_open.desc(), Survey.created_at.desc(),
                                                              Survey.id.desc())))


def campaign_stats_of(survey: Survey, limit: int = 20) -> list[tuple]:
    """The survey's newest e-mail campaigns, each with its delivery counts and response rate."""
    from survey.invites.models import Campaign
    from survey.invites.operations import campaign_stats

    campaigns = db.session.scalars(
        sa.select(Campaign).where(Campaign.survey_id == survey.id).order_by(Campaign.created_at.desc(),
                                                                            Campaign.id.desc()).limit(limit))
    return [(campaign, campaign_stats(campaign)) for campaign in campaigns]


def campaign_count(survey: Survey) -> int:
    from survey.invites.models import Campaign

    return db.session.scalar(sa.select(sa.func.count()).select_from(Campaign).where(Campaign.survey_id == survey.id))


def owner_choices(survey: Survey) -> list[SelectChoice]:
    """Who can own a survey: every active account, and its current owner even if deactivated."""
    users = list(db.session.scalars(sa.select(User).where(User.is_active).order_by(User.email)))
    if survey.owner is not None and survey.owner not in users:
        users.append(survey.owner)
    return [SelectChoice(NO_OWNER, "Nobody (every admin)")] + [
        # An option alone is its own line; beside Rapport's words the typed address is isolated (survey.display).
        SelectChoice(user.id, user.email if user.is_active else f"{isolated(user.email)} (deactivated)")
        for user in users]
