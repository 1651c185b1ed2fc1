"""Writes to an answer's follow-up; each call commits once, in one place.

Every change keeps who made it and when: the assignment (``assigned_by``,
``assigned_at``), the state (``state_by``, ``state_at``), each note (its
author and time). The first move out of "open" sets ``first_followed_up_at``
for good, so moving an answer back to open does not reset the measured time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from survey.db import db
from survey.followup.models import STATES, FollowUp, FollowUpNote
from survey.models import Response, User, utcnow
from survey.operations import OperationError

NOTE_MAX_LENGTH = 5000


@dataclass
class FollowUpChange:
    """What one update changed, for the page's confirmation."""

    assigned: bool = False
    state: bool = False
    noted: bool = False
    follow_up: FollowUp | None = field(default=None, repr=False)

    @property
    def anything(self) -> bool:
        return self.assigned or self.state or self.noted


def follow_up_of(response: Response) -> FollowUp | None:
    return db.session.scalar(sa.select(FollowUp).where(FollowUp.response_id == response.id))


def team_member(user_id: int) -> User:
    """An active account that can take an answer, or an error that says why not."""
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise OperationError("that team member has no active account; choose another")
    return user


def update_follow_up(response: Response, actor: User, *, assignee_id: int | None, state: str,
                     note: str | None = None, now: dt.datetime | None = None) -> FollowUpChange:
    """Set the answer's assignee and state and add a note, as ``actor``; stores all of it or nothing."""
    if state not in STATES:
        raise OperationError(f"unknown follow-up state {state!r}: choose one of {', '.join(STATES)}")
    note = (note or "").strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise OperationError(f"a note can be at most {NOTE_MAX_LENGTH} characters")
    now = now or utcnow()
    follow_up = follow_up_of(response)
    current_assignee = follow_up.assignee_id if follow_up else None
    if assignee_id is not None and assignee_id != current_assignee:
        team_member(assignee_id)  # a deactivated assignee may stay on an answer, never be newly given one
    current_state = follow_up.state if follow_up else "open"
    change = FollowUpChange(assigned=assignee_id != current_assignee, state=state != current_state, noted=bool(note))
    if not change.anything:
        change.follow_up = follow_up
        return change
    if follow_up is None:
        follow_up = FollowUp(response_id=response.id, state="open", created_at=now)
        db.session.add(follow_up)
    if change.assigned:
        follow_up.assignee_id, follow_up.assigned_by_id, follow_up.assigned_at = assignee_id, actor.id, now
    if change.state:
        follow_up.state, follow_up.state_by_id, follow_up.state_at = state, actor.id, now
        if state != "open" and follow_up.first_followed_up_at is None:
            follow_up.first_followed_up_at = now
    if note:
        follow_up.notes.append(FollowUpNote(author_id=actor.id, text=note, created_at=now))
    db.session.commit()
    change.follow_up = follow_up
    return change
