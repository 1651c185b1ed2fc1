"""The delivery worker: claims queued outbox messages and sends them, a batch at a time, exactly once.

Run it with ``flask invite deliver`` (one pass) or ``--loop`` (a service); any
number of workers on any number of hosts may share one database.

Why one module over 400 lines: the exactly-once guarantee below is a protocol
of claim, hand-over and result commits; it is read and checked as one piece.

Claiming. A worker takes a batch in one statement: ``UPDATE … SET
claim_token=<its own random token>, lease_until=now+MAIL_CLAIM_SECONDS WHERE
id IN (SELECT … due … LIMIT n FOR UPDATE SKIP LOCKED)``. PostgreSQL's row locks
make concurrent workers skip each other's rows; SQLite runs one writer at a
time, so the statement is atomic there as it stands. Every later change to a
message is conditional on the worker's claim token, so a worker whose lease
ran out (another took the batch over) can no longer touch it.

States and the guarantee. A batch costs three commits, whatever its size:

1. the claim;
2. ``queued → sending`` for the whole batch (conditional on the claim; the
   rows another worker took over are left to it), after the per-domain rate
   limit (``MAIL_DOMAIN_RATES``) has put back what would exceed it;
3. after the batch went out over one SMTP connection (MAIL, RCPT and DATA
   pipelined when the server offers PIPELINING): ``sent`` for the accepted
   ones (their bodies erased), the refused ones retried or failed, and those
   not tried because the connection was lost put back as ``queued``.

* Crash before commit 2: nothing was handed over; the batch is still
  ``queued`` under a dead claim and goes out once the lease runs out.
* Crash or lost database between commits 2 and 3: the server may have any
  of the batch's messages. They are ``sending`` under a lease the worker
  keeps renewing while it works; once it ran out they become ``uncertain``
  and are never resent automatically: ``flask invite outbox`` lists them and
  ``flask invite resolve`` lets an operator mark them sent or send them
  again. So after a crash at most one batch (``MAIL_BATCH_SIZE`` messages)
  per worker is of unknown fate, and none is ever delivered twice. The
  ``.eml`` transport needs no operator: its rename is the final step, so the
  file's existence answers the question and the worker settles it alone.
* No reply after the final ``.`` of one message (the connection broke): that
  message alone becomes ``uncertain``; the rest of the batch is retried.
* A definite refusal (4xx/5xx reply) is recorded with the server's text:
  temporary ones are retried after ``MAIL_RETRY_BASE_SECONDS * 2**(n-1)``
  (capped at ``MAIL_RETRY_MAX_SECONDS``) until ``MAIL_MAX_ATTEMPTS``, then
  ``failed``; permanent ones fail at once, and a 5xx refusal of the recipient
  marks the contact bounced so later campaigns skip it. Bounces that come
  back later, as delivery status notifications, are read by ``flask invite
  bounces`` (``survey.invites.bounces``); with ``MAIL_BOUNCE_ADDRESS`` set
  each message leaves with its own signed return path so they can be traced.
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

from survey.db import chunks, db
from survey.invites.bounces import return_path
from survey.invites.domain_rates import within_domain_rates
from survey.invites.mailer import DeliveryError, DeliveryUncertain, transport_for
from survey.invites.models import Invitation, OutboxMessage, recipient_domain
from survey.models import Contact, utcnow
from survey.retries import backoff_seconds

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0
    lost_claims: int = 0
    recovered: int = 0
    deferred: int = 0  # held back by a domain's rate limit, not tried
    errors: list[str] = field(default_factory=list)

    def add(self, other: "DeliveryReport") -> None:
        for name in ("sent", "retried", "failed", "uncertain", "lost_claims", "recovered", "deferred"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.uncertain + self.lost_claims + self.deferred



def claim_batch(limit: int, now: dt.datetime | None = None) -> tuple[str, list[OutboxMessage]]:
    """Claim up to ``limit`` due messages for this worker; return the claim token and them."""
    now = now or utcnow()
    claim = secrets.token_hex(16)
    lease = dt.timedelta(seconds=current_app.config["MAIL_CLAIM_SECONDS"])
    due = sa.and_(
        OutboxMessage.state == "queued",
        OutboxMessage.next_attempt_at <= now,
        sa.or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
    )
    candidates = (
        sa.select(OutboxMessage.id).where(due)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    db.session.commit()  # start from a fresh transaction: SQLite takes the write lock at the UPDATE
    if db.session.get_bind().dialect.name == "sqlite":
        # One statement: SQLite runs one writer at a time, so nobody can claim in between.
        chosen = candidates.scalar_subquery()
    else:
        # Lock the rows first, in their own statement: inside an UPDATE's IN (…) PostgreSQL may
        # re-run a LIMIT … SKIP LOCKED subquery, which then skips the rows it just updated.
        chosen = list(db.session.scalars(candidates))
    db.session.execute(
        sa.update(OutboxMessage).where(OutboxMessage.id.in_(chosen), due)
        .values(claim_token=claim, lease_until=now + lease),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    messages = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.claim_token == claim, OutboxMessage.state == "queued")
        .order_by(OutboxMessage.id)
    ).all()
    return claim, list(messages)


def recover_abandoned(transport, now: dt.datetime | None = None) -> int:
    """Settle messages left in ``sending`` by a worker whose lease ran out; return how many."""
    now = now or utcnow()
    stale = db.session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.message_id)
        .where(OutboxMessage.state == "sending", OutboxMessage.lease_until < now)
    ).all()
    verdicts: dict[bool | None, list[int]] = {True: [], False: [], None: []}
    for row in stale:
        verdicts[transport.was_delivered(row.message_id)].append(row.id)
    for ids in chunks(verdicts[True]):
        _mark_sent(ids, now, condition=OutboxMessage.state == "sending")
    if stale:
        log.warning("outbox: settled %s message(s) a stopped worker left: %s delivered, %s to send again, "
                    "%s uncertain", len(stale), len(verdicts[True]), len(verdicts[False]), len(verdicts[None]))
    for ids in chunks(verdicts[False]):
        db.session.execute(
            sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.state == "sending")
            .values(state="queued", claim_token=None, lease_until=None,
                    last_error="a worker stopped before handing this message over; it will be sent again"),
            execution_options={"synchronize_session": False})
    for ids in chunks(verdicts[None]):
        db.session.execute(
            sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.state == "sending")
            .values(state="uncertain", last_error=(
                "a worker stopped while this message's batch was being handed to the server: it may or may "
                "not have been delivered. Check the mail server's log for its Message-ID, then run "
                "`flask invite resolve --sent` or `--resend`.")),
            execution_options={"synchronize_session": False})
    db.session.commit()
    return len(stale)


@dataclass
class _Pending:
    """What the worker needs of one claimed message, read before the first commit expires the objects."""

    id: int
    envelope_from: str
    recipient: str
    raw: bytes
    domain: str | None
    attempts: int


def deliver_batch(transport, claim: str, messages: list[OutboxMessage]) -> DeliveryReport:
    """Send a claimed batch over one connection: mark it sending, send it, record the results (3 commits)."""
    config = current_app.config
    report = DeliveryReport()
    # With MAIL_BOUNCE_ADDRESS each message gets its own signed return path (survey.invites.bounces).
    pending = [_Pending(m.id, return_path(config, m.id, m.envelope_from), m.recipient, m.raw,
                        m.domain or recipient_domain(m.recipient), m.attempts) for m in messages]
    started = _start_sending(claim, pending, report)
    hold = _hold_seconds(config)
    renewed = time.monotonic()
    sent: list[tuple[int, str]] = []
    failed: list[tuple[_Pending, DeliveryError]] = []
    uncertain: list[tuple[int, str]] = []
    untried: list[int] = []
    connection_error: DeliveryError | None = None
    for message in started:
        if connection_error is not None:
            # The server is unreachable: leave the rest for the next try, not counted against them.
            untried.append(message.id)
            continue
        if time.monotonic() - renewed > hold / 3:  # a slow server: keep the batch ours
            _renew_lease(claim, hold)
            renewed = time.monotonic()
        try:
            sent.append((message.id, transport.send(message.envelope_from, message.recipient, message.raw)))
        except DeliveryUncertain as exc:
            uncertain.append((message.id, str(exc)))
            report.errors.append(f"message {message.id}: {exc}")
        except DeliveryError as exc:
            failed.append((message, exc))
            report.errors.append(f"message {message.id} to {message.recipient}: {exc.reply}")
            if exc.connection_lost:
                try:  # one reconnection per failure: a restarted server picks up straight away
                    transport.close()
                except Exception:  # noqa: BLE001 - the connection is gone either way
                    pass
                connection_error = _unreachable(transport)
    now = utcnow()
    mine = sa.and_(OutboxMessage.claim_token == claim, OutboxMessage.state == "sending")
    for part in chunks(sent):
        _mark_sent([message_id for message_id, _ in part], now, condition=mine)
    report.sent = len(sent)
    for message, error in failed:
        final = _record_failure(message, claim, error, now)
        report.failed += final
        report.retried += not final
    for message_id, reason in uncertain:
        db.session.execute(
            sa.update(OutboxMessage).where(OutboxMessage.id == message_id, mine)
            .values(state="uncertain", last_error=(
                f"{reason}. It may or may not have been delivered: check the mail server's log, then run "
                "`flask invite resolve --sent` or `--resend`.")[:1000]),
            execution_options={"synchronize_session": False})
    report.uncertain = len(uncertain)
    if untried:
        retry_at = now + dt.timedelta(seconds=backoff_seconds(1, config, "MAIL"))
        for part in chunks(untried):
            db.session.execute(
                sa.update(OutboxMessage).where(OutboxMessage.id.in_(part), mine)
                .values(state="queued", claim_token=None, lease_until=None, next_attempt_at=retry_at,
                        last_error=f"not tried: {connection_error.reply}"[:1000]),
                execution_options={"synchronize_session": False})
        report.retried += len(untried)
    db.session.commit()
    log.info("outbox batch %s: sent %s, retry %s, failed %s, uncertain %s", claim[:8], report.sent,
             report.retried, report.failed, report.uncertain)
    return report


def _hold_seconds(config) -> float:
    """How long a ``sending`` mark holds without renewal: a reply's wait plus the claim's lease."""
    return float(config.get("MAIL_TIMEOUT") or 30) + float(config["MAIL_CLAIM_SECONDS"])


def _renew_lease(claim: str, hold: float) -> None:
    db.session.execute(
        sa.update(OutboxMessage).where(OutboxMessage.claim_token == claim, OutboxMessage.state == "sending")
        .values(lease_until=utcnow() + dt.timedelta(seconds=hold)),
        execution_options={"synchronize_session": False})
    db.session.commit()


def _start_sending(claim: str, pending: list[_Pending], report: DeliveryReport) -> list[_Pending]:
    """Commit 2: the batch becomes ``sending`` (what the rate limit allows); return what is ours to send."""
    config = current_app.config
    now = utcnow()
    ids = [m.id for m in pending]
    # A write first: on SQLite it takes the write lock, so no other worker counts the same minute.
    db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.claim_token == claim)
                       .values(lease_until=OutboxMessage.lease_until),
                       execution_options={"synchronize_session": False})
    allowed, waiting = within_domain_rates(pending, now, config, claim)
    report.deferred += waiting
    started = set(db.session.scalars(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_([m.id for m in allowed]), OutboxMessage.claim_token == claim,
               OutboxMessage.state == "queued")
        .values(state="sending", attempted_at=now,
                lease_until=now + dt.timedelta(seconds=_hold_seconds(config)))
        .returning(OutboxMessage.id),
        execution_options={"synchronize_session": False},
    ))
    db.session.commit()
    report.lost_claims += len(allowed) - len(started)
    if len(allowed) > len(started):
        log.warning("outbox: %s message(s) were taken over by another worker; left to it",
                    len(allowed) - len(started))
    return [m for m in allowed if m.id in started]


def _unreachable(transport) -> DeliveryError | None:
    """Why the server cannot be reached now, or None if a new connection works."""
    try:
        transport.open()
    except DeliveryError as exc:
        return exc
    return None


def _mark_sent(ids: list[int], now: dt.datetime, condition=sa.true()) -> None:
    """The server took them: mark them sent (erasing the bodies) and their invitations sent. Caller commits."""
    done = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.state.in_(("sending", "uncertain")), condition)
        .values(state="sent", sent_at=now, raw=None, attempts=OutboxMessage.attempts + 1, last_error=None,
                lease_until=None)
        .returning(OutboxMessage.invitation_id, OutboxMessage.kind),
        execution_options={"synchronize_session": False},
    ).all()
    state = {"state": sa.case((Invitation.state == "queued", "sent"), else_=Invitation.state)}
    for kind, values in (("invitation", {**state, "sent_at": sa.func.coalesce(Invitation.sent_at, now)}),
                         ("reminder", state)):
        invitation_ids = [row.invitation_id for row in done if row.kind == kind and row.invitation_id is not None]
        if invitation_ids:
            db.session.execute(sa.update(Invitation).where(Invitation.id.in_(invitation_ids)).values(**values),
                               execution_options={"synchronize_session": False})


def _record_failure(message: _Pending, claim: str, error: DeliveryError, now: dt.datetime) -> bool:
    """Record a refused try (the caller commits); return True if the message is now failed for good."""
    config = current_app.config
    attempts = message.attempts + 1
    final = error.permanent or attempts >= config["MAIL_MAX_ATTEMPTS"]
    mine = sa.and_(OutboxMessage.id == message.id, OutboxMessage.claim_token == claim,
                   OutboxMessage.state == "sending")
    if not final:
        db.session.execute(
            sa.update(OutboxMessage).where(mine).values(
                state="queued", claim_token=None, lease_until=None, attempts=attempts, last_error=error.reply,
                next_attempt_at=now + dt.timedelta(seconds=backoff_seconds(attempts, config, "MAIL"))),
            execution_options={"synchronize_session": False})
        return False
    invitation_id = db.session.scalar(
        sa.update(OutboxMessage).where(mine)
        .values(state="failed", raw=None, lease_until=None, attempts=attempts, last_error=error.reply)
        .returning(OutboxMessage.invitation_id), execution_options={"synchronize_session": False})
    if invitation_id is not None:
        db.session.execute(
            sa.update(Invitation).where(Invitation.id == invitation_id, Invitation.state == "queued")
            .values(state="failed", last_error=error.reply[:500]),
            execution_options={"synchronize_session": False})
        if error.recipient_refused:
            contact_id = sa.select(Invitation.contact_id).where(Invitation.id == invitation_id).scalar_subquery()
            db.session.execute(
                sa.update(Contact).where(Contact.id == contact_id, Contact.bounced_at.is_(None))
                .values(bounced_at=now),
                execution_options={"synchronize_session": False})
    return True


def deliver(*, batch_size: int | None = None, max_batches: int | None = None,
            should_stop: Callable[[], bool] = lambda: False, transport=None) -> DeliveryReport:
    """Send every message due now, batch after batch, until none is left (or told to stop)."""
    config = current_app.config
    transport = transport or transport_for(config, current_app.instance_path)
    report = DeliveryReport()
    report.recovered = recover_abandoned(transport)
    batches = 0
    try:
        while not should_stop() and (max_batches is None or batches < max_batches):
            claim, messages = claim_batch(batch_size or config["MAIL_BATCH_SIZE"])
            if not messages:
                break
            batches += 1
            try:
                report.add(deliver_batch(transport, claim, messages))
            finally:
                transport.close()  # one connection per batch
    finally:
        db.session.rollback()
    return report


def deliver_forever(*, interval: float, batch_size: int | None = None, should_stop: Callable[[], bool],
                    on_report: Callable[[DeliveryReport], None] = lambda report: None,
                    before_pass: Callable[[], None] = lambda: None,
                    after_pass: Callable[[], None] = lambda: None) -> None:
    """The worker service: deliver what is due, sleep ``interval`` seconds, repeat until stopped.

    ``before_pass`` queues more that is due first (survey.alerts: low-score alerts and digests);
    ``after_pass`` runs other work of the same service (survey.webhooks: a bounded webhook pass)."""
    from survey.invites.scheduling import run_due

    while not should_stop():
        try:
            run_due()  # the campaigns and reminders that fell due, queued before this pass sends
            before_pass()
            report = deliver(batch_size=batch_size, should_stop=should_stop)
        except sa.exc.OperationalError as exc:
            # The database is restarting or busy: claims are safe to retry, so wait and try again.
            log.warning("outbox worker: database unavailable, retrying in %s s: %s", interval, exc)
            db.session.rollback()
        else:
            if report.handled or report.recovered:
                on_report(report)
        db.session.remove()
        after_pass()
        db.session.remove()
        deadline = time.monotonic() + interval
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(min(0.2, interval))


def resolve_uncertain(message: OutboxMessage, delivered: bool) -> None:
    """An operator's verdict on an ``uncertain`` message: it arrived, or send it again."""
    if message.state != "uncertain":
        from survey.operations import OperationError

        raise OperationError(f"message {message.id} is {message.state}, not uncertain")
    now = utcnow()
    if delivered:
        _mark_sent([message.id], now)
        log.info("outbox message %s marked delivered by an operator", message.id)
    else:
        message.state, message.claim_token, message.lease_until = "queued", None, None
        message.next_attempt_at = now
        message.last_error = "re-queued by an operator"
    db.session.commit()
