"""Invitation and reminder e-mails, built fast: the templates rendered once per campaign.

A campaign's e-mails differ only in the contact's name, address and link
token. So a ``Composer`` renders the ``email/*.txt`` and ``email/*.html``
templates once (twice if some contacts have a name and some do not) with
stand-in values, and each message is those renderings with the contact's
parts put in their places, encoded and wrapped in
headers, straight to the bytes that go on the wire: no ``EmailMessage`` is
built or re-parsed per message unless a header needs the ``email`` package's
encoding (a name outside plain ASCII, a long subject), and then it is that
package that folds and encodes it, exactly as before.

Each message is multipart/alternative: plain text, then HTML built from
tables with inline styles (no scripts, no images), whose score buttons are
plain links. Header injection: names pass through ``clean_text`` (no control
characters, so no CR or LF) and headers are only ever written whole, by the
fast path for plain printable ASCII or else by the ``email`` package. Bodies
go as they are (7bit) when they are ASCII in lines of at most 998
characters, else quoted-printable.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import re
import secrets
from dataclasses import dataclass
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Callable, Mapping

from flask import render_template
from markupsafe import escape

from survey.display import isolated
from survey.invites.contacts import clean_text
from survey.models import Survey

# Band colours, matching the answer page (rapport.css) on a white background.
BAND_COLOURS = {"negative": "#d64545", "neutral": "#c99a1c", "positive": "#1f9d55"}
TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)
MAX_LINE = 78  # header lines the email package would fold beyond this
# A display name that needs neither quoting nor encoding (RFC 5322 atext and spaces).
_PLAIN_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")


@dataclass
class InvitationLinks:
    """The absolute links one e-mail carries."""

    scores: dict[int, str]  # score -> one-click link
    followup: str  # the answer page without a score chosen
    unsubscribe: str  # page and RFC 8058 one-click POST target


@dataclass
class BuiltMessage:
    """One e-mail as it goes on the wire, and its envelope."""

    raw: bytes
    message_id: str
    envelope_from: str
    recipient: str


def new_token() -> str:
    """A link token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace ``{name}`` and ``{subject}`` in an editable survey text; other braces stay as typed."""
    return re.sub(r"\{(name|subject)\}", lambda m: values.get(m.group(1), ""), text)


def default_subject(survey: Survey, reminder: bool) -> str:
    prefix = "Reminder: " if reminder else ""
    return f"{prefix}A quick question about {_typed_in_subject(survey.subject)}"


def _typed_in_subject(value: str | None) -> str:
    """What a person typed (the survey's subject, a contact's name), as one line in its own isolate
    (survey.display.isolated): a right-to-left name cannot reorder the Subject's other words."""
    line = clean_text(value or "")
    return isolated(line) if line else ""


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


def _folded(name: str, value, utf8: bool = False) -> bytes:
    """One header line as the ``email`` package writes it (encoded words, folding)."""
    use = policy.SMTPUTF8 if utf8 else policy.SMTP
    probe = EmailMessage(policy=use)
    probe[name] = value
    return probe[name].fold(policy=use).encode("utf-8" if utf8 else "ascii", "surrogateescape")


def _header(name: str, value: str) -> bytes:
    """``Name: value`` for plain short ASCII (what the email package writes too), else encoded words.

    Text outside ASCII (a name, the isolates around typed text) is encoded whole, in encoded words
    of UTF-8: the email package's folder could put a plain word and the next encoded word on two
    lines with the space between them lost ("how did⁨Acme"), since space between encoded words is
    no text (RFC 2047).
    """
    if value.isascii() and value.isprintable() and len(name) + 2 + len(value) <= MAX_LINE:
        return f"{name}: {value}\r\n".encode("ascii")
    if value.isascii():
        return _folded(name, value)
    words = Header(value, "utf-8", header_name=name).encode(linesep="\r\n", maxlinelen=MAX_LINE)
    return f"{name}: {words}\r\n".encode("ascii")


def _to_header(display_name: str, recipient: str) -> bytes:
    if needs_smtputf8(recipient):
        # The email package refuses a non-ASCII local part in an Address; the header travels in
        # UTF-8 (SMTPUTF8), so it is folded around a stand-in that the address then replaces.
        stand_in = "recipient@stand-in.invalid"
        folded = _folded("To", Address(display_name=display_name, addr_spec=stand_in), utf8=True)
        return folded.replace(stand_in.encode("ascii"), recipient.encode("utf-8"))
    plain = f"{display_name} <{recipient}>" if display_name else recipient
    if (display_name.isascii() and _PLAIN_NAME.fullmatch(display_name) and "  " not in display_name
            and len(plain) + 4 <= MAX_LINE):
        return f"To: {plain}\r\n".encode("ascii")
    return _folded("To", Address(display_name=display_name, addr_spec=recipient))


MAX_BODY_LINE = 998  # RFC 5322 2.1.1, without the CRLF


def longest_line(text: str) -> int:
    return max(map(len, text.split("\n")))


def _body_part(content_type: str, text: str, short_lines: bool) -> bytes:
    """A text part: as it is (7bit) when plain ASCII in short enough lines, else quoted-printable."""
    if text.isascii() and (short_lines or longest_line(text) <= MAX_BODY_LINE):
        encoding, body = "7bit", text.encode("ascii")
    else:
        encoding, body = "quoted-printable", binascii.b2a_qp(text.encode("utf-8"), istext=True)
    return (f'Content-Type: {content_type}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n'
            .encode("ascii") + body.replace(b"\n", b"\r\n"))


class Composer:
    """Builds one campaign's invitations (or reminders) from templates rendered once.

    ``links_for(token)`` gives a token's absolute links; it is called once,
    with a stand-in token that each message's own token then replaces.
    """

    def __init__(self, *, survey: Survey, sender: str, links_for: Callable[[str], InvitationLinks],
                 expires_at: dt.datetime, reminder: bool = False, unsubscribe_mailto: str | None = None,
                 now: dt.datetime | None = None):
        self.survey = survey
        self.reminder = reminder
        self.expires_at = expires_at
        self.from_address = sender_address(sender)
        self.envelope_from = self.from_address.addr_spec
        # Letters and digits only: they pass through URL building and HTML escaping unchanged.
        self._token_slot = ("T" + secrets.token_hex(TOKEN_LENGTH))[:TOKEN_LENGTH]
        self._name_slot = "N" + secrets.token_hex(12)
        self._links = links_for(self._token_slot)
        self._bodies: dict[bool, tuple[str, str]] = {}
        self._line_bound: dict[bool, tuple[int, int]] = {}
        when = (now or dt.datetime.now(dt.timezone.utc)).replace(tzinfo=dt.timezone.utc)
        mailto = unsubscribe_mailto or self.from_address.addr_spec
        self._unsubscribe_value = f"<mailto:{mailto}?subject=unsubscribe>, <{self._links.unsubscribe}>"
        self._from = _folded("From", self.from_address)
        self._date = _header("Date", format_datetime(when))
        self._unsubscribe = _folded("List-Unsubscribe", self._unsubscribe_value)
        self._fixed_tail = (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                            b"Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n")

    def subject(self, name: str | None) -> str:
        survey = self.survey
        values = {"name": _typed_in_subject(name), "subject": _typed_in_subject(survey.subject)}
        subject = fill_placeholders(clean_text(survey.email_subject or "") or "", values).strip() or default_subject(
            survey, self.reminder)
        if self.reminder and survey.email_subject:
            subject = f"Reminder: {subject}"
        return subject

    def _rendered(self, has_name: bool) -> tuple[str, str]:
        """The text and HTML bodies with stand-ins for the name and the token (rendered on first use)."""
        if has_name not in self._bodies:
            survey = self.survey
            name = self._name_slot if has_name else None
            values = {"name": name or "", "subject": survey.subject}
            intro = fill_placeholders(survey.email_intro or "", values).strip() or default_intro(survey)
            context = dict(
                survey=survey, spec=survey.spec, name=name,
                intro_paragraphs=[p.strip() for p in intro.split("\n\n") if p.strip()],
                links=self._links, expires_at=self.expires_at, reminder=self.reminder,
                subject=self.subject(name),
                band_colours={score: BAND_COLOURS[survey.spec.band(score)] for score in survey.scale},
                sender_name=self.from_address.display_name or survey.subject,
                expires_on=f"{self.expires_at:%d %B %Y}".lstrip("0"),
                button_width=round(100 / len(survey.scale), 2),
            )
            template = "reminder" if self.reminder else "invitation"
            text = render_template(f"email/{template}.txt", **context)
            html = render_template(f"email/{template}.html", **context)
            self._bodies[has_name] = (text, html)
            # The longest line, and the most stand-ins for the name on one line: with the name's
            # length they bound every line, so bodies need no scan per message.
            self._line_bound[has_name] = (
                max(longest_line(text), longest_line(html)),
                max(line.count(self._name_slot) for line in (text + "\n" + html).split("\n")))
        return self._bodies[has_name]

    def build(self, email: str, name: str | None, token: str) -> BuiltMessage:
        """The complete message for one contact, with ``token`` in its links."""
        name = clean_text(name or "") or ""
        recipient = wire_address(email)
        text, html = self._rendered(bool(name))
        escaped = str(escape(name))
        longest, per_line = self._line_bound[bool(name)]
        short_lines = longest + per_line * len(escaped) + len(token) <= MAX_BODY_LINE
        text = text.replace(self._token_slot, token).replace(self._name_slot, name)
        html = html.replace(self._token_slot, token).replace(self._name_slot, escaped)
        random_part = secrets.token_hex(16)
        # 128 random bits: unique without make_msgid's time and pid, and short enough not to be folded.
        message_id = f"<{random_part}@{self.from_address.domain}>"
        if len(token) == TOKEN_LENGTH:  # same length as the stand-in, so folded the same way
            unsubscribe = self._unsubscribe.replace(self._token_slot.encode(), token.encode())
        else:
            unsubscribe = _folded("List-Unsubscribe", self._unsubscribe_value.replace(self._token_slot, token))
        # Random, and "=_" never appears in quoted-printable; a template would have to contain it.
        boundary = f"=_{random_part}"
        raw = b"".join((
            self._from, _to_header(name, recipient), _header("Subject", self.subject(name)), self._date,
            f"Message-ID: {message_id}\r\n".encode("ascii"), unsubscribe, self._fixed_tail,
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode("ascii"),
            f"--{boundary}\r\n".encode("ascii"), _body_part("text/plain", text, short_lines),
            f"\r\n--{boundary}\r\n".encode("ascii"), _body_part("text/html", html, short_lines),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        ))
        return BuiltMessage(raw=raw, message_id=message_id, envelope_from=self.envelope_from, recipient=recipient)
