"""Queueing campaigns and reminders, in bulk.

A campaign walks its audience in chunks of ``QUEUE_CHUNK`` contacts, in id
order. Per chunk: one conditional UPDATE claims the contacts that may be
surveyed (not unsubscribed, not bounced, not surveyed within the throttle
window) and returns their address and name; the invitations and their
outbox messages are inserted with one multi-row INSERT each; one INSERT …
SELECT records every other contact of the chunk as ``suppressed`` with its
reason; then the chunk commits. So memory holds one chunk, whatever the
audience, and answers keep being recorded between chunks (SQLite has one
writer at a time). A contact is claimed and invited in the same commit, so
an interrupted campaign has queued a prefix of its audience and nothing
twice; ``queue_campaign`` (``flask invite send --resume``) takes it up where
it stopped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from survey.config import base_url_problem
from survey.db import db
from survey.display import when_text
from survey.invites.compose import Composer, InvitationLinks, new_token, sender_address
from survey.invites.contacts import ATTRIBUTE_NAME, attribute_key
from survey.invites.models import SKIP_REASONS, Campaign, Invitation, OutboxMessage, recipient_domain
from survey.models import Contact, Survey, utcnow
from survey.operations import OperationError
from survey.schedule import refusal_for_staff
from survey.tokens import hash_token

# Contacts per chunk (one commit each, about 15 MB of messages in memory); see
# benchmarks/README.md: a commit with fsync costs as much as building ~100 messages.
QUEUE_CHUNK = 2000
# How long a campaign being queued stays its worker's before another may take it up
# (renewed after every chunk, so only a stopped worker's campaign is taken over).
QUEUE_LEASE = dt.timedelta(minutes=10)


def parse_segment(conditions: Iterable[str], label: str = "--where") -> dict[str, list[str]]:
    """``["plan=pro,business", "region=north"]`` -> ``{"plan": ["pro", "business"], "region": ["north"]}``.

    ``label`` names the input in messages (the dashboard says ``line 2:``)."""
    segment: dict[str, list[str]] = {}
    for condition in conditions:
        key, sep, values = condition.partition("=")
        key = attribute_key(key)
        if not sep or not ATTRIBUTE_NAME.match(key):
            raise OperationError(f"{label} {condition!r} must look like attribute=value (e.g. plan=pro)")
        wanted = [v.strip() for v in values.split(",") if v.strip()]
        if not wanted:
            raise OperationError(f"{label} {condition!r} names no value")
        segment.setdefault(key, []).extend(wanted)
    return segment


def segment_filter(segment: dict[str, list[str]]) -> sa.ColumnElement[bool]:
    return sa.and_(sa.true(), *(Contact.attributes[key].as_string().in_(values) for key, values in segment.items()))


def segment_query(segment: dict[str, list[str]]) -> sa.Select:
    return sa.select(Contact).where(segment_filter(segment)).order_by(Contact.id)


def may_invite(cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    """The contacts a campaign may e-mail: neither unsubscribed nor bounced, nor surveyed since ``cutoff``."""
    return sa.and_(Contact.unsubscribed_at.is_(None), Contact.bounced_at.is_(None),
                   sa.or_(Contact.last_surveyed_at.is_(None), Contact.last_surveyed_at <= cutoff))


def skip_reason() -> sa.ColumnElement[str]:
    """Why a contact that ``may_invite`` refuses gets no e-mail (a SKIP_REASONS entry)."""
    return sa.case((Contact.unsubscribed_at.is_not(None), "unsubscribed"),
                   (Contact.bounced_at.is_not(None), "bounced"), else_="throttled")


def throttle_days_for(survey: Survey) -> int:
    """Days a contact is left alone after an invitation: the survey's own setting, else THROTTLE_DAYS."""
    return survey.throttle_days if survey.throttle_days is not None else current_app.config["THROTTLE_DAYS"]


@dataclass
class AudiencePreview:
    """What a campaign to ``segment`` would do now: how many get the e-mail, how many are skipped and why."""

    segment: dict[str, list[str]]
    throttle_days: int
    invited: int
    skipped: dict[str, int]  # SKIP_REASONS entry -> contacts

    @property
    def total(self) -> int:
        return self.invited + sum(self.skipped.values())


def preview_audience(survey: Survey, segment: dict[str, list[str]], now: dt.datetime | None = None) -> AudiencePreview:
    """Count the segment by what queueing would do to each contact now: the rules ``_queue_chunk`` applies."""
    throttle_days = throttle_days_for(survey)
    cutoff = (now or utcnow()) - dt.timedelta(days=throttle_days)
    outcome = sa.case((may_invite(cutoff), "invited"), else_=skip_reason())
    counts = dict(db.session.execute(sa.select(outcome, sa.func.count()).where(segment_filter(segment))
                                     .group_by(outcome)).all())
    return AudiencePreview(segment=segment, throttle_days=throttle_days, invited=counts.pop("invited", 0),
                           skipped={reason: counts.get(reason, 0) for reason in SKIP_REASONS if reason != "cancelled"})


def describe_segment(segment: dict[str, list[str]]) -> str:
    return " and ".join(f"{k}={','.join(v)}" for k, v in segment.items()) or "all contacts"


class Links:
    """Absolute links into this site from outside a request (the CLI, the worker)."""

    def __init__(self, base_url: str):
        problem = base_url_problem(base_url)
        if problem:
            raise OperationError(f"the public base URL {problem} (set PUBLIC_BASE_URL or pass --base-url)")
        parts = urlsplit(base_url)
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path.rstrip("/") or "/",
                                                 url_scheme=parts.scheme)

    def build(self, endpoint: str, **values) -> str:
        return self._adapter.build(endpoint, values, force_external=True)

    def for_token(self, survey: Survey, token: str) -> InvitationLinks:
        return InvitationLinks(
            scores={score: self.build("invites.score_link", token=token, score=score) for score in survey.scale},
            followup=self.build("invites.answer", token=token),
            unsubscribe=self.build("invites.unsubscribe", token=token),
        )


def composer_for(campaign: Campaign, *, reminder: bool, now: dt.datetime) -> Composer:
    survey = campaign.survey
    links = Links(campaign.base_url)
    return Composer(survey=survey, sender=campaign.sender, links_for=lambda token: links.for_token(survey, token),
                    expires_at=campaign.links_expire_at, reminder=reminder,
                    unsubscribe_mailto=current_app.config.get("MAIL_UNSUBSCRIBE_MAILTO"), now=now)


def outbox_row(invitation_id: int, kind: str, built, now: dt.datetime) -> dict:
    """An outbox message's columns, for a multi-row INSERT."""
    return dict(invitation_id=invitation_id, kind=kind, state="queued", message_id=built.message_id,
                envelope_from=built.envelope_from, recipient=built.recipient, domain=recipient_domain(built.recipient),
                raw=built.raw, size=len(built.raw), attempts=0, next_attempt_at=now, created_at=now)


@dataclass
class CampaignResult:
    campaign: Campaign
    queued: int
    unsubscribed: int
    bounced: int
    throttled: int

    @property
    def skipped(self) -> int:
        return self.unsubscribed + self.bounced + self.throttled


def send_campaign(survey: Survey, *, base_url: str, segment: dict[str, list[str]] | None = None,
                  name: str | None = None, expiry_days: int | None = None, sender: str | None = None,
                  now: dt.datetime | None = None) -> CampaignResult:
    """Queue an invitation to every contact of the segment (see the module docstring for how).

    Unsubscribed and bounced addresses, and contacts surveyed within the
    throttle window (the survey's ``throttle_days``, else ``THROTTLE_DAYS``),
    get a ``suppressed`` invitation with the reason instead of an e-mail.
    """
    now = now or utcnow()
    campaign = create_campaign(survey, base_url=base_url, segment=segment, name=name, expiry_days=expiry_days,
                               sender=sender, now=now)
    return queue_campaign(campaign, now=now)


def create_campaign(survey: Survey, *, base_url: str, segment: dict[str, list[str]] | None = None,
                    name: str | None = None, expiry_days: int | None = None, sender: str | None = None,
                    send_at: dt.datetime | None = None, remind_after_days: int | None = None,
                    created_by_id: int | None = None, submission_key: str | None = None,
                    now: dt.datetime | None = None) -> Campaign:
    """Check and store a campaign (one commit): ``queueing`` to be queued now by the caller, or
    ``scheduled`` for ``send_at`` (survey.invites.scheduling queues it then)."""
    config = current_app.config
    now = now or utcnow()
    segment = segment or {}
    refusal = refusal_for_staff(survey, now)
    if refusal:
        raise OperationError(refusal)
    links = Links(base_url)
    sender = sender or config["MAIL_DEFAULT_SENDER"]
    try:
        sender_address(sender)
    except ValueError as exc:
        raise OperationError(str(exc)) from None
    expiry_days = config["INVITATION_EXPIRY_DAYS"] if expiry_days is None else expiry_days
    if not isinstance(expiry_days, int) or expiry_days < 1:
        raise OperationError("invitations must stay valid for at least one day")
    if remind_after_days is not None and not 1 <= remind_after_days < expiry_days:
        raise OperationError(f"a reminder must come 1 to {expiry_days - 1} days after the e-mail, while its "
                             f"links work ({expiry_days} days)")
    if send_at is not None and send_at <= now:
        raise OperationError(f"the send time {when_text(send_at)} has passed; choose a later time "
                             "or send now")
    if db.session.scalar(sa.select(Contact.id).where(segment_filter(segment)).limit(1)) is None:
        raise OperationError(f"no contact matches {describe_segment(segment)}; nothing was queued")
    scheduled = send_at is not None
    campaign = Campaign(survey=survey, name=(name or f"{survey.name} {when_text(send_at or now)}")[:200],
                        segment=segment, base_url=links.base_url, sender=sender, expiry_days=expiry_days,
                        throttle_days=throttle_days_for(survey), created_at=now,
                        state="scheduled" if scheduled else "queueing", send_at=send_at,
                        queued_at=None if scheduled else now,
                        lease_until=None if scheduled else now + QUEUE_LEASE, remind_after_days=remind_after_days,
                        created_by_id=created_by_id, submission_key=submission_key)
    db.session.add(campaign)
    db.session.commit()
    return campaign


def queue_campaign(campaign: Campaign, *, now: dt.datetime | None = None) -> CampaignResult:
    """Invite every contact of the campaign's segment it has not accounted for yet, chunk by chunk."""
    now = now or utcnow()
    if campaign.state in ("scheduled", "cancelled", "refused"):
        raise OperationError(f"campaign {campaign.id} is {campaign.state}"
                             + (f" for {when_text(campaign.send_at)}; it is queued then"
                                if campaign.state == "scheduled" else "; nothing was queued"))
    refusal = refusal_for_staff(campaign.survey, now)
    if refusal:
        raise OperationError(refusal)
    campaign_id = campaign.id
    composer = composer_for(campaign, reminder=False, now=now)
    cutoff = now - dt.timedelta(days=campaign.throttle_days)
    expires_at = campaign.links_expire_at
    not_yet = ~sa.exists().where(Invitation.campaign_id == campaign_id, Invitation.contact_id == Contact.id)
    audience = sa.and_(segment_filter(campaign.segment or {}), not_yet)
    last_id = 0
    while True:
        ids = list(db.session.scalars(sa.select(Contact.id).where(audience, Contact.id > last_id)
                                      .order_by(Contact.id).limit(QUEUE_CHUNK)))
        if not ids:
            break
        last_id = ids[-1]
        _queue_chunk(campaign_id, ids, composer, cutoff, expires_at, now)
        _hold(campaign_id, Campaign.state == "queueing", lease_until=utcnow() + QUEUE_LEASE)
        db.session.commit()
    _hold(campaign_id, Campaign.state == "queueing", state="queued", lease_until=None)
    db.session.commit()
    counts = dict(db.session.execute(
        sa.select(sa.func.coalesce(Invitation.skip_reason, "queued"), sa.func.count())
        .where(Invitation.campaign_id == campaign_id).group_by(Invitation.skip_reason)).all())
    return CampaignResult(campaign=db.session.get(Campaign, campaign_id), queued=counts.get("queued", 0),
                          unsubscribed=counts.get("unsubscribed", 0), bounced=counts.get("bounced", 0),
                          throttled=counts.get("throttled", 0))


def _hold(campaign_id: int, condition, **values) -> None:
    db.session.execute(sa.update(Campaign).where(Campaign.id == campaign_id, condition).values(**values),
                       execution_options={"synchronize_session": False})


def _queue_chunk(campaign_id: int, ids: list[int], composer: Composer, cutoff: dt.datetime,
                 expires_at: dt.datetime, now: dt.datetime) -> None:
    # A conditional UPDATE, so two campaigns sent at the same moment cannot both take the same
    # contact (PostgreSQL re-checks the condition under the row lock; SQLite has one writer).
    claimed = db.session.execute(
        sa.update(Contact)
        .where(Contact.id.in_(ids), may_invite(cutoff))
        .values(last_surveyed_at=now)
        .returning(Contact.id, Contact.email, Contact.name),
        execution_options={"synchronize_session": False},
    ).all()
    if claimed:
        tokens = {contact_id: new_token() for contact_id, _, _ in claimed}
        # Core statements: the ORM's per-row bookkeeping would cost more than the rows themselves.
        connection = db.session.connection()
        invitation_ids = dict(connection.execute(
            sa.insert(Invitation.__table__).returning(Invitation.contact_id, Invitation.id),
            [dict(campaign_id=campaign_id, contact_id=contact_id, state="queued", token_hash=hash_token(token),
                  expires_at=expires_at, created_at=now) for contact_id, token in tokens.items()],
        ).all())
        connection.execute(sa.insert(OutboxMessage.__table__), [
            outbox_row(invitation_ids[contact_id], "invitation", composer.build(email, name, tokens[contact_id]), now)
            for contact_id, email, name in claimed])
    skipped = sa.select(sa.literal(campaign_id), Contact.id, sa.literal("suppressed"), skip_reason(),
                        sa.literal(expires_at, sa.DateTime), sa.literal(now, sa.DateTime)).where(
        Contact.id.in_(ids),
        ~sa.exists().where(Invitation.campaign_id == campaign_id, Invitation.contact_id == Contact.id))
    db.session.execute(sa.insert(Invitation).from_select(
        ["campaign_id", "contact_id", "state", "skip_reason", "expires_at", "created_at"], skipped))


@dataclass
class ReminderResult:
    reminded: int
    not_due: int
    unsubscribed: int
    expired: int
    closed: int = 0  # not reminded: their survey is closed (by hand, by date or by its cap)


def queue_reminders(*, after: dt.timedelta, survey: Survey | None = None, campaign: Campaign | None = None,
                    now: dt.datetime | None = None) -> ReminderResult:
    """Queue one reminder to each invitation sent at least ``after`` ago and not answered.

    Never to those who answered, unsubscribed, bounced or whose link expired,
    and never a second one: the invitation's ``reminded_at`` is claimed with a
    conditional UPDATE. The reminder carries a new token (only its hash is
    stored); the first e-mail's links keep working too. Committed chunk by chunk.
    """
    now = now or utcnow()
    inv = Invitation
    candidates = (inv.state == "sent", inv.reminded_at.is_(None), inv.answered_at.is_(None),
                  inv.contact_id.is_not(None))
    scope = [*candidates]
    if survey is not None:
        scope.append(inv.campaign_id.in_(sa.select(Campaign.id).where(Campaign.survey_id == survey.id)))
    if campaign is not None:
        scope.append(inv.campaign_id == campaign.id)
    scope.append(inv.campaign_id.not_in(sa.select(Campaign.id).where(Campaign.state == "cancelled")))
    closed = _campaigns_of_closed_surveys(scope, now)
    closed_count = 0
    if closed:
        closed_count = db.session.scalar(sa.select(sa.func.count()).select_from(inv)
                                         .where(*scope, inv.campaign_id.in_(closed)))
        scope.append(inv.campaign_id.not_in(closed))
    suppressed = sa.or_(Contact.unsubscribed_at.is_not(None), Contact.bounced_at.is_not(None))
    category = sa.case((suppressed, "unsubscribed"), (inv.expires_at <= now, "expired"),
                       (sa.or_(inv.sent_at.is_(None), inv.sent_at > now - after), "not_due"), else_="due")
    counts = dict(db.session.execute(sa.select(category, sa.func.count()).select_from(inv).join(
        Contact, Contact.id == inv.contact_id).where(*scope).group_by(category)).all())
    result = ReminderResult(0, counts.get("not_due", 0), counts.get("unsubscribed", 0), counts.get("expired", 0),
                            closed_count)
    due = sa.and_(*scope, ~suppressed, inv.expires_at > now, inv.sent_at <= now - after)
    composers: dict[int, Composer] = {}
    last_id = 0
    while True:
        rows = db.session.execute(
            sa.select(inv.id, inv.campaign_id, Contact.email, Contact.name).join(Contact, Contact.id == inv.contact_id)
            .where(due, inv.id > last_id).order_by(inv.id).limit(QUEUE_CHUNK)).all()
        if not rows:
            break
        last_id = rows[-1].id
        claimed = set(db.session.scalars(
            sa.update(inv).where(inv.id.in_([r.id for r in rows]), inv.reminded_at.is_(None))
            .values(reminded_at=now).returning(inv.id), execution_options={"synchronize_session": False}))
        tokens, messages = {}, []
        for row in rows:
            if row.id not in claimed:
                continue
            if row.campaign_id not in composers:
                composers[row.campaign_id] = composer_for(db.session.get(Campaign, row.campaign_id), reminder=True,
                                                          now=now)
            tokens[row.id] = new_token()
            messages.append(outbox_row(row.id, "reminder", composers[row.campaign_id].build(
                row.email, row.name, tokens[row.id]), now))
        if messages:
            db.session.execute(sa.update(inv), [{"id": i, "reminder_token_hash": hash_token(t)}
                                                for i, t in tokens.items()])
            db.session.execute(sa.insert(OutboxMessage), messages)
        result.reminded += len(messages)
        db.session.commit()
    return result


def _campaigns_of_closed_surveys(scope: list, now: dt.datetime) -> list[int]:
    """The campaigns with reminder candidates in ``scope`` whose survey takes no answers now."""
    campaign_ids = sa.select(Invitation.campaign_id).where(*scope).distinct()
    campaigns = db.session.execute(sa.select(Campaign.id, Campaign.survey_id).where(Campaign.id.in_(campaign_ids))).all()
    surveys = {survey_id for _, survey_id in campaigns}
    closed = {survey.id for survey in db.session.scalars(sa.select(Survey).where(Survey.id.in_(surveys)))
              if refusal_for_staff(survey, now)}
    return [campaign_id for campaign_id, survey_id in campaigns if survey_id in closed]
