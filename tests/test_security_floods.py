"""Floods and bots on the answer page (/s/KEY), as the widget API already stops them (issue 18, finding 2)."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from survey.public.traps import shown_stamp
from survey.widget.operations import bot_catch_totals
from tests.widget_support import answers


@pytest.fixture
def survey(make_survey):
    return make_survey("nps")


def fresh_window(seconds: int = 60) -> None:
    """Start well inside a rate-limit window (fixed windows restart every ``seconds``)."""
    if time.time() % seconds > seconds - 8:
        time.sleep(seconds - time.time() % seconds + 0.1)


def post(client, survey, address: str = "203.0.113.7", **fields):
    data = {"score": 9, "submission_key": uuid.uuid4().hex, **fields}
    return client.post(f"/s/{survey.public_key}", data=data, environ_base={"REMOTE_ADDR": address})


def test_one_client_flooding_the_answer_page_gets_429_with_a_page_a_person_understands(app, client, survey):
    assert app.config["ANSWER_RATE_LIMIT"] == "30/minute"  # the default, as for the widget
    fresh_window()
    statuses = [post(client, survey, comment=f"answer {n}").status_code for n in range(40)]
    assert statuses.count(303) == 30 and statuses[30:] == [429] * 10
    refused = post(client, survey, comment="Kept for the person to send again")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert "from your network" in page and "please send it again in" in page
    assert "Kept for the person to send again" in page  # nothing they wrote is lost
    assert len(answers()) == 30
    # Invalid posts count too, so a bot cannot probe for free; other networks are not affected.
    assert client.post(f"/s/{survey.public_key}", data={"score": "x"},
                       environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 429
    assert post(client, survey, address="198.51.100.1").status_code == 303


def test_a_survey_takes_only_so_many_answers_a_minute_from_everyone(app, client, survey, make_survey):
    app.config["ANSWER_SURVEY_RATE_LIMIT"] = "5/minute"
    fresh_window()
    statuses = [post(client, survey, address=f"192.0.2.{n}").status_code for n in range(1, 8)]
    assert statuses == [303] * 5 + [429] * 2
    assert post(client, make_survey("csat"), address="192.0.2.99", score=4).status_code == 303


def test_an_honest_customer_changing_their_answer_is_never_refused(app, client, survey):
    app.config["ANSWER_MIN_FILL_MS"] = 1200
    key = uuid.uuid4().hex
    page = client.get(f"/s/{survey.public_key}").get_data(as_text=True)
    shown = re.search(r'name="shown" type="hidden" value="([^"]+)"', page).group(1)
    time.sleep(1.3)  # a person reads the question before answering
    for score in (3, 4, 6, 8, 9, 10):  # the back button, a change of mind, a double click…
        reply = post(client, survey, submission_key=key, score=score, shown=shown)
        assert reply.status_code == 303
    [stored] = answers()
    assert stored.score == 10


def test_the_honeypot_and_the_minimum_fill_time_catch_bots_that_look_answered(app, client, survey):
    app.config["ANSWER_MIN_FILL_MS"] = 1200
    page = client.get(f"/s/{survey.public_key}").get_data(as_text=True)
    assert 'class="hp" aria-hidden="true"' in page and 'name="website"' in page and 'tabindex="-1"' in page
    shown = re.search(r'name="shown" type="hidden" value="([^"]+)"', page).group(1)
    instant = post(client, survey, shown=shown)  # sent the moment the page arrived
    missing = post(client, survey)  # a bot that never loaded the page
    forged = post(client, survey, shown=f"{int(time.time() * 1000) - 60_000}.{'0' * 20}")  # back-dated, unsigned
    with app.test_request_context():
        honest = shown_stamp(survey, now=time.time() - 5)
    filled = post(client, survey, shown=honest, website="http://spam.example")
    person = post(client, survey, shown=honest, comment="A real answer")
    for reply in (instant, missing, forged, filled, person):
        assert reply.status_code == 303 and reply.headers["Location"].endswith(f"/s/{survey.public_key}/thanks")
    assert [a.comment for a in answers()] == ["A real answer"]
    assert bot_catch_totals(survey) == {"honeypot": 1, "too_fast": 3}
