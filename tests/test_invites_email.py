"""Invitations end to end over a real SMTP server: the message, its links, answers, scanners."""

from __future__ import annotations

import datetime as dt
import json
import re

import sqlalchemy as sa

from survey.db import db
from survey.invites import operations
from survey.invites.delivery import deliver
from survey.invites.models import Campaign, Invitation, OutboxMessage
from survey.models import Contact, Response
from tests.invites_support import (  # noqa: F401  (fixtures)
    add_contacts, every_link, forbidden_html, html_links, local_path, mailbox, score_links, smtp_server,
    text_links, text_part,
)

BASE = "https://surveys.example.com"


def answers():
    db.session.expire_all()
    return db.session.scalars(sa.select(Response).order_by(Response.id)).all()


def send(survey, **kwargs):
    kwargs.setdefault("base_url", BASE)
    result = operations.send_campaign(survey, **kwargs)
    report = deliver()
    return result, report


def click(client, link: str, score: int | None = None):
    """What the score page's script does: GET the page, then POST the score to /click."""
    path = local_path(link)
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    token_path = re.sub(r"/\d+$", "", path)
    score = score if score is not None else int(path.rsplit("/", 1)[1])
    return client.post(f"{token_path}/click", data={"score": score}, headers={"Accept": "application/json"})


def test_campaign_arrives_and_one_click_records_the_score(smtp_server, mailbox, client, make_survey):
    survey = make_survey("nps", subject="Acme Broadband", email_subject="{name}, how did {subject} do?",
                         email_intro="Thanks for being with us.\n\nTell us in one click.")
    add_contacts(3, plan="pro")
    result, report = send(survey)
    assert (result.queued, report.sent, report.failed) == (3, 3, 0)
    received = mailbox.messages()
    assert sorted(m["To"].addresses[0].addr_spec for m in received) == [
        "person0@example.com", "person1@example.com", "person2@example.com"]
    message = next(m for m in received if "person1" in str(m["To"]))
    assert message["Subject"] == "Person 1, how did Acme Broadband do?"
    assert message["From"] == "Rapport <surveys@localhost>"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert "Thanks for being with us." in text_part(message)
    # Paragraphs are one blank line apart, the greeting included (it was followed by two).
    assert text_part(message).replace("\r\n", "\n").startswith("Hello Person 1,\n\nThanks for being with us.\n\n")
    assert "\n\n\n" not in text_part(message).replace("\r\n", "\n")
    assert forbidden_html(message) == []  # no scripts, images, forms or event handlers
    # Headers: RFC 8058 one-click unsubscribe, with a mailto too, and a unique Message-ID each.
    unsubscribe = str(message["List-Unsubscribe"])
    assert re.fullmatch(r"<mailto:[^>]+\?subject=unsubscribe>, <https://surveys\.example\.com/u/[\w-]+>",
                        unsubscribe)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert len(set(mailbox.message_ids())) == 3
    # Eleven score buttons in the HTML, the same links in the text part.
    links = score_links(message)
    assert sorted(links) == list(range(11))
    assert all(link in text_links(message) for link in links.values())

    posted = click(client, links[9])
    assert posted.status_code == 200 and posted.get_json()["recorded"] is True
    [row] = answers()
    assert (row.score, row.channel, row.comment) == (9, "email", None)
    assert row.meta == {"plan": "pro"}
    invitation = db.session.get(Invitation, row.invitation_id)
    assert invitation.contact.email == "person1@example.com" and row.contact_id == invitation.contact_id
    assert invitation.status == "answered"

    # The follow-up page adds the comment to the same answer and can change the score.
    path = local_path(links[9]).rsplit("/", 1)[0]
    page = client.get(path).get_data(as_text=True)
    assert "You answered 9" in page
    sent = client.post(path, data={"score": 7, "comment": "Good, a bit slow"})
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/thanks")
    assert "Change your answer" in client.get(sent.headers["Location"]).get_data(as_text=True)
    [row] = answers()
    assert (row.score, row.comment) == (7, "Good, a bit slow")
    stats = operations.campaign_stats(result.campaign)
    assert (stats["sent"], stats["answered"], stats["failed"], stats["response_rate"]) == (3, 1, 0, 0.3333)
    assert stats["channel"] == "email"


def test_a_link_scanner_fetching_every_link_records_nothing(smtp_server, mailbox, client, make_survey):
    survey = make_survey("csat")
    add_contacts(1)
    send(survey)
    [message] = mailbox.messages()
    links = every_link(message)
    assert len(links) == 5 + 2  # five scores, the survey page, the unsubscribe page
    for link in links:
        for method in (client.get, client.head):
            fetched = method(local_path(link), follow_redirects=True)
            assert fetched.status_code == 200
            assert fetched.headers["Cache-Control"] == "no-store"
    assert answers() == []
    contact = db.session.scalar(sa.select(Contact))
    assert contact.unsubscribed_at is None  # the unsubscribe page asks; only a POST unsubscribes
    [invitation] = db.session.scalars(sa.select(Invitation)).all()
    assert invitation.status == "sent"


def test_a_scanner_that_runs_scripts_fans_out_and_is_ignored_then_the_person_counts(
        smtp_server, mailbox, client, app, make_survey):
    survey = make_survey("nps")
    add_contacts(1)
    send(survey)
    start = dt.datetime(2030, 1, 1, 9, 0, 0)
    invitation = db.session.scalar(sa.select(Invitation))
    # The sandbox browser opens all eleven pages, each confirming its score, within seconds.
    for offset, score in enumerate(range(11)):
        operations.record_click(invitation, score, now=start + dt.timedelta(milliseconds=300 * offset))
    assert answers() == []
    db.session.refresh(invitation)
    assert invitation.scan_suspected_at is not None and invitation.state == "sent"
    # Hours later the customer clicks 8: that one counts.
    assert operations.record_click(invitation, 8, now=start + dt.timedelta(hours=3)) is True
    [row] = answers()
    assert row.score == 8
    # The same button twice (a double click, or one scanner fetching once more) is still one answer.
    assert operations.record_click(invitation, 8, now=start + dt.timedelta(hours=3, seconds=1)) is True
    assert [(r.score, r.channel) for r in answers()] == [(8, "email")]


def test_a_confirmed_answer_survives_a_later_burst(smtp_server, mailbox, client, make_survey):
    survey = make_survey("ces")
    add_contacts(1)
    send(survey)
    links = score_links(mailbox.messages()[0])
    path = local_path(links[6]).rsplit("/", 1)[0]
    assert click(client, links[6]).get_json()["recorded"] is True
    assert client.post(path, data={"score": 6, "comment": ""}).status_code == 303  # the person pressed Send
    reply = click(client, links[2]).get_json()  # within seconds: looks like a fan-out
    assert reply["recorded"] is False
    assert [r.score for r in answers()] == [6]


def test_a_damaged_score_link_shows_the_answer_form_it_promises(smtp_server, mailbox, client, make_survey):
    """An off-scale score said "Please choose your answer below." on a 404 page with nothing below, and a
    score with a mail program's full stop stuck to it ("/i/TOKEN/4.") was a bare "Not found."."""
    survey = make_survey("csat")
    add_contacts(1)
    send(survey)
    link = local_path(score_links(mailbox.messages()[0])[4])
    token_path = link.rsplit("/", 1)[0]
    for damaged in (token_path + "/9", link + ".", token_path + "/-1", token_path + "/abc", link + " ",
                    token_path + "/4/5"):
        page = client.get(damaged)
        html = " ".join(page.get_data(as_text=True).split())
        assert page.status_code == 404, damaged
        assert ('<p class="notice" role="alert">This answer link is damaged: its score is not one from 1 to 5, so '
                "nothing was recorded. Please choose your answer below.</p>") in html, damaged
        assert f'action="{token_path}"' in html and 'name="score"' in html and " checked" not in html
    assert answers() == []
    assert client.get("/i/unknown-token-at-all/4.").status_code == 404  # a token nobody was sent: no form
    assert "not valid" in client.get("/i/unknown-token-at-all/4.").get_data(as_text=True)
    assert client.get(link).status_code == 200 and client.get(token_path + "/thanks").status_code in (200, 410)


def test_reusing_the_token_changes_the_one_answer_and_tampered_or_expired_links_are_refused(
        smtp_server, mailbox, client, make_survey):
    survey = make_survey("csat")
    add_contacts(1)
    send(survey, expiry_days=2)
    links = score_links(mailbox.messages()[0])
    click(client, links[2])
    # A later click on another button, well after any burst, changes the same answer.
    invitation = db.session.scalar(sa.select(Invitation))
    operations.record_click(invitation, 5, now=invitation.last_click_at + dt.timedelta(minutes=5))
    assert [(r.score, r.channel) for r in answers()] == [(5, "email")]

    tampered = local_path(links[4]).replace("/i/", "/i/x")
    page = client.get(tampered)
    assert page.status_code == 404 and "not valid" in page.get_data(as_text=True)
    assert client.get("/i/unknown-token-at-all/3").status_code == 404
    assert client.get(local_path(links[4])[:-1] + "9").status_code == 404  # off the CSAT scale
    assert client.post(tampered.rsplit("/", 1)[0] + "/click", data={"score": 4}).status_code == 404

    invitation.expires_at = invitation.created_at - dt.timedelta(seconds=1)
    db.session.commit()
    gone = client.get(local_path(links[4]))
    assert gone.status_code == 410
    assert "your answer was recorded" in gone.get_data(as_text=True)
    assert click_status(client, links[1]) == 410
    assert [r.score for r in answers()] == [5]
    assert invitation.status == "answered"


def click_status(client, link):
    path = local_path(link)
    return client.post(path.rsplit("/", 1)[0] + "/click", data={"score": 1}).status_code


def test_expired_unanswered_link_says_so_and_counts_as_expired(smtp_server, mailbox, client, make_survey):
    survey = make_survey("nps")
    add_contacts(2)
    result, _ = send(survey)
    links = score_links(mailbox.messages()[0])
    db.session.execute(sa.update(Invitation).values(expires_at=dt.datetime(2000, 1, 1)))
    db.session.commit()
    page = client.get(local_path(links[10]))
    assert page.status_code == 410 and "expired on 1 January 2000" in page.get_data(as_text=True)
    assert operations.campaign_stats(result.campaign)["expired"] == 2
    assert {i.status for i in db.session.scalars(sa.select(Invitation))} == {"expired"}


def test_names_and_attributes_cannot_inject_headers(smtp_server, mailbox, make_survey):
    survey = make_survey("nps", email_subject="Hi {name}")
    db.session.add(Contact(email="eve@example.com", name="Eve\r\nBcc: victim@example.net\r\nX-Evil: 1",
                           attributes={"plan": "pro\r\nBcc: x@example.net"}))
    db.session.commit()
    send(survey)
    [received] = mailbox.received
    assert received.recipients == ["eve@example.com"]
    message = received.message
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "Hi Eve Bcc: victim@example.net X-Evil: 1"
    assert message["To"].addresses[0].addr_spec == "eve@example.com"


def test_reminders_go_once_and_only_to_those_who_have_not_answered(smtp_server, mailbox, client, make_survey):
    survey = make_survey("csat")
    add_contacts(5)
    result, _ = send(survey)
    by_address = {m["To"].addresses[0].addr_spec: m for m in mailbox.messages()}
    click(client, score_links(by_address["person0@example.com"])[4])  # answered
    unsubscribe = local_path(re.search(r"<(https://[^>]+/u/[^>]+)>",
                                       str(by_address["person1@example.com"]["List-Unsubscribe"])).group(1))
    assert client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}).status_code == 204
    expired = db.session.scalar(sa.select(Invitation).join(Contact).where(Contact.email == "person2@example.com"))
    expired.expires_at = dt.datetime(2000, 1, 1)
    db.session.commit()

    assert operations.queue_reminders(after=dt.timedelta(days=3)).not_due == 2  # too early for the other two
    for invitation in db.session.scalars(sa.select(Invitation)):
        invitation.sent_at -= dt.timedelta(days=4)
    db.session.commit()
    outcome = operations.queue_reminders(after=dt.timedelta(days=3))
    assert (outcome.reminded, outcome.unsubscribed, outcome.expired) == (2, 1, 1)
    assert operations.queue_reminders(after=dt.timedelta(days=3)).reminded == 0  # never twice
    mailbox.received.clear()
    assert deliver().sent == 2
    reminders = mailbox.messages()
    assert sorted(m["To"].addresses[0].addr_spec for m in reminders) == ["person3@example.com",
                                                                        "person4@example.com"]
    assert all(m["Subject"].startswith("Reminder: ") for m in reminders)
    assert "only reminder" in text_part(reminders[0])
    reminder_text = text_part(reminders[0]).replace("\r\n", "\n")
    assert re.match(r"Hello Person [34],\n\nA few days ago", reminder_text)
    assert "\n\n\n" not in reminder_text
    # The reminder's own links answer the same invitation as the first e-mail's.
    first = score_links(by_address["person3@example.com"])
    again = score_links(next(m for m in reminders if "person3" in str(m["To"])))
    assert first[1] != again[1]
    click(client, again[5])
    click(client, first[5])
    person3 = [r for r in answers() if r.contact and r.contact.email == "person3@example.com"]
    assert [r.score for r in person3] == [5]
    assert operations.campaign_stats(result.campaign)["reminded"] == 2


def test_unsubscribe_page_and_one_click_suppress_every_future_survey(smtp_server, mailbox, client, make_survey):
    first, second = make_survey("nps", throttle_days=0), make_survey("csat", throttle_days=0)
    add_contacts(3)
    send(first)
    messages = {m["To"].addresses[0].addr_spec: m for m in mailbox.messages()}
    page_link = local_path(next(link for link in html_links(messages["person0@example.com"]) if "/u/" in link))
    page = client.get(page_link)
    assert page.status_code == 200 and "Unsubscribe" in page.get_data(as_text=True)
    done = client.post(page_link)  # the page's button (no CSRF token needed: the link is the secret)
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    one_click = re.search(r"<(https://[^>]+)>", str(messages["person1@example.com"]["List-Unsubscribe"])).group(1)
    assert client.post(local_path(one_click), data={"List-Unsubscribe": "One-Click"}).status_code == 204
    assert "already unsubscribed" in client.get(page_link).get_data(as_text=True)

    mailbox.received.clear()
    result, report = send(second)
    assert (result.queued, result.unsubscribed, report.sent) == (1, 2, 1)
    assert [m["To"].addresses[0].addr_spec for m in mailbox.messages()] == ["person2@example.com"]
    skipped = db.session.scalars(sa.select(Invitation).where(Invitation.campaign_id == result.campaign.id,
                                                             Invitation.state == "suppressed")).all()
    assert {i.skip_reason for i in skipped} == {"unsubscribed"}


def test_unsubscribing_cancels_mail_still_queued(app, make_survey):
    survey = make_survey("nps")
    add_contacts(1)
    operations.send_campaign(survey, base_url=BASE)
    operations.unsubscribe_contact(db.session.scalar(sa.select(Contact)))
    message = db.session.scalar(sa.select(OutboxMessage))
    assert (message.state, message.raw) == ("cancelled", None)
    assert deliver().sent == 0
    assert db.session.scalar(sa.select(Invitation)).skip_reason == "unsubscribed"


def test_throttle_window_skips_recently_surveyed_contacts_and_counts_them(smtp_server, mailbox, make_survey):
    busy, relaxed = make_survey("nps"), make_survey("csat", throttle_days=7)
    add_contacts(4, plan="pro")
    add_contacts(2, start=4, plan="free")
    result, _ = send(busy, segment=operations.parse_segment(["plan=pro"]))
    assert (result.queued, result.throttled) == (4, 0)
    second, _ = send(busy)  # the default window is 90 days across all surveys
    assert (second.queued, second.throttled) == (2, 4)
    stats = operations.campaign_stats(second.campaign)
    assert (stats["skipped_throttled"], stats["suppressed"], stats["invited"]) == (4, 0, 6)
    # A survey with a 7-day window may ask again after a week.
    later = dt.datetime.utcnow() + dt.timedelta(days=8)
    third = operations.send_campaign(relaxed, base_url=BASE, now=later)
    assert (third.queued, third.throttled) == (6, 0)
    assert len(mailbox.received) == 6


def test_bounced_addresses_are_skipped_with_a_reason(smtp_server, mailbox, make_survey):
    survey = make_survey("nps", throttle_days=0)
    add_contacts(2)
    mailbox.refuse["person1@example.com"] = "550 5.1.1 No such user here"
    _, report = send(survey)
    assert (report.sent, report.failed) == (1, 1)
    failed = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.state == "failed"))
    assert failed.last_error == "550 5.1.1 No such user here" and failed.raw is None
    assert db.session.scalar(sa.select(Contact).where(Contact.email == "person1@example.com")).bounced_at
    again, _ = send(survey)
    assert (again.queued, again.bounced) == (1, 1)


def test_segment_with_no_contacts_and_missing_base_url_are_clear_errors(runner, make_survey):
    survey = make_survey("nps")
    add_contacts(1, plan="pro")
    out = runner.invoke(args=["invite", "send", "--survey", survey.public_key])
    assert out.exit_code == 2 and "PUBLIC_BASE_URL" in out.output
    out = runner.invoke(args=["invite", "send", "--survey", survey.public_key, "--base-url", BASE,
                              "--where", "plan=enterprise"])
    assert out.exit_code == 1 and "no contact matches plan=enterprise" in out.output
    out = runner.invoke(args=["invite", "send", "--survey", survey.public_key, "--base-url", "surveys.example.com"])
    assert out.exit_code == 1 and "must look like https://" in out.output
    out = runner.invoke(args=["invite", "send", "--survey", survey.public_key, "--base-url", BASE,
                              "--where", "plan"])
    assert out.exit_code == 1 and "attribute=value" in out.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0
    out = runner.invoke(args=["invite", "send", "--survey", survey.public_key, "--base-url", BASE,
                              "--where", "Plan=pro,business"])
    assert out.exit_code == 0, out.output
    assert "1 invitation(s) queued" in out.output


def test_status_and_list_commands_report_each_campaign(smtp_server, mailbox, client, runner, make_survey):
    survey = make_survey("nps", throttle_days=0)
    add_contacts(3)
    operations.unsubscribe_contact(db.session.scalar(sa.select(Contact).where(Contact.email == "person2@example.com")))
    result, _ = send(survey, name="Spring NPS")
    click(client, score_links(mailbox.messages()[0])[10])
    out = runner.invoke(args=["invite", "status", "--survey", survey.public_key])
    assert out.exit_code == 0, out.output
    assert ("campaign 1 'Spring NPS'" in out.output and "sent 2" in out.output
            and "answered 1 (50.0%)" in out.output and "1 unsubscribed" in out.output)
    stats = json.loads(runner.invoke(args=["invite", "status", "--json"]).output)
    assert stats[0]["response_rate"] == 0.5 and stats[0]["suppressed"] == 1
    listed = runner.invoke(args=["invite", "list", "--campaign", str(result.campaign.id), "--status", "suppressed"])
    assert listed.output.split("\t")[:2] == ["person2@example.com", "suppressed"]
    assert "unsubscribed" in listed.output
    assert runner.invoke(args=["invite", "list", "--campaign", "99"]).exit_code == 1


def test_closed_survey_takes_no_campaign_and_its_links_say_closed(smtp_server, mailbox, client, runner, make_survey):
    survey = make_survey("csat")
    add_contacts(1)
    send(survey)
    link = local_path(score_links(mailbox.messages()[0])[5])
    runner.invoke(args=["survey", "close", survey.public_key])
    page = client.get(link)
    assert page.status_code == 410 and "closed" in page.get_data(as_text=True)
    out = runner.invoke(args=["invite", "send", "--survey", survey.public_key, "--base-url", BASE])
    assert out.exit_code == 1 and "is closed" in out.output
    assert client.get("/u/not-a-token").status_code == 404
    assert client.post("/u/not-a-token", data={"List-Unsubscribe": "One-Click"}).status_code == 404


def test_remind_command_parses_its_delay(runner, make_survey):
    out = runner.invoke(args=["invite", "remind", "--after", "soon"])
    assert out.exit_code == 2 and "not a duration like 3d" in out.output
    out = runner.invoke(args=["invite", "remind", "--after", "3d"])
    assert out.exit_code == 0 and "0 reminder(s) queued" in out.output


def test_a_scanner_firing_every_click_at_once_records_nothing(app, smtp_server, mailbox, make_survey):
    import threading

    survey = make_survey("nps")
    add_contacts(1)
    send(survey)
    links = score_links(mailbox.messages()[0])
    start = threading.Barrier(11)
    statuses = []

    def fire(score):
        client = app.test_client()
        path = local_path(links[score]).rsplit("/", 1)[0] + "/click"
        start.wait()
        statuses.append(client.post(path, data={"score": score}).status_code)

    threads = [threading.Thread(target=fire, args=(score,)) for score in range(11)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * 11
    assert answers() == []
