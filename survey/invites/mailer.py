"""The two ways invitation e-mails leave: SMTP, or ``.eml`` files in a folder.

Messages come built (``survey.invites.compose``); a transport only hands
them over. ``send`` returns the server's reply when a message was taken,
raises ``DeliveryError`` when it certainly was not (the server refused it,
or the connection broke before the final ``.`` of its data, which makes the
server discard it: RFC 5321 section 4.1.1.4), and ``DeliveryUncertain`` when
the data went out but no reply came: only then may the server have it.
``survey.invites.delivery`` builds its exactly-once promise on that split.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import smtplib
import socket
import ssl
from pathlib import Path
from typing import Mapping

from survey.invites.compose import needs_smtputf8



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


_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~@-]+")


def _path(address: str) -> str:
    """``<address>`` for MAIL FROM and RCPT TO; smtplib's parser only when the address is not plain."""
    return f"<{address}>" if _PLAIN_ADDRESS.fullmatch(address) else smtplib.quoteaddr(address)


def _reply_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"


def _dot_stuff(data: bytes) -> bytes:
    """CRLF line ends and leading dots doubled (RFC 5321 4.5.2), without the final '.'."""
    if b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(b"\r\n", b""):
        # Already CRLF throughout (what survey.invites.compose writes): plain replaces, no regex.
        data = (b"." if data.startswith(b".") else b"") + data.replace(b"\r\n.", b"\r\n..")
        return data if data.endswith(b"\r\n") else data + b"\r\n"
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

    @property
    def pipelining(self) -> bool:
        """Whether the open connection's server offers PIPELINING (RFC 2920)."""
        return self._smtp is not None and self._smtp.has_extn("pipelining")

    def send(self, envelope_from: str, recipient: str, data: bytes) -> str:
        """Deliver one message; return the server's final reply. Raises DeliveryError or
        DeliveryUncertain (see the module docstring)."""
        smtp = self._connect()
        utf8 = needs_smtputf8(recipient)
        if utf8 and not smtp.has_extn("smtputf8"):
            raise DeliveryError(f"{self.describe()} does not offer SMTPUTF8, which the address {recipient!r} needs",
                                permanent=True)
        try:
            if smtp.has_extn("pipelining"):
                self._envelope_pipelined(smtp, envelope_from, recipient, utf8)
            else:
                self._envelope_in_turn(smtp, envelope_from, recipient, utf8)
            smtp.send(_dot_stuff(data))
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise DeliveryError(f"the server closed the connection: {exc}", connection_lost=True) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise DeliveryError(f"sending to {self.describe()} failed: {exc}", connection_lost=True) from None
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

    @staticmethod
    def _options(utf8: bool) -> str:
        return " SMTPUTF8 BODY=8BITMIME" if utf8 else ""

    def _envelope_in_turn(self, smtp: smtplib.SMTP, envelope_from: str, recipient: str, utf8: bool) -> None:
        """MAIL, RCPT and DATA, each waiting for its reply."""
        smtp.command_encoding = "utf-8" if utf8 else "ascii"
        smtp.putcmd("mail", f"FROM:{_path(envelope_from)}{self._options(utf8)}")
        code, text = smtp.getreply()
        if code != 250:
            self._reset()
            raise DeliveryError(_reply_text(code, text), permanent=code >= 500)
        smtp.putcmd("rcpt", f"TO:{_path(recipient)}")
        code, text = smtp.getreply()
        if code not in (250, 251):
            self._reset()
            raise DeliveryError(_reply_text(code, text), permanent=code >= 500, recipient_refused=code >= 500)
        smtp.putcmd("data")
        code, text = smtp.getreply()
        if code != 354:
            self._reset()
            raise DeliveryError(_reply_text(code, text), permanent=code >= 500)

    def _envelope_pipelined(self, smtp: smtplib.SMTP, envelope_from: str, recipient: str, utf8: bool) -> None:
        """MAIL, RCPT and DATA in one write, then their three replies: one round trip instead of three."""
        commands = (f"MAIL FROM:{_path(envelope_from)}{self._options(utf8)}\r\n"
                    f"RCPT TO:{_path(recipient)}\r\nDATA\r\n")
        smtp.send(commands.encode("utf-8" if utf8 else "ascii"))
        mail, rcpt, data = smtp.getreply(), smtp.getreply(), smtp.getreply()
        if mail[0] == 250 and rcpt[0] in (250, 251) and data[0] == 354:
            return
        if data[0] == 354:
            # The server wants the data although it refused the sender or recipient: hanging up
            # without the final "." makes it discard whatever it has (RFC 5321 4.1.1.4).
            self._drop()
        else:
            self._reset()
        if mail[0] != 250:
            raise DeliveryError(_reply_text(*mail), permanent=mail[0] >= 500)
        if rcpt[0] not in (250, 251):
            raise DeliveryError(_reply_text(*rcpt), permanent=rcpt[0] >= 500, recipient_refused=rcpt[0] >= 500)
        raise DeliveryError(_reply_text(*data), permanent=data[0] >= 500, connection_lost=data[0] == 354)

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

    def send(self, envelope_from: str, recipient: str, data: bytes) -> str:
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


def _whole_number(value: object, low: int, high: int | None = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)


def check_mail_settings(config: Mapping) -> None:
    """MailNotConfigured naming the first delivery setting that cannot work, before anything is claimed.

    Environment values arrive as JSON (``RAPPORT_MAIL_PORT=587`` is a number), so a typo stays a
    string; without this check it surfaced as a traceback mid-delivery, or, for a batch size of 0,
    as a worker that quietly sent nothing for ever.
    """
    def refuse(name: str, wanted: str) -> None:
        raise MailNotConfigured(f"{name} is {config.get(name)!r}; it must be {wanted}. Nothing was sent.")

    port = config.get("MAIL_PORT")
    if port is not None and not _whole_number(port, 1, 65535):
        refuse("MAIL_PORT", "a port number, 1 to 65535 (587 for STARTTLS, 465 for TLS, 25)")
    if config.get("MAIL_USE_TLS") and config.get("MAIL_USE_SSL"):
        raise MailNotConfigured("MAIL_USE_TLS (STARTTLS on a plain connection, port 587) and MAIL_USE_SSL (TLS from "
                                "the first byte, port 465) are both on; set the one your server speaks. Nothing was sent.")
    timeout = config.get("MAIL_TIMEOUT")
    if timeout is not None and not (isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0):
        refuse("MAIL_TIMEOUT", "a number of seconds above 0")
    for name in ("MAIL_BATCH_SIZE", "MAIL_MAX_ATTEMPTS"):
        if not _whole_number(config.get(name), 1):
            refuse(name, "a whole number, at least 1")
    rate = config.get("MAIL_DOMAIN_RATE_PER_MINUTE")
    if rate is not None and not _whole_number(rate, 1):
        refuse("MAIL_DOMAIN_RATE_PER_MINUTE", "messages per minute, at least 1, or None for no limit")
    rates = config.get("MAIL_DOMAIN_RATES") or {}
    if not isinstance(rates, Mapping) or not all(isinstance(domain, str) and _whole_number(limit, 1)
                                                 for domain, limit in rates.items()):
        refuse("MAIL_DOMAIN_RATES", 'messages per minute per domain, e.g. {"gmail.com": 3000} '
                                    "(RAPPORT_MAIL_DOMAIN_RATES as JSON)")


def transport_for(config: Mapping, instance_path: str):
    """``.eml`` files under ``instance/outbox`` when ``MAIL_TRANSPORT = "file"``, SMTP when ``MAIL_SERVER`` is set.

    Never the files by default: a worker started without its SMTP settings must
    not record a whole campaign as sent into a folder.
    """
    check_mail_settings(config)
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


__all__ = ["DeliveryError", "DeliveryUncertain", "EmlTransport", "MailNotConfigured", "SMTPTransport",
           "transport_for"]
