"""The delivery worker: claims queued outbox messages and sends them, exactly once.

Run it with ``flask invite deliver`` (one pass) or ``--loop`` (a service); any
number of workers on any number of hosts may share one database.

Claiming. A worker takes a batch in one statement: ``UPDATE … SET
claim_token=<its own random token>, lease_until=now+MAIL_CLAIM_SECONDS WHERE
id IN (SELECT … due … LIMIT n FOR UPDATE SKIP LOCKED)``. PostgreSQL's row locks
make concurrent workers skip each other's rows; SQLite runs one writer at a
time, so the statement is atomic there as it stands. Every later change to a
message is conditional on the worker's claim token, so a worker whose lease
ran out (another took the batch over) can no longer touch it.

States and the guarantee. For each message of its batch the worker opens (or
reuses) the batch's SMTP connection, sends MAIL, RCPT, DATA and the whole
body, and only then commits ``queued → sending`` (conditional on its claim)
before sending the final ``.`` that makes the server take the message. After
the server's ``250`` it commits ``sending → sent`` and erases the body.

* Crash before the ``sending`` commit: the server never saw the final ``.``
  and, by RFC 5321, discards the data. The message is still ``queued`` under
  a dead claim; once the lease runs out any worker sends it. Not lost, not
  doubled.
* Claim lost (the lease ran out while the worker was slow): the conditional
  ``sending`` update matches no row, the worker hangs up without the ``.``,
  and the message goes out once, from the worker that owns it now.
* Crash or lost connection after the ``sending`` commit and before ``sent``:
  the one window SMTP cannot close — the server may or may not have taken
  the message. Such a message becomes ``uncertain`` and is never resent
  automatically; ``flask invite outbox`` lists it and ``flask invite resolve``
  lets an operator mark it sent or send it again. The ``.eml`` transport
  needs no operator: its rename is the final step, so the file's existence
  answers the question and the worker settles it on its own.
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

from survey.db import db
from survey.invites.bounces import return_path
from survey.invites.mailer import ClaimLost, DeliveryError, DeliveryUncertain, transport_for
from survey.invites.models import Invitation, OutboxMessage
from survey.models import Contact, utcnow

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    uncertain: int = 0
    lost_claims: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: "DeliveryReport") -> None:
        for name in ("sent", "retried", "failed", "uncertain", "lost_claims", "recovered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.uncertain + self.lost_claims


def backoff_seconds(attempts: int, config) -> float:
    """Wait before try number ``attempts + 1``: base, 2×base, 4×base… up to the cap."""
    base = float(config["MAIL_RETRY_BASE_SECONDS"])
    return min(base * 2 ** max(attempts - 1, 0), float(config["MAIL_RETRY_MAX_SECONDS"]))


def _mine(message_id: int, claim: str):
    return sa.and_(OutboxMessage.id == message_id, OutboxMessage.claim_token == claim)


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
    stale = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.state == "sending", OutboxMessage.lease_until < now)
    ).all()
    for message in stale:
        delivered = transport.was_delivered(message.message_id)
        if delivered is True:
            _record_sent(message.id, "found delivered after a worker stopped", now)
        elif delivered is False:
            message.state, message.claim_token, message.lease_until = "queued", None, None
            message.last_error = "a worker stopped before handing this message over; it will be sent again"
        else:
            message.state = "uncertain"
            message.last_error = (
                "a worker stopped between the end of this message and the server's reply: it may or may not "
                "have been delivered. Check the mail server's log for its Message-ID, then run "
                "`flask invite resolve --sent` or `--resend`."
            )
    db.session.commit()
    return len(stale)


def deliver_batch(transport, claim: str, messages: list[OutboxMessage]) -> DeliveryReport:
    """Send a claimed batch over one connection, committing each message's result as it happens."""
    config = current_app.config
    report = DeliveryReport()
    connection_error: DeliveryError | None = None
    connection_retry_at = utcnow()
    # Plain values, read before the first commit expires the objects (no reload per message).
    # With MAIL_BOUNCE_ADDRESS each message gets its own signed return path (survey.invites.bounces).
    pending = [(m.id, return_path(config, m.id, m.envelope_from), m.recipient, m.raw) for m in messages]
    for message_id, envelope_from, recipient, raw in pending:
        if connection_error is not None:
            # The server is unreachable: leave the rest for the next try, not counted against them.
            _release(message_id, claim, connection_error.reply, connection_retry_at)
            report.retried += 1
            continue
        commit_point = _commit_point(message_id, claim)
        try:
            reply = transport.send(envelope_from, recipient, raw, commit_point)
        except ClaimLost:
            db.session.rollback()
            report.lost_claims += 1
            log.warning("outbox message %s was taken over by another worker; left to it", message_id)
            continue
        except DeliveryUncertain as exc:
            db.session.rollback()
            _mark_uncertain(message_id, claim, str(exc))
            report.uncertain += 1
            report.errors.append(f"message {message_id}: {exc}")
            continue
        except DeliveryError as exc:
            db.session.rollback()
            final = _record_failure(message_id, claim, exc)
            report.failed += final
            report.retried += not final
            report.errors.append(f"message {message_id} to {recipient}: {exc.reply}")
            if exc.connection_lost:
                try:  # one reconnection per failure: a restarted server picks up straight away
                    transport.close()
                except Exception:  # noqa: BLE001 - the connection is gone either way
                    pass
                connection_error = _unreachable(transport)
                connection_retry_at = utcnow() + dt.timedelta(seconds=backoff_seconds(1, config))
            continue
        _record_sent(message_id, reply, utcnow(), _mine(message_id, claim))
        db.session.commit()
        report.sent += 1
    return report


def _unreachable(transport) -> DeliveryError | None:
    """Why the server cannot be reached now, or None if a new connection works."""
    try:
        transport.open()
    except DeliveryError as exc:
        return exc
    return None


def _commit_point(message_id: int, claim: str) -> Callable[[], bool]:
    def commit_point() -> bool:
        # Long enough to wait for the reply; past it, a stopped worker's message is settled.
        config = current_app.config
        hold = float(config.get("MAIL_TIMEOUT") or 30) + float(config["MAIL_CLAIM_SECONDS"])
        result = db.session.execute(
            sa.update(OutboxMessage).where(_mine(message_id, claim), OutboxMessage.state == "queued")
            .values(state="sending", lease_until=utcnow() + dt.timedelta(seconds=hold)),
            execution_options={"synchronize_session": False},
        )
        db.session.commit()
        return result.rowcount == 1

    return commit_point


def _record_sent(message_id: int, reply: str, now: dt.datetime, condition=sa.true()) -> None:
    """The server took it: mark it sent (erasing the body) and its invitation sent. Caller commits."""
    done = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.state.in_(("sending", "uncertain")), condition)
        .values(state="sent", sent_at=now, raw=None, attempts=OutboxMessage.attempts + 1, last_error=None,
                lease_until=None)
        .returning(OutboxMessage.invitation_id, OutboxMessage.kind),
        execution_options={"synchronize_session": False},
    ).first()
    log.info("sent outbox message %s: %s", message_id, reply)
    if done is None or done.invitation_id is None:
        return
    values = {"state": sa.case((Invitation.state == "queued", "sent"), else_=Invitation.state)}
    if done.kind == "invitation":
        values["sent_at"] = sa.func.coalesce(Invitation.sent_at, now)
    db.session.execute(sa.update(Invitation).where(Invitation.id == done.invitation_id).values(**values),
                       execution_options={"synchronize_session": False})


def _record_failure(message_id: int, claim: str, error: DeliveryError) -> bool:
    """Record a refused try; return True if the message is now failed for good."""
    config = current_app.config
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None or message.claim_token != claim:
        return False
    now = utcnow()
    message.attempts += 1
    message.last_error = error.reply
    final = error.permanent or message.attempts >= config["MAIL_MAX_ATTEMPTS"]
    if final:
        message.state, message.raw, message.lease_until = "failed", None, None
        if message.invitation_id is not None:
            db.session.execute(
                sa.update(Invitation).where(Invitation.id == message.invitation_id, Invitation.state == "queued")
                .values(state="failed", last_error=error.reply[:500]),
                execution_options={"synchronize_session": False},
            )
        if error.recipient_refused and message.invitation is not None and message.invitation.contact_id:
            db.session.execute(
                sa.update(Contact).where(Contact.id == message.invitation.contact_id, Contact.bounced_at.is_(None))
                .values(bounced_at=now),
                execution_options={"synchronize_session": False},
            )
    else:
        message.state, message.claim_token, message.lease_until = "queued", None, None
        message.next_attempt_at = now + dt.timedelta(seconds=backoff_seconds(message.attempts, config))
    db.session.commit()
    return final


def _release(message_id: int, claim: str, reason: str, retry_at: dt.datetime) -> None:
    db.session.execute(
        sa.update(OutboxMessage).where(_mine(message_id, claim), OutboxMessage.state == "queued")
        .values(claim_token=None, lease_until=None, next_attempt_at=retry_at,
                last_error=f"not tried: {reason}"[:1000]),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()


def _mark_uncertain(message_id: int, claim: str, reason: str) -> None:
    db.session.execute(
        sa.update(OutboxMessage).where(_mine(message_id, claim), OutboxMessage.state == "sending")
        .values(state="uncertain", last_error=(
            f"{reason}. It may or may not have been delivered: check the mail server's log, then run "
            "`flask invite resolve --sent` or `--resend`.")[:1000]),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()


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
                    on_report: Callable[[DeliveryReport], None] = lambda report: None) -> None:
    """The worker service: deliver what is due, sleep ``interval`` seconds, repeat until stopped."""
    while not should_stop():
        try:
            report = deliver(batch_size=batch_size, should_stop=should_stop)
        except sa.exc.OperationalError as exc:
            # The database is restarting or busy: claims are safe to retry, so wait and try again.
            log.warning("outbox worker: database unavailable, retrying in %s s: %s", interval, exc)
            db.session.rollback()
        else:
            if report.handled or report.recovered:
                on_report(report)
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
        _record_sent(message.id, "marked delivered by an operator", now)
    else:
        message.state, message.claim_token, message.lease_until = "queued", None, None
        message.next_attempt_at = now
        message.last_error = "re-queued by an operator"
    db.session.commit()
