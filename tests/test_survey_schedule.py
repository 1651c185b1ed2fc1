"""A survey's schedule: a close date and a response cap (survey.schedule).

After either, the answer page, the widget (API and embed) and e-mail links
answer 410 with a sentence a person understands, and campaigns are refused.
"""

from __future__ import annotations

import datetime as dt

import pytest

from survey.db import db
from survey.invites import operations
from survey.invites.delivery import deliver
from survey.models import Survey, utcnow
from survey.operations import Answer, record_response
from survey.schedule import closed_reason, parse_close_date, set_schedule
from survey.widget.operations import add_origins
from tests.dashboard_support import login
from tests.invites_support import add_contacts, local_path, mailbox, score_links, smtp_server  # noqa: F401
from tests.widget_support import PARTNER, error_of, patch_answer, post_answer

BASE = "https://surveys.example.com"
PAST = dt.datetime(2026, 1, 5, 18, 0)


def answer(survey, score=9):
    return record_response(survey, Answer(score=score, comment=None, channel="link"))


def reload(survey) -> Survey:
    db.session.expire_all()
    return db.session.get(Survey, survey.id)


def test_parse_close_date_reads_days_times_and_offsets():
    assert parse_close_date("2026-12-31") == dt.datetime(2027, 1, 1)  # answers all that day
    assert parse_close_date("2026-12-31 18:00") == dt.datetime(2026, 12, 31, 18, 0)
    assert parse_close_date("2026-12-31T18:00+01:00") == dt.datetime(2026, 12, 31, 17, 0)
    assert parse_close_date("2026-12-31T18:00:30Z") == dt.datetime(2026, 12, 31, 18, 0)
    with pytest.raises(ValueError, match="is not a date"):
        parse_close_date("next friday")


def test_past_close_date_closes_page_form_and_widget(client, make_survey):
    survey = make_survey("nps")
    add_origins(survey, [PARTNER])
    assert client.get(f"/s/{survey.public_key}").status_code == 200
    set_schedule(survey, closes_at=PAST, max_responses=None)
    page = client.get(f"/s/{survey.public_key}")
    assert page.status_code == 410
    assert "closed on 5 Jan 2026, 18:00 UTC" in page.get_data(as_text=True)
    assert client.post(f"/s/{survey.public_key}", data={"score": 9}).status_code == 410
    assert client.get(f"/embed/{survey.public_key}").status_code == 410
    refused = post_answer(client, survey)
    assert refused.status_code == 410 and "closed on 5 Jan 2026" in error_of(refused)["message"]
    config = client.get(f"/api/v1/surveys/{survey.public_key}/widget", headers={"Origin": PARTNER})
    assert config.status_code == 410 and config.is_json
    # A future date keeps it open.
    set_schedule(reload(survey), closes_at=utcnow() + dt.timedelta(days=1), max_responses=None)
    assert client.get(f"/s/{survey.public_key}").status_code == 200
    assert post_answer(client, survey).status_code == 201


def test_response_cap_refuses_new_answers_but_lets_the_last_one_add_its_comment(client, make_survey):
    survey = make_survey("nps")
    add_origins(survey, [PARTNER])
    set_schedule(survey, closes_at=None, max_responses=2)
    answer(survey)
    created = post_answer(client, survey, {"score": 3, "elapsed_ms": 4000})
    assert created.status_code == 201
    page = client.get(f"/s/{survey.public_key}")
    assert page.status_code == 410 and "all the answers it needs" in page.get_data(as_text=True)
    full = post_answer(client, survey)
    assert full.status_code == 410 and "all the answers it needs" in error_of(full)["message"]
    body = created.get_json()
    comment = patch_answer(client, survey, body["id"], {"edit_token": body["edit_token"], "comment": "Too slow"})
    assert comment.status_code == 200 and comment.get_json()["comment"] == "Too slow"
    assert closed_reason(reload(survey)) is not None
    set_schedule(reload(survey), closes_at=None, max_responses=3)
    assert client.get(f"/s/{survey.public_key}").status_code == 200


def test_email_links_close_and_campaigns_are_refused(smtp_server, mailbox, client, runner, make_survey):  # noqa: F811
    survey = make_survey("csat")
    add_contacts(2)
    operations.send_campaign(survey, base_url=BASE)
    deliver()
    first, second = (local_path(score_links(message)[2]) for message in mailbox.messages())
    token_first = first.rsplit("/", 1)[0]
    assert client.post(f"{token_first}", data={"score": 2, "comment": "slow"}).status_code == 303

    set_schedule(reload(survey), closes_at=None, max_responses=1)
    assert client.get(first).status_code == 200  # its answer is counted already: it may still change it
    full = client.get(second)
    assert full.status_code == 410 and "all the answers it needs" in full.get_data(as_text=True)
    out = runner.invoke(args=["invite", "send", "--survey", survey.public_key, "--base-url", BASE])
    assert out.exit_code == 1 and "reached its cap of 1 answers" in out.output

    set_schedule(reload(survey), closes_at=PAST, max_responses=None)
    for link in (first, second):
        page = client.get(link)
        assert page.status_code == 410 and "closed on 5 Jan 2026" in page.get_data(as_text=True)
    out = runner.invoke(args=["invite", "send", "--survey", survey.public_key, "--base-url", BASE])
    assert out.exit_code == 1 and "closed on 5 Jan 2026, 18:00 UTC" in out.output
    assert "--no-close-date" in out.output


def test_schedule_command_sets_shows_and_clears(runner, make_survey):
    survey = make_survey("nps")
    key = survey.public_key
    out = runner.invoke(args=["survey", "schedule", key])
    assert out.exit_code == 0 and out.output.strip() == f"{key}: open; close date: none; answers: 0 (no cap)"
    out = runner.invoke(args=["survey", "schedule", key, "--closes-at", "2099-12-31T18:00+01:00",
                              "--max-responses", "500"])
    assert out.exit_code == 0, out.output
    assert "close date: 31 Dec 2099, 17:00 UTC; answers: 0 of at most 500" in out.output
    survey = reload(survey)
    assert (survey.closes_at, survey.max_responses) == (dt.datetime(2099, 12, 31, 17, 0), 500)
    out = runner.invoke(args=["survey", "schedule", key, "--closes-at", "2020-01-01"])
    assert out.exit_code == 0 and f"{key}: closed;" in out.output
    out = runner.invoke(args=["survey", "schedule", key, "--no-close-date", "--no-cap"])
    assert out.exit_code == 0 and "close date: none; answers: 0 (no cap)" in out.output
    assert reload(survey).closes_at is None and reload(survey).max_responses is None


@pytest.mark.parametrize("args, message", [
    (["--closes-at", "soon"], "is not a date"),
    (["--max-responses", "0"], "at least 1"),
    (["--closes-at", "2030-01-01", "--no-close-date"], "contradict"),
    (["--max-responses", "5", "--no-cap"], "contradict"),
])
def test_schedule_command_refuses_bad_input(runner, make_survey, args, message):
    survey = make_survey("nps")
    out = runner.invoke(args=["survey", "schedule", survey.public_key, *args])
    assert out.exit_code == 2 and message in out.output
    assert reload(survey).closes_at is None and reload(survey).max_responses is None
    assert runner.invoke(args=["survey", "schedule", "no-such-key"]).exit_code == 1


def test_settings_page_edits_the_schedule(client, make_survey):
    survey = make_survey("nps", name="Onboarding")
    login(client, "admin")
    form = {"kind": "nps", "name": "Onboarding", "widget_cap_days": 90, "is_open": "y",
            "closes_at": "2099-06-30T09:30", "max_responses": "250"}
    page = client.get(f"/surveys/{survey.public_key}/edit").get_data(as_text=True)
    assert 'name="closes_at"' in page and 'name="max_responses"' in page
    saved = client.post(f"/surveys/{survey.public_key}/edit", data=form)
    assert saved.status_code == 302
    survey = reload(survey)
    assert (survey.closes_at, survey.max_responses) == (dt.datetime(2099, 6, 30, 9, 30), 250)
    detail = client.get(f"/surveys/{survey.public_key}").get_data(as_text=True)
    assert "closes on 30 Jun 2099, 09:30 UTC" in detail and "0 of at most 250 answers" in detail

    bad = client.post(f"/surveys/{survey.public_key}/edit", data={**form, "max_responses": "0",
                                                                  "closes_at": "tomorrow"})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "from 1 to 10,000,000" in text and "Not a valid datetime value" in text
    assert reload(survey).max_responses == 250

    cleared = client.post(f"/surveys/{survey.public_key}/edit", data={**form, "closes_at": "2020-01-01T00:00",
                                                                      "max_responses": ""})
    assert cleared.status_code == 302
    survey = reload(survey)
    assert survey.max_responses is None
    listing = client.get("/surveys").get_data(as_text=True)
    assert '<span class="badge">closed</span>' in listing
    assert "closed on 1 Jan 2020" in client.get(f"/surveys/{survey.public_key}").get_data(as_text=True)


def test_survey_list_shows_the_schedule_state(runner, make_survey):
    import json

    full = make_survey("nps", name="Full one")
    set_schedule(full, closes_at=None, max_responses=1)
    answer(full)
    past = make_survey("csat", name="Past one")
    set_schedule(past, closes_at=PAST, max_responses=None)
    make_survey("ces", name="Open one")
    table = runner.invoke(args=["survey", "list"]).output
    assert "STATE" in table.splitlines()[0]
    rows = {row["name"]: (row["open"], row["state"]) for row in json.loads(runner.invoke(args=["survey", "list",
                                                                                              "--json"]).output)}
    assert rows == {"Full one": (True, "full"), "Past one": (True, "closed"), "Open one": (True, "open")}
