"""Test support for e-mail invitations: a real SMTP server (aiosmtpd on 127.0.0.1) and helpers.

Import the fixtures into a test module (``from tests.invites_support import smtp_server``).
"""

from __future__ import annotations

import asyncio
import email
import re
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)


class Mailbox:
    """aiosmtpd handler that keeps every accepted message; hooks let a test interfere.

    ``before_rcpt(n)`` runs (in the server's loop) before the n-th RCPT (counting from 1)
    of this server's life and may return an SMTP reply to refuse it, or await forever.
    """

    def __init__(self):
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.rcpt_count = 0
        self.refuse: dict[str, str] = {}  # address -> reply, e.g. "550 5.1.1 No such user"
        self.before_rcpt = None
        self.before_data_reply = None
        self.delay = 0.0
        self.pipelining = False  # offer PIPELINING (aiosmtpd reads commands in order, so it copes)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_count += 1
        if self.before_rcpt is not None:
            reply = await self.before_rcpt(self.rcpt_count)
            if reply:
                return reply
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content
                                          or envelope.content))
        if self.before_data_reply is not None:
            await self.before_data_reply(len(self.received))
        return "250 2.0.0 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received]

    def message_ids(self) -> list[str]:
        return [m["Message-ID"].strip() for m in self.messages()]


class SMTPServer:
    """A real SMTP server in a thread; ``stop()`` and ``start()`` again on the same port."""

    def __init__(self, mailbox: Mailbox, port: int | None = None):
        self.mailbox = mailbox
        self.port = port or free_port()
        self.controller: Controller | None = None
        self.controller_options: dict = {}  # e.g. an authenticator

    def start(self) -> "SMTPServer":
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, ready_timeout=10,
                                     decode_data=False, **self.controller_options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def configure(self, app) -> None:
        app.config.update(MAIL_TRANSPORT="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=self.port, MAIL_USE_TLS=False,
                          MAIL_USE_SSL=False, MAIL_TIMEOUT=10)


@pytest.fixture
def mailbox():
    return Mailbox()


@pytest.fixture
def smtp_server(app, mailbox):
    """A running aiosmtpd server on a free 127.0.0.1 port, with the app configured to use it."""
    server = SMTPServer(mailbox).start()
    server.configure(app)
    yield server
    server.stop()


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.forbidden: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in ("script", "img", "iframe", "link", "form", "object", "embed"):
            self.forbidden.append(tag)
        for name in attrs:
            if name.startswith("on"):
                self.forbidden.append(f"{tag}[{name}]")


def html_part(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def text_part(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_links(message: EmailMessage) -> list[str]:
    parser = _Links()
    parser.feed(html_part(message))
    return parser.links


def forbidden_html(message: EmailMessage) -> list[str]:
    parser = _Links()
    parser.feed(html_part(message))
    return parser.forbidden


def text_links(message: EmailMessage) -> list[str]:
    return re.findall(r"https?://\S+", text_part(message))


def every_link(message: EmailMessage) -> list[str]:
    """What a scanner fetches: every link in both parts and in List-Unsubscribe."""
    header = re.findall(r"<(https?://[^>]+)>", str(message["List-Unsubscribe"]))
    return sorted(set(html_links(message) + text_links(message) + header))


def score_links(message: EmailMessage) -> dict[int, str]:
    found = {}
    for link in html_links(message):
        match = re.search(r"/i/[^/]+/(\d+)$", link)
        if match:
            found[int(match.group(1))] = link
    return found


def local_path(url: str) -> str:
    """The path of an absolute link, to fetch it with the test client."""
    return re.sub(r"^https?://[^/]+", "", url)


def wait_for(condition, timeout: float = 10.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting")


def write_contacts(path, rows, header=("email", "name", "plan", "region")):
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def add_contacts(count: int, start: int = 0, **attributes):
    """``count`` committed contacts named person<i>@example.com with these attributes."""
    from survey.invites.contacts import ContactRow
    from survey.invites.operations import import_contacts

    rows = [ContactRow(line=i + 2, email=f"person{i}@example.com", name=f"Person {i}",
                       attributes=dict(attributes)) for i in range(start, start + count)]
    import_contacts(rows)
