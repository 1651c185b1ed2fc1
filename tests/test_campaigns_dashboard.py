"""Campaigns on the dashboard: the audience preview, sending, scheduling, reminders, cancelling, refusals.

Everything goes through the same services as ``flask invite send`` and the
delivery worker's scheduler (survey.invites.scheduling).
"""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.invites import operations
from survey.invites.campaigns import queue_campaign
from survey.invites.delivery import deliver
from survey.invites.models import Campaign, Invitation, OutboxMessage
from survey.invites.scheduling import cancel_campaign, run_due
from survey.models import Contact, Response, utcnow
from survey.operations import OperationError
from tests.conftest import TEST_DB_URL, extract_csrf
from tests.dashboard_support import login
from tests.invites_support import add_contacts

BASE = "https://surveys.example.com"


@pytest.fixture(autouse=True)
def base_url(app):
    app.config["PUBLIC_BASE_URL"] = BASE


def audience_with_every_reason():
    """Pro plan: 4 who may be e-mailed, 1 unsubscribed, 1 bounced, 1 surveyed last week; 2 basic."""
    add_contacts(7, plan="pro")
    add_contacts(2, start=7, plan="basic")
    contacts = {c.email: c for c in db.session.scalars(sa.select(Contact))}
    contacts["person4@example.com"].unsubscribed_at = utcnow()
    contacts["person5@example.com"].bounced_at = utcnow()
    contacts["person6@example.com"].last_surveyed_at = utcnow() - dt.timedelta(days=7)
    db.session.commit()


def campaigns() -> list[Campaign]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Campaign).order_by(Campaign.id)))


def outbox(state: str | None = None) -> list[OutboxMessage]:
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if state:
        query = query.where(OutboxMessage.state == state)
    return list(db.session.scalars(query))


def form(survey, survey_key=None, **fields) -> dict:
    data = {"survey": survey_key or survey.public_key, "audience": "", "name": "", "when": "now", "send_at": "",
            "remind_after_days": "", "submission_key": "key-1", "action": "preview"}
    data.update(fields)
    return data


def preview(client, survey, **fields):
    response = client.post("/campaigns/new", data=form(survey, **fields))
    html = response.get_data(as_text=True)
    digest = re.search(r'name="previewed" type="hidden" value="([^"]*)"', html)
    return response, html, digest.group(1) if digest else ""


def send(client, survey, **fields):
    _, html, digest = preview(client, survey, **fields)
    assert digest, html[:2000]
    return client.post("/campaigns/new", data=form(survey, action="send", previewed=digest, **fields))


def number(html: str, element_id: str) -> int:
    return int(re.search(rf'id="{element_id}">(\d+)<', html).group(1))


def test_the_preview_counts_what_queueing_will_do_and_sending_matches_it(client, make_survey):
    survey = make_survey("nps")
    audience_with_every_reason()
    login(client, "admin")
    response, html, digest = preview(client, survey, audience="plan=pro")
    assert response.status_code == 200
    assert (number(html, "preview-invited"), number(html, "preview-skipped")) == (4, 3)
    for reason in ("1 unsubscribed", "1 bounced", "1 surveyed in the last 90 days"):
        assert reason in html
    assert "Send to 4 contacts" in html
    assert campaigns() == []  # a preview stores nothing

    sent = client.post("/campaigns/new", data=form(survey, audience="plan=pro", action="send", previewed=digest))
    assert sent.status_code == 303
    [campaign] = campaigns()
    assert sent.location.endswith(f"/campaigns/{campaign.id}")
    stats = operations.campaign_stats(campaign)
    assert (stats["invited"], stats["queued"], stats["skipped_unsubscribed"], stats["skipped_bounced"],
            stats["skipped_throttled"]) == (7, 4, 1, 1, 1)
    assert campaign.state == "queued" and campaign.created_by.role == "admin"
    assert len(outbox("queued")) == 4
    page = client.get(sent.location).get_data(as_text=True)
    assert "Queued 4 invitations; skipped 3" in page and "plan=pro" in page

    # The same form sent again (a double click, a reload): the same campaign, no second one.
    again = client.post("/campaigns/new", data=form(survey, audience="plan=pro", action="send", previewed=digest))
    assert again.status_code == 303 and again.location == sent.location
    assert len(campaigns()) == 1 and len(outbox()) == 4


def test_sending_needs_a_preview_of_the_same_audience(client, make_survey):
    survey = make_survey("nps")
    audience_with_every_reason()
    login(client, "admin")
    _, _, digest = preview(client, survey, audience="plan=pro")
    changed = client.post("/campaigns/new", data=form(survey, audience="plan=basic", action="send", previewed=digest))
    html = changed.get_data(as_text=True)
    assert changed.status_code == 200 and "changed since the preview" in html
    assert number(html, "preview-invited") == 2 and campaigns() == []
    unpreviewed = client.post("/campaigns/new", data=form(survey, action="send"))
    assert unpreviewed.status_code == 200 and campaigns() == []


@pytest.mark.parametrize("fields, message", [
    ({"audience": "plan"}, "Line 1: &#39;plan&#39; must look like attribute=value"),
    ({"audience": "plan=pro\nregion="}, "Line 2: &#39;region=&#39; names no value"),
    ({"remind_after_days": "-2"}, "from 1 to 365"),
    ({"remind_after_days": "many"}, "Not a valid integer"),
    ({"when": "later", "send_at": ""}, "Choose when to send it"),
    ({"when": "later", "send_at": "2020-01-01T10:00"}, "That time has passed"),
    ({"when": "later", "send_at": "tomorrow"}, "Not a valid datetime"),
    ({"survey_key": "no-such-survey"}, "Not a valid choice"),
])
def test_careless_input_gets_a_clear_error_and_stores_nothing(client, make_survey, fields, message):
    survey = make_survey("nps")
    add_contacts(2, plan="pro")
    login(client, "admin")
    response = client.post("/campaigns/new", data=form(survey, action="send", previewed="x", **fields))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert campaigns() == [] and outbox() == []


def test_a_reminder_that_would_come_after_the_links_stopped_working_is_refused(client, make_survey):
    survey = make_survey("nps")
    add_contacts(2)
    login(client, "admin")
    response = send(client, survey, remind_after_days="30")  # links work INVITATION_EXPIRY_DAYS = 30 days
    assert response.status_code == 422 and "1 to 29 days" in response.get_data(as_text=True)
    assert campaigns() == []


def test_a_scheduled_campaign_is_queued_once_when_due_with_its_reminder_once(app, client, make_survey):
    survey = make_survey("nps")
    add_contacts(3)
    login(client, "admin")
    send_at = (utcnow() + dt.timedelta(hours=2)).replace(second=0, microsecond=0)
    response = send(client, survey, when="later", send_at=send_at.strftime("%Y-%m-%dT%H:%M"), remind_after_days="3")
    assert response.status_code == 303
    [campaign] = campaigns()
    assert (campaign.state, campaign.send_at, campaign.remind_after_days) == ("scheduled", send_at, 3)
    assert campaign.name == f"{survey.name} {send_at:%-d %b %Y, %H:%M} UTC"  # unnamed: the survey and its time
    with pytest.raises(OperationError, match=re.escape(f"is scheduled for {send_at:%-d %b %Y, %H:%M} UTC; it is queued")):
        queue_campaign(campaign)  # too early: says when, written as pages write it
    shown = client.get(response.location).get_data(as_text=True)
    # The flash writes the time as every page does (display.when_text), not "2026-12-07 11:00".
    assert "scheduled" in shown and f"for {send_at:%-d %b %Y, %H:%M} UTC. The delivery worker" in shown
    assert not run_due(send_at - dt.timedelta(minutes=1)).anything and outbox() == []

    due = run_due(send_at + dt.timedelta(seconds=30))
    assert [r.queued for r in due.queued] == [3]
    assert not run_due(send_at + dt.timedelta(minutes=5)).anything  # once
    assert len(outbox()) == 3 and campaigns()[0].state == "queued"
    # Links work from the send time, not from when the campaign was made.
    assert {i.expires_at for i in db.session.scalars(sa.select(Invitation))} == {
        send_at + dt.timedelta(seconds=30, days=app.config["INVITATION_EXPIRY_DAYS"])}
    db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))  # due in the test's present
    db.session.commit()
    assert deliver().sent == 3
    db.session.execute(sa.update(Invitation).values(sent_at=send_at))
    db.session.commit()

    assert run_due(send_at + dt.timedelta(days=2)).reminded == 0  # not yet
    assert run_due(send_at + dt.timedelta(days=3, minutes=1)).reminded == 3
    assert run_due(send_at + dt.timedelta(days=4)).reminded == 0  # never a second one
    assert [m.kind for m in outbox("queued")] == ["reminder"] * 3


def test_cancelling_a_scheduled_campaign_asks_first_then_sends_nothing(client, make_survey):
    survey = make_survey("nps")
    add_contacts(2)
    login(client, "admin")
    send_at = utcnow() + dt.timedelta(days=1)
    send(client, survey, when="later", send_at=send_at.strftime("%Y-%m-%dT%H:%M"))
    [campaign] = campaigns()
    confirm = client.get(f"/campaigns/{campaign.id}/cancel")
    assert confirm.status_code == 200 and "Cancelled, it sends nothing" in confirm.get_data(as_text=True)
    assert campaigns()[0].state == "scheduled"  # asking changes nothing
    done = client.post(f"/campaigns/{campaign.id}/cancel")
    assert done.status_code == 303
    assert campaigns()[0].state == "cancelled"
    assert not run_due(send_at + dt.timedelta(minutes=1)).anything and outbox() == []
    twice = client.post(f"/campaigns/{campaign.id}/cancel")
    assert twice.status_code == 409 and "already cancelled" in twice.get_data(as_text=True)


def test_cancelling_a_sent_campaign_stops_its_mail_not_yet_sent_and_its_reminders(app, make_survey):
    survey = make_survey("nps")
    add_contacts(4)
    result = operations.send_campaign(survey, base_url=BASE)
    assert deliver(batch_size=1, max_batches=1).sent == 1
    campaign = db.session.get(Campaign, result.campaign.id)
    campaign.remind_after_days = 1
    db.session.commit()
    assert cancel_campaign(campaign) == 3
    assert deliver().sent == 0
    stats = operations.campaign_stats(campaign)
    assert (stats["sent"], stats["skipped_cancelled"], stats["outbox"]) == (1, 3, {"cancelled": 3, "sent": 1})
    assert run_due(utcnow() + dt.timedelta(days=2)).reminded == 0
    with pytest.raises(OperationError, match="already cancelled"):
        cancel_campaign(campaign)


def test_a_closed_survey_is_refused_in_the_form_and_when_a_scheduled_campaign_falls_due(client, make_survey):
    closed = make_survey("nps", is_open=False)
    survey = make_survey("csat")
    add_contacts(2)
    login(client, "admin")
    assert f"{closed.name} (closed)</option>" in client.get("/campaigns/new").get_data(as_text=True)
    response, html, _ = preview(client, closed)
    assert response.status_code == 422 and "is closed; open it before inviting anyone" in html
    assert campaigns() == []

    send_at = utcnow() + dt.timedelta(hours=1)
    send(client, survey, when="later", send_at=send_at.strftime("%Y-%m-%dT%H:%M"))
    survey = db.session.merge(survey)
    survey.max_responses = 1
    db.session.add(Response(survey_id=survey.id, score=5, channel="link", meta={}))
    db.session.commit()
    report = run_due(send_at + dt.timedelta(minutes=1))
    [(campaign_id, why)] = report.refused
    assert "has reached its cap of 1 answers" in why
    [campaign] = campaigns()
    assert campaign.state == "refused" and outbox() == []
    page = client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Not sent: survey" in page and "cap of 1 answers" in page


def test_reminders_are_not_queued_for_a_closed_survey(app, make_survey, runner):
    survey = make_survey("nps")
    add_contacts(2)
    operations.send_campaign(survey, base_url=BASE)
    assert deliver().sent == 2
    survey.closes_at = utcnow() - dt.timedelta(minutes=1)
    db.session.commit()
    result = operations.queue_reminders(after=dt.timedelta(0), now=utcnow() + dt.timedelta(days=1))
    assert (result.reminded, result.closed) == (0, 2)
    out = runner.invoke(args=["invite", "remind", "--after", "0d"])
    assert "0 reminder(s) queued" in out.output and "2 of closed surveys" in out.output
    survey.closes_at = None
    db.session.commit()
    assert operations.queue_reminders(after=dt.timedelta(0)).reminded == 2


def test_pages_of_campaigns_and_what_analysts_may_do(client, make_survey):
    survey = make_survey("nps")
    add_contacts(2)
    result = operations.send_campaign(survey, base_url=BASE, name="Spring check-in")
    login(client, "analyst")
    listing = client.get("/campaigns").get_data(as_text=True)
    assert "Spring check-in" in listing and "New campaign" not in listing
    assert "Spring check-in" in client.get(f"/surveys/{survey.public_key}/campaigns").get_data(as_text=True)
    page = client.get(f"/campaigns/{result.campaign.id}")
    assert page.status_code == 200 and "Cancel campaign" not in page.get_data(as_text=True)
    assert client.get("/surveys/nope/campaigns").status_code == 404
    assert client.get("/campaigns/999").status_code == 404
    for method, url in (("GET", "/campaigns/new"), ("POST", "/campaigns/new"),
                        ("GET", f"/campaigns/{result.campaign.id}/cancel"),
                        ("POST", f"/campaigns/{result.campaign.id}/cancel")):
        assert client.open(url, method=method, data=form(survey)).status_code == 403, url
    assert len(campaigns()) == 1 and len(outbox("queued")) == 2


def test_posts_without_the_csrf_token_are_refused(app, client, make_survey):
    app.config["WTF_CSRF_ENABLED"] = True
    survey = make_survey("nps")
    add_contacts(2)
    result = operations.send_campaign(survey, base_url=BASE)
    login(client, "admin")
    assert client.post("/campaigns/new", data=form(survey, action="send")).status_code == 400
    assert client.post(f"/campaigns/{result.campaign.id}/cancel").status_code == 400
    token = extract_csrf(client.get(f"/campaigns/{result.campaign.id}/cancel").get_data(as_text=True))
    assert client.post(f"/campaigns/{result.campaign.id}/cancel", data={"csrf_token": token}).status_code == 303
    assert campaigns()[0].state == "cancelled"


def test_two_workers_queue_a_due_campaign_once(app, make_survey):
    if TEST_DB_URL is None:
        app.config["SQLITE_BUSY_TIMEOUT_MS"] = 20000
    survey = make_survey("nps")
    add_contacts(300)
    send_at = utcnow() + dt.timedelta(minutes=5)
    campaign = operations.create_campaign(survey, base_url=BASE, send_at=send_at)
    start = threading.Barrier(2)
    reports, errors = {}, []

    def work(name):
        with app.app_context():
            try:
                start.wait()
                reports[name] = run_due(send_at + dt.timedelta(seconds=1))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert sorted(len(r.queued) for r in reports.values()) == [0, 1]
    assert len(outbox()) == 300
    assert db.session.scalar(sa.select(sa.func.count(sa.distinct(Invitation.contact_id)))
                             .where(Invitation.campaign_id == campaign.id)) == 300


def test_the_delivery_worker_queues_a_due_campaign_before_it_sends(app, make_survey, runner):
    survey = make_survey("nps")
    add_contacts(2)
    campaign = operations.create_campaign(survey, base_url=BASE, send_at=utcnow() + dt.timedelta(hours=1))
    assert runner.invoke(args=["invite", "deliver"]).output.count("sent 0") == 1
    status = runner.invoke(args=["invite", "status"]).output
    assert f"campaign {campaign.id}" in status and f"scheduled for {campaign.send_at:%Y-%m-%dT%H:%M}" in status
    campaign.send_at = utcnow() - dt.timedelta(seconds=1)  # the hour has passed
    db.session.commit()
    out = runner.invoke(args=["invite", "deliver"])
    assert out.exit_code == 0, out.output
    assert f"campaign {campaign.id}" in out.output and "2 invitation(s) queued" in out.output
    assert "sent 2," in out.output
    assert "sent 0," in runner.invoke(args=["invite", "deliver"]).output  # once


def test_a_campaign_whose_worker_stopped_half_way_is_taken_up_once_its_lease_ran_out(app, make_survey):
    from survey.invites.scheduling import claim

    survey = make_survey("nps")
    add_contacts(3)
    send_at = utcnow() + dt.timedelta(minutes=1)
    campaign = operations.create_campaign(survey, base_url=BASE, send_at=send_at)
    assert claim(campaign.id, send_at)  # a worker claims it, then stops before queueing
    assert not claim(campaign.id, send_at)  # nobody else while its lease holds
    assert not run_due(send_at + dt.timedelta(minutes=5)).anything
    report = run_due(send_at + dt.timedelta(minutes=11))
    assert [r.queued for r in report.queued] == [3] and campaigns()[0].state == "queued"


def test_the_campaign_lists_page(client, make_survey):
    survey = make_survey("nps")
    add_contacts(1)
    for number in range(26):
        operations.create_campaign(survey, base_url=BASE, name=f"Wave {number}",
                                   send_at=utcnow() + dt.timedelta(days=1))
    login(client, "analyst")
    for url in ("/campaigns", f"/surveys/{survey.public_key}/campaigns"):
        first = client.get(url).get_data(as_text=True)
        assert "Page 1 of 2" in first and f'href="{url}?page=2"' in first
        assert "Wave 25" in first and "Wave 0<" not in first  # newest first
        second = client.get(f"{url}?page=2").get_data(as_text=True)
        assert "Wave 0<" in second and "Page 2 of 2" in second


def without_csrf(page: str) -> str:
    """The page with every CSRF token (payload.timestamp.signature, in any input's attribute order) blanked."""
    return re.sub(r'<input[^>]*name="csrf_token"[^>]*>', '<input name="csrf_token">', page)


def test_the_campaign_page_draws_its_chart_again_only_when_the_counts_change(client, make_survey, monkeypatch):
    from survey.insights import charts
    from survey.results import charts_cache

    charts_cache._course.cache_clear()
    drawn = []
    real_render = charts._render
    monkeypatch.setattr(charts, "_render", lambda *args, **kw: drawn.append(args[1].name) or real_render(*args, **kw))
    survey = make_survey("nps")
    add_contacts(2)
    result = operations.send_campaign(survey, base_url=BASE)
    assert deliver().sent == 2
    login(client, "analyst")
    first = client.get(f"/campaigns/{result.campaign.id}").get_data(as_text=True)
    assert sorted(drawn) == ["narrow", "wide"]  # both sizes drawn once
    # the same page again, but for its CSRF token, whose signature carries the second it was made
    assert without_csrf(client.get(f"/campaigns/{result.campaign.id}").get_data(as_text=True)) == without_csrf(first)
    assert len(drawn) == 2  # seen again: not redrawn
    invitation = db.session.scalars(sa.select(Invitation)).first()
    invitation.answered_at = utcnow()
    db.session.commit()
    again = client.get(f"/campaigns/{result.campaign.id}").get_data(as_text=True)
    assert len(drawn) == 4 and "2 sent, 1 answered" in again and "2 sent, 1 answered" not in first
