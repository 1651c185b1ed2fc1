"""Building invitation e-mails, and the two ways they leave: SMTP or ``.eml`` files.

Messages are ``email.message.EmailMessage`` objects under ``policy.SMTP``,
which refuses CR or LF inside any header; names and survey texts are also
cleaned to one printable line first, so nothing a contact supplied can add a
header. Each message is multipart/alternative: plain text, then HTML built
from tables with inline styles (no scripts, no images), whose score buttons
are plain links.

A transport's ``send`` calls ``commit_point()`` at the last moment before
the message is handed over for good (for SMTP: after the data, before the
final ``.``). If that returns False the transport abandons the message
without delivering it; ``survey.invites.delivery`` explains why.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import secrets
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Callable, Mapping

from flask import render_template

from survey.invites.contacts import clean_text
from survey.models import Survey

# Band colours, matching the answer page (rapport.css) on a white background.
BAND_COLOURS = {"negative": "#d64545", "neutral": "#c99a1c", "positive": "#1f9d55"}


@dataclass
class InvitationLinks:
    """The absolute links one e-mail carries."""

    scores: dict[int, str]  # score -> one-click link
    followup: str  # the answer page without a score chosen
    unsubscribe: str  # page and RFC 8058 one-click POST target


@dataclass
class BuiltMessage:
    message: EmailMessage
    message_id: str
    envelope_from: str
    recipient: str

    def as_bytes(self) -> bytes:
        return self.message.as_bytes()


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` and ``{subject}`` in an editable survey text; other braces stay as typed."""
    return re.sub(r"\{(name|subject)\}", lambda m: values.get(m.group(1), ""), text)


def default_subject(survey: Survey, reminder: bool) -> str:
    prefix = "Reminder: " if reminder else ""
    return f"{prefix}A quick question about {survey.subject}"


def default_intro(survey: Survey) -> str:
    return ("We would love to hear how we did. It takes one click: choose your answer below. "
            "You can add a comment on the next page if you like.")


@functools.lru_cache(maxsize=64)  # parsed once per campaign, not once per message
def sender_address(sender: str) -> Address:
    """Parse ``Name <addr@example.com>`` (or a bare address); ValueError if it is not one address."""
    probe = EmailMessage(policy=policy.SMTP)
    try:
        probe["From"] = sender
        addresses = probe["From"].addresses
    except (ValueError, IndexError, TypeError) as exc:
        raise ValueError(f"the sender {sender!r} is not an e-mail address: {exc}") from None
    if len(addresses) != 1 or not addresses[0].domain:
        raise ValueError(f"the sender {sender!r} must be exactly one address like 'Name <surveys@example.com>'")
    return addresses[0]


def needs_smtputf8(address: str) -> bool:
    return not address.isascii()


def wire_address(address: str) -> str:
    """The form an address travels in: the domain in IDNA (ASCII) so only non-ASCII local parts need SMTPUTF8."""
    local, _, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass  # leave it; the server will say what it thinks
    return f"{local}@{domain}"


def build_invitation(
    *,
    survey: Survey,
    email: str,
    name: str | None,
    links: InvitationLinks,
    sender: str,
    expires_at: dt.datetime,
    reminder: bool = False,
    unsubscribe_mailto: str | None = None,
    now: dt.datetime | None = None,
) -> BuiltMessage:
    """Render one invitation (or its reminder) as a complete message with every header set."""
    from_address = sender_address(sender)
    name = clean_text(name or "")
    recipient = wire_address(email)
    values = {"name": name or "", "subject": survey.subject}
    subject = clean_text(fill_placeholders(survey.email_subject or "", values)) or default_subject(survey, reminder)
    if reminder and survey.email_subject:
        subject = f"Reminder: {subject}"
    intro = fill_placeholders(survey.email_intro or "", values).strip() or default_intro(survey)
    context = dict(
        survey=survey, spec=survey.spec, name=name, intro_paragraphs=[p.strip() for p in intro.split("\n\n") if p.strip()],
        links=links, expires_at=expires_at, reminder=reminder, subject=subject,
        band_colours={score: BAND_COLOURS[survey.spec.band(score)] for score in survey.scale},
        sender_name=from_address.display_name or survey.subject,
        expires_on=f"{expires_at:%d %B %Y}".lstrip("0"),
        button_width=round(100 / len(survey.scale), 2),
    )
    template = "reminder" if reminder else "invitation"
    text = render_template(f"email/{template}.txt", **context)
    html = render_template(f"email/{template}.html", **context)

    message = EmailMessage(policy=policy.SMTPUTF8 if needs_smtputf8(recipient) else policy.SMTP)
    message["From"] = from_address
    message["To"] = Address(display_name=name or "", addr_spec=recipient)
    message["Subject"] = subject
    message["Date"] = format_datetime((now or dt.datetime.now(dt.timezone.utc)).replace(tzinfo=dt.timezone.utc))
    # 128 random bits: unique without make_msgid's time and pid, and short enough not to be folded.
    message_id = f"<{secrets.token_hex(16)}@{from_address.domain}>"
    message["Message-ID"] = message_id
    mailto = unsubscribe_mailto or from_address.addr_spec
    message["List-Unsubscribe"] = f"<mailto:{mailto}?subject=unsubscribe>, <{links.unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return BuiltMessage(message=message, message_id=message_id, envelope_from=from_address.addr_spec,
                        recipient=recipient)


# -- transports -------------------------------------------------------------


class DeliveryError(Exception):
    """A message was not delivered this time; ``permanent`` ones are not retried."""

    def __init__(self, reply: str, *, permanent: bool = False, recipient_refused: bool = False,
                 connection_lost: bool = False):
        super().__init__(reply)
        self.reply = reply[:1000]
        self.permanent = permanent
        self.recipient_refused = recipient_refused  # a hard bounce of this address
        self.connection_lost = connection_lost  # the next message needs a new connection


class DeliveryUncertain(Exception):
    """The data went out but no reply came back: the server may or may not have the message."""


class ClaimLost(Exception):
    """``commit_point`` said another worker owns the message now; it was not delivered."""


CommitPoint = Callable[[], bool]


def _reply_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"


def _dot_stuff(data: bytes) -> bytes:
    """CRLF line ends and leading dots doubled (RFC 5321 4.5.2), without the final '.'."""
    data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


class SMTPTransport:
    """Sends over one SMTP connection, opened on first use and reused until closed."""

    def __init__(self, config: Mapping):
        self.host = config["MAIL_SERVER"]
        self.port = int(config.get("MAIL_PORT") or (465 if config.get("MAIL_USE_SSL") else 25))
        self.use_ssl = bool(config.get("MAIL_USE_SSL"))
        self.use_tls = bool(config.get("MAIL_USE_TLS"))
        self.username = config.get("MAIL_USERNAME")
        self.password = config.get("MAIL_PASSWORD")
        self.timeout = float(config.get("MAIL_TIMEOUT") or 30)
        self._smtp: smtplib.SMTP | None = None

    def describe(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def open(self) -> None:
        """Connect now (DeliveryError if the server cannot be reached)."""
        self._connect()

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        try:
            if self.use_ssl:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            # Each command waits for its reply anyway; Nagle's delay only slows the small writes.
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if self.use_tls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"the server refused the login: {_reply_text(exc.smtp_code, exc.smtp_error)}",
                                connection_lost=True) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(_reply_text(exc.smtp_code, exc.smtp_error), connection_lost=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"could not connect to {self.describe()}: {exc}", connection_lost=True) from None
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        """Forget the connection without a QUIT (it may be broken, or mid-DATA on purpose)."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.close()
            except OSError:
                pass

    def close(self) -> None:
        smtp = self._smtp
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
        self._drop()

    def send(self, envelope_from: str, recipient: str, data: bytes, commit_point: CommitPoint) -> str:
        """Deliver one message; return the server's final reply. Raises DeliveryError,
        DeliveryUncertain or ClaimLost (see the module docstring)."""
        smtp = self._connect()
        options = ["SMTPUTF8", "BODY=8BITMIME"] if needs_smtputf8(recipient) else []
        try:
            code, text = smtp.mail(envelope_from, options)
            if code != 250:
                self._reset()
                raise DeliveryError(_reply_text(code, text), permanent=code >= 500)
            code, text = smtp.rcpt(recipient)
            if code not in (250, 251):
                self._reset()
                raise DeliveryError(_reply_text(code, text), permanent=code >= 500, recipient_refused=code >= 500)
            smtp.putcmd("data")
            code, text = smtp.getreply()
            if code != 354:
                self._reset()
                raise DeliveryError(_reply_text(code, text), permanent=code >= 500)
            smtp.send(_dot_stuff(data))
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise DeliveryError(f"the server closed the connection: {exc}", connection_lost=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryError(f"sending to {self.describe()} failed: {exc}", connection_lost=True) from None
        if not commit_point():
            # Hanging up without the final "." makes the server discard the data.
            self._drop()
            raise ClaimLost()
        try:
            smtp.send(b".\r\n")
            code, text = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryUncertain(f"no reply from {self.describe()} after the end of the message: {exc}") from None
        if code == 421:
            self._drop()
        if code != 250:
            raise DeliveryError(_reply_text(code, text), permanent=code >= 500, connection_lost=code == 421)
        return _reply_text(code, text)

    def _reset(self) -> None:
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException, AttributeError):
            self._drop()

    def was_delivered(self, message_id: str) -> bool | None:
        return None  # SMTP has no way to ask


class EmlTransport:
    """Writes each message as ``<folder>/<YYYY-MM-DD>/<Message-ID>.eml`` (the demo's offline outbox).

    The file is written aside, flushed to disk, then renamed into place, so a
    message either exists whole under its name or not at all.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def describe(self) -> str:
        return str(self.folder)

    def open(self) -> None:
        pass

    @staticmethod
    def file_name(message_id: str) -> str:
        return re.sub(r"[^A-Za-z0-9._@-]", "_", message_id.strip("<>")) + ".eml"

    def path_for(self, message_id: str, day: dt.date) -> Path:
        return self.folder / day.isoformat() / self.file_name(message_id)

    def send(self, envelope_from: str, recipient: str, data: bytes, commit_point: CommitPoint) -> str:
        path = self.path_for(self._message_id(data), dt.date.today())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            with open(aside, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise DeliveryError(f"could not write {path}: {exc}") from None
        if not commit_point():
            aside.unlink(missing_ok=True)
            raise ClaimLost()
        os.replace(aside, path)
        return f"written to {path}"

    def was_delivered(self, message_id: str) -> bool | None:
        name = self.file_name(message_id)
        return any(self.folder.glob(f"*/{name}")) if self.folder.exists() else False

    def close(self) -> None:
        pass

    @staticmethod
    def _message_id(data: bytes) -> str:
        match = re.search(rb"^Message-ID:\s*(<[^>\r\n]+>)", data, re.IGNORECASE | re.MULTILINE)
        return match.group(1).decode("ascii", "replace") if match else f"<{secrets.token_hex(16)}@local>"


class MailNotConfigured(ValueError):
    """Neither an SMTP server nor, explicitly, the file transport: nothing may be "sent"."""


def transport_for(config: Mapping, instance_path: str):
    """``.eml`` files under ``instance/outbox`` when ``MAIL_TRANSPORT = "file"``, SMTP when ``MAIL_SERVER`` is set.

    Never the files by default: a worker started without its SMTP settings must
    not record a whole campaign as sent into a folder.
    """
    chosen = (config.get("MAIL_TRANSPORT") or "").lower()
    if chosen == "file":
        return EmlTransport(Path(instance_path) / "outbox")
    if chosen not in ("", "smtp"):
        raise MailNotConfigured(f"MAIL_TRANSPORT is {config.get('MAIL_TRANSPORT')!r}; it must be 'smtp' or 'file'")
    if config.get("MAIL_SERVER"):
        return SMTPTransport(config)
    raise MailNotConfigured(
        "no mail server: set MAIL_SERVER (and MAIL_PORT, MAIL_USE_TLS, MAIL_USERNAME, MAIL_PASSWORD) in "
        "instance/config.py or as RAPPORT_MAIL_… environment variables; or, to write the messages as .eml "
        "files under instance/outbox instead of sending them, set MAIL_TRANSPORT = 'file' "
        "(RAPPORT_MAIL_TRANSPORT=file). Nothing was sent.")


__all__ = [
    "BuiltMessage", "ClaimLost", "DeliveryError", "DeliveryUncertain", "EmlTransport", "InvitationLinks",
    "MailNotConfigured",
    "SMTPTransport", "build_invitation", "transport_for",
]
