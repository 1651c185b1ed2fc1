"""Mail leaves through SMTP, or into .eml files only when an operator chose that: never by accident."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.invites import operations
from survey.invites.delivery import deliver
from survey.invites.mailer import EmlTransport, MailNotConfigured, SMTPTransport, transport_for
from survey.invites.models import OutboxMessage
from tests.conftest import REPO
from tests.invites_support import add_contacts


def queue(make_survey, count: int) -> None:
    add_contacts(count)
    operations.send_campaign(make_survey("nps"), base_url="http://rapport.test")


def states() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutboxMessage.state)))


@pytest.mark.parametrize("transport", [None, "", "smtp"])
def test_deliver_without_a_mail_server_refuses_and_marks_nothing_sent(app, runner, make_survey, transport):
    app.config.update(MAIL_SERVER=None, MAIL_TRANSPORT=transport)
    queue(make_survey, 3)
    result = runner.invoke(args=["invite", "deliver"])
    assert result.exit_code == 1
    assert "no mail server" in result.output and "MAIL_TRANSPORT" in result.output and "Nothing was sent" in result.output
    assert states() == ["queued"] * 3
    assert not (Path(app.instance_path) / "outbox").exists()
    with pytest.raises(MailNotConfigured):
        deliver()  # the service function refuses too, before it claims anything
    assert states() == ["queued"] * 3


def test_an_unknown_transport_is_named(app, runner, make_survey):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_TRANSPORT="carrier-pigeon")
    result = runner.invoke(args=["invite", "deliver"])
    assert result.exit_code == 1 and "'carrier-pigeon'" in result.output


@pytest.mark.parametrize("settings, words", [
    ({"MAIL_PORT": "587a"}, ("MAIL_PORT is '587a'", "1 to 65535")),  # RAPPORT_MAIL_PORT=587a stays a string
    ({"MAIL_PORT": 0}, ("MAIL_PORT is 0",)),
    ({"MAIL_USE_TLS": True, "MAIL_USE_SSL": True}, ("MAIL_USE_TLS", "MAIL_USE_SSL", "both on")),
    ({"MAIL_TIMEOUT": "thirty"}, ("MAIL_TIMEOUT is 'thirty'",)),
    ({"MAIL_BATCH_SIZE": 0}, ("MAIL_BATCH_SIZE is 0", "at least 1")),  # sent nothing, for ever, exit 0
    ({"MAIL_MAX_ATTEMPTS": "10"}, ("MAIL_MAX_ATTEMPTS is '10'",)),
    ({"MAIL_DOMAIN_RATE_PER_MINUTE": -5}, ("MAIL_DOMAIN_RATE_PER_MINUTE is -5",)),
    ({"MAIL_DOMAIN_RATES": "gmail.com=3000"}, ("MAIL_DOMAIN_RATES is 'gmail.com=3000'", '{"gmail.com": 3000}')),
    ({"MAIL_DOMAIN_RATES": {"gmail.com": "fast"}}, ("MAIL_DOMAIN_RATES",)),
])
def test_a_mail_setting_that_cannot_work_is_named_before_anything_is_claimed(app, runner, make_survey, settings,
                                                                             words):
    app.config.update(MAIL_TRANSPORT="smtp", MAIL_SERVER="127.0.0.1", **settings)
    queue(make_survey, 2)
    result = runner.invoke(args=["invite", "deliver"])
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit, result.output
    assert all(word in result.output for word in words) and "Nothing was sent" in result.output, result.output
    assert states() == ["queued", "queued"]


def test_the_file_transport_is_chosen_explicitly(app, runner, make_survey):
    app.config.update(MAIL_SERVER="smtp.example.org", MAIL_TRANSPORT="file")
    assert isinstance(transport_for(app.config, app.instance_path), EmlTransport)
    queue(make_survey, 2)
    result = runner.invoke(args=["invite", "deliver"])
    assert result.exit_code == 0, result.output
    assert states() == ["sent", "sent"]
    assert len(list((Path(app.instance_path) / "outbox").glob("*/*.eml"))) == 2
    app.config.update(MAIL_TRANSPORT=None)
    assert isinstance(transport_for(app.config, app.instance_path), SMTPTransport)


def test_the_demo_chooses_the_file_transport(tmp_path):
    instance = tmp_path / "demo-instance"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "RAPPORT_INSTANCE_PATH": str(instance)}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "survey", "demo", "--no-serve"], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Demo invitation e-mails (.eml" in result.stdout
    assert list((instance / "outbox").glob("*/*.eml"))
