"""Finding a survey by its public key: the one look-up every feature shares.

Blueprints import these instead of each other's views. Two audiences, two
404 texts: customers on a survey's own pages get ``published.NO_SURVEY`` (from
the cached snapshot, ``published.published_or_404``); signed-in people on the
dashboard get :data:`NO_SURVEY_WITH_KEY`. The read API and the CLI wrap
:func:`survey_by_key` in their own error shapes (JSON, click).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort

from survey.db import db
from survey.models import Survey
from survey.schedule import closed_reason

#: The look-up as one statement, built once per process (also used by ``survey.published``).
SURVEY_BY_KEY = sa.select(Survey).where(Survey.public_key == sa.bindparam("public_key"))
NO_SURVEY_WITH_KEY = "There is no survey with that key."


def survey_by_key(public_key: str) -> Survey | None:
    return db.session.scalar(SURVEY_BY_KEY, {"public_key": public_key})


def survey_or_404(public_key: str) -> Survey:
    """The survey for a dashboard page, or a 404 that says so to a signed-in person."""
    survey = survey_by_key(public_key)
    if survey is None:
        abort(404, description=NO_SURVEY_WITH_KEY)
    return survey


def require_open(survey: Survey, *, new_answer: bool = True) -> None:
    """410 for a survey that takes no more answers (closed, past its close date, or at its cap)."""
    reason = closed_reason(survey, new_answer=new_answer)
    if reason is not None:
        abort(410, description=reason)
