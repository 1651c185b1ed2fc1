"""Delivery over TLS against a real aiosmtpd: STARTTLS (MAIL_USE_TLS) and implicit TLS (MAIL_USE_SSL).

The server's certificate is made for the test with the ``openssl`` command and
trusted through ``SSL_CERT_FILE``, the way an operator adds a private CA. A
certificate the client does not trust is refused: nothing is sent in clear and
the messages wait in the outbox for a retry.
"""

from __future__ import annotations

import contextlib
import shutil
import ssl
import subprocess

import pytest

from survey.invites import operations
from survey.invites.delivery import deliver
from tests.invites_support import Mailbox, SMTPServer, add_contacts
from tests.test_invites_delivery import BASE, assert_each_arrived_once, outbox


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (apt-get install openssl): no certificate for the TLS tests")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    return cert, key


class TlsMailbox(Mailbox):
    """Also notes, for each message, whether it came over an encrypted session."""

    def __init__(self):
        super().__init__()
        self.encrypted: list[bool] = []

    async def handle_DATA(self, server, session, envelope):
        # STARTTLS sets session.ssl; implicit TLS shows on the transport itself.
        self.encrypted.append(session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None)
        return await super().handle_DATA(server, session, envelope)


@contextlib.contextmanager
def tls_server(app, certificate, *, implicit: bool):
    """aiosmtpd speaking TLS from the first byte (``implicit``) or after STARTTLS, which it then
    requires; the app is configured to match. Yields the mailbox."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    mailbox = TlsMailbox()
    server = SMTPServer(mailbox)
    server.controller_options = ({"ssl_context": context} if implicit
                                 else {"tls_context": context, "require_starttls": True})
    server.start()
    try:
        server.configure(app)
        app.config["MAIL_USE_SSL" if implicit else "MAIL_USE_TLS"] = True
        yield mailbox
    finally:
        server.stop()


def queue(make_survey, count: int) -> None:
    survey = make_survey("csat")
    add_contacts(count)
    operations.send_campaign(survey, base_url=BASE)


def sends_encrypted(make_survey, mailbox: TlsMailbox, count: int) -> None:
    queue(make_survey, count)
    assert deliver().sent == count
    assert_each_arrived_once(mailbox, count)
    assert mailbox.encrypted == [True] * count


def test_starttls_sends_every_message_encrypted(app, make_survey, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with tls_server(app, certificate, implicit=False) as mailbox:
        sends_encrypted(make_survey, mailbox, 3)


def test_implicit_tls_on_the_smtps_port(app, make_survey, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with tls_server(app, certificate, implicit=True) as mailbox:
        sends_encrypted(make_survey, mailbox, 2)


def test_an_untrusted_certificate_sends_nothing_and_keeps_the_messages(app, make_survey, certificate, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with tls_server(app, certificate, implicit=False) as mailbox:
        app.config["MAIL_TIMEOUT"] = 5
        queue(make_survey, 2)
        result = deliver()
        assert result.sent == 0 and result.retried == 2
        assert mailbox.received == []
        assert {m.state for m in outbox()} == {"queued"}
