"""Campaigns that wait: queued at their send time, reminded after their delay, cancelled by an admin.

``run_due`` is the scheduler's tick; the delivery worker runs it before each
pass (``flask invite deliver``, with or without ``--loop``), so whoever runs a
worker runs the schedule, and any number of workers may share one database:

* A due campaign is *claimed* with one conditional UPDATE (``scheduled`` and
  due, or ``queueing`` under a lease that ran out) that sets ``queueing`` and
  a lease; PostgreSQL re-checks the condition under the row lock and SQLite
  has one writer, so exactly one worker wins and queues it. Queueing renews
  the lease after every chunk; a worker that stopped half-way leaves the
  campaign to be taken up, where it stopped, once its lease ran out.
* When it falls due, its survey is checked again: a survey that closed
  meanwhile (by hand, by date or by its cap) refuses it, and the campaign
  says why (state ``refused``).
* Each campaign's reminders are looked for at most hourly (claimed the same
  way), and go through ``queue_reminders``, which claims each invitation's
  ``reminded_at`` conditionally: one reminder per invitation, whatever the
  number of workers.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import sqlalchemy as sa

from survey.db import db
from survey.invites.campaigns import QUEUE_LEASE, CampaignResult, queue_campaign, queue_reminders
from survey.invites.models import Campaign, Invitation, OutboxMessage
from survey.models import utcnow
from survey.operations import OperationError
from survey.schedule import refusal_for_staff

log = logging.getLogger(__name__)

CANCELLABLE = ("scheduled", "queued")
# A campaign's reminders are looked for at most this often: each look counts its unanswered
# invitations, too much for every pass of every worker; mail sent late waits up to this long.
REMINDER_CHECK_INTERVAL = dt.timedelta(hours=1)


@dataclass
class SchedulerReport:
    queued: list[CampaignResult] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # campaign id, why
    reminded: int = 0

    @property
    def anything(self) -> bool:
        return bool(self.queued or self.refused or self.reminded)


def _due(now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.or_(sa.and_(Campaign.state == "scheduled", Campaign.send_at <= now),
                  sa.and_(Campaign.state == "queueing", Campaign.lease_until < now))


def claim(campaign_id: int, now: dt.datetime, *, due_only: bool = True) -> bool:
    """Take the campaign for queueing (one commit); False if it is not due or another worker has it."""
    condition = _due(now) if due_only else sa.or_(_due(now), Campaign.state == "scheduled")
    won = db.session.execute(
        sa.update(Campaign).where(Campaign.id == campaign_id, condition)
        .values(state="queueing", queued_at=sa.func.coalesce(Campaign.queued_at, now), lease_until=now + QUEUE_LEASE)
        .returning(Campaign.id), execution_options={"synchronize_session": False}).first() is not None
    db.session.commit()
    return won


def queue_claimed(campaign: Campaign, now: dt.datetime) -> CampaignResult | str:
    """Queue a campaign this worker claimed; if its survey has closed, refuse it and return why."""
    refusal = refusal_for_staff(campaign.survey, now)
    if refusal is None:
        try:
            return queue_campaign(campaign, now=now)
        except OperationError as exc:  # closed between the check and the queueing
            db.session.rollback()
            refusal = str(exc)
    db.session.execute(sa.update(Campaign).where(Campaign.id == campaign.id, Campaign.state == "queueing")
                       .values(state="refused", lease_until=None, problem=f"Not sent: {refusal}"[:500]),
                       execution_options={"synchronize_session": False})
    db.session.commit()
    log.warning("campaign %s refused when due: %s", campaign.id, refusal)
    return refusal


def queue_due_campaigns(now: dt.datetime | None = None, report: SchedulerReport | None = None) -> SchedulerReport:
    now = now or utcnow()
    report = report or SchedulerReport()
    due = list(db.session.scalars(sa.select(Campaign.id).where(_due(now)).order_by(Campaign.send_at, Campaign.id)))
    for campaign_id in due:
        if not claim(campaign_id, now):
            continue  # another worker took it
        try:
            outcome = queue_claimed(db.session.get(Campaign, campaign_id), now)
        except Exception:  # noqa: BLE001 - one campaign's fault must not stop the worker's deliveries
            db.session.rollback()
            log.exception("campaign %s: queueing failed; it is taken up again once its lease runs out", campaign_id)
            continue
        if isinstance(outcome, str):
            report.refused.append((campaign_id, outcome))
        else:
            report.queued.append(outcome)
    return report


def queue_due_reminders(now: dt.datetime | None = None, report: SchedulerReport | None = None) -> SchedulerReport:
    """One reminder per unanswered invitation of each campaign whose reminder delay has passed."""
    now = now or utcnow()
    report = report or SchedulerReport()
    campaigns = db.session.scalars(sa.select(Campaign).where(Campaign.state == "queued",
                                                             Campaign.remind_after_days.is_not(None)))
    for campaign in list(campaigns):
        after = dt.timedelta(days=campaign.remind_after_days)
        if (campaign.queued_at or campaign.created_at) + after > now or campaign.links_expire_at <= now:
            continue  # nobody is due yet, or every link has stopped working
        looked = db.session.execute(
            sa.update(Campaign).where(Campaign.id == campaign.id, sa.or_(
                Campaign.reminders_checked_at.is_(None),
                Campaign.reminders_checked_at <= now - REMINDER_CHECK_INTERVAL))
            .values(reminders_checked_at=now).returning(Campaign.id),
            execution_options={"synchronize_session": False}).first()
        db.session.commit()
        if looked is None:
            continue  # looked at within the hour (by this worker or another)
        report.reminded += queue_reminders(after=after, campaign=campaign, now=now).reminded
    return report


def run_due(now: dt.datetime | None = None) -> SchedulerReport:
    """The scheduler's tick: queue the campaigns that fell due, then the reminders that did."""
    now = now or utcnow()
    report = queue_due_campaigns(now)
    queue_due_reminders(now, report)
    if report.anything:
        log.info("scheduler: %s campaign(s) queued, %s refused, %s reminder(s) queued", len(report.queued),
                 len(report.refused), report.reminded)
    return report


def cancel_campaign(campaign: Campaign, now: dt.datetime | None = None) -> int:
    """Cancel a scheduled campaign, or the mail of a queued one not yet sent; return the e-mails cancelled.

    Messages a worker is handing to the server at this moment (``sending``)
    cannot be called back; everything still ``queued`` is cancelled, and
    reminders stop.
    """
    now = now or utcnow()
    if campaign.state not in CANCELLABLE:
        raise OperationError({
            "queueing": "it is being queued right now; try again in a minute",
            "cancelled": "it was already cancelled",
            "refused": "it was refused when it fell due and sent nothing",
        }.get(campaign.state, f"it is {campaign.state}"))
    changed = db.session.execute(
        sa.update(Campaign).where(Campaign.id == campaign.id, Campaign.state.in_(CANCELLABLE))
        .values(state="cancelled", cancelled_at=now, lease_until=None),
        execution_options={"synchronize_session": False}).rowcount
    if not changed:  # a worker claimed it a moment ago
        db.session.rollback()
        raise OperationError("it started being queued a moment ago; try again in a minute")
    invitations = sa.select(Invitation.id).where(Invitation.campaign_id == campaign.id)
    stopped = list(db.session.scalars(
        sa.update(OutboxMessage).where(OutboxMessage.invitation_id.in_(invitations), OutboxMessage.state == "queued")
        .values(state="cancelled", raw=None, claim_token=None, lease_until=None, last_error="campaign cancelled")
        .returning(OutboxMessage.invitation_id), execution_options={"synchronize_session": False}))
    for start in range(0, len(stopped), 1000):
        db.session.execute(
            sa.update(Invitation).where(Invitation.id.in_(stopped[start:start + 1000]), Invitation.state == "queued")
            .values(state="suppressed", skip_reason="cancelled"), execution_options={"synchronize_session": False})
    db.session.commit()
    db.session.expire(campaign)
    return len(stopped)
