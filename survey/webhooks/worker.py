"""The webhook worker: scans for new events, claims due deliveries and POSTs them, at least once.

It runs inside the e-mail worker (``flask invite deliver --loop``, the
``rapport-worker`` service) and on its own as ``flask webhook deliver [--loop]``.
Any number of workers may share one database.

Claiming works as for e-mail (survey.invites.delivery): one statement sets a
random claim token and a lease on a batch of due deliveries (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; SQLite runs one writer at a time), and each result is
recorded only under that token. A delivery stays ``queued`` while it is sent,
so a worker that dies between its claim and its result (or mid-request)
leaves it to be claimed again once the lease has run out: delivery is at least
once, with the same ``Rapport-Event-Id`` on every try for receivers to
de-duplicate on. Each result commits on its own, so a crash repeats at most the
request in flight and the unsent rest of its batch.

A 2xx reply is delivered. Anything else (another status, a redirect, no reply
within ``WEBHOOK_TIMEOUT_SECONDS``, an address that became private) is retried
after ``WEBHOOK_RETRY_BASE_SECONDS * 2**(n-1)`` (capped at
``WEBHOOK_RETRY_MAX_SECONDS``) until ``WEBHOOK_MAX_ATTEMPTS`` tries or
``WEBHOOK_GIVE_UP_SECONDS`` after the event, then marked failed. A test event
gets one try. A body is erased once delivered (a failed one is kept so an admin
can send it again); of a reply only its status and first bytes are kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from flask import current_app

from survey.db import db
from survey.models import utcnow
from survey.retries import backoff_seconds
from survey.webhooks.events import EVENT_ID_HEADER, SIGNATURE_HEADER, scan_all, signature_header
from survey.webhooks.models import WebhookDelivery, WebhookEndpoint
from survey.webhooks.targets import Reply, post

log = logging.getLogger(__name__)


@dataclass
class WebhookReport:
    queued: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.queued + self.delivered + self.retried + self.failed



def _due(now: dt.datetime):
    enabled = sa.select(WebhookEndpoint.id).where(WebhookEndpoint.enabled)
    return sa.and_(WebhookDelivery.state == "queued", WebhookDelivery.next_attempt_at <= now,
                   sa.or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
                   WebhookDelivery.endpoint_id.in_(enabled))


def claim(limit: int, now: dt.datetime | None = None, only_id: int | None = None) -> tuple[str, list[int]]:
    """Claim up to ``limit`` due deliveries (or just ``only_id``); return the claim token and their ids."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    config = current_app.config
    # Long enough for every request of the batch to use its whole timeout.
    lease = dt.timedelta(seconds=limit * float(config["WEBHOOK_TIMEOUT_SECONDS"]) + 60)
    due = _due(now)
    if only_id is not None:
        due = sa.and_(due, WebhookDelivery.id == only_id)
    candidates = (sa.select(WebhookDelivery.id).where(due)
                  .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                  .limit(limit).with_for_update(skip_locked=True))
    db.session.commit()
    if db.session.get_bind().dialect.name == "sqlite":
        chosen = candidates.scalar_subquery()  # one statement: SQLite's single writer makes it atomic
    else:
        # Locked in a statement of their own (see survey.invites.delivery.claim_batch for why).
        chosen = list(db.session.scalars(candidates))
    ids = list(db.session.scalars(
        sa.update(WebhookDelivery).where(WebhookDelivery.id.in_(chosen), due)
        .values(claim_token=token, lease_until=now + lease).returning(WebhookDelivery.id),
        execution_options={"synchronize_session": False}))
    db.session.commit()
    return token, sorted(ids)


@dataclass
class _Claimed:
    id: int
    event_id: str
    event_type: str
    body: bytes
    attempts: int
    created_at: dt.datetime
    url: str
    signing_secrets: list[str]


def _load(token: str, ids: list[int], now: dt.datetime) -> list[_Claimed]:
    rows = db.session.execute(
        sa.select(WebhookDelivery, WebhookEndpoint).join(WebhookEndpoint)
        .where(WebhookDelivery.id.in_(ids), WebhookDelivery.claim_token == token)
        .order_by(WebhookDelivery.id)).all()
    claimed = []
    for delivery, endpoint in rows:
        signing = [endpoint.secret]
        if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > now:
            signing.append(endpoint.previous_secret)
        claimed.append(_Claimed(delivery.id, delivery.event_id, delivery.event_type, (delivery.body or "").encode(),
                                delivery.attempts, delivery.created_at, endpoint.url, signing))
    db.session.commit()
    return claimed


def send_one(item: _Claimed) -> Reply:
    """One signed POST of a claimed delivery (no database work)."""
    config = current_app.config
    attempt = item.attempts + 1
    headers = {SIGNATURE_HEADER: signature_header(item.signing_secrets, int(time.time()), item.body),
               EVENT_ID_HEADER: item.event_id, "Rapport-Event-Type": item.event_type,
               "Rapport-Delivery-Attempt": str(attempt)}
    return post(item.url, item.body, headers, timeout=float(config["WEBHOOK_TIMEOUT_SECONDS"]),
                allow_local=bool(config["WEBHOOK_ALLOW_LOCAL_TARGETS"]))


def record(item: _Claimed, token: str, reply: Reply, report: WebhookReport) -> str:
    """Store a try's result under the claim (one commit); return the delivery's new state."""
    config = current_app.config
    now = utcnow()
    attempts = item.attempts + 1
    mine = sa.and_(WebhookDelivery.id == item.id, WebhookDelivery.claim_token == token,
                   WebhookDelivery.state == "queued")
    common = dict(attempts=attempts, last_attempt_at=now, last_status=reply.status, duration_ms=reply.duration_ms,
                  reply_excerpt=reply.excerpt[:300] or None, claim_token=None, lease_until=None)
    if reply.delivered:
        state = "delivered"
        values = dict(common, state=state, delivered_at=now, body=None, last_error=None)
    elif (item.event_type == "ping" or attempts >= config["WEBHOOK_MAX_ATTEMPTS"]
          or now - item.created_at >= dt.timedelta(seconds=config["WEBHOOK_GIVE_UP_SECONDS"])):
        state = "failed"
        # The body stays (for "Send again" on the endpoint's page) until the endpoint is deleted.
        values = dict(common, state=state, last_error=reply.error[:500])
    else:
        state = "queued"
        values = dict(common, last_error=reply.error[:500],
                      next_attempt_at=now + dt.timedelta(seconds=backoff_seconds(attempts, config, "WEBHOOK")))
    done = db.session.execute(sa.update(WebhookDelivery).where(mine).values(**values),
                              execution_options={"synchronize_session": False}).rowcount
    db.session.commit()
    if not done:  # the lease ran out and another worker took it over: its result stands
        log.warning("webhook delivery %s was taken over by another worker; result not recorded", item.id)
        return "lost"
    if state == "delivered":
        report.delivered += 1
    else:
        report.failed += state == "failed"
        report.retried += state == "queued"
        report.errors.append(f"delivery {item.id}: {reply.error}")
        log.info("webhook delivery %s try %s: %s", item.id, attempts, reply.error)
    return state


def deliver_claimed(token: str, ids: list[int], report: WebhookReport,
                    should_stop: Callable[[], bool] = lambda: False) -> None:
    now = utcnow()
    for item in _load(token, ids, now):
        if should_stop():
            # Told to stop: hand the unsent rest back at once rather than when the lease runs out.
            db.session.execute(
                sa.update(WebhookDelivery).where(WebhookDelivery.claim_token == token,
                                                 WebhookDelivery.state == "queued")
                .values(claim_token=None, lease_until=None), execution_options={"synchronize_session": False})
            db.session.commit()
            break
        record(item, token, send_one(item), report)


def deliver_due(*, should_stop: Callable[[], bool] = lambda: False, max_batches: int | None = None,
                scan: bool = True) -> WebhookReport:
    """Queue new events, then send what is due, batch after batch, until none is left (or told to stop)."""
    report = WebhookReport()
    try:
        if scan:
            report.queued = scan_all()
        batches = 0
        while not should_stop() and (max_batches is None or batches < max_batches):
            token, ids = claim(int(current_app.config["WEBHOOK_BATCH_SIZE"]))
            if not ids:
                break
            batches += 1
            deliver_claimed(token, ids, report, should_stop)
    finally:
        db.session.rollback()
    return report


def deliver_forever(*, interval: float, should_stop: Callable[[], bool],
                    on_report: Callable[[WebhookReport], None] = lambda report: None) -> None:
    """``flask webhook deliver --loop``: scan and send, sleep ``interval`` seconds, repeat until stopped."""
    while not should_stop():
        try:
            report = deliver_due(should_stop=should_stop)
        except sa.exc.OperationalError as exc:
            log.warning("webhook worker: database unavailable, retrying in %s s: %s", interval, exc)
            db.session.rollback()
        else:
            if report.handled:
                on_report(report)
        db.session.remove()
        deadline = time.monotonic() + interval
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(min(0.2, interval))


def run_alongside_mail(should_stop: Callable[[], bool]) -> None:
    """One bounded webhook pass inside the e-mail worker's loop; a failure here never stops the mail."""
    try:
        report = deliver_due(should_stop=should_stop, max_batches=5)
    except sa.exc.OperationalError as exc:
        log.warning("webhook pass skipped, database unavailable: %s", exc)
        db.session.rollback()
    else:
        if report.handled:
            log.info("webhooks: queued %s, delivered %s, retry %s, failed %s", report.queued, report.delivered,
                     report.retried, report.failed)
