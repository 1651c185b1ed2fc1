"""Bounces after delivery: signed return paths (VERP), reading DSNs, `flask invite bounces`."""

from __future__ import annotations

import datetime as dt
import email
import io
from email import policy
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from survey.db import db
from survey.invites import operations
from survey.invites.bounces import make_tag, parse_bounce, read_tag, return_path
from survey.invites.delivery import deliver
from survey.invites.models import Invitation, OutboxMessage
from survey.models import Contact
from tests.invites_support import add_contacts, mailbox, smtp_server  # noqa: F401  (fixtures)

BASE = "https://surveys.example.com"
BOUNCES = "bounces@example.com"


# -- building bounces as mail servers send them ----------------------------------


def status_block(**fields: str) -> Message:
    block = Message()
    for name, value in fields.items():
        block[name.replace("_", "-")] = value
    return block


def dsn(*, to: str, recipient: str, status: str = "5.1.1", action: str = "failed",
        original: Message | None = None, quote: str = "headers", mta: str = "postfix",
        diagnostic: str | None = None) -> bytes:
    """An RFC 3464 report: a human part, message/delivery-status, and the original (headers or whole).

    ``mta="postfix"`` looks like Postfix's bounce(8) output, ``"exim"`` like Exim's.
    """
    report = MIMEMultipart("report", report_type="delivery-status")
    if mta == "postfix":
        report["From"] = "MAILER-DAEMON@mx.example.net (Mail Delivery System)"
        report["Subject"] = "Undelivered Mail Returned to Sender"
        human = ("This is the mail system at host mx.example.net.\n\nI'm sorry to have to inform you that your "
                 "message could not\nbe delivered to one or more recipients.\n")
        per_message = status_block(Reporting_MTA="dns; mx.example.net", X_Postfix_Queue_ID="4XyZ1234",
                                   X_Postfix_Sender=f"rfc822; {to}",
                                   Arrival_Date="Mon, 1 Dec 2025 10:00:00 +0000 (UTC)")
    else:
        report["From"] = "Mail Delivery System <Mailer-Daemon@relay.example.net>"
        report["Subject"] = ("Mail delivery failed: returning message to sender" if action == "failed"
                             else "Warning: message 1vAbCd-000123-Xy delayed 24 hours")
        human = "This message was created automatically by mail delivery software.\n"
        per_message = status_block(Reporting_MTA="dns; relay.example.net")
    report["To"] = to
    report["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    report["Message-ID"] = make_msgid(domain="mx.example.net")
    report["Auto-Submitted"] = "auto-replied"
    report.attach(MIMEText(human))
    recipient_fields = dict(Final_Recipient=f"rfc822; {recipient}", Original_Recipient=f"rfc822;{recipient}",
                            Action=action, Status=status, Remote_MTA="dns; mx.example.com",
                            Diagnostic_Code=diagnostic or f"smtp; {'550' if status.startswith('5') else '451'} "
                                                           f"{status} <{recipient}>: Recipient address rejected")
    if action == "delayed":
        recipient_fields["Will_Retry_Until"] = "Wed, 3 Dec 2025 10:00:00 +0000"
    status_part = MIMEBase("message", "delivery-status")
    status_part.set_payload([per_message, status_block(**recipient_fields)])
    report.attach(status_part)
    if original is not None:
        if quote == "headers":
            headers = "".join(f"{name}: {value}\n" for name, value in original.items())
            report.attach(MIMEText(headers, "rfc822-headers"))
        else:
            report.attach(MIMEMessage(original))
    return report.as_bytes()


def out_of_office(to: str) -> bytes:
    reply = email.message.EmailMessage()
    reply["From"] = "Person Zero <person0@example.com>"
    reply["To"] = to
    reply["Subject"] = "Automatic reply: A quick question about Acme"
    reply["Auto-Submitted"] = "auto-replied"
    reply["X-Autoreply"] = "yes"
    reply.set_content("I am out of the office until Monday. Final-Recipient: rfc822; person0@example.com\n"
                      "Action: failed\nStatus: 5.1.1\n")
    return reply.as_bytes()


def spam() -> bytes:
    junk = email.message.EmailMessage()
    junk["From"] = "winner@lottery.example"
    junk["To"] = BOUNCES
    junk["Subject"] = "You have won"
    junk.set_content("Claim your prize.")
    return junk.as_bytes()


# -- state ---------------------------------------------------------------------------


def sent_campaign(make_survey, count: int = 2):
    """A campaign to person0..person<count-1>, delivered (as .eml files: no SMTP server needed)."""
    survey = make_survey("nps", throttle_days=0)
    add_contacts(count)
    operations.send_campaign(survey, base_url=BASE)
    assert deliver().sent == count
    return survey


def message_to(address: str, kind: str = "invitation") -> OutboxMessage:
    db.session.expire_all()
    return db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.recipient == address,
                                                            OutboxMessage.kind == kind))


def original_of(message: OutboxMessage) -> Message:
    """The headers a bounce quotes: what the sent message carried (the outbox keeps no body)."""
    original = email.message.EmailMessage()
    original["From"] = "Rapport <surveys@localhost>"
    original["To"] = message.recipient
    original["Subject"] = "A quick question about Acme"
    original["Message-ID"] = message.message_id
    original.set_content("(the survey)")
    return original


def tagged(message: OutboxMessage, app) -> str:
    return return_path(app.config, message.id, message.envelope_from)


def contact(address: str) -> Contact:
    db.session.expire_all()
    return db.session.scalar(sa.select(Contact).where(Contact.email == address))


def snapshot() -> list[tuple]:
    db.session.expire_all()
    contacts = [(c.id, c.bounced_at, c.unsubscribed_at) for c in db.session.scalars(sa.select(Contact))]
    invitations = [(i.id, i.state, i.skip_reason, i.last_error) for i in db.session.scalars(sa.select(Invitation))]
    messages = [(m.id, m.state, m.last_error) for m in db.session.scalars(sa.select(OutboxMessage))]
    return sorted(contacts) + sorted(invitations) + sorted(messages)


def process(raw: bytes, app) -> operations.BounceOutcome:
    return operations.record_bounce(parse_bounce(raw, bounce_address=app.config.get("MAIL_BOUNCE_ADDRESS")))


@pytest.fixture
def verp(app):
    app.config["MAIL_BOUNCE_ADDRESS"] = BOUNCES
    return app


# -- tags ------------------------------------------------------------------------------


def test_tags_are_signed_with_the_secret_key_and_survive_case_folding():
    tag = make_tag(42, "secret")
    assert tag.startswith("42-") and read_tag(tag, "secret") == 42
    assert read_tag(tag.upper(), "secret") == 42  # some servers fold local parts to upper case
    assert read_tag(tag, "another secret") is None
    assert read_tag("43-" + tag.split("-")[1], "secret") is None  # the signature is of the id
    assert read_tag(tag[:-1] + ("0" if tag[-1] != "0" else "1"), "secret") is None
    for junk in ("", "42", "42-", "-abc", "x" * 500, "42-zz" + "0" * 18):
        assert read_tag(junk, "secret") is None
    assert return_path({"MAIL_BOUNCE_ADDRESS": None}, 42, "surveys@example.com") == "surveys@example.com"
    assert return_path({"MAIL_BOUNCE_ADDRESS": BOUNCES, "SECRET_KEY": "secret"}, 42, "x@y") == \
        f"bounces+{tag}@example.com"


# -- reading and recording ----------------------------------------------------------------


def test_a_hard_bounce_to_the_tagged_return_path_marks_the_contact_and_fails_the_invitation(verp, make_survey):
    sent_campaign(make_survey)
    message = message_to("person0@example.com")
    raw = dsn(to=tagged(message, verp), recipient="person0@example.com", original=original_of(message))
    parsed = parse_bounce(raw, bounce_address=BOUNCES)
    assert parsed.is_dsn and parsed.tags == [make_tag(message.id, verp.config["SECRET_KEY"])]
    assert [(r.address, r.action, r.status) for r in parsed.recipients] == [("person0@example.com", "failed", "5.1.1")]
    assert parsed.original_message_ids == [message.message_id]

    outcome = operations.record_bounce(parsed)
    assert (outcome.kind, outcome.marked) == ("hard", 1)
    assert outcome.summary == "hard bounce: p…@example.com (5.1.1), contact marked bounced"
    assert contact("person0@example.com").bounced_at is not None
    assert contact("person1@example.com").bounced_at is None
    message = message_to("person0@example.com")
    assert message.state == "sent" and message.last_error.startswith("bounced after delivery: 5.1.1 smtp; 550")
    assert message.invitation.state == "failed" and "5.1.1" in message.invitation.last_error
    stats = operations.campaign_stats(message.invitation.campaign)
    assert (stats["sent"], stats["failed"]) == (2, 1)


def test_the_tag_finds_the_message_even_when_the_bounce_names_another_address(verp, make_survey):
    """Forwarding: the address that failed is not the contact's, the tag still says whose mail it was."""
    sent_campaign(make_survey)
    message = message_to("person1@example.com")
    outcome = process(dsn(to=tagged(message, verp), recipient="old.job@forwarded.example", mta="exim"), verp)
    assert outcome.marked == 1 and "p…@example.com" in outcome.summary
    assert contact("person1@example.com").bounced_at is not None


def test_a_bounce_is_attributed_by_the_quoted_message_id_alone(verp, make_survey):
    sent_campaign(make_survey)
    message = message_to("person1@example.com")
    # Sent to the plain bounce address (no tag), the whole original returned as message/rfc822, Exim style.
    raw = dsn(to=BOUNCES, recipient="someone.else@example.org", original=original_of(message), quote="message",
              mta="exim", status="5.2.1", diagnostic="X-Postfix; mailbox disabled")
    parsed = parse_bounce(raw, bounce_address=BOUNCES)
    assert parsed.tags == [] and parsed.original_message_ids == [message.message_id]
    outcome = operations.record_bounce(parsed)
    assert outcome.summary == "hard bounce: p…@example.com (5.2.1), contact marked bounced"
    assert contact("person1@example.com").bounced_at is not None
    assert contact("person0@example.com").bounced_at is None


def test_soft_bounces_and_delivery_notices_change_nothing(verp, make_survey):
    sent_campaign(make_survey)
    message = message_to("person0@example.com")
    before = snapshot()
    delayed = process(dsn(to=tagged(message, verp), recipient="person0@example.com", status="4.2.2",
                          action="delayed", original=original_of(message), mta="exim"), verp)
    assert delayed.kind == "soft"
    assert delayed.summary == "soft bounce: p…@example.com (4.2.2 delayed): ignored"
    failed_temporarily = process(dsn(to=tagged(message, verp), recipient="person0@example.com", status="4.4.7"),
                                 verp)
    assert failed_temporarily.kind == "soft"  # "failed" after retries, but a 4.x.x status is not a hard bounce
    delivered = process(dsn(to=tagged(message, verp), recipient="person0@example.com", status="2.0.0",
                            action="delivered"), verp)
    assert delivered.kind == "ignored" and delivered.summary.startswith("delivery notice")
    assert snapshot() == before


def test_auto_replies_spam_and_garbage_are_ignored_and_never_raise(verp, make_survey):
    sent_campaign(make_survey)
    message = message_to("person0@example.com")
    before = snapshot()
    cases = {
        "an auto-reply": out_of_office(tagged(message, verp)),
        "no delivery status": spam(),
        "empty": b"",
        "garbage": bytes(range(256)) * 40,
        "no headers": b"\r\n\r\nFinal-Recipient: rfc822; person0@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        "truncated": dsn(to=tagged(message, verp), recipient="person0@example.com")[:300],
        "bad boundary": dsn(to=tagged(message, verp), recipient="person0@example.com").replace(b"boundary=", b"x="),
        "feedback report": spam().replace(b"Content-Type: text/plain",
                                          b"Content-Type: multipart/report; report-type=feedback-report"),
    }
    for name, raw in cases.items():
        outcome = process(raw, verp)
        assert outcome.kind == "ignored", name
        assert outcome.summary.startswith("not a bounce"), (name, outcome.summary)
    assert "an auto-reply" in process(cases["an auto-reply"], verp).summary
    assert snapshot() == before


def test_a_report_quoting_a_header_the_standard_parser_chokes_on_is_still_read(verp, make_survey, monkeypatch):
    sent_campaign(make_survey)
    message = message_to("person0@example.com")
    quoted = email.message_from_string("Subject: hi\n\n")
    quoted["Message-ID"] = f"< {message.message_id}"  # policy.default raises IndexError reading this one
    raw = dsn(to=tagged(message, verp), recipient="person0@example.com", original=quoted)
    parsed = parse_bounce(raw, bounce_address=BOUNCES)
    assert parsed.is_dsn and parsed.original_message_ids == [message.message_id]
    assert operations.record_bounce(parsed).marked == 1
    # Whatever else goes wrong inside, the parser reports the message unreadable rather than raising.
    import survey.invites.bounces as bounces

    def broken(block):
        raise LookupError("a codec nobody has")

    monkeypatch.setattr(bounces, "_recipient", broken)
    unreadable = parse_bounce(raw, bounce_address=BOUNCES)
    assert (unreadable.is_dsn, unreadable.problem) == (False, "unreadable (LookupError)")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=4000), noise=st.binary(max_size=64), at=st.integers(0, 4000))
def test_the_parser_never_raises_on_damaged_reports(cut, noise, at):
    raw = dsn(to=f"bounces+{make_tag(7, 's')}@example.com", recipient="a@example.com",
              original=email.message_from_string("Message-ID: <x@y>\nSubject: hi\n\nbody"), quote="message")
    damaged = raw[:at] + noise + raw[at:][:cut]
    parsed = parse_bounce(damaged, bounce_address=BOUNCES)
    assert isinstance(parsed.is_dsn, bool) and isinstance(parsed.recipients, list)
    assert parse_bounce(noise).is_dsn is False or b"delivery-status" in noise


def test_a_forged_bounce_tag_marks_nobody(verp, make_survey):
    """A DSN can only mark a contact bounced, and only one whose mail it can prove to be about:
    a tag with a wrong signature (or one made with another key) is refused and never falls back
    to the address, and with MAIL_BOUNCE_ADDRESS set an address alone is not trusted."""
    sent_campaign(make_survey)
    message = message_to("person0@example.com")
    before = snapshot()
    good = make_tag(message.id, verp.config["SECRET_KEY"])
    forgeries = [
        f"bounces+{message.id}-{'0' * 20}@example.com",  # the right id, a made-up signature
        f"bounces+{make_tag(message.id, 'a guessed key')}@example.com",
        f"bounces+{message.id}@example.com",
        f"bounces+{good[:-2]}@example.com",
    ]
    for to in forgeries:
        outcome = process(dsn(to=to, recipient="person0@example.com"), verp)
        assert outcome.kind == "ignored" and "forged" in outcome.summary, to
    untagged = process(dsn(to=BOUNCES, recipient="person0@example.com"), verp)
    assert untagged.kind == "ignored" and "without a bounce tag" in untagged.summary
    unknown_id = process(dsn(to=BOUNCES, recipient="person0@example.com",
                             original=email.message_from_string("Message-ID: <guessed@localhost>\n\n")), verp)
    assert unknown_id.kind == "ignored"
    assert snapshot() == before
    # A forged bounce can do nothing else either: no answer, no unsubscribe.
    assert contact("person0@example.com").unsubscribed_at is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)
                             .where(Invitation.answered_at.is_not(None))) == 0


def test_without_a_bounce_address_the_failed_address_is_matched_to_a_contact(app, make_survey):
    assert not app.config["MAIL_BOUNCE_ADDRESS"]
    sent_campaign(make_survey)
    outcome = process(dsn(to="surveys@localhost", recipient="Person1@Example.com"), app)
    assert outcome.summary == "hard bounce: p…@example.com (5.1.1), contact marked bounced"
    assert contact("person1@example.com").bounced_at is not None
    # No message is known, so no invitation changes; the next campaign skips the contact all the same.
    assert {i.state for i in db.session.scalars(sa.select(Invitation))} == {"sent"}
    stranger = process(dsn(to="surveys@localhost", recipient="nobody@example.org"), app)
    assert stranger.kind == "ignored" and "matches no contact" in stranger.summary


def test_processing_the_same_bounce_twice_changes_nothing(verp, make_survey):
    sent_campaign(make_survey)
    message = message_to("person0@example.com")
    raw = dsn(to=tagged(message, verp), recipient="person0@example.com", original=original_of(message))
    assert process(raw, verp).marked == 1
    after_first = snapshot()
    again = process(raw, verp)
    assert (again.kind, again.marked) == ("hard", 0)
    assert again.summary == "hard bounce: p…@example.com (5.1.1), already marked bounced"
    assert snapshot() == after_first
    # Another report on the same message (a second relay's) keeps the first one's reason too.
    other = dsn(to=tagged(message, verp), recipient="person0@example.com", status="5.7.1", mta="exim")
    assert process(other, verp).marked == 0
    assert snapshot() == after_first


def test_a_hard_bounce_cancels_the_contacts_queued_reminder(verp, make_survey):
    sent_campaign(make_survey)
    operations.queue_reminders(after=dt.timedelta(0))
    reminder = message_to("person0@example.com", kind="reminder")
    assert reminder.state == "queued"
    first = message_to("person0@example.com")
    process(dsn(to=tagged(first, verp), recipient="person0@example.com"), verp)
    reminder = message_to("person0@example.com", kind="reminder")
    assert (reminder.state, reminder.raw, reminder.last_error) == ("cancelled", None, "contact bounced")
    assert message_to("person1@example.com", kind="reminder").state == "queued"


# -- the command ---------------------------------------------------------------------------


def test_the_command_reads_files_and_reports_each_message(verp, runner, make_survey, tmp_path):
    sent_campaign(make_survey, 3)
    hard = tmp_path / "hard.eml"
    hard.write_bytes(dsn(to=tagged(message_to("person0@example.com"), verp), recipient="person0@example.com"))
    soft = tmp_path / "soft.eml"
    soft.write_bytes(dsn(to=tagged(message_to("person1@example.com"), verp), recipient="person1@example.com",
                         status="4.2.2", action="delayed"))
    reply = tmp_path / "reply.eml"
    reply.write_bytes(out_of_office(BOUNCES))
    result = runner.invoke(args=["invite", "bounces", str(hard), str(soft), str(reply)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines == [
        f"{hard}: hard bounce: p…@example.com (5.1.1), contact marked bounced",
        f"{soft}: soft bounce: p…@example.com (4.2.2 delayed): ignored",
        f"{reply}: not a bounce (an auto-reply): ignored",
        "3 message(s): 1 hard bounce(s), 1 contact(s) newly marked bounced; "
        "1 soft bounce(s) and 1 other message(s) ignored",
    ]
    assert [bool(contact(f"person{i}@example.com").bounced_at) for i in range(3)] == [True, False, False]

    again = runner.invoke(args=["invite", "bounces", str(hard)])
    assert again.exit_code == 0 and "already marked bounced" in again.output
    assert "0 contact(s) newly marked bounced" in again.output

    missing = runner.invoke(args=["invite", "bounces", str(tmp_path / "nope.eml"), str(tmp_path), str(reply)])
    assert missing.exit_code == 1
    assert f"cannot read {tmp_path / 'nope.eml'}: No such file or directory" in missing.output
    assert f"{tmp_path} is a folder; for a maildir use --maildir {tmp_path}" in missing.output
    assert "not a bounce" in missing.output and "Error: 2 input(s) could not be read" in missing.output


def test_the_command_reads_a_maildir_and_flags_what_it_read(verp, runner, make_survey, tmp_path):
    sent_campaign(make_survey, 3)
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1700000000.a.host").write_bytes(
        dsn(to=tagged(message_to("person0@example.com"), verp), recipient="person0@example.com"))
    (maildir / "new" / "1700000001.b.host").write_bytes(spam())
    (maildir / "cur" / "1700000002.c.host:2,").write_bytes(
        dsn(to=tagged(message_to("person1@example.com"), verp), recipient="person1@example.com"))
    (maildir / "cur" / "1700000003.d.host:2,RS").write_bytes(  # already read: left alone
        dsn(to=tagged(message_to("person2@example.com"), verp), recipient="person2@example.com"))
    (maildir / "tmp" / "1700000004.e.host").write_bytes(b"still being written")

    result = runner.invoke(args=["invite", "bounces", "--maildir", str(maildir)])
    assert result.exit_code == 0, result.output
    assert "3 message(s): 2 hard bounce(s), 2 contact(s) newly marked bounced" in result.output
    assert [bool(contact(f"person{i}@example.com").bounced_at) for i in range(3)] == [True, True, False]
    assert sorted(p.name for p in (maildir / "cur").iterdir()) == [
        "1700000000.a.host:2,S", "1700000001.b.host:2,S", "1700000002.c.host:2,S", "1700000003.d.host:2,RS"]
    assert list((maildir / "new").iterdir()) == [] and len(list((maildir / "tmp").iterdir())) == 1

    again = runner.invoke(args=["invite", "bounces", "--maildir", str(maildir)])
    assert again.exit_code == 0 and again.output.strip().startswith("0 message(s)")

    not_a_maildir = runner.invoke(args=["invite", "bounces", "--maildir", str(tmp_path / "elsewhere")])
    assert not_a_maildir.exit_code == 1
    assert "is not a maildir (it needs new/ and cur/ folders)" in not_a_maildir.output


def test_the_command_reads_one_message_on_stdin(verp, runner, make_survey, monkeypatch):
    sent_campaign(make_survey)
    message = message_to("person1@example.com")
    # Postfix's local(8) passes the envelope recipient of a piped alias in $ORIGINAL_RECIPIENT; the
    # report's own headers need not show the tag then.
    monkeypatch.setenv("ORIGINAL_RECIPIENT", tagged(message, verp))
    raw = dsn(to="Mail Delivery Returns <undisclosed@example.com>", recipient="person1@example.com")
    result = runner.invoke(args=["invite", "bounces"], input=raw)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "<stdin>: hard bounce: p…@example.com (5.1.1), contact marked bounced"
    assert contact("person1@example.com").bounced_at is not None

    monkeypatch.delenv("ORIGINAL_RECIPIENT")
    junk = runner.invoke(args=["invite", "bounces"], input=b"\x00\xff not mail at all")
    assert junk.exit_code == 0 and "<stdin>: not a bounce" in junk.output


def test_a_database_failure_exits_75_so_the_mail_server_tries_again(verp, runner, make_survey, monkeypatch):
    sent_campaign(make_survey)
    raw = dsn(to=tagged(message_to("person0@example.com"), verp), recipient="person0@example.com")

    def down(parsed, **kwargs):
        raise sa.exc.OperationalError("UPDATE contacts", {}, Exception("database is locked"))

    monkeypatch.setattr(operations, "record_bounce", down)
    result = runner.invoke(args=["invite", "bounces"], input=raw)
    assert result.exit_code == 75
    assert "<stdin>: the database failed, nothing recorded; try again later: database is locked" in result.output
    assert contact("person0@example.com").bounced_at is None


def test_a_bounce_address_that_cannot_carry_a_tag_is_refused(app, runner):
    app.config["MAIL_BOUNCE_ADDRESS"] = "bounces+rapport@example.com"
    for args in (["invite", "bounces"], ["invite", "deliver"]):
        result = runner.invoke(args=args, input=b"")
        assert result.exit_code == 1, args
        assert "MAIL_BOUNCE_ADDRESS 'bounces+rapport@example.com' must be a plain address" in result.output


# -- end to end ----------------------------------------------------------------------------


def test_a_dsn_to_the_tagged_return_path_makes_the_next_campaign_skip_the_contact(
        app, smtp_server, mailbox, make_survey, runner):
    app.config["MAIL_BOUNCE_ADDRESS"] = BOUNCES
    survey = make_survey("nps", throttle_days=0)
    add_contacts(2)
    operations.send_campaign(survey, base_url=BASE)
    assert deliver().sent == 2
    arrived = {r.recipients[0]: r for r in mailbox.received}
    envelope_senders = [r.mail_from for r in mailbox.received]
    assert all(s.startswith("bounces+") and s.endswith("@example.com") for s in envelope_senders)
    assert len(set(envelope_senders)) == 2  # one return path per message
    assert all(str(r.message["From"]) == "Rapport <surveys@localhost>" for r in mailbox.received)

    # The recipient's server gives up later and reports to the envelope sender, quoting the headers.
    bounced = arrived["person0@example.com"]
    raw = dsn(to=bounced.mail_from, recipient="person0@example.com", original=bounced.message)
    result = runner.invoke(args=["invite", "bounces"], input=raw)
    assert result.exit_code == 0, result.output
    assert "<stdin>: hard bounce: p…@example.com (5.1.1), contact marked bounced" in result.output

    db.session.expire_all()
    survey = db.session.merge(survey)
    again = operations.send_campaign(survey, base_url=BASE)
    assert (again.queued, again.bounced) == (1, 1)
    skipped = db.session.scalar(sa.select(Invitation).where(Invitation.campaign_id == again.campaign.id,
                                                            Invitation.state == "suppressed"))
    assert (skipped.contact.email, skipped.skip_reason) == ("person0@example.com", "bounced")
    assert deliver().sent == 1
    assert [r.recipients for r in mailbox.received[2:]] == [["person1@example.com"]]


def test_without_a_bounce_address_the_envelope_sender_stays_the_from_address(app, smtp_server, mailbox,
                                                                             make_survey):
    assert not app.config["MAIL_BOUNCE_ADDRESS"]
    survey = make_survey("nps")
    add_contacts(1)
    operations.send_campaign(survey, base_url=BASE)
    assert deliver().sent == 1
    assert [r.mail_from for r in mailbox.received] == ["surveys@localhost"]


# -- bounces in an MTA's own format (not RFC 3464), read with flufl.bounce ----------------


def qmail_failure(to: str, recipient: str, reply: str = "550 5.1.1 <{r}>: Recipient address rejected") -> bytes:
    """qmail-send's "failure notice": plain text, no delivery-status part."""
    return (f"Return-Path: <>\r\nDelivered-To: {to}\r\nFrom: MAILER-DAEMON@mx.example.net\r\nTo: {to}\r\n"
            "Subject: failure notice\r\nDate: 6 Dec 2026 09:00:00 -0000\r\n\r\n"
            "Hi. This is the qmail-send program at mx.example.net.\r\n"
            "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
            f"<{recipient}>:\r\n192.0.2.7 does not like recipient.\r\n"
            f"Remote host said: {reply.format(r=recipient)}\r\nGiving up on 192.0.2.7.\r\n\r\n"
            "--- Below this line is a copy of the message.\r\n\r\nSubject: How did we do?\r\n\r\nHello\r\n"
            ).encode()


def test_a_qmail_bounce_to_the_signed_return_path_is_a_hard_bounce(verp, make_survey):
    sent_campaign(make_survey)
    message = message_to("person0@example.com")
    parsed = parse_bounce(qmail_failure(tagged(message, verp), "person0@example.com"), bounce_address=BOUNCES)
    assert parsed.is_dsn and [(r.address, r.action, r.status) for r in parsed.recipients] == [
        ("person0@example.com", "failed", "5.1.1")]
    outcome = operations.record_bounce(parsed)
    assert (outcome.kind, outcome.marked) == ("hard", 1)
    assert contact("person0@example.com").bounced_at is not None
    assert contact("person1@example.com").bounced_at is None


def test_a_qmail_bounce_without_the_tag_or_with_a_forged_one_marks_nobody(verp, make_survey):
    sent_campaign(make_survey)
    message = message_to("person0@example.com")
    before = snapshot()
    untagged = process(qmail_failure(BOUNCES, "person0@example.com"), verp)
    assert untagged.kind == "ignored"
    forged = tagged(message, verp).replace("+", "+9", 1)
    assert process(qmail_failure(forged, "person0@example.com"), verp).kind == "ignored"
    assert snapshot() == before
