"""Messages per minute to one receiving domain (``MAIL_DOMAIN_RATE_PER_MINUTE``, ``MAIL_DOMAIN_RATES``).

Big receivers throttle a sender that bursts. The worker asks, for the batch
it is about to mark ``sending``, which messages fit in each domain's last
minute; the others go back to the queue, untried, until the window has room.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from survey.db import db
from survey.invites.models import OutboxMessage

# pg_advisory_xact_lock key that serialises the per-domain rate check between workers.
DOMAIN_RATE_LOCK = 0x5241_5054  # "RAPT"


def domain_limit(domain: str | None, config) -> int | None:
    """Messages per minute allowed to ``domain`` (None: no limit)."""
    limits = config.get("MAIL_DOMAIN_RATES") or {}
    limit = limits.get(domain or "", config.get("MAIL_DOMAIN_RATE_PER_MINUTE"))
    return int(limit) if limit else None


def within_domain_rates(pending: list, now: dt.datetime, config, claim: str) -> tuple[list, int]:
    """The messages (with ``id`` and ``domain``) that keep each receiving domain within its messages
    per minute, and how many others were put back to wait (the caller commits).

    Counts what was handed to the server in the last minute by every worker
    (``attempted_at``), inside the transaction that marks the batch sending:
    SQLite's write lock, or PostgreSQL's advisory lock, makes workers take
    their turns, so together they stay within the limit.
    """
    limits = {m.domain: domain_limit(m.domain, config) for m in pending}
    limited = sorted(d for d, limit in limits.items() if limit and d)
    if not limited:
        return pending, 0
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(DOMAIN_RATE_LOCK)))
    window = now - dt.timedelta(minutes=1)
    recent = {domain: (count, oldest) for domain, count, oldest in db.session.execute(
        sa.select(OutboxMessage.domain, sa.func.count(), sa.func.min(OutboxMessage.attempted_at))
        .where(OutboxMessage.domain.in_(limited), OutboxMessage.attempted_at > window)
        .group_by(OutboxMessage.domain))}
    used = {domain: recent.get(domain, (0, None))[0] for domain in limited}
    allowed: list = []
    waiting: dict[str, list[int]] = {}
    for message in pending:
        limit = limits[message.domain] if message.domain else None
        if limit is None or used[message.domain] < limit:
            allowed.append(message)
            if limit is not None:
                used[message.domain] += 1
        else:
            waiting.setdefault(message.domain, []).append(message.id)
    for domain, ids in waiting.items():
        # A place frees up when the oldest message of the last minute leaves the window.
        oldest = recent.get(domain, (0, None))[1] or now
        db.session.execute(
            sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.claim_token == claim)
            .values(claim_token=None, lease_until=None, next_attempt_at=max(oldest + dt.timedelta(minutes=1), now)),
            execution_options={"synchronize_session": False})
    return allowed, sum(len(ids) for ids in waiting.values())
