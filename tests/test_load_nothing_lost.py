"""Nothing lost under load: every answer a real gunicorn server acknowledged is stored, once, whole.

Runs on SQLite, and on PostgreSQL when RAPPORT_TEST_DATABASE_URL names one
(the second CI run). The server is production-like: gunicorn with two
threaded workers, CSRF on; two answers in three come through the answer
page's form as a browser posts it, one in three through the widget API from
a partner page.
"""

import pytest

from survey.widget.operations import add_origins
from tests.load_support import (
    PARTNER_ORIGIN, make_submissions, problems_with, run_submissions, serve_app, stored_answers,
)

pytestmark = pytest.mark.slow

ANSWERS = 2000
CUSTOMERS = 24  # concurrent connections


def test_every_acknowledged_answer_is_stored_once(app, make_survey, tmp_path):
    survey = make_survey("nps")
    other = make_survey("csat")  # answers must land on their own survey only
    add_origins(survey, [PARTNER_ORIGIN])
    submissions = make_submissions(ANSWERS, survey.scale, widget_every=3)
    with serve_app(app, tmp_path) as server:
        result = run_submissions(server.port, survey.public_key, submissions,
                                 concurrency=CUSTOMERS, posts_per_page=2, deadline=90)
    print(result.summary())
    assert not result.unsent, f"the load did not finish in time: {result.summary()}"
    refused = {key: o for key, o in result.outcomes.items() if not o.acknowledged}
    assert not refused, f"{result.summary()}; first refusals: {list(refused.values())[:3]}"
    via = {sub.key: sub.via for sub in submissions}
    statuses = {(via[key], o.status) for key, o in result.outcomes.items()}
    assert statuses == {("form", 303), ("widget", 201)}
    thanks = {o.headers.get("location") for key, o in result.outcomes.items() if via[key] == "form"}
    assert thanks == {f"/s/{survey.public_key}/thanks"}

    stored = stored_answers([sub.key for sub in submissions])
    assert set(stored) == result.acknowledged, (
        f"lost: {len(result.acknowledged - set(stored))}, stored without acknowledgement: "
        f"{len(set(stored) - result.acknowledged)}")
    assert problems_with(stored, submissions, survey.id) == []
    counts = survey_answer_counts(survey.id, other.id)
    assert counts == (ANSWERS, 0), "rows appeared that no submission accounts for"


def survey_answer_counts(*survey_ids):
    import sqlalchemy as sa

    from survey.db import db
    from survey.models import Response

    return tuple(db.session.scalar(sa.select(sa.func.count()).where(Response.survey_id == sid))
                 for sid in survey_ids)
