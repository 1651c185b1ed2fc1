"""An invitation's answer: its links' token, one-click scores, the follow-up form, unsubscribing.

Answers go through ``survey.operations.record_response_in_session``, like
every other channel's, and each function commits once.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app

from survey.db import db
from survey.invites.addressbook import unsubscribe_contact
from survey.invites.contacts import ATTRIBUTE_NAME
from survey.invites.models import Invitation
from survey.models import Contact, utcnow
from survey.operations import Answer, Recorded, record_response_in_session, revise_response
from survey.tokens import hash_token


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


