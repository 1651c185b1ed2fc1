"""Writes of the invitation side: contacts, campaigns, reminders, answers, unsubscribes.

Each function validates what it is given, changes what it must and commits
once; it raises ``OperationError`` (with a message for a person) and stores
nothing when it cannot do the whole job. Answers go through
``survey.operations.record_response``, like every other channel's.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from survey.db import db
from survey.invites.bounces import ParsedBounce, RecipientReport, mask, read_tag
from survey.invites.contacts import ATTRIBUTE_NAME, ContactRow, attribute_key
from survey.invites.mailer import EmlTransport, InvitationLinks, build_invitation, sender_address
from survey.invites.models import INVITATION_STATUSES, Campaign, Invitation, OutboxMessage
from survey.models import Contact, Response, Survey, utcnow
from survey.operations import (
    Answer, OperationError, Recorded, hash_token, record_response_in_session, revise_response,
)

CHUNK = 500  # rows per IN (...) list: under every backend's bound-parameter limit


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- contacts ----------------------------------------------------------------


@dataclass
class ContactImport:
    added: int
    updated: int


def import_contacts(rows: list[ContactRow]) -> ContactImport:
    """Add new contacts and merge into known ones (a non-empty new value wins), in one transaction."""
    emails = [row.email for row in rows]
    known: dict[str, Contact] = {}
    for chunk in _chunks(emails):
        known.update((c.email, c) for c in db.session.scalars(sa.select(Contact).where(Contact.email.in_(chunk))))
    added = updated = 0
    for row in rows:
        contact = known.get(row.email)
        if contact is None:
            db.session.add(Contact(email=row.email, name=row.name, attributes=dict(row.attributes)))
            added += 1
            continue
        merged = {**(contact.attributes or {}), **row.attributes}
        if merged != contact.attributes or (row.name and row.name != contact.name):
            contact.attributes = merged  # a new dict, so the JSON column is seen as changed
            contact.name = row.name or contact.name
            updated += 1
    db.session.commit()
    return ContactImport(added=added, updated=updated)


def find_contact(email: str) -> Contact | None:
    return db.session.scalar(sa.select(Contact).where(Contact.email == (email or "").strip().lower()))


def unsubscribe_contact(contact: Contact, now: dt.datetime | None = None) -> bool:
    """Suppress the address for every future survey and cancel its mail still queued.

    Returns False if it was already unsubscribed (nothing changes then).
    """
    now = now or utcnow()
    first_time = contact.unsubscribed_at is None
    if first_time:
        contact.unsubscribed_at = now
    _cancel_queued_mail(contact.id, reason="unsubscribed")
    db.session.commit()
    return first_time


def clear_bounce(contact: Contact) -> bool:
    """Let campaigns and reminders reach a bounced address again (it was fixed, or the bounce was a mistake).

    Only the bounced mark goes: an unsubscribed contact stays unsubscribed, the
    invitations already failed or suppressed keep their state, and the throttle
    still counts from the last time the contact was surveyed. Returns False if
    the contact was not marked bounced (nothing changes then).
    """
    changed = db.session.execute(
        sa.update(Contact).where(Contact.id == contact.id, Contact.bounced_at.is_not(None)).values(bounced_at=None),
        execution_options={"synchronize_session": False},
    ).rowcount == 1
    db.session.commit()
    return changed


def _cancel_queued_mail(contact_id: int, reason: str) -> int:
    """Cancel the contact's mail still queued (``reason`` is a SKIP_REASONS entry); return how many."""
    invitations = sa.select(Invitation.id).where(Invitation.contact_id == contact_id)
    cancelled = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.invitation_id.in_(invitations), OutboxMessage.state == "queued")
        .values(state="cancelled", raw=None, claim_token=None, lease_until=None, last_error=f"contact {reason}"),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.execute(
        sa.update(Invitation).where(Invitation.contact_id == contact_id, Invitation.state == "queued")
        .values(state="suppressed", skip_reason=reason),
        execution_options={"synchronize_session": False},
    )
    return cancelled


@dataclass
class Forgotten:
    email: str
    answers_anonymised: int
    invitations_anonymised: int
    messages_deleted: int
    files_deleted: int


def forget_contact(email: str) -> Forgotten:
    """Erase a person: the contact, their link tokens, their e-mails, and the link from their answers.

    Answers stay, anonymised (no contact, no invitation, no attributes copied
    from the contact), so the survey's scores do not change. Invitation rows
    stay without contact or tokens so campaign counts do not change either;
    the links in e-mails already sent stop working.
    """
    contact = find_contact(email)
    if contact is None:
        raise OperationError(f"no contact has the address {email!r}")
    invitation_ids = list(db.session.scalars(sa.select(Invitation.id).where(Invitation.contact_id == contact.id)))
    answers = sa.or_(Response.contact_id == contact.id,
                     Response.invitation_id.in_(invitation_ids) if invitation_ids else sa.false())
    anonymised = db.session.execute(
        sa.update(Response).where(answers)
        .values(contact_id=None, invitation_id=None, submission_key=None, edit_token_hash=None, meta={}),
        execution_options={"synchronize_session": False},
    ).rowcount
    message_ids: list[str] = []
    for chunk in _chunks(invitation_ids):
        message_ids += db.session.scalars(
            sa.select(OutboxMessage.message_id).where(OutboxMessage.invitation_id.in_(chunk)))
        db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.invitation_id.in_(chunk)),
                           execution_options={"synchronize_session": False})
        db.session.execute(
            sa.update(Invitation).where(Invitation.id.in_(chunk))
            .values(contact_id=None, token_hash=None, reminder_token_hash=None, last_error=None),
            execution_options={"synchronize_session": False},
        )
    db.session.delete(contact)
    db.session.commit()
    files = _delete_eml_files(message_ids)
    return Forgotten(email=contact.email, answers_anonymised=anonymised, invitations_anonymised=len(invitation_ids),
                     messages_deleted=len(message_ids), files_deleted=files)


def _delete_eml_files(message_ids: list[str]) -> int:
    """The offline outbox keeps copies of sent mail; a forgotten person's go too."""
    outbox = Path(current_app.instance_path) / "outbox"
    if not outbox.exists():
        return 0
    deleted = 0
    for message_id in message_ids:
        for path in outbox.glob(f"*/{EmlTransport.file_name(message_id)}"):
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


# -- campaigns ---------------------------------------------------------------


def parse_segment(conditions: Iterable[str]) -> dict[str, list[str]]:
    """``["plan=pro,business", "region=north"]`` -> ``{"plan": ["pro", "business"], "region": ["north"]}``."""
    segment: dict[str, list[str]] = {}
    for condition in conditions:
        key, sep, values = condition.partition("=")
        key = attribute_key(key)
        if not sep or not ATTRIBUTE_NAME.match(key):
            raise OperationError(f"--where {condition!r} must look like attribute=value (e.g. plan=pro)")
        wanted = [v.strip() for v in values.split(",") if v.strip()]
        if not wanted:
            raise OperationError(f"--where {condition!r} names no value")
        segment.setdefault(key, []).extend(wanted)
    return segment


def segment_query(segment: dict[str, list[str]]) -> sa.Select:
    query = sa.select(Contact).order_by(Contact.id)
    for key, values in segment.items():
        query = query.where(Contact.attributes[key].as_string().in_(values))
    return query


def describe_segment(segment: dict[str, list[str]]) -> str:
    return " and ".join(f"{k}={','.join(v)}" for k, v in segment.items()) or "all contacts"


class Links:
    """Absolute links into this site from outside a request (the CLI, the worker)."""

    def __init__(self, base_url: str):
        parts = urlsplit(base_url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise OperationError(
                f"the public base URL {base_url!r} must look like https://surveys.example.com "
                "(set PUBLIC_BASE_URL or pass --base-url)"
            )
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
    """Queue an invitation to every contact of the segment, in one transaction.

    Unsubscribed and bounced addresses, and contacts surveyed within the
    throttle window (the survey's ``throttle_days``, else ``THROTTLE_DAYS``),
    get a ``suppressed`` invitation with the reason instead of an e-mail.
    """
    config = current_app.config
    now = now or utcnow()
    segment = segment or {}
    if not survey.is_open:
        raise OperationError(f"survey {survey.public_key} is closed; open it before inviting anyone")
    links = Links(base_url)
    sender = sender or config["MAIL_DEFAULT_SENDER"]
    try:
        sender_address(sender)
    except ValueError as exc:
        raise OperationError(str(exc)) from None
    expiry_days = config["INVITATION_EXPIRY_DAYS"] if expiry_days is None else expiry_days
    if not isinstance(expiry_days, int) or expiry_days < 1:
        raise OperationError("invitations must stay valid for at least one day")
    throttle_days = survey.throttle_days if survey.throttle_days is not None else config["THROTTLE_DAYS"]
    contacts = db.session.scalars(segment_query(segment)).all()
    if not contacts:
        raise OperationError(f"no contact matches {describe_segment(segment)}; nothing was queued")

    campaign = Campaign(survey=survey, name=(name or f"{survey.name} {now:%Y-%m-%d %H:%M}")[:200],
                        segment=segment, base_url=links.base_url, sender=sender, expiry_days=expiry_days,
                        throttle_days=throttle_days, created_at=now)
    db.session.add(campaign)
    claimed = _claim_for_survey([c.id for c in contacts], now - dt.timedelta(days=throttle_days), now)
    expires_at = now + dt.timedelta(days=expiry_days)
    counts = {"queued": 0, "unsubscribed": 0, "bounced": 0, "throttled": 0}
    written: list[OutboxMessage] = []
    for contact in contacts:
        if contact.id not in claimed:
            reason = ("unsubscribed" if contact.unsubscribed_at else "bounced" if contact.bounced_at else "throttled")
            db.session.add(Invitation(campaign=campaign, contact_id=contact.id, state="suppressed",
                                      skip_reason=reason, expires_at=expires_at, created_at=now))
            counts[reason] += 1
            continue
        token = secrets.token_urlsafe(32)
        invitation = Invitation(campaign=campaign, contact_id=contact.id, state="queued",
                                token_hash=hash_token(token), expires_at=expires_at, created_at=now)
        message = _outbox_message(invitation, "invitation", survey, contact, links.for_token(survey, token),
                                  sender, now)
        db.session.add_all((invitation, message))
        counts["queued"] += 1
        written.append(message)
        if len(written) >= CHUNK:
            _flush_out(written)
    _flush_out(written)
    db.session.commit()
    return CampaignResult(campaign=campaign, **counts)


def _flush_out(messages: list[OutboxMessage]) -> None:
    """Write pending messages in the open transaction and let their bodies go from memory,
    so a campaign to 100,000 contacts does not hold every e-mail at once."""
    db.session.flush()
    for message in messages:
        db.session.expunge(message)
    messages.clear()


def _claim_for_survey(contact_ids: list[int], cutoff: dt.datetime, now: dt.datetime) -> set[int]:
    """Mark as surveyed now every contact that may be: not suppressed, not surveyed since ``cutoff``.

    A conditional UPDATE, so two campaigns sent at the same moment cannot both
    take the same contact (PostgreSQL re-checks the condition under the row lock).
    """
    claimed: set[int] = set()
    for chunk in _chunks(contact_ids):
        claimed.update(db.session.scalars(
            sa.update(Contact)
            .where(Contact.id.in_(chunk), Contact.unsubscribed_at.is_(None), Contact.bounced_at.is_(None),
                   sa.or_(Contact.last_surveyed_at.is_(None), Contact.last_surveyed_at <= cutoff))
            .values(last_surveyed_at=now)
            .returning(Contact.id),
            execution_options={"synchronize_session": False},
        ))
    return claimed


def _outbox_message(invitation: Invitation, kind: str, survey: Survey, contact: Contact, links: InvitationLinks,
                    sender: str, now: dt.datetime) -> OutboxMessage:
    built = build_invitation(
        survey=survey, email=contact.email, name=contact.name, links=links, sender=sender,
        expires_at=invitation.expires_at, reminder=kind == "reminder",
        unsubscribe_mailto=current_app.config.get("MAIL_UNSUBSCRIBE_MAILTO"), now=now,
    )
    raw = built.as_bytes()
    return OutboxMessage(invitation=invitation, kind=kind, state="queued", message_id=built.message_id,
                         envelope_from=built.envelope_from, recipient=built.recipient, raw=raw, size=len(raw),
                         next_attempt_at=now, created_at=now)


@dataclass
class ReminderResult:
    reminded: int
    not_due: int
    unsubscribed: int
    expired: int


def queue_reminders(*, after: dt.timedelta, survey: Survey | None = None, campaign: Campaign | None = None,
                    now: dt.datetime | None = None) -> ReminderResult:
    """Queue one reminder to each invitation sent at least ``after`` ago and not answered.

    Never to those who answered, unsubscribed, bounced or whose link expired,
    and never a second one: the invitation's ``reminded_at`` is claimed with a
    conditional UPDATE. The reminder carries a new token (only its hash is
    stored); the first e-mail's links keep working too.
    """
    now = now or utcnow()
    query = (sa.select(Invitation).join(Campaign)
             .where(Invitation.state == "sent", Invitation.reminded_at.is_(None), Invitation.answered_at.is_(None),
                    Invitation.contact_id.is_not(None))
             .order_by(Invitation.id))
    if survey is not None:
        query = query.where(Campaign.survey_id == survey.id)
    if campaign is not None:
        query = query.where(Invitation.campaign_id == campaign.id)
    result = ReminderResult(0, 0, 0, 0)
    due: list[Invitation] = []
    for invitation in db.session.scalars(query):
        contact = invitation.contact
        if contact.unsubscribed_at or contact.bounced_at:
            result.unsubscribed += 1
        elif invitation.is_expired(now):
            result.expired += 1
        elif invitation.sent_at is None or invitation.sent_at > now - after:
            result.not_due += 1
        else:
            due.append(invitation)
    claimed: set[int] = set()
    for chunk in _chunks([i.id for i in due]):
        claimed.update(db.session.scalars(
            sa.update(Invitation).where(Invitation.id.in_(chunk), Invitation.reminded_at.is_(None))
            .values(reminded_at=now).returning(Invitation.id),
            execution_options={"synchronize_session": False},
        ))
    for invitation in due:
        if invitation.id not in claimed:
            continue
        campaign_ = invitation.campaign
        token = secrets.token_urlsafe(32)
        invitation.reminder_token_hash = hash_token(token)
        db.session.add(_outbox_message(invitation, "reminder", campaign_.survey, invitation.contact,
                                       Links(campaign_.base_url).for_token(campaign_.survey, token),
                                       campaign_.sender, now))
        result.reminded += 1
    db.session.commit()
    return result


# -- answers -----------------------------------------------------------------


def find_invitation(token: str) -> Invitation | None:
    """The invitation a link token belongs to (first e-mail or reminder), or None."""
    if not token or len(token) > 128:
        return None
    digest = hash_token(token)
    return db.session.scalar(
        sa.select(Invitation).where(sa.or_(Invitation.token_hash == digest, Invitation.reminder_token_hash == digest))
    )


def _answer_meta(contact: Contact | None) -> dict[str, str]:
    """The contact's attributes travel with the answer, as ``meta_*`` does for links, within the same bounds."""
    if contact is None:
        return {}
    config = current_app.config
    meta = {}
    for key, value in (contact.attributes or {}).items():
        text = str(value)
        if ATTRIBUTE_NAME.match(key) and len(text) <= config["META_MAX_VALUE_LENGTH"]:
            meta[key] = text
        if len(meta) >= config["META_MAX_FIELDS"]:
            break
    return meta


def _lock(invitation: Invitation) -> None:
    """Serialise writes to one invitation's answer (a scanner may fire all its clicks at once).

    A no-op UPDATE takes the row lock on PostgreSQL (SQLite: the write lock)
    until our commit; the state is then re-read, so each click decides on what
    the previous one left.
    """
    db.session.execute(sa.update(Invitation).where(Invitation.id == invitation.id).values(id=Invitation.id),
                       execution_options={"synchronize_session": False})
    db.session.refresh(invitation)


def answer_invitation(invitation: Invitation, *, score: int | None, comment: str | None = None,
                      ua_family: str | None = None, confirmed: bool = False,
                      now: dt.datetime | None = None) -> Recorded:
    """Record or change this invitation's one answer (channel ``email``)."""
    now = now or utcnow()
    survey = invitation.campaign.survey
    _lock(invitation)

    def mark() -> None:
        invitation.state = "answered"
        invitation.answered_at = invitation.answered_at or now
        if confirmed:
            invitation.confirmed_at = now

    existing = invitation.response
    if existing is not None:
        mark()
        revise_response(existing, score, comment)
        return Recorded(existing.id, existing.created_at, False)
    mark()
    recorded = record_response_in_session(survey, Answer(
        score=score, comment=comment, channel="email", meta=_answer_meta(invitation.contact),
        ua_family=ua_family,
        contact_id=invitation.contact_id, invitation_id=invitation.id,
    ))
    if invitation.state != "answered":  # a simultaneous first answer won the race; ours revised it
        mark()
        db.session.commit()
    return recorded


def record_click(invitation: Invitation, score: int, *, ua_family: str | None = None,
                 now: dt.datetime | None = None) -> bool:
    """A score link's page confirmed its score (the page's script POSTs it). Return True if recorded.

    A person clicks one button. A link scanner that runs scripts opens every
    button's page within seconds: a different score confirmed within
    ``INVITE_CLICK_BURST_SECONDS`` of the last one is such a fan-out, so the
    provisional answer it made is withdrawn (unless the customer already sent
    the form) and the fan-out's clicks are ignored. A click after the burst
    counts again.
    """
    now = now or utcnow()
    burst = dt.timedelta(seconds=current_app.config["INVITE_CLICK_BURST_SECONDS"])
    _lock(invitation)
    last = invitation.last_click_at
    in_burst = last is not None and now - last < burst
    scanning = invitation.scan_suspected_at is not None and last is not None and invitation.scan_suspected_at >= last
    if in_burst and (scanning or score != invitation.last_click_score):
        invitation.scan_suspected_at = invitation.last_click_at = now
        invitation.last_click_score = score
        response = invitation.response
        if response is not None and invitation.confirmed_at is None and response.comment is None:
            db.session.delete(response)
            invitation.state, invitation.answered_at = "sent", None
        db.session.commit()
        return False
    invitation.last_click_at = now
    invitation.last_click_score = score
    answer_invitation(invitation, score=score, ua_family=ua_family, now=now)
    return True


def unsubscribe_invitation(invitation: Invitation) -> None:
    """The unsubscribe link (page or RFC 8058 one-click POST) of one e-mail."""
    if invitation.contact is not None:
        unsubscribe_contact(invitation.contact)


# -- bounces -----------------------------------------------------------------


@dataclass
class BounceOutcome:
    """What one bounce e-mail did: ``kind`` is hard, soft or ignored; ``marked`` the contacts newly bounced."""

    kind: str
    summary: str
    marked: int = 0


def record_bounce(parsed: ParsedBounce, *, now: dt.datetime | None = None) -> BounceOutcome:
    """Act on one parsed bounce e-mail (``survey.invites.bounces.parse_bounce``), in one transaction.

    A hard bounce (``Action: failed``, ``Status: 5.x.x``) marks the contact
    bounced exactly as a 5xx refusal during SMTP does, so later campaigns and
    reminders skip it; the bounced message keeps the DSN's status as its
    error, its invitation (if still just ``sent``) becomes ``failed``, and the
    contact's mail still queued is cancelled. It is matched to its message by
    the signed VERP tag, else by the quoted ``Message-ID`` of a message Rapport
    sent, else, only when ``MAIL_BOUNCE_ADDRESS`` is unset and the bounce
    carries no tag, by the failed address. A tag whose signature is wrong is
    never matched by address. Soft bounces, delivery notices and mail that is
    no DSN change nothing. Processing the same bounce again changes nothing.
    """
    now = now or utcnow()
    if not parsed.is_dsn:
        return BounceOutcome("ignored", f"not a bounce ({parsed.problem or 'no delivery status'}): ignored")
    hard = parsed.hard
    if not hard:
        report = (parsed.soft or parsed.recipients)[0]
        detail = " ".join(filter(None, (report.status, report.action)))
        if parsed.soft:
            return BounceOutcome("soft", f"soft bounce: {mask(report.address)} ({detail}): ignored")
        return BounceOutcome("ignored", f"delivery notice: {mask(report.address)} ({detail or 'no action'}): ignored")
    report = hard[0]
    message, forged = _bounced_message(parsed)
    targets: list[tuple[Contact, OutboxMessage | None, RecipientReport]] = []
    if message is not None:
        contact = message.invitation.contact if message.invitation is not None else None
        if contact is None:
            return BounceOutcome("ignored", f"hard bounce: {mask(report.address)} ({report.status}) of a message "
                                            "whose contact was forgotten: ignored")
        targets.append((contact, message, report))
    elif forged:
        return BounceOutcome("ignored", f"hard bounce: {mask(report.address)} ({report.status}) with a bounce tag "
                                        "that is forged or names no message: ignored")
    elif current_app.config.get("MAIL_BOUNCE_ADDRESS"):
        return BounceOutcome("ignored", f"hard bounce: {mask(report.address)} ({report.status}) without a bounce tag "
                                        "or a Message-ID Rapport sent: ignored")
    else:
        for each in hard:
            contact = find_contact(each.address or "")
            if contact is not None and all(contact is not t[0] for t in targets):
                targets.append((contact, None, each))
        if not targets:
            return BounceOutcome("ignored", f"hard bounce: {mask(report.address)} ({report.status}) matches no "
                                            "contact: ignored")
    summaries, marked = [], 0
    for contact, bounced_message, each in targets:
        first_time = _mark_bounced(contact, bounced_message, each, now)
        marked += first_time
        summaries.append(f"{mask(contact.email)} ({each.status}), "
                         + ("contact marked bounced" if first_time else "already marked bounced"))
    db.session.commit()
    return BounceOutcome("hard", "hard bounce: " + "; ".join(summaries), marked=marked)


def _bounced_message(parsed: ParsedBounce) -> tuple[OutboxMessage | None, bool]:
    """The outbox message a bounce is about, and whether it carried a tag that did not check out."""
    secret = current_app.config["SECRET_KEY"]
    forged = False
    for tag in parsed.tags:
        message_id = read_tag(tag, secret)
        message = db.session.get(OutboxMessage, message_id) if message_id is not None else None
        if message is not None:
            return message, False
        forged = True
    for quoted in parsed.original_message_ids[:5]:
        message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.message_id == quoted[:255]))
        if message is not None:
            return message, False
    return None, forged


def _mark_bounced(contact: Contact, message: OutboxMessage | None, report: RecipientReport,
                  now: dt.datetime) -> bool:
    """Record a hard bounce (the caller commits); True if the contact was not marked bounced before."""
    first_time = db.session.execute(
        sa.update(Contact).where(Contact.id == contact.id, Contact.bounced_at.is_(None)).values(bounced_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount == 1
    reason = " ".join(filter(None, ("bounced after delivery:", report.status, report.diagnostic)))
    if message is not None:
        if message.state == "sent" and not (message.last_error or "").startswith("bounced after delivery"):
            message.last_error = reason[:1000]
        invitation = message.invitation
        if invitation is not None and message.kind == "invitation" and invitation.state == "sent":
            invitation.state, invitation.last_error = "failed", reason[:500]
    _cancel_queued_mail(contact.id, reason="bounced")
    return first_time


# -- reporting ---------------------------------------------------------------


def campaign_stats(campaign: Campaign, now: dt.datetime | None = None) -> dict:
    """What became of a campaign: the dashboard's and ``flask invite status``'s numbers.

    ``sent`` counts invitations whose first e-mail left; ``answered`` those
    answered (from the e-mail, channel ``email``); ``response_rate`` is
    answered / sent (None before anything was sent).
    """
    now = now or utcnow()
    inv = Invitation
    where = inv.campaign_id == campaign.id

    def count(*conditions) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(inv).where(where, *conditions)) or 0

    sent = count(inv.sent_at.is_not(None))
    answered = count(inv.answered_at.is_not(None))
    outbox = dict(db.session.execute(
        sa.select(OutboxMessage.state, sa.func.count()).join(inv, OutboxMessage.invitation_id == inv.id)
        .where(where).group_by(OutboxMessage.state)
    ).all())
    return {
        "campaign": campaign.id,
        "survey": campaign.survey.public_key,
        "name": campaign.name,
        "segment": describe_segment(campaign.segment or {}),
        "created_at": campaign.created_at.isoformat(timespec="seconds"),
        "invited": count(),
        "queued": count(inv.status_is("queued", now)),
        "sent": sent,
        "failed": count(inv.state == "failed"),
        "answered": answered,
        "expired": count(inv.status_is("expired", now)),
        "suppressed": count(inv.state == "suppressed", inv.skip_reason != "throttled"),
        "skipped_unsubscribed": count(inv.skip_reason == "unsubscribed"),
        "skipped_bounced": count(inv.skip_reason == "bounced"),
        "skipped_throttled": count(inv.skip_reason == "throttled"),
        "reminded": count(inv.reminded_at.is_not(None)),
        "response_rate": round(answered / sent, 4) if sent else None,
        "channel": "email",
        "outbox": {state: outbox.get(state, 0) for state in sorted(outbox)},
    }


def invitation_counts_by_status(campaign: Campaign, now: dt.datetime | None = None) -> dict[str, int]:
    """How many of the campaign's invitations are in each state right now."""
    return {status: db.session.scalar(
        sa.select(sa.func.count()).select_from(Invitation)
        .where(Invitation.campaign_id == campaign.id, Invitation.status_is(status, now))) or 0
        for status in INVITATION_STATUSES}

