"""Writes to the contact list: import, unsubscribe, clear a bounce, forget a person.

Each function validates what it is given, changes what it must and commits
once; it raises ``OperationError`` (with a message for a person) and stores
nothing when it cannot do the whole job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from survey.db import chunks, db
from survey.invites.contacts import ContactRow
from survey.invites.mailer import EmlTransport
from survey.invites.models import Invitation, OutboxMessage
from survey.models import Contact, Response, utcnow
from survey.operations import OperationError

@dataclass
class ContactImport:
    added: int
    updated: int


def import_contacts(rows: list[ContactRow]) -> ContactImport:
    """Add new contacts and merge into known ones (a non-empty new value wins), in one transaction.

    Two imports at once (an upload and the command, two admins) may both take an address for new:
    the one committing second looks again and merges into what the first added.
    """
    for attempt in range(3):
        try:
            return _merge_contacts(rows)
        except sa.exc.IntegrityError:
            db.session.rollback()
    raise OperationError("other imports kept adding the same addresses meanwhile; nothing was imported, "
                         "import the file again")


def _merge_contacts(rows: list[ContactRow]) -> ContactImport:
    emails = [row.email for row in rows]
    known: dict[str, Contact] = {}
    for chunk in chunks(emails):
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


def add_contact(row: ContactRow) -> Contact:
    """One new contact, typed in (``row`` already checked: survey.invites.contacts); a known address is refused."""
    if find_contact(row.email) is not None:
        raise OperationError(f"{row.email} is already a contact; open it to edit it")
    contact = Contact(email=row.email, name=row.name, attributes=dict(row.attributes))
    db.session.add(contact)
    db.session.commit()
    return contact


def update_contact(contact: Contact, name: str | None, attributes: dict[str, str]) -> bool:
    """Replace the contact's name and attributes (an attribute left out is removed); False if nothing changed."""
    if name == contact.name and attributes == (contact.attributes or {}):
        return False
    contact.name = name
    contact.attributes = dict(attributes)  # a new dict, so the JSON column is seen as changed
    db.session.commit()
    return True


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
    cancel_queued_mail(contact.id, reason="unsubscribed")
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


def cancel_queued_mail(contact_id: int, reason: str) -> int:
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
    erase_follow_up_notes(sa.select(Response.id).where(answers))
    from survey.webhooks.events import anonymise_queued_events

    anonymise_queued_events(sa.select(Response.id).where(answers))
    anonymised = db.session.execute(
        sa.update(Response).where(answers)
        .values(contact_id=None, invitation_id=None, submission_key=None, edit_token_hash=None, meta={}),
        execution_options={"synchronize_session": False},
    ).rowcount
    message_ids: list[str] = []
    for chunk in chunks(invitation_ids):
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


def erase_follow_up_notes(response_ids: sa.Select) -> None:
    """The team's notes on these answers may name the person: they go with the person (no commit)."""
    from survey.followup.models import FollowUp, FollowUpNote

    follow_ups = sa.select(FollowUp.id).where(FollowUp.response_id.in_(response_ids))
    db.session.execute(sa.delete(FollowUpNote).where(FollowUpNote.follow_up_id.in_(follow_ups)),
                       execution_options={"synchronize_session": False})


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


