"""The widget's writes: allowed origins, widget answers and their later edits, bot counts.

Each function stores everything it was asked to or raises and stores
nothing; the dashboard and ``flask survey origins`` share the origin ones.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from survey.db import db, insert_on_conflict
from survey.models import Response, Survey, SurveyOrigin, utcnow
from survey.operations import (  # noqa: F401  (EditWindowClosed, SubmissionConflict: the widget's errors too)
    Answer, EditWindowClosed, OperationError, RateLimited, Recorded, SubmissionConflict, insert_response,
    revise_response, stored_for_revision,
)
from survey.tokens import hash_token
from survey.prepared import together
from survey.ratelimit import RateLimit
from survey.requestinfo import origin_of
from survey.widget.models import BOT_REASONS, BotCatch
from survey.widget.payload import TOKEN_MISMATCH

CHANNEL = "widget"
ORIGIN_MAX_LENGTH = 255
_HOST_LABELS = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")


class EditRefused(OperationError):
    """An edit of a widget answer that is not allowed."""


class TokenMismatch(EditRefused):
    """The edit token is not the one this answer was given."""

    MESSAGE = TOKEN_MISMATCH


# --- Origins ---------------------------------------------------------------------------

def normalise_origin(text: str) -> str:
    """``HTTPS://Shop.Example.com:443/`` → ``https://shop.example.com``; OperationError if not an origin.

    An origin is exactly scheme://host[:port] (what browsers send in the
    Origin header): no path, query, user name or wildcard. Internationalised
    host names are stored in their ASCII (punycode) form, as browsers send them.
    """
    raw = (text or "").strip()
    if not raw:
        raise OperationError("an origin cannot be empty; write it like https://www.example.com")
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        raise OperationError(f"{raw!r} is not a valid origin: the port must be a number from 1 to 65535") from None
    if parts.scheme not in ("http", "https") or not raw.lower().startswith(parts.scheme + "://"):
        raise OperationError(f"{raw!r} is not an origin: it must start with https:// (or http://)")
    if parts.username is not None or parts.password is not None:
        raise OperationError(f"{raw!r} is not an origin: it must not contain a user name or password")
    if parts.path not in ("", "/") or parts.query or parts.fragment or raw.endswith(("?", "#")):
        raise OperationError(f"{raw!r} is not an origin: write only scheme://host[:port], without a path or query")
    host = parts.hostname or ""
    if "*" in host:
        raise OperationError(f"{raw!r}: wildcards are not supported; add each origin on its own")
    if parts.port == 0:
        raise OperationError(f"{raw!r} is not a valid origin: the port must be a number from 1 to 65535")
    ascii_host = _ascii_host(host, raw)
    netloc = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
    origin = origin_of(f"{parts.scheme}://{netloc}" + (f":{parts.port}" if parts.port else ""))
    if origin is None or len(origin) > ORIGIN_MAX_LENGTH:
        raise OperationError(f"{raw!r} is not a valid origin")
    return origin


def _ascii_host(host: str, raw: str) -> str:
    if not host:
        raise OperationError(f"{raw!r} is not an origin: it has no host name")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise OperationError(f"{raw!r} is not an origin: {host!r} is not a valid host name") from None
    if not _HOST_LABELS.match(ascii_host) or len(ascii_host) > 253:
        raise OperationError(f"{raw!r} is not an origin: {host!r} is not a valid host name")
    return ascii_host


def list_origins(survey: Survey) -> list[str]:
    return list(db.session.scalars(
        sa.select(SurveyOrigin.origin).where(SurveyOrigin.survey_id == survey.id).order_by(SurveyOrigin.origin)
    ))


def add_origins(survey: Survey, origins: list[str]) -> list[str]:
    """Allow these origins (normalised); return the ones that were not yet on the list.

    Every origin is checked before any is stored: one bad origin stores none.
    """
    wanted = list(dict.fromkeys(normalise_origin(text) for text in origins))
    existing = set(list_origins(survey))
    added = [origin for origin in wanted if origin not in existing]
    for origin in added:
        db.session.add(SurveyOrigin(survey_id=survey.id, origin=origin))
    try:
        db.session.commit()
    except IntegrityError:
        # Someone added one of them at the same moment; the list now holds them all.
        db.session.rollback()
        return add_origins(survey, origins)
    db.session.expire(survey, ["origins"])
    return added


def remove_origins(survey: Survey, origins: list[str]) -> list[str]:
    """Stop allowing these origins; OperationError (and nothing removed) if one is not on the list."""
    wanted = list(dict.fromkeys(normalise_origin(text) for text in origins))
    rows = {row.origin: row for row in db.session.scalars(
        sa.select(SurveyOrigin).where(SurveyOrigin.survey_id == survey.id, SurveyOrigin.origin.in_(wanted))
    )}
    missing = [origin for origin in wanted if origin not in rows]
    if missing:
        raise OperationError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not on the "
                             f"list of {survey.public_key}; nothing was removed")
    for row in rows.values():
        db.session.delete(row)
    db.session.commit()
    db.session.expire(survey, ["origins"])
    return wanted


# --- Answers ---------------------------------------------------------------------------

def new_edit_token() -> str:
    return secrets.token_urlsafe(32)


def record_widget_answer(survey: Survey, answer: Answer, limit: RateLimit | None = None) -> tuple[Recorded, str]:
    """Store a widget answer; return what was stored and the edit token.

    The edit token lets the same visitor add the comment later (PATCH); only
    its hash is stored. A retried request (same ``submission_key``) revises
    the first answer and gets a fresh token, as the first reply never arrived.

    ``limit`` (the request's client's rate limit) is counted together with
    the answer (``survey.prepared.together``: on SQLite one commit, one turn
    at the writer's lock). If the limit refuses it, only the count is stored
    and RateLimited is raised.
    """
    token = new_edit_token()
    answer.channel = CHANNEL
    answer.edit_token = token
    with together() as writes:
        counted = limit.hit(together=writes) if limit is not None else None
        if counted is None or counted.allowed:
            recorded = insert_response(survey, answer, together=writes)
    if counted is not None and not counted.allowed:
        raise RateLimited(counted)
    if recorded is not None:
        return recorded, token
    existing = stored_for_revision(survey, answer)
    existing.edit_token_hash = hash_token(token)
    revise_response(existing, answer.score, answer.comment)
    return Recorded(existing.id, existing.created_at, False, existing.public_id), token


def token_matches(response: Response, token: str) -> bool:
    """Constant-time check of an edit token against the stored hash."""
    if not response.edit_token_hash or not token:
        return False
    return hmac.compare_digest(response.edit_token_hash, hash_token(token))


def update_widget_answer(response: Response, token: str, score: int | None, comment: str | None) -> Response:
    """A later step of a widget answer (usually the comment); TokenMismatch or EditWindowClosed
    unless the token and time allow it."""
    if response.channel != CHANNEL or not token_matches(response, token):
        raise TokenMismatch(TokenMismatch.MESSAGE)
    return revise_response(response, score, comment)


# --- Bot traps -------------------------------------------------------------------------
# A trapped answer is not stored, yet its sender gets an id and an edit token like a real
# answer's, and a PATCH is answered as for a real answer (403 for a wrong token). Both come from
# the secret key, so nothing about the trap is kept: the id is 11 random bytes, a 4-byte tag that
# marks it as a trap's and the score masked by an HMAC (so a PATCH can echo it), 16 bytes like a
# real id; the token is an HMAC of the id. Without the key the two kinds of id look the same.

_NO_SCORE = 255


@dataclass(frozen=True)
class TrappedAnswer:
    edit_token_ok: bool
    score: int | None


def _trap_mac(secret: bytes, label: str, value: bytes) -> bytes:
    return hmac.new(secret, label.encode() + b":" + value, "sha256").digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def trapped_answer(secret: bytes, score: int | None) -> tuple[str, str]:
    """The (public id, edit token) a trapped answer's sender is given."""
    nonce = secrets.token_bytes(11)
    mask = _trap_mac(secret, "trap-score", nonce)[0]
    raw = nonce + _trap_mac(secret, "trap-id", nonce)[:4] + bytes([(_NO_SCORE if score is None else score) ^ mask])
    public_id = _b64(raw)
    return public_id, _b64(_trap_mac(secret, "trap-token", public_id.encode()))


def find_trapped(secret: bytes, public_id: str, token: str) -> TrappedAnswer | None:
    """What ``trapped_answer`` handed out under ``public_id`` (and whether ``token`` is its token), or None."""
    try:
        raw = base64.urlsafe_b64decode(public_id + "==")
    except ValueError:
        return None
    if len(raw) != 16 or _b64(raw) != public_id:
        return None
    nonce, tag = raw[:11], raw[11:15]
    if not hmac.compare_digest(tag, _trap_mac(secret, "trap-id", nonce)[:4]):
        return None
    expected = _b64(_trap_mac(secret, "trap-token", public_id.encode()))
    score = raw[15] ^ _trap_mac(secret, "trap-score", nonce)[0]
    return TrappedAnswer(hmac.compare_digest(expected.encode(), token.encode("utf-8", "replace")),
                         None if score == _NO_SCORE else score)


def count_bot(survey: Survey, reason: str, day: dt.date | None = None) -> None:
    """Add one to today's count of submissions caught by ``reason`` (one atomic statement)."""
    if reason not in BOT_REASONS:
        raise OperationError(f"unknown bot trap {reason!r}")
    day = day or utcnow().date()
    insert = insert_on_conflict(db.engine.dialect.name)
    db.session.execute(
        insert(BotCatch)
        .values(survey_id=survey.id, day=day, reason=reason, count=1)
        .on_conflict_do_update(index_elements=["survey_id", "day", "reason"], set_={"count": BotCatch.count + 1})
    )
    db.session.commit()


def bot_catch_totals(survey: Survey, since: dt.date | None = None) -> dict[str, int]:
    """How many submissions each trap caught for this survey (since ``since``, if given)."""
    query = sa.select(BotCatch.reason, sa.func.sum(BotCatch.count)).where(BotCatch.survey_id == survey.id)
    if since is not None:
        query = query.where(BotCatch.day >= since)
    totals = dict.fromkeys(BOT_REASONS, 0)
    totals.update({reason: int(total) for reason, total in db.session.execute(query.group_by(BotCatch.reason))})
    return totals
