"""Answer endpoints read surveys from a per-process snapshot: changes here show at once,
changes made by another process within SURVEY_CACHE_SECONDS."""

import time

import pytest
import sqlalchemy as sa

from survey.db import db, normalise_url
from survey.models import Survey
from survey.operations import set_survey_open
from survey.widget.operations import add_origins
from tests.widget_support import PARTNER, post_answer

TTL = 2.0


@pytest.fixture
def app_config(app_config):
    app_config["SURVEY_CACHE_SECONDS"] = TTL
    return app_config


def close_from_another_process(app, survey) -> None:
    """What ``flask survey close`` on another host does: a commit this process never sees."""
    engine = sa.create_engine(normalise_url(app.config["SQLALCHEMY_DATABASE_URI"]))
    with engine.begin() as conn:
        conn.execute(sa.update(Survey.__table__).where(Survey.__table__.c.id == survey.id).values(is_open=False))
    engine.dispose()


def test_a_change_made_in_this_process_shows_at_once(client, make_survey):
    survey = make_survey("csat")
    assert client.get(f"/s/{survey.public_key}").status_code == 200
    set_survey_open(survey, False)
    assert client.get(f"/s/{survey.public_key}").status_code == 410
    assert client.post(f"/s/{survey.public_key}", data={"score": "5"}).status_code == 410


def test_a_new_origin_is_allowed_at_once(client, make_survey):
    survey = make_survey("nps")
    assert post_answer(client, survey).status_code == 403
    add_origins(survey, [PARTNER])
    assert post_answer(client, survey).status_code == 201


def test_another_process_change_shows_within_the_cache_time(client, make_survey):
    survey = make_survey("csat")
    key = survey.public_key
    assert client.get(f"/s/{key}").status_code == 200
    close_from_another_process(client.application, survey)
    started = time.monotonic()
    statuses = []
    while time.monotonic() - started < TTL * 3:
        statuses.append(client.get(f"/s/{key}").status_code)
        if statuses[-1] == 410:
            break
        time.sleep(0.05)
    assert statuses[0] == 200, "the snapshot was not used"
    assert statuses[-1] == 410, "the closed survey still took answers after the cache time"


def test_without_caching_every_request_reads_the_database(app, client, make_survey):
    app.extensions["rapport.published"].ttl = 0
    survey = make_survey("csat")
    assert client.get(f"/s/{survey.public_key}").status_code == 200
    close_from_another_process(app, survey)
    assert client.get(f"/s/{survey.public_key}").status_code == 410


def test_unknown_keys_are_not_remembered(app, client):
    assert client.get("/s/no-such-survey").status_code == 404
    assert client.get("/s/no-such-survey").status_code == 404
    assert not app.extensions["rapport.published"]._snapshots


def test_snapshots_are_detached_and_survive_the_requests_commit(client, make_survey):
    survey = make_survey("nps")
    add_origins(survey, [PARTNER])
    for _ in range(3):  # each answer commits; the cached survey must stay readable
        assert post_answer(client, survey).status_code == 201
    db.session.expire_all()
    assert client.get(f"/s/{survey.public_key}").status_code == 200
