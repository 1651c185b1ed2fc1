"""Low-score alerts: found by the worker, batched per survey and owner, exactly once, opt-out, through SMTP."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pytest
import sqlalchemy as sa

from survey.alerts import low_scores
from survey.alerts.digest import due_week, week_name
from survey.alerts.low_scores import queue_alerts
from survey.alerts.mail import set_preferences, unsubscribe_token
from survey.alerts.models import AlertBatch, AlertedResponse, MailPreference, OwnerMail
from survey.db import db
from survey.invites import delivery
from survey.models import User, utcnow
from tests.alerts_support import BASE_URL, outbox_count, owner, queued, site  # noqa: F401
from tests.alerts_support import Killed
from tests.conftest import TEST_DB_URL
from tests.dashboard_support import login, make_user
from tests.invites_support import html_links, html_part, local_path, mailbox, smtp_server, text_part  # noqa: F401


@pytest.fixture
def survey(make_survey, owner):
    return make_survey("nps", name="Broadband NPS", owner_id=owner.id)


def test_a_burst_of_50_low_scores_gives_each_owner_one_mail(site, survey, owner, make_response):
    now = utcnow()
    for i in range(50):
        make_response(survey, score=i % 7, comment=f"problem number {i}", created_at=now - dt.timedelta(seconds=i))
    report = queue_alerts(now)
    assert (report.batches, report.answers, report.mails) == (1, 50, 1)
    [message] = queued("alert")
    assert message["To"] == owner.email
    assert message["Subject"] == "50 low scores on Broadband NPS"
    text = text_part(message)
    # The newest first, at most ALERT_MAX_ITEMS (20) listed, and a count of the rest.
    assert text.count("Follow up: ") == 20 and "...and 30 more." in text
    assert "problem number 0" in text and "problem number 19" in text and "problem number 20" not in text
    assert f"{BASE_URL}/follow-up?survey={survey.public_key}" in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AlertedResponse)) == 50

    # Another pass finds nothing new; a new low score within the window waits for it to pass.
    assert queue_alerts(now).batches == 0
    make_response(survey, score=1, comment="still broken", created_at=now + dt.timedelta(minutes=1))
    waiting = queue_alerts(now + dt.timedelta(minutes=2))
    assert (waiting.batches, waiting.waiting) == (0, 1) and outbox_count("alert") == 1
    later = queue_alerts(now + dt.timedelta(minutes=16))  # ALERT_BATCH_MINUTES = 15
    assert (later.batches, later.answers, later.mails) == (1, 1, 1)
    assert queued("alert")[-1]["Subject"] == "Low score on Broadband NPS: 1"


def test_scores_above_the_threshold_are_not_alerted(site, make_survey, owner, make_response):
    nps = make_survey("nps", owner_id=owner.id)
    for score in (7, 8, 9, 10):  # passives and promoters
        make_response(nps, score=score, comment="fine")
    make_response(nps, comment="a comment without a score")
    strict = make_survey("csat", owner_id=owner.id, followup_max_score=1)
    make_response(strict, score=2, comment="meh")  # in the negative band, above this survey's own threshold
    assert queue_alerts().batches == 0 and outbox_count("alert") == 0
    make_response(strict, score=1, comment="awful")
    make_response(nps, score=6, comment="a detractor")
    assert queue_alerts().mails == 2


def test_answers_older_than_the_lookback_are_not_news(site, survey, make_response):
    make_response(survey, score=0, comment="last month", created_at=utcnow() - dt.timedelta(days=30))
    assert queue_alerts().batches == 0


def test_a_survey_without_owner_alerts_every_active_admin(site, make_survey, make_response):
    admins = [make_user("admin"), make_user("admin")]
    make_user("admin", active=False)
    make_user("analyst")
    orphan = make_survey("ces")
    make_response(orphan, score=1, comment="so much effort")
    assert queue_alerts().mails == 2
    assert sorted(m["To"] for m in queued("alert")) == sorted(a.email for a in admins)


def test_a_deleted_owner_hands_alerts_to_the_admins(site, survey, owner, make_response):
    admin = make_user("admin")
    db.session.delete(owner)
    db.session.commit()
    make_response(survey, score=2)
    queue_alerts()
    assert [m["To"] for m in queued("alert")] == [admin.email]


def test_opting_out_is_honoured_and_marks_the_answers_anyway(site, survey, owner, make_response):
    set_preferences(owner, low_score_alerts=False)
    make_response(survey, score=0, comment="cancelling tomorrow")
    report = queue_alerts()
    assert (report.batches, report.mails) == (1, 0) and outbox_count("alert") == 0
    assert db.session.scalar(sa.select(AlertBatch.recipients)) == 0
    set_preferences(owner, low_score_alerts=True)  # back on: the answer already covered is not sent late
    assert queue_alerts(utcnow() + dt.timedelta(hours=1)).mails == 0


def test_a_crash_before_the_commit_loses_and_doubles_nothing(site, survey, make_response, monkeypatch):
    for score in (0, 3, 5):
        make_response(survey, score=score)
    real_commit = db.session.commit

    def crash():
        raise Killed("worker killed between queueing and commit")

    monkeypatch.setattr(db.session, "commit", crash)
    with pytest.raises(Killed):
        queue_alerts()
    db.session.rollback()
    monkeypatch.setattr(db.session, "commit", real_commit)
    assert outbox_count("alert") == 0 and db.session.scalar(sa.select(sa.func.count()).select_from(AlertedResponse)) == 0
    assert queue_alerts().answers == 3  # the next pass does the whole batch
    assert queue_alerts(utcnow() + dt.timedelta(hours=1)).batches == 0
    assert outbox_count("alert") == 1


def test_two_workers_never_alert_one_answer_twice(site, survey, owner, make_response):
    now = utcnow()
    make_response(survey, score=0)
    assert queue_alerts(now).mails == 1
    # A second worker that listed the survey before the first committed finds nothing left to send.
    since, window = now - dt.timedelta(hours=24), dt.timedelta(minutes=15)
    links = low_scores.site_links()
    assert low_scores._queue_batch(survey.id, since, window, links, now) == (0, 0)
    # Also once its window has passed: nothing is left to send.
    assert low_scores._queue_batch(survey.id, since, window, links, now + dt.timedelta(hours=1)) == (0, 0)
    assert outbox_count("alert") == 1 and db.session.scalar(sa.select(sa.func.count()).select_from(AlertBatch)) == 1
    # And the database refuses a second e-mail of one batch to one person.
    batch_id = db.session.scalar(sa.select(AlertBatch.id))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.add(OwnerMail(kind="alert", survey_id=survey.id, user_id=owner.id, batch_id=batch_id))
        db.session.commit()
    db.session.rollback()


def test_without_a_public_address_alerts_wait_unmarked(app, survey, make_response):
    app.config["PUBLIC_BASE_URL"] = None
    make_response(survey, score=0)
    assert queue_alerts().batches == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AlertedResponse)) == 0
    app.config["PUBLIC_BASE_URL"] = BASE_URL
    assert queue_alerts().mails == 1


def test_a_comment_cannot_inject_html(site, survey, make_response):
    make_response(survey, score=0, comment='<script>alert(1)</script><a href="https://evil.example">x</a>')
    queue_alerts()
    html = html_part(queued("alert")[0])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "https://evil.example" not in [link for link in html_links(queued("alert")[0])]


def test_a_right_to_left_override_in_a_comment_cannot_reorder_the_alert(site, survey, make_response):
    """U+202E in a comment reversed what followed it, up to the end of its line (the closing quote and beyond)."""
    make_response(survey, score=0, comment="fine \u202eknil siht kcilc")
    queue_alerts()
    [message] = queued("alert")
    for part in (text_part(message), html_part(message)):
        assert "\u2068fine \u202eknil siht kcilc\u2069" in part
        assert "Broadband NPS" in part


def test_alert_delivered_over_smtp_and_one_click_unsubscribe(site, survey, owner, make_response, smtp_server,
                                                             mailbox, client):
    make_response(survey, score=2, comment="The engineer never came", channel="email")
    queue_alerts()
    report = delivery.deliver()
    assert report.sent == 1
    [message] = mailbox.messages()
    assert message["To"] == owner.email and message["Auto-Submitted"] == "auto-generated"
    assert "“The engineer never came”" in html_part(message) and "via e-mail" in text_part(message)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.search(r"<(https://[^>]+)>", str(message["List-Unsubscribe"])).group(1)
    assert unsubscribe in html_links(message)
    # A scanner's GET changes nothing; the mail provider's one-click POST turns alerts off.
    page = client.get(local_path(unsubscribe))
    assert page.status_code == 200 and "Stop low-score alerts?" in page.get_data(as_text=True)
    assert db.session.get(MailPreference, owner.id) is None
    assert client.post(local_path(unsubscribe), data={"List-Unsubscribe": "One-Click"}).status_code == 204
    preference = db.session.get(MailPreference, owner.id)
    assert preference.low_score_alerts is False and preference.weekly_digest is True


def test_invite_deliver_queues_due_alerts_in_the_same_pass(site, survey, owner, make_response, smtp_server,
                                                            mailbox, runner):
    make_response(survey, score=0, comment="cancelling tomorrow")
    result = runner.invoke(args=["invite", "deliver"])
    assert result.exit_code == 0, result.output
    # The last week's digest is due too (a follow-up is waiting): both go out in this one pass.
    assert "sent 2" in result.output
    assert sorted(m["Subject"] for m in mailbox.messages()) == [
        f"Broadband NPS: your week {week_name(due_week(utcnow()))} in brief",
        "Low score on Broadband NPS: 0"]
    again = runner.invoke(args=["invite", "deliver"])
    assert again.exit_code == 0 and "sent 0" in again.output


def test_forged_and_orphaned_unsubscribe_links(site, owner, client):
    token = unsubscribe_token(owner, "alert")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (forged, "nonsense", token.replace(".", "")):
        response = client.post(f"/mail/unsubscribe/{bad}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 404
        assert "not valid" in client.get(f"/mail/unsubscribe/{bad}").get_data(as_text=True)
    assert db.session.get(MailPreference, owner.id) is None
    # The link of a deleted account says so, and does not work for a new account that got the same id.
    owner_id = owner.id
    db.session.delete(owner)
    db.session.commit()
    assert client.get(f"/mail/unsubscribe/{token}").status_code == 410
    db.session.add(User(id=owner_id, email="newcomer@example.com", role="analyst", password_hash="x"))
    db.session.commit()
    assert client.post(f"/mail/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 410
    assert db.session.get(MailPreference, owner_id) is None


def test_unsubscribe_page_button_and_account_settings(site, owner, client):
    token = unsubscribe_token(owner, "digest")
    page = client.post(f"/mail/unsubscribe/{token}")
    assert page.status_code == 200 and "no more of the weekly digest" in page.get_data(as_text=True)
    assert db.session.get(MailPreference, owner.id).weekly_digest is False
    assert "already unsubscribed from the weekly digest" in client.get(f"/mail/unsubscribe/{token}").get_data(as_text=True)
    login(client, user=owner)
    account = client.get("/account").get_data(as_text=True)
    assert re.search(r'<input [^>]*checked id="low_score_alerts"', account)
    assert re.search(r'<input [^>]*id="weekly_digest"', account)
    assert not re.search(r'<input [^>]*checked id="weekly_digest"', account)
    saved = client.post("/account/mail", data={"weekly_digest": "y"}, follow_redirects=True)
    assert "Your e-mail settings are saved." in saved.get_data(as_text=True)
    preference = db.session.get(MailPreference, owner.id)
    assert (preference.low_score_alerts, preference.weekly_digest) == (False, True)


def test_an_admin_hands_a_survey_to_another_owner(site, survey, owner, client, make_response):
    login(client, "admin")
    colleague = make_user("analyst", email="carl.colleague@example.com")
    page = client.get(f"/surveys/{survey.public_key}/edit").get_data(as_text=True)
    assert f'<option selected value="{owner.id}">{owner.email}</option>' in page
    edit = client.post(f"/surveys/{survey.public_key}/edit", data={
        "kind": "nps", "name": survey.name, "subject": survey.subject, "widget_cap_days": "90", "is_open": "y",
        "owner_id": str(colleague.id)})
    assert edit.status_code == 302
    db.session.refresh(survey)
    assert survey.owner_id == colleague.id
    make_response(survey, score=1)
    queue_alerts()
    assert [m["To"] for m in queued("alert")] == [colleague.email]
    # Someone who is not an account cannot be made the owner.
    refused = client.post(f"/surveys/{survey.public_key}/edit", data={
        "kind": "nps", "name": survey.name, "widget_cap_days": "90", "owner_id": "999"})
    assert refused.status_code == 422 and "Not a valid choice" in refused.get_data(as_text=True)


def test_one_broken_survey_holds_back_nothing_else(site, make_survey, owner, make_response, monkeypatch):
    good = make_survey("nps", name="Good", owner_id=owner.id)
    bad = make_survey("nps", name="Bad", owner_id=owner.id)
    make_response(good, score=0)
    make_response(bad, score=0)
    real = low_scores.build_mail

    def build(user, kind, subject, *args, **kwargs):
        if kwargs["survey"].id == bad.id:
            raise ValueError("a template error")
        return real(user, kind, subject, *args, **kwargs)

    monkeypatch.setattr(low_scores, "build_mail", build)
    report = queue_alerts()
    assert (report.batches, report.mails) == (1, 1)
    assert [m["Subject"] for m in queued("alert")] == ["Low score on Good: 0"]
    monkeypatch.setattr(low_scores, "build_mail", real)
    assert queue_alerts().mails == 1  # the broken one's answer was not marked: it goes out once fixed


def test_a_survey_name_cannot_break_the_headers(site, make_survey, owner, make_response):
    survey = make_survey("nps", name="Shop", owner_id=owner.id)
    survey.name = "Shop\r\nBcc: victim@example.com"
    db.session.commit()
    make_response(survey, score=3)
    assert queue_alerts().mails == 1
    [message] = queued("alert")
    assert message["Bcc"] is None and "Bcc: victim@example.com" in message["Subject"]


def test_each_mail_says_why_its_reader_gets_it(site, survey, owner, make_survey, make_response):
    admin = make_user("admin")
    orphan = make_survey("csat", name="Orphan CSAT")
    make_response(survey, score=0)
    make_response(orphan, score=1)
    queue_alerts()
    reasons = {m["To"]: text_part(m) for m in queued("alert")}
    assert "because you own Broadband NPS." in reasons[owner.email]
    assert "because you are an admin and Orphan CSAT has no active owner." in reasons[admin.email]


@pytest.mark.skipif(not TEST_DB_URL, reason="two workers at once on PostgreSQL (SQLite runs one writer at a time)")
def test_two_workers_at_once_send_one_alert_per_window(site, survey, owner, make_response, monkeypatch):
    """Worker A is inside its batch when a new low score arrives and worker B looks: B sends nothing (it
    waits for A's batch and then sees it within the window, or its mark of A's answer is refused), and
    the new answer goes out with the next window."""
    now = utcnow()
    make_response(survey, score=0, comment="first")
    inside, go_on = threading.Event(), threading.Event()
    real = low_scores.recipients

    def slow_recipients(one, kind):
        if threading.current_thread().name == "worker-a":
            inside.set()
            go_on.wait(10)
        return real(one, kind)

    monkeypatch.setattr(low_scores, "recipients", slow_recipients)
    reports = {}

    def work(name):
        with site.app_context():
            reports[name] = queue_alerts(now)
            db.session.remove()

    a = threading.Thread(target=work, args=("a",), name="worker-a")
    a.start()
    assert inside.wait(10)
    make_response(survey, score=1, comment="second, while A works")
    b = threading.Thread(target=work, args=("b",), name="worker-b")
    b.start()
    time.sleep(0.5)  # B is now waiting for A's lock on the survey
    go_on.set()
    a.join(20)
    b.join(20)
    assert (reports["a"].mails, reports["a"].answers) == (1, 1)
    assert reports["b"].mails == 0
    db.session.expire_all()
    assert outbox_count("alert") == 1
    later = queue_alerts(now + dt.timedelta(minutes=16))
    assert (later.mails, later.answers) == (1, 1)  # the second answer, in the next window
