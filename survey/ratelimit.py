"""A rate limiter every web process and host shares, kept in the database.

Fixed-window counters: one row per (key, window), bumped with a single
``INSERT … ON CONFLICT DO UPDATE … RETURNING count`` that SQLite (3.35+) and
PostgreSQL both run atomically, so several processes never lose a hit.
A client can get up to twice the limit across a window boundary; that is
the price of one cheap statement per request.

Use it from any feature (the widget API, login throttling)::

    allowed, retry_after = hit(f"login:{client_key()}", limit=30, window_seconds=900)
    if not allowed:
        return error_response(429, "...", headers={"Retry-After": str(retry_after)})

Limits written in configuration as text (``"30/minute"``) go through ``parse_rate``.

``hit`` runs in its own one-statement transaction on its own connection, so it
never commits (or rolls back) the caller's session; call it before the
request writes anything (on SQLite a pending write would make it wait).
Or count together with the request's own write (``survey.prepared.together()``):
on SQLite, one commit for both.
Expired windows are deleted now and then by the requests themselves.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import random
import re
import time
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from flask import request
from sqlalchemy.orm import Mapped, mapped_column

from survey.db import db, insert_on_conflict
from survey.prepared import PreparedWrite, Writes

# Roughly one request in this many also deletes expired windows.
CLEANUP_ONE_IN = 50
KEY_MAX_LENGTH = 200

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)


class RateLimitCounter(db.Model):
    """Hits on one key within one window; gone soon after the window ends."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(sa.String(KEY_MAX_LENGTH), primary_key=True)
    # Start and end of the window, in whole seconds since the Unix epoch (UTC).
    window_start: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    expires_at: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    count: Mapped[int]

    __table_args__ = (sa.CheckConstraint("count > 0", name="count_positive"),)


@dataclass(frozen=True)
class Rate:
    """``limit`` hits per ``window_seconds``."""

    limit: int
    window_seconds: int

    def __str__(self) -> str:
        return f"{self.limit} per {self.window_seconds} s"


class RateResult(NamedTuple):
    allowed: bool
    retry_after: int  # seconds until the window ends (0 when allowed)


class RateError(ValueError):
    pass


@functools.lru_cache(maxsize=64)  # read from the configuration on every request
def parse_rate(text: str | None) -> Rate | None:
    """``"30/minute"``, ``"100 per hour"``, ``"5/10 seconds"`` → Rate; None or ``""`` → no limit."""
    if text is None or not str(text).strip():
        return None
    match = _RATE.match(str(text))
    if not match:
        raise RateError(f"rate limit {text!r} is not like '30/minute', '100 per hour' or '5/10 seconds'")
    limit, multiple, unit = int(match[1]), int(match[2] or 1), match[3].lower()
    if limit < 1 or multiple < 1:
        raise RateError(f"rate limit {text!r} must allow at least 1 request in at least 1 {unit}")
    return Rate(limit, multiple * UNITS[unit])


def client_key(remote_addr: str | None = None) -> str:
    """The client's address as a rate-limit key; IPv6 clients are grouped by their /64.

    ``request.remote_addr`` is the peer's address: behind a reverse proxy,
    wrap the app in werkzeug's ProxyFix so it is the visitor's, not the proxy's.
    """
    address = remote_addr if remote_addr is not None else (request.remote_addr or "")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def hit(key: str, limit: int, window_seconds: int, now: float | None = None,
        together: Writes | None = None) -> RateResult:
    """Count one request against ``key``; allowed while it is within ``limit`` per window.

    Refused requests count too, so a client that keeps hammering stays refused
    until the window ends. The count commits at once, in a transaction of its own
    (``survey.prepared``), never with the caller's session; with ``together``
    it is one of that group of writes instead.
    """
    if limit < 1 or window_seconds < 1:
        raise RateError(f"a rate limit needs at least 1 request per at least 1 second, not {limit}/{window_seconds} s")
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    window_end = window_start + window_seconds
    values = {"key": _stored_key(key), "window_start": window_start, "expires_at": window_end}
    if together is None:
        (count,) = _bump.run(values)
    else:
        (count,) = together.run(_bump, values)
    if random.randrange(CLEANUP_ONE_IN) == 0:
        if together is None:
            delete_expired(now)
        else:  # after the commit: another writer to the same SQLite file would wait for this one
            together.after_commit(lambda: delete_expired(now))
    if count <= limit:
        return RateResult(True, 0)
    return RateResult(False, max(1, math.ceil(window_end - now)))


def _bump_statement(dialect: str) -> sa.Insert:
    table = RateLimitCounter.__table__
    return (insert_on_conflict(dialect)(table)
            .values(count=1)
            .on_conflict_do_update(index_elements=[table.c.key, table.c.window_start],
                                   set_={"count": table.c.count + 1})
            .returning(table.c.count))


# Not durable: after a power cut, a few lost counts only let a client a few more requests.
_bump = PreparedWrite(_bump_statement, ("key", "window_start", "expires_at"), durable=False)


def hit_rate(key: str, rate: Rate | None, now: float | None = None,
             together: Writes | None = None) -> RateResult:
    """``hit`` with a parsed ``Rate``; None (no limit configured) always allows and stores nothing."""
    if rate is None:
        return RateResult(True, 0)
    return hit(key, rate.limit, rate.window_seconds, now, together)


@dataclass(frozen=True)
class RateLimit:
    """What one request counts against: hits on ``key`` at ``rate`` (None: no limit)."""

    key: str
    rate: Rate | None

    def hit(self, together: Writes | None = None, now: float | None = None) -> RateResult:
        return hit_rate(self.key, self.rate, now, together)


def peek(key: str, window_seconds: int, now: float | None = None) -> int:
    """How many hits ``key`` has in the current window, without counting one."""
    now = time.time() if now is None else now
    window_start = int(now // window_seconds) * window_seconds
    with db.engine.connect() as conn:
        return conn.scalar(sa.select(RateLimitCounter.count).where(
            RateLimitCounter.key == _stored_key(key), RateLimitCounter.window_start == window_start)) or 0


def _stored_key(key: str) -> str:
    if len(key) > KEY_MAX_LENGTH:
        return key[:KEY_MAX_LENGTH - 65] + "#" + hashlib.sha256(key.encode()).hexdigest()
    return key


def forget(key_prefix: str) -> int:
    """Delete the counters of every key starting with ``key_prefix`` (lifting those limits); return how many."""
    escaped = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with db.engine.begin() as conn:
        return conn.execute(sa.delete(RateLimitCounter).where(
            RateLimitCounter.key.like(escaped + "%", escape="\\"))).rowcount


def delete_expired(now: float | None = None) -> int:
    """Delete every counter whose window has ended; return how many."""
    now = time.time() if now is None else now
    with db.engine.begin() as conn:
        return conn.execute(sa.delete(RateLimitCounter).where(RateLimitCounter.expires_at <= int(now))).rowcount
