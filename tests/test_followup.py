"""Closing the loop: the follow-up inbox, assigning, notes, states and time to first follow-up."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.followup.models import FollowUp, FollowUpNote
from survey.followup.operations import update_follow_up
from survey.followup.queries import duration_text, inbox, responsiveness
from survey.models import AnalysisRun, Contact, PainPointRecord, User, utcnow
from survey.operations import OperationError
from tests.dashboard_support import login, make_user


@pytest.fixture
def low_answers(make_survey, make_response):
    """An NPS survey (detractors 0–6) and a CSAT one (negative 1–2), with answers of every kind."""
    nps = make_survey("nps", name="Broadband NPS")
    csat = make_survey("csat", name="Support CSAT")
    contact = Contact(email="dana@example.com", name="Dana", attributes={"plan": "pro", "region": "north"})
    db.session.add(contact)
    db.session.commit()
    start = utcnow() - dt.timedelta(hours=10)
    made = {
        "old_detractor": make_response(nps, score=3, comment="Slow to answer", created_at=start),
        "promoter": make_response(nps, score=10, comment="Great", created_at=start + dt.timedelta(hours=1)),
        "passive": make_response(nps, score=7, created_at=start + dt.timedelta(hours=2)),
        "new_detractor": make_response(nps, score=0, comment="cancelling tomorrow", contact_id=contact.id,
                                       meta={"order": "A-17"}, created_at=start + dt.timedelta(hours=3)),
        "csat_low": make_response(csat, score=2, comment="Rude agent", created_at=start + dt.timedelta(hours=4)),
        "csat_mid": make_response(csat, score=3, created_at=start + dt.timedelta(hours=5)),
        "no_score": make_response(csat, comment="just a comment", created_at=start + dt.timedelta(hours=6)),
    }
    return nps, csat, made


def ids(items):
    return [item.response.id for item in items]


def test_inbox_lists_low_scores_newest_first_with_per_survey_thresholds(low_answers):
    nps, csat, made = low_answers
    items, total = inbox()
    assert ids(items) == [made["csat_low"].id, made["new_detractor"].id, made["old_detractor"].id]
    assert total == 3
    nps.followup_max_score = 7  # this team also calls its passives at 7
    db.session.commit()
    assert ids(inbox(survey_id=nps.id)[0]) == [made["new_detractor"].id, made["passive"].id, made["old_detractor"].id]


def test_the_inbox_page_shows_comment_pain_points_and_attributes(client, low_answers):
    nps, csat, made = low_answers
    run = AnalysisRun(survey_id=nps.id, model_version="t", summary={})
    db.session.add(run)
    db.session.flush()
    point = PainPointRecord(run_id=run.id, survey_id=nps.id, rank=1, label="cancellation threats", theme="service",
                            count=1, share=1.0, impact=1.0, quotes=[])
    point.responses.append(made["new_detractor"])
    db.session.add(point)
    db.session.commit()
    login(client, "analyst")
    page = client.get("/follow-up")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert text.index("Rude agent") < text.index("cancelling tomorrow") < text.index("Slow to answer")
    assert "Great" not in text and "just a comment" not in text
    assert "cancellation threats" in text
    for attribute in ("dana@example.com", "plan</bdi></span> <bdi>pro", "region</bdi></span> <bdi>north",
                      "order</bdi></span> <bdi>A-17"):  # each typed text in its own <bdi>
        assert attribute in text
    only_csat = client.get(f"/follow-up?survey={csat.public_key}").get_data(as_text=True)
    assert "Rude agent" in only_csat and "cancelling tomorrow" not in only_csat


def test_assign_note_and_resolve_through_the_pages(client, low_answers):
    nps, csat, made = low_answers
    answer = made["new_detractor"]
    analyst = login(client, "analyst")
    colleague = make_user("admin", email="lee@example.com")
    page = client.get(f"/follow-up/{answer.id}")
    assert page.status_code == 200 and "cancelling tomorrow" in page.get_data(as_text=True)

    saved = client.post(f"/follow-up/{answer.id}", data={"assignee": colleague.id, "state": "contacted",
                                                         "note": "Called her, offered a technician visit."})
    assert saved.status_code == 303
    follow_up = db.session.scalar(sa.select(FollowUp).where(FollowUp.response_id == answer.id))
    assert (follow_up.assignee_id, follow_up.assigned_by_id, follow_up.state, follow_up.state_by_id) == \
        (colleague.id, analyst.id, "contacted", analyst.id)
    assert follow_up.assigned_at is not None and follow_up.first_followed_up_at == follow_up.state_at
    [note] = follow_up.notes
    assert (note.author_id, note.text) == (analyst.id, "Called her, offered a technician visit.")
    detail = client.get(f"/follow-up/{answer.id}").get_data(as_text=True)
    assert "Called her, offered a technician visit." in detail and f"by {analyst.email}" in detail

    resolved = client.post(f"/follow-up/{answer.id}", data={"assignee": colleague.id, "state": "resolved",
                                                            "note": ""})
    assert resolved.status_code == 303
    waiting = client.get("/follow-up").get_data(as_text=True)
    assert "cancelling tomorrow" not in waiting and "Rude agent" in waiting
    assert "cancelling tomorrow" in client.get("/follow-up?view=resolved").get_data(as_text=True)
    same = client.post(f"/follow-up/{answer.id}", data={"assignee": colleague.id, "state": "resolved"},
                       follow_redirects=True)
    assert "Nothing changed." in same.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUpNote)) == 1


def test_bad_follow_up_input_is_refused_and_nothing_is_stored(client, low_answers):
    nps, csat, made = low_answers
    login(client, "admin")
    answer = made["csat_low"]
    for data, message in (({"assignee": 99999, "state": "open"}, "Not a valid choice"),
                          ({"assignee": 0, "state": "closed"}, "Not a valid choice"),
                          ({"assignee": 0, "state": "open", "note": "x" * 5001}, "at most 5000 characters")):
        response = client.post(f"/follow-up/{answer.id}", data=data)
        assert response.status_code == 422 and message in response.get_data(as_text=True), data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FollowUp)) == 0
    assert client.get("/follow-up/99999").status_code == 404
    gone = make_user("analyst", active=False)
    with pytest.raises(OperationError, match="no active account"):
        update_follow_up(answer, db.session.get(User, gone.id), assignee_id=gone.id, state="open")


def test_time_to_first_follow_up_is_measured_and_shown(client, low_answers):
    nps, csat, made = low_answers
    actor = make_user("analyst")
    first = made["old_detractor"]
    update_follow_up(first, actor, assignee_id=actor.id, state="open", now=first.created_at + dt.timedelta(hours=1))
    assert responsiveness().followed_up == 0  # assigning alone is no follow-up yet
    update_follow_up(first, actor, assignee_id=actor.id, state="contacted",
                     now=first.created_at + dt.timedelta(hours=2, minutes=30))
    update_follow_up(first, actor, assignee_id=actor.id, state="open", now=first.created_at + dt.timedelta(hours=3))
    second = made["csat_low"]
    update_follow_up(second, actor, assignee_id=None, state="resolved", now=second.created_at + dt.timedelta(hours=1))
    speed = responsiveness()
    assert (speed.followed_up, speed.waiting) == (2, 1)
    assert speed.median == dt.timedelta(hours=1, minutes=45)  # 2 h 30 and 1 h; moving back to open keeps it
    login(client, "analyst")
    text = client.get("/follow-up?view=all").get_data(as_text=True)
    assert "1 h 45 min" in text and "followed up after 2 h 30 min" in text and "followed up after 1 h 0 min" in text


def test_duration_text():
    assert duration_text(None) == "–"
    assert duration_text(dt.timedelta(minutes=12, seconds=50)) == "12 min"
    assert duration_text(dt.timedelta(hours=3, minutes=20)) == "3 h 20 min"
    assert duration_text(dt.timedelta(days=2, hours=4, minutes=5)) == "2 d 4 h"


def test_the_threshold_is_edited_on_the_settings_page(client, make_survey):
    survey = make_survey("csat", name="Support CSAT")
    login(client, "admin")
    form = {"kind": "csat", "name": "Support CSAT", "widget_cap_days": 90, "is_open": "y"}
    bad = client.post(f"/surveys/{survey.public_key}/edit", data={**form, "followup_max_score": 9})
    assert bad.status_code == 422 and "from 1 to 5" in bad.get_data(as_text=True)
    assert client.post(f"/surveys/{survey.public_key}/edit", data={**form, "followup_max_score": 3}).status_code == 302
    db.session.expire_all()
    assert survey.followup_threshold == 3
    assert "scoring at most 3" in client.get(f"/surveys/{survey.public_key}").get_data(as_text=True)
