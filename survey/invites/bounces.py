"""Bounces that come back after delivery: signed return paths (VERP) and reading DSNs.

Return path. With ``MAIL_BOUNCE_ADDRESS`` set (``bounces@example.com``) the
delivery worker sends each message with its own envelope sender,
``bounces+<tag>@example.com``, where the tag is the outbox message's id and
an HMAC-SHA256 of it under the app's ``SECRET_KEY`` (80 bits, lower-case hex,
since some servers fold the case of local parts). A bounce sent back to that
address names its message; nobody without the key can make a tag for another
one. The tag is worked out when the message is sent, from its row id, so
nothing secret is stored and a campaign needs no second write per message.
Without the setting the envelope sender stays the From: address.

Reading. ``parse_bounce`` takes one raw e-mail and says what it is: an RFC
3464 delivery status notification (``multipart/report;
report-type=delivery-status``) with, per recipient, its ``Action`` and
``Status``; the tags found in the addresses it was delivered to (``To``,
``Delivered-To``, ``X-Original-To``, ``Envelope-To``, and the envelope
recipient an MTA pipe passes on); and the ``Message-ID`` of the original
message quoted in it (``text/rfc822-headers`` or ``message/rfc822``). Anything
else (an auto-reply, an out-of-office, spam) is *not a bounce*, except that
mail to a tagged return path in an MTA's own format (qmail's "failure
notice", old Exim and Sendmail texts) is read with ``flufl.bounce``. It never
raises: unreadable input is reported as such. It reads; attributing a bounce
to a contact and recording it is ``survey.invites.bounce_handling.record_bounce``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser
from typing import Iterable, Mapping

TAG_DIGEST_CHARS = 20  # hex: 80 bits
TAG = re.compile(r"^(\d{1,18})-([0-9a-f]{%d})$" % TAG_DIGEST_CHARS)
STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
ADDRESS = re.compile(r"[^\s<>,;:\"()\[\]]+@[^\s<>,;:\"()\[\]]+")
# Headers of a DSN that carry the address it was sent to (the original's envelope sender).
DELIVERY_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
MAX_BYTES = 10 * 1024 * 1024  # the report parts come first; a longer message is read this far


# -- the return path -----------------------------------------------------------


def _key(secret: str | bytes) -> bytes:
    secret = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hashlib.sha256(b"rapport bounce tag\0" + secret).digest()


def _signature(message_id: int, secret: str | bytes) -> str:
    return hmac.new(_key(secret), str(message_id).encode("ascii"), hashlib.sha256).hexdigest()[:TAG_DIGEST_CHARS]


def make_tag(message_id: int, secret: str | bytes) -> str:
    """The tag of outbox message ``message_id``: ``<id>-<signature>``."""
    return f"{int(message_id)}-{_signature(message_id, secret)}"


def read_tag(tag: str, secret: str | bytes) -> int | None:
    """The outbox message id a tag names, or None if it is malformed or its signature is wrong."""
    match = TAG.match((tag or "").strip().lower())
    if not match:
        return None
    message_id = int(match.group(1))
    return message_id if hmac.compare_digest(match.group(2), _signature(message_id, secret)) else None


def split_bounce_address(address: str) -> tuple[str, str]:
    """``bounces@example.com`` -> (``bounces``, ``example.com``); ValueError if it cannot carry a tag."""
    local, at, domain = (address or "").strip().rpartition("@")
    if not at or not local or not domain or "+" in local or not re.fullmatch(r"[A-Za-z0-9._=-]+", local) \
            or not re.fullmatch(r"[A-Za-z0-9.-]+", domain):
        raise ValueError(f"MAIL_BOUNCE_ADDRESS {address!r} must be a plain address like bounces@example.com "
                         "(ASCII, without a '+')")
    return local, domain


def return_path(config: Mapping, message_id: int, default: str) -> str:
    """The envelope sender for outbox message ``message_id``: its VERP address, or ``default``."""
    bounce_address = config.get("MAIL_BOUNCE_ADDRESS")
    if not bounce_address:
        return default
    local, domain = split_bounce_address(bounce_address)
    return f"{local}+{make_tag(message_id, config['SECRET_KEY'])}@{domain}"


# -- reading a bounce ----------------------------------------------------------


@dataclass
class RecipientReport:
    """One per-recipient block of a DSN."""

    address: str | None  # Final-Recipient
    original: str | None  # Original-Recipient
    action: str  # failed, delayed, delivered, relayed, expanded (lower case; "" if absent)
    status: str | None  # 5.1.1
    diagnostic: str | None

    @property
    def hard(self) -> bool:
        return self.action == "failed" and (self.status or "").startswith("5.")

    @property
    def soft(self) -> bool:
        return not self.hard and (self.action == "delayed" or (self.status or "").startswith("4."))


@dataclass
class ParsedBounce:
    is_dsn: bool
    recipients: list[RecipientReport] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # from bounce-address+<tag>@domain addresses
    original_message_ids: list[str] = field(default_factory=list)
    problem: str | None = None  # why it is not a DSN, or could not be read

    @property
    def hard(self) -> list[RecipientReport]:
        return [r for r in self.recipients if r.hard]

    @property
    def soft(self) -> list[RecipientReport]:
        return [r for r in self.recipients if r.soft]


def parse_bounce(raw: bytes, *, bounce_address: str | None = None,
                 envelope_recipients: Iterable[str] = ()) -> ParsedBounce:
    """What one raw e-mail says about a delivery; never raises (see the module docstring).

    ``bounce_address`` is ``MAIL_BOUNCE_ADDRESS``: only tags on that address
    count. ``envelope_recipients`` are the addresses the MTA delivered this
    message to, when it says (Postfix's ``$ORIGINAL_RECIPIENT``).
    """
    try:
        return _parse(raw, bounce_address, list(envelope_recipients))
    except Exception as exc:  # noqa: BLE001 - malformed mail must never stop a batch
        return ParsedBounce(is_dsn=False, problem=f"unreadable ({type(exc).__name__})")


def _parse(raw: bytes, bounce_address: str | None, envelope_recipients: list[str]) -> ParsedBounce:
    if not isinstance(raw, (bytes, bytearray)) or not raw.strip():
        return ParsedBounce(is_dsn=False, problem="empty")
    message = message_from_bytes(bytes(raw[:MAX_BYTES]), policy=policy.default)
    if not message.keys():
        return ParsedBounce(is_dsn=False, problem="no headers")
    tags = _tags(message, bounce_address, envelope_recipients)
    status_part = next((p for p in message.walk() if p.get_content_type() == "message/delivery-status"), None)
    if status_part is None:
        # Not RFC 3464 (qmail, old Exim, Sendmail): trusted only on the signed return path.
        recipients = _other_format_recipients(raw) if tags else []
        if recipients:
            return ParsedBounce(is_dsn=True, recipients=recipients, tags=tags,
                                original_message_ids=_original_ids(message))
        return ParsedBounce(is_dsn=False, tags=tags, problem=_what_else(message))
    recipients = [r for r in (_recipient(block) for block in _status_blocks(status_part)[1:]) if r is not None]
    if not recipients:
        return ParsedBounce(is_dsn=False, tags=tags, problem="a delivery report naming no recipient")
    return ParsedBounce(is_dsn=True, recipients=recipients, tags=tags, original_message_ids=_original_ids(message))


def _other_format_recipients(raw: bytes) -> list[RecipientReport]:
    """Failed recipients of a bounce in an MTA's own format, as flufl.bounce's detectors read them.

    Those formats have no Action or Status fields: a permanent failure is a
    hard bounce, with the first enhanced status code the text quotes (5.0.0
    when it quotes none); a temporary one is soft.
    """
    from flufl.bounce import all_failures

    legacy = message_from_bytes(bytes(raw[:MAX_BYTES]))  # flufl.bounce reads compat32 messages
    temporary, permanent = all_failures(legacy)
    text = bytes(raw[:MAX_BYTES]).decode("utf-8", "replace")
    quoted = next((".".join(m.groups()) for m in STATUS.finditer(text) if m.group(1) == "5"), None)
    reports = []
    for found, action, status in ((permanent, "failed", quoted or "5.0.0"), (temporary - permanent, "delayed", "4.0.0")):
        for address in sorted(found):
            address = address.decode("utf-8", "replace") if isinstance(address, bytes) else str(address)
            reports.append(RecipientReport(address=address, original=None, action=action, status=status,
                                           diagnostic="bounce in a non-RFC 3464 format (read by flufl.bounce)"))
    return reports


def _what_else(message: Message) -> str:
    auto = (_header_text(message, "Auto-Submitted") or "").lower()
    try:
        subject = str(message.get("Subject", "") or "").lower()  # encoded words decoded
    except Exception:  # noqa: BLE001 - a malformed header is read as it came
        subject = (_header_text(message, "Subject") or "").lower()
    if auto.startswith("auto-replied") or _raw_headers(message, "X-Autoreply") \
            or _raw_headers(message, "X-Autorespond") \
            or any(word in subject for word in ("out of office", "out-of-office", "automatic reply", "autoreply")):
        return "an auto-reply"
    if message.get_content_type() == "multipart/report":
        return f"a {message.get_param('report-type') or 'other'} report, not a delivery status"
    return "no delivery status"


def _raw_headers(message: Message, name: str) -> list[str]:
    """Every ``name`` header as it came, unfolded: the standard parser of structured headers
    raises on some malformed values (``Message-ID: < <x@y>``), and a bounce may quote anything."""
    name = name.lower()
    return [" ".join(str(value).split()) for key, value in message.raw_items() if key.lower() == name]


def _header_text(block: Message, name: str) -> str | None:
    values = _raw_headers(block, name)
    return values[0] if values else None


def _status_blocks(part: Message) -> list[Message]:
    """The DSN's field groups: per-message first, then one per recipient."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and all(isinstance(p, Message) for p in payload):
        return payload
    if isinstance(payload, list):
        return []
    text = part.get_payload(decode=True) or b""
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    parser = HeaderParser(policy=policy.default)
    return [parser.parsestr(block.strip() + "\n") for block in re.split(r"\r?\n\s*\r?\n", text) if block.strip()]


def _typed_address(value: str | None) -> str | None:
    """``rfc822; a@example.com`` -> ``a@example.com`` (None if it holds no address)."""
    if not value:
        return None
    _, _, address = value.rpartition(";")
    address = address.strip().strip("<>").strip()
    return address if ADDRESS.fullmatch(address) else None


def _recipient(block: Message) -> RecipientReport | None:
    final = _typed_address(_header_text(block, "Final-Recipient"))
    original = _typed_address(_header_text(block, "Original-Recipient"))
    action = (_header_text(block, "Action") or "").split(" ")[0].lower()
    if final is None and original is None and not action:
        return None
    diagnostic = _header_text(block, "Diagnostic-Code")
    status = None
    for text in (_header_text(block, "Status"), diagnostic):
        match = STATUS.search(text or "")
        if match:
            status = ".".join(match.groups())
            break
    return RecipientReport(address=final or original, original=original, action=action, status=status,
                           diagnostic=diagnostic[:300] if diagnostic else None)


def _tags(message: Message, bounce_address: str | None, envelope_recipients: list[str]) -> list[str]:
    if not bounce_address:
        return []
    try:
        local, domain = split_bounce_address(bounce_address)
    except ValueError:
        return []
    pattern = re.compile(rf"^{re.escape(local)}\+([^@]+)@{re.escape(domain)}$", re.IGNORECASE)
    candidates = list(envelope_recipients)
    for name in DELIVERY_HEADERS:
        for value in _raw_headers(message, name):
            candidates += ADDRESS.findall(value)
    tags: list[str] = []
    for candidate in candidates:
        match = pattern.match(candidate.strip().strip("<>"))
        if match and match.group(1).lower() not in tags:
            tags.append(match.group(1).lower())
    return tags


def _original_ids(message: Message) -> list[str]:
    """``Message-ID``s of the original message quoted in the report."""
    ids: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        headers: Message | None = None
        if kind == "text/rfc822-headers":
            text = part.get_payload(decode=True) or b""
            text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            headers = HeaderParser(policy=policy.default).parsestr(text)
        elif kind == "message/rfc822":
            payload = part.get_payload()
            headers = payload[0] if isinstance(payload, list) and payload else None
        if headers is None:
            continue
        for value in _raw_headers(headers, "Message-ID"):
            match = re.search(r"<[^<>\s]+>", value)
            if match and match.group(0) not in ids:
                ids.append(match.group(0))
    return ids


def mask(address: str | None) -> str:
    """``alice@example.com`` -> ``a…@example.com``: enough to recognise, not to copy into a log."""
    if not address:
        return "(no address)"
    local, at, domain = address.rpartition("@")
    return f"{local[:1]}…@{domain}" if at else f"{address[:1]}…"


__all__ = ["ParsedBounce", "RecipientReport", "make_tag", "mask", "parse_bounce", "read_tag", "return_path"]
