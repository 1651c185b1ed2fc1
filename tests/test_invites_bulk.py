"""Campaigns at scale: messages built from templates rendered once, bulk queueing, pipelining,
the per-domain rate limit and the delivery progress `flask invite status` shows."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from flask import render_template

from survey.db import db
from survey.display import isolated
from survey.invites import campaigns, operations
from survey.invites.compose import Composer, new_token
from survey.invites.delivery import deliver
from survey.invites.models import Campaign, Invitation, OutboxMessage
from survey.models import Contact
from tests.invites_support import add_contacts, mailbox, smtp_server  # noqa: F401  (fixtures)
from tests.conftest import TEST_SECRET_KEY

BASE = "https://surveys.example.com"
NAMES = ["Person 1", "J. Smith", 'Eve "the" Hacker', "Zoë Ångström", "Eve\r\nBcc: victim@example.net",
         "O'Brien, Pat", "x" * 150, "  spaced   out  ", "", "<b>bold</b> & co"]


def _composer(survey, **kwargs):
    links = campaigns.Links(BASE)
    kwargs.setdefault("sender", "Rapport <surveys@localhost>")
    return Composer(survey=survey, links_for=lambda token: links.for_token(survey, token),
                    expires_at=dt.datetime(2030, 1, 31), **kwargs), links


def _folded(name, value, utf8=False) -> bytes:
    use = policy.SMTPUTF8 if utf8 else policy.SMTP
    message = EmailMessage(policy=use)
    message[name] = value
    return message.as_bytes().split(b"\r\n\r\n")[0] + b"\r\n"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("reminder", [False, True])
def test_a_composed_message_is_what_rendering_it_alone_gives(app, make_survey, name, reminder):
    survey = make_survey("nps", subject="Acme Broadband", email_subject="{name}, how did {subject} do?",
                         email_intro="Dear {name},\n\nTell us in one click.")
    composer, links = _composer(survey, reminder=reminder)
    token = new_token()
    built = composer.build("person@example.com", name, token)
    message = email.message_from_bytes(built.raw, policy=policy.default)
    clean = " ".join("".join(c if c.isprintable() else " " for c in name).split())
    # Headers byte for byte as the email package writes them (folding, quoting, encoded words).
    header_block = built.raw.split(b"\r\n\r\n")[0] + b"\r\n"
    to = Address(display_name=clean, addr_spec="person@example.com")
    assert _folded("To", to) in header_block
    typed = isolated(clean)  # what people typed, isolated where it could reorder the rest
    subject = ("Reminder: " if reminder else "") + f"{typed}, how did Acme Broadband do?".strip()
    assert message["Subject"] == subject
    # Encoded whole when not ASCII (survey.invites.compose._header): the package's own folding lost
    # the space in "how did ⁨Acme" for some lengths of name, which the parse above would show.
    assert header_block.split(b"Subject:", 1)[1].lstrip().startswith(b"=?utf-8?") or subject.isascii()
    assert message["Bcc"] is None and len(message.keys()) == 10
    assert message["List-Unsubscribe"] == (f"<mailto:surveys@localhost?subject=unsubscribe>, "
                                           f"<{BASE}/u/{token}>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"] == built.message_id
    # Bodies exactly as the templates render with this contact's own name and links.
    template = "reminder" if reminder else "invitation"
    intro = [f"Dear {clean}," if clean else "Dear ,", "Tell us in one click."]
    context = dict(survey=survey, spec=survey.spec, name=clean or None, intro_paragraphs=intro,
                   links=links.for_token(survey, token), expires_at=dt.datetime(2030, 1, 31), reminder=reminder,
                   subject=subject, band_colours=dict(zip(survey.scale, _band_colours(survey))),
                   sender_name="Rapport", expires_on="31 January 2030",
                   button_width=round(100 / len(survey.scale), 2))
    text, html = (part.get_content() for part in message.iter_parts())
    assert _lines(text) == _lines(render_template(f"email/{template}.txt", **context))
    assert _lines(html) == _lines(render_template(f"email/{template}.html", **context))
    assert all(len(line) <= 998 for line in built.raw.split(b"\r\n"))
    encodings = [part["Content-Transfer-Encoding"] for part in message.iter_parts()]
    # The HTML's <title> is the Subject: a name that needs isolates makes it non-ASCII too.
    assert encodings == ["7bit" if clean.isascii() else "quoted-printable",
                         "7bit" if subject.isascii() else "quoted-printable"]


def _band_colours(survey):
    from survey.invites.compose import BAND_COLOURS

    return [BAND_COLOURS[survey.spec.band(score)] for score in survey.scale]


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").rstrip("\n").split("\n")


def test_a_non_ascii_recipient_gets_a_utf8_to_header(app, make_survey):
    survey = make_survey("csat")
    composer, _ = _composer(survey)
    built = composer.build("zoë@example.com", "Zoë", new_token())
    assert "To: Zoë <zoë@example.com>\r\n".encode() in built.raw
    message = email.message_from_string(built.raw.decode("utf-8"), policy=policy.SMTPUTF8)
    assert message["To"].addresses[0].display_name == "Zoë" and built.recipient == "zoë@example.com"


def test_a_campaign_queues_in_chunks_and_accounts_for_every_contact_once(app, make_survey, monkeypatch):
    monkeypatch.setattr(campaigns, "QUEUE_CHUNK", 3)
    survey = make_survey("nps", throttle_days=30)
    add_contacts(10, plan="pro")
    contacts = db.session.scalars(sa.select(Contact).order_by(Contact.id)).all()
    contacts[1].unsubscribed_at = contacts[4].bounced_at = dt.datetime(2026, 1, 1)
    contacts[7].last_surveyed_at = dt.datetime.utcnow() - dt.timedelta(days=2)
    db.session.commit()
    result = operations.send_campaign(survey, base_url=BASE)
    assert (result.queued, result.unsubscribed, result.bounced, result.throttled) == (7, 1, 1, 1)
    invitations = db.session.scalars(sa.select(Invitation).order_by(Invitation.contact_id)).all()
    assert [i.contact_id for i in invitations] == [c.id for c in contacts]
    assert [i.skip_reason for i in invitations if i.state == "suppressed"] == ["unsubscribed", "bounced", "throttled"]
    messages = db.session.scalars(sa.select(OutboxMessage)).all()
    assert sorted(m.invitation_id for m in messages) == sorted(i.id for i in invitations if i.state == "queued")
    assert {m.domain for m in messages} == {"example.com"}
    assert len({i.token_hash for i in invitations if i.token_hash}) == 7


def test_an_interrupted_campaign_resumes_without_inviting_anyone_twice(app, make_survey, monkeypatch, runner):
    monkeypatch.setattr(campaigns, "QUEUE_CHUNK", 4)
    survey = make_survey("nps")
    add_contacts(10)
    built = {"n": 0}
    original = Composer.build

    def crash_on_the_seventh(self, *args):
        built["n"] += 1
        if built["n"] == 7:
            raise RuntimeError("the machine stopped")
        return original(self, *args)

    monkeypatch.setattr(Composer, "build", crash_on_the_seventh)
    with pytest.raises(RuntimeError):
        operations.send_campaign(survey, base_url=BASE)
    db.session.rollback()
    campaign = db.session.scalar(sa.select(Campaign))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 4  # the first chunk, whole
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 4
    resumed = runner.invoke(args=["invite", "send", "--resume", str(campaign.id)])
    assert resumed.exit_code == 0, resumed.output
    assert "10 invitation(s) queued" in resumed.output
    contact_ids = db.session.scalars(sa.select(Invitation.contact_id)).all()
    assert sorted(contact_ids) == sorted(set(contact_ids)) and len(contact_ids) == 10
    again = runner.invoke(args=["invite", "send", "--resume", str(campaign.id), "--survey", survey.public_key])
    assert again.exit_code == 2 and "give it alone" in again.output


def test_pipelining_is_used_when_offered(app, smtp_server, mailbox, make_survey):
    mailbox.pipelining = True
    mailbox.refuse["person2@example.com"] = "550 5.1.1 No such user"
    add_contacts(5)
    operations.send_campaign(make_survey("csat"), base_url=BASE)
    report = deliver()
    assert (report.sent, report.failed) == (4, 1)
    ids = mailbox.message_ids()
    assert len(ids) == len(set(ids)) == 4
    assert sorted(r.recipients[0] for r in mailbox.received) == [
        f"person{i}@example.com" for i in (0, 1, 3, 4)]
    failed = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.state == "failed"))
    assert failed.recipient == "person2@example.com" and failed.last_error.startswith("550")
    assert db.session.scalar(sa.select(Contact).where(Contact.email == "person2@example.com")).bounced_at


def test_the_domain_rate_limit_holds_back_what_exceeds_it(app, smtp_server, mailbox, make_survey, runner):
    app.config.update(MAIL_DOMAIN_RATES={"example.com": 5}, MAIL_DOMAIN_RATE_PER_MINUTE=None)
    add_contacts(8)
    db.session.add(Contact(email="someone@other.example", name="Other"))
    db.session.commit()
    operations.send_campaign(make_survey("nps"), base_url=BASE)
    first = deliver()
    assert (first.sent, first.deferred) == (6, 3)  # five to example.com, one to other.example
    held = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.state == "queued")).all()
    assert len(held) == 3 and {m.domain for m in held} == {"example.com"}
    assert all(m.next_attempt_at > dt.datetime.utcnow() + dt.timedelta(seconds=50) for m in held)
    assert all(m.claim_token is None and m.attempts == 0 for m in held)
    status = runner.invoke(args=["invite", "status"])
    assert "delivering" in status.output and "3 left" in status.output, status.output
    assert deliver().sent == 0  # still within the minute
    # A minute later the window has room again.
    db.session.execute(sa.update(OutboxMessage).values(
        attempted_at=OutboxMessage.attempted_at - dt.timedelta(seconds=61), next_attempt_at=dt.datetime(2000, 1, 1)))
    db.session.commit()
    assert deliver().sent == 3
    ids = mailbox.message_ids()
    assert len(ids) == len(set(ids)) == 9
    assert "delivering" not in runner.invoke(args=["invite", "status"]).output


def test_a_default_rate_applies_to_every_domain(app, smtp_server, mailbox, make_survey):
    app.config.update(MAIL_DOMAIN_RATE_PER_MINUTE=2, MAIL_DOMAIN_RATES={"example.com": 4})
    add_contacts(6)
    for n in range(3):
        db.session.add(Contact(email=f"p{n}@other.example"))
    db.session.commit()
    operations.send_campaign(make_survey("nps"), base_url=BASE)
    report = deliver()
    assert (report.sent, report.deferred) == (6, 3)
    by_domain = [r.recipients[0].rpartition("@")[2] for r in mailbox.received]
    assert by_domain.count("example.com") == 4 and by_domain.count("other.example") == 2


def test_status_shows_the_rate_and_time_left_while_delivering(app, make_survey, runner):
    add_contacts(10)
    result = operations.send_campaign(make_survey("nps"), base_url=BASE)
    waiting = runner.invoke(args=["invite", "status"])
    assert "waiting to deliver 10" in waiting.output, waiting.output
    now = dt.datetime.utcnow()
    sent = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id).limit(4)).all()
    for n, message in enumerate(sent):  # four sent over the last two minutes: 2 a minute
        message.state, message.raw, message.sent_at = "sent", None, now - dt.timedelta(seconds=120 - 40 * n)
    db.session.commit()
    stats = operations.campaign_stats(result.campaign, now=now)
    assert stats["delivery"] == {"left": 6, "per_minute": 2.0, "seconds_left": 180,
                                 "summary": "delivering 2/min, 6 left, about 3 min"}
    shown = runner.invoke(args=["invite", "status", "--campaign", str(result.campaign.id)])
    assert "delivering 2/min, 6 left, about 3 min" in shown.output, shown.output


@pytest.mark.slow
def test_two_looping_worker_processes_share_the_outbox_and_send_each_message_once(app, smtp_server, mailbox,
                                                                                 make_survey):
    import os
    import re
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO
    from tests.invites_support import wait_for

    mailbox.pipelining = True
    mailbox.delay = 0.002  # both workers are mid-batch at the same time
    add_contacts(300)
    operations.send_campaign(make_survey("nps"), base_url=BASE)
    env = dict(os.environ, RAPPORT_INSTANCE_PATH=app.instance_path,
               RAPPORT_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
               RAPPORT_SECRET_KEY=TEST_SECRET_KEY, RAPPORT_MAIL_SERVER="127.0.0.1",
               RAPPORT_MAIL_PORT=str(smtp_server.port), RAPPORT_MAIL_BATCH_SIZE="20",
               RAPPORT_SQLITE_BUSY_TIMEOUT_MS="20000")
    workers = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "survey", "invite", "deliver", "--loop",
                                 "--interval", "0.2"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        wait_for(lambda: len(mailbox.received) >= 300, timeout=120)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        outputs = [worker.communicate(timeout=30)[0] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert [worker.returncode for worker in workers] == [0, 0]
    sent = [sum(int(n) for n in re.findall(r"^sent (\d+),", output, re.M)) for output in outputs]
    assert sum(sent) == 300 and min(sent) > 0, sent
    ids = mailbox.message_ids()
    assert len(ids) == len(set(ids)) == 300
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.state == "sent")) == 300
