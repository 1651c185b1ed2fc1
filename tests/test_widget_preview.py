"""Answers from the dashboard's widget preview are checked and answered like any, and stored nowhere;
nobody else can make real answers vanish that way (survey.widget.preview)."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.widget.models import BotCatch
from survey.widget.operations import add_origins
from survey.widget.preview import PREVIEW_MAX_AGE, preview_token
from tests.dashboard_support import login
from tests.widget_support import HUMAN_MS, PARTNER, answers, error_of, patch_answer, post_answer

OWN = "http://localhost"  # the test client's address: this site's own origin (a loopback one, no PUBLIC_BASE_URL)


@pytest.fixture
def survey(make_survey):
    survey = make_survey("nps", followup_negative="What went wrong?")
    add_origins(survey, [PARTNER])
    return survey


def page_token(client, survey) -> str:
    """The mark the preview page gives its widget, as a signed-in user gets the page."""
    page = client.get(f"/surveys/{survey.public_key}/widget-preview").get_data(as_text=True)
    found = re.search(r'<meta name="rapport-preview" data-survey="([^"]+)" content="([^"]+)">', page)
    assert found and found.group(1) == survey.public_key, page[:1500]
    return found.group(2)


def test_a_preview_answer_is_checked_and_answered_but_not_stored(client, survey):
    login(client, "analyst")
    token = page_token(client, survey)
    created = post_answer(client, survey, {"score": 2, "elapsed_ms": HUMAN_MS, "preview": token,
                                           "page_url": f"{OWN}/surveys/{survey.public_key}/widget-preview"},
                          origin=OWN)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert set(body) == {"id", "edit_token", "edit_until"}
    # the follow-up comment is taken as a stored answer's is
    updated = patch_answer(client, survey, body["id"], {"edit_token": body["edit_token"], "comment": " Slow "},
                           origin=OWN)
    assert updated.status_code == 200 and updated.get_json() == {"id": body["id"], "score": 2, "comment": "Slow"}
    assert patch_answer(client, survey, body["id"], {"edit_token": "x" * 40, "comment": "a"},
                        origin=OWN).status_code == 403
    assert answers() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BotCatch)) == 0  # no bot either
    # and it is still checked as every answer is
    bad = post_answer(client, survey, {"score": 11, "elapsed_ms": HUMAN_MS, "preview": token}, origin=OWN)
    assert bad.status_code == 422 and error_of(bad)["field"] == "score"


def test_a_partner_page_cannot_flag_its_answers_as_previews(app, client, survey):
    """A browser sets Origin, no page can: a mark copied onto a partner page changes nothing there."""
    with app.test_request_context(base_url=OWN):
        token = preview_token(survey)
    for mark in (token, "forged"):
        stored = post_answer(client, survey, {"score": 9, "elapsed_ms": HUMAN_MS, "preview": mark}, origin=PARTNER)
        assert stored.status_code == 201, stored.get_json()
    assert [row.score for row in answers()] == [9, 9]


def test_a_mark_that_does_not_hold_is_refused_never_stored(app, client, survey, make_survey, monkeypatch):
    """From this site's own origin a mark that does not hold is the preview's (nothing else sends one):
    refused with what to do, so a test answer is never stored as a real one."""
    with app.test_request_context(base_url=OWN):
        other = preview_token(make_survey("csat"))
        good = preview_token(survey)
    for mark in (other, "forged", good[:-2] + "xx"):
        refused = post_answer(client, survey, {"score": 9, "elapsed_ms": HUMAN_MS, "preview": mark}, origin=OWN)
        assert refused.status_code == 422 and error_of(refused)["field"] == "preview"
        assert "reload the preview" in error_of(refused)["message"]
    later = time.time() + PREVIEW_MAX_AGE.total_seconds() + 5
    with monkeypatch.context() as patched:
        patched.setattr("itsdangerous.timed.time.time", lambda: later)  # the page left open overnight
        old = post_answer(client, survey, {"score": 9, "elapsed_ms": HUMAN_MS, "preview": good}, origin=OWN)
    assert old.status_code == 422 and "more than 12 hours old; reload it" in error_of(old)["message"]
    assert answers() == []
    # the embed page, also this site's own, sends no mark: its answers are stored as ever
    assert post_answer(client, survey, {"score": 9, "elapsed_ms": HUMAN_MS}, origin=OWN).status_code == 201
    assert len(answers()) == 1


@pytest.mark.parametrize("mark", [12, ["a"], "x" * 201])
def test_a_preview_field_that_is_no_mark_is_a_400(client, survey, mark):
    bad = post_answer(client, survey, {"score": 9, "elapsed_ms": HUMAN_MS, "preview": mark}, origin=OWN)
    assert bad.status_code == 400 and error_of(bad)["field"] == "preview"
    assert answers() == []


def test_the_embed_page_carries_no_mark(client, survey):
    page = client.get(f"/embed/{survey.public_key}?meta_preview=x&preview=x").get_data(as_text=True)
    assert "rapport-preview" not in page
