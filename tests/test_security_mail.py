"""One internationalised address never stops a campaign (issue 18, finding 6), over a real SMTP server."""

from __future__ import annotations

import sqlalchemy as sa

from survey.db import db
from survey.invites.contacts import ContactRow, parse_contacts_csv
from survey.invites.delivery import deliver
from survey.invites.models import Invitation, OutboxMessage
from survey.invites.operations import import_contacts, send_campaign
from tests.invites_support import Mailbox, mailbox, smtp_server  # noqa: F401  (fixtures)

INTERNATIONAL = "üser@exämple.com"


def campaign_to(survey, *emails: str):
    import_contacts([ContactRow(line=n, email=email) for n, email in enumerate(emails, start=2)])
    queued = send_campaign(survey, base_url="https://surveys.example.com")
    return queued, deliver()


def state_of(email: str) -> tuple[str, str | None]:
    db.session.expire_all()
    invitation = db.session.scalar(sa.select(Invitation).join(Invitation.contact).where(
        sa.text("contacts.email = :email")).params(email=email))
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.invitation_id == invitation.id))
    return invitation.state, message.last_error


def test_the_address_imports_as_written():
    parsed = parse_contacts_csv(__import__("io").StringIO(f"email\n{INTERNATIONAL}\nok@example.com\n"))
    assert [row.email for row in parsed.rows] == [INTERNATIONAL, "ok@example.com"] and not parsed.problems


def test_an_internationalised_address_goes_out_with_smtputf8_when_the_server_offers_it(
        app, smtp_server, mailbox, make_survey):
    queued, report = campaign_to(make_survey("nps"), INTERNATIONAL, "ok@example.com")
    assert (queued.queued, report.sent, report.failed) == (2, 2, 0)
    assert sorted(r for received in mailbox.received for r in received.recipients) == [
        "ok@example.com", "üser@xn--exmple-cua.com"]
    assert state_of(INTERNATIONAL)[0] == "sent"


class WithoutSmtpUtf8(Mailbox):
    """A server that does not offer SMTPUTF8 (aiosmtpd offers it by default)."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [line for line in responses if "SMTPUTF8" not in line]


def test_without_smtputf8_only_that_invitation_fails_with_the_reason(app, smtp_server, make_survey):
    mailbox = WithoutSmtpUtf8()
    smtp_server.stop()
    smtp_server.mailbox = mailbox
    smtp_server.start()
    queued, report = campaign_to(make_survey("nps"), "first@example.com", INTERNATIONAL, "last@example.com")
    assert (queued.queued, report.sent, report.failed) == (3, 2, 1)
    assert sorted(r for received in mailbox.received for r in received.recipients) == [
        "first@example.com", "last@example.com"]
    state, reason = state_of(INTERNATIONAL)
    assert state == "failed" and "SMTPUTF8" in reason
    assert state_of("last@example.com")[0] == "sent"
