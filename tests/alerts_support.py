"""Test support for owner e-mails (survey.alerts): a site address, owners and the queued messages.

Import the fixtures into a test module (``from tests.alerts_support import site, owner``).
"""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from email.message import EmailMessage

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.followup.models import FollowUp
from survey.models import AnalysisRun, PainPointRecord, pain_point_responses
from survey.invites.models import OutboxMessage
from tests.dashboard_support import make_user

BASE_URL = "https://rapport.example.com"


class Killed(BaseException):
    """The process dies here (SIGKILL, power cut): nothing after this line of the code runs, no handler."""

WEEK = "2026-W10"
MONDAY = dt.date(2026, 3, 2)  # 2 to 8 March 2026
BEFORE = MONDAY - dt.timedelta(weeks=1)  # 23 February to 1 March
AFTER_THE_WEEK = dt.datetime(2026, 3, 9, 9, 0)


def at(monday: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(monday, dt.time()) + dt.timedelta(hours=hour)


@pytest.fixture
def digest_week(site, make_survey, make_response, owner):
    """An NPS survey whose score fell from +50 to -50, with three pain points and 14 low scores."""
    survey = make_survey("nps", name="Broadband NPS", owner_id=owner.id)
    answers = {"before": [], "this": []}
    # The week before: 12 promoters, 6 passives, 2 detractors = +50 (n 20).
    for i, score in enumerate([3, 3] + [9] * 12 + [7] * 6):
        comment = "Engineer missed two appointments, still no internet" if i == 0 else (f"comment {i}" if i < 10 else None)
        answers["before"].append(make_response(survey, score=score, comment=comment, created_at=at(BEFORE, i)))
    # This week: 2 promoters, 6 passives, 12 detractors = -50 (n 20).
    for i, score in enumerate([2] * 12 + [10] * 2 + [8] * 6):
        comment = f"this week {i}" if i < 10 else None
        answers["this"].append(make_response(survey, score=score, comment=comment, created_at=at(MONDAY, i)))
    run = AnalysisRun(survey_id=survey.id, model_version="test", started_at=AFTER_THE_WEEK,
                      finished_at=AFTER_THE_WEEK + dt.timedelta(minutes=1))
    db.session.add(run)
    db.session.flush()
    # Members among the 10 comments of each week: slow 1 -> 5, rude 3 -> 2, billing 0 -> 1.
    for rank, (label, before, this) in enumerate(
            [("Rude staff", [1, 2, 3], [5, 6]), ("Slow delivery", [4], [0, 1, 2, 3, 4]), ("Billing errors", [], [7])],
            start=1):
        point = PainPointRecord(run_id=run.id, survey_id=survey.id, rank=rank, label=label, theme="service",
                                count=len(before) + len(this), share=0.1, impact=1.0, quotes=[])
        db.session.add(point)
        db.session.flush()
        for response in [answers["before"][i] for i in before] + [answers["this"][i] for i in this]:
            db.session.execute(pain_point_responses.insert().values(pain_point_id=point.id, response_id=response.id))
    # Low scores: 12 this week, 2 the week before; 3 resolved, 1 contacted (still waiting).
    for response in answers["this"][:3]:
        db.session.add(FollowUp(response_id=response.id, state="resolved"))
    db.session.add(FollowUp(response_id=answers["before"][1].id, state="contacted"))
    db.session.commit()
    return survey, answers




@pytest.fixture
def site(app):
    """The app with a public address (owner e-mails link back to it) and a sender."""
    app.config.update(PUBLIC_BASE_URL=BASE_URL, MAIL_DEFAULT_SENDER="Rapport <rapport@example.com>")
    return app


@pytest.fixture
def owner(site):
    return make_user("analyst", email="olga.owner@example.com")


def queued(kind: str) -> list[EmailMessage]:
    """The queued (not yet sent) outbox messages of one kind, parsed, oldest first."""
    rows = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.kind == kind)
                              .order_by(OutboxMessage.id)).all()
    return [email.message_from_bytes(row.raw, policy=policy.default) for row in rows if row.raw is not None]


def outbox_count(kind: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.kind == kind))
