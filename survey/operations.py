"""Writes go through these small functions; each commits once, in one place.

Views and commands validate input, then call one of these. A function either
stores everything it was asked to or raises and stores nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import current_app

from survey.db import chunks, db, insert_on_conflict
from survey.kinds import DEFAULT_FOLLOWUP, DEFAULT_THANK_YOU, KINDS
from survey.labels import forget_model_labels
from survey.models import CHANNELS, Response, Survey, utcnow
from survey.prepared import PreparedWrite, Writes, together
from survey.textrules import comment_text
from survey.tokens import hash_token

if TYPE_CHECKING:
    from collections.abc import Sequence

    from survey.importer import FeedbackRow
    from survey.ratelimit import RateLimit, RateResult


class OperationError(ValueError):
    """A request that cannot be carried out, with a message for a person."""


class SubmissionConflict(OperationError):
    """A submission key that already belongs to an answer this request may not touch (409)."""


class RateLimited(OperationError):
    """The client is over its rate limit: its request was counted, and nothing else stored."""

    def __init__(self, result: "RateResult"):
        super().__init__(f"too many requests; try again in {result.retry_after} seconds")
        self.result = result


class EditWindowClosed(OperationError):
    """The answer is older than the edit window every channel shares (409)."""


def edit_window() -> dt.timedelta:
    """How long after its first sending an answer may still be changed, whatever its channel."""
    return dt.timedelta(seconds=current_app.config["ANSWER_EDIT_WINDOW_SECONDS"])


def edit_allowed_until(response: "Response | Recorded") -> dt.datetime:
    return response.created_at + edit_window()


def check_edit_window(response: Response, now: dt.datetime | None = None) -> None:
    """EditWindowClosed once the answer is older than the edit window."""
    if (now or utcnow()) > edit_allowed_until(response):
        hours = edit_window().total_seconds() / 3600
        raise EditWindowClosed(f"this answer can no longer be changed: changes are accepted for {hours:g} hours "
                               "after it was first sent")


def new_public_id() -> str:
    """An answer's id on the public API: 128 random bits, so ids tell nothing about how many there are."""
    return secrets.token_urlsafe(16)


def create_survey(kind: str, name: str, subject: str | None = None, owner_id: int | None = None,
                  **overrides: Any) -> Survey:
    """Create a survey with the standard wording of its kind; ``overrides`` edit any field."""
    if kind not in KINDS:
        raise OperationError(f"unknown survey kind {kind!r}: choose one of {', '.join(KINDS)}")
    name = (name or "").strip()
    if not name:
        raise OperationError("a survey needs a name")
    spec = KINDS[kind]
    subject = (subject or "").strip() or "us"
    for field_name, value in (("name", name), ("subject", subject)):
        # The dashboard's form stops these; the command line must too (PostgreSQL refuses with a traceback).
        limit = Survey.__table__.c[field_name].type.length
        if len(value) > limit:
            raise OperationError(f"the {field_name} can be at most {limit} characters (this one has {len(value)})")
    survey = Survey(
        kind=kind,
        name=name,
        subject=subject,
        question=spec.question.format(subject=subject),
        low_label=spec.low_label,
        high_label=spec.high_label,
        followup_negative=DEFAULT_FOLLOWUP["negative"],
        followup_neutral=DEFAULT_FOLLOWUP["neutral"],
        followup_positive=DEFAULT_FOLLOWUP["positive"],
        thank_you=DEFAULT_THANK_YOU,
        owner_id=owner_id,
    )
    if kind == "ces":
        # The statement reads as a sentence; capitalise a lower-case subject.
        survey.question = survey.question[0].upper() + survey.question[1:]
    for key, value in overrides.items():
        if not hasattr(Survey, key):
            raise OperationError(f"surveys have no field {key!r}")
        setattr(survey, key, value)
    db.session.add(survey)
    db.session.commit()
    return survey


def check_score(survey: Survey, score: Any) -> int | None:
    """Return ``score`` if it is on the survey's scale (or None); raise OperationError otherwise."""
    if score is None:
        return None
    if isinstance(score, bool) or not isinstance(score, int):
        raise OperationError(f"the score must be a whole number from {survey.spec.low} to {survey.spec.high}")
    if score not in survey.scale:
        raise OperationError(f"the score must be from {survey.spec.low} to {survey.spec.high}")
    return score


@dataclass
class Answer:
    """What a customer sent, already validated by the form or API layer."""

    score: int | None
    comment: str | None
    channel: str
    meta: dict[str, str] = field(default_factory=dict)
    ua_family: str | None = None
    referrer_origin: str | None = None
    page_url: str | None = None
    submission_key: str | None = None
    contact_id: int | None = None
    invitation_id: int | None = None
    edit_token: str | None = None


@dataclass(frozen=True)
class Recorded:
    """What storing an answer left in the database."""

    id: int
    created_at: dt.datetime
    created: bool  # False: its submission_key was stored already, and that answer was revised
    public_id: str | None = None  # its id on the public API


def _response_values(survey: Survey, answer: Answer, now: dt.datetime) -> dict[str, Any]:
    """The row an answer becomes, checked against the survey (OperationError if it cannot be one)."""
    if answer.channel not in CHANNELS:
        raise OperationError(f"unknown channel {answer.channel!r}")
    score = check_score(survey, answer.score)
    comment = comment_text(answer.comment)
    if score is None and comment is None:
        raise OperationError("an answer needs a score or a comment")
    return dict(
        public_id=new_public_id(), survey_id=survey.id, score=score, comment=comment, channel=answer.channel, meta=dict(answer.meta),
        created_at=now, updated_at=now, ua_family=answer.ua_family, referrer_origin=answer.referrer_origin,
        page_url=answer.page_url, submission_key=answer.submission_key, contact_id=answer.contact_id,
        invitation_id=answer.invitation_id,
        edit_token_hash=hash_token(answer.edit_token) if answer.edit_token else None,
    )


@functools.cache  # one statement object per dialect, so SQLAlchemy's compiled cache finds it
def _insert_statement(dialect: str) -> sa.Insert:
    # INSERT … ON CONFLICT (submission_key) DO NOTHING RETURNING id: a key stored
    # already returns no row, and nothing is written.
    table = Response.__table__
    return (insert_on_conflict(dialect)(table)
            .on_conflict_do_nothing(index_elements=[table.c.submission_key])
            .returning(table.c.id))


@functools.cache
def _insert_invitation_answer_statement(dialect: str) -> sa.Insert:
    # An invitation's answer is keyed by its invitation_id (a server-chosen key in a column of
    # its own), never by a submission_key a client could choose (ck_responses_one_idempotency_key).
    table = Response.__table__
    return (insert_on_conflict(dialect)(table)
            .on_conflict_do_nothing(index_elements=[table.c.invitation_id],
                                    index_where=table.c.invitation_id.isnot(None))
            .returning(table.c.id))


_RESPONSE_COLUMNS = ("public_id", "survey_id", "score", "comment", "channel", "meta", "created_at", "updated_at", "ua_family",
                     "referrer_origin", "page_url", "submission_key", "contact_id", "invitation_id",
                     "edit_token_hash")
_insert_new_response = PreparedWrite(_insert_statement, _RESPONSE_COLUMNS)
_insert_new_invitation_answer = PreparedWrite(_insert_invitation_answer_statement, _RESPONSE_COLUMNS)


def insert_response(survey: Survey, answer: Answer, connection: sa.Connection | None = None, *,
                    together: Writes | None = None) -> Recorded | None:
    """Insert one answer; None, and nothing written, if its ``submission_key`` is stored already.

    With neither ``connection`` nor ``together``, the insert is a transaction of
    its own (``survey.prepared``: this is every customer's write, and it runs at
    a third of the cost of the ORM's unit of work). On a ``connection`` it joins
    that transaction and the caller commits; ``together``: one of that group.
    """
    now = utcnow()
    values = _response_values(survey, answer, now)
    statement, prepared = _insert_statement, _insert_new_response
    if answer.invitation_id is not None:
        if answer.submission_key is not None:
            raise OperationError("an invitation's answer is keyed by its invitation, not by a submission key")
        statement, prepared = _insert_invitation_answer_statement, _insert_new_invitation_answer
    if connection is not None:
        row = connection.execute(statement(connection.dialect.name), values).first()
    elif together is not None:
        row = together.run(prepared, values)
    else:
        row = prepared.run(values)
    return None if row is None else Recorded(row[0], now, True, values["public_id"])


def stored_with_key(answer: Answer) -> Response:
    """The answer already stored under ``answer``'s key (after insert_response returned None):
    its invitation's answer, or the one with its ``submission_key``."""
    if answer.invitation_id is not None:
        where = Response.invitation_id == answer.invitation_id
    else:
        where = Response.submission_key == answer.submission_key
    existing = db.session.scalar(sa.select(Response).where(where))
    if existing is None:  # only a concurrent delete can get here (``flask contact forget`` keeps answers)
        raise OperationError("this answer was removed while it was being sent; please send it again")
    return existing


def record_response(survey: Survey, answer: Answer, limits: "Sequence[RateLimit]" = ()) -> Recorded:
    """Store one answer, or revise the one stored under the same ``submission_key``.

    The same ``submission_key`` twice (double-click, back button, a retried
    request, two copies racing) revises the first answer with the latest
    score and comment instead of storing a second one. A new answer is one
    statement in a transaction of its own, outside the ORM session.

    Each of ``limits`` (the request's rate limits) counts the request together
    with the answer (``survey.prepared.together``: on SQLite one commit). If one
    refuses it, only the counts are stored and RateLimited is raised.
    """
    if not limits:
        recorded = insert_response(survey, answer)
    else:
        with together() as writes:
            refused = first_refusal([limit.hit(together=writes) for limit in limits])
            recorded = insert_response(survey, answer, together=writes) if refused is None else None
        if refused is not None:
            raise RateLimited(refused)
    return recorded if recorded is not None else _revise_stored(survey, answer)


def first_refusal(results: "Sequence[RateResult]") -> "RateResult | None":
    """The first of these rate-limit counts that refused its request, or None."""
    return next((result for result in results if not result.allowed), None)


def record_response_in_session(survey: Survey, answer: Answer) -> Recorded:
    """``record_response`` inside the session's transaction, with what else the caller changed there."""
    recorded = insert_response(survey, answer, db.session.connection())
    if recorded is None:
        return _revise_stored(survey, answer)
    db.session.commit()
    return recorded


def _revise_stored(survey: Survey, answer: Answer) -> Recorded:
    existing = stored_for_revision(survey, answer)
    _revise(survey, existing, check_score(survey, answer.score), comment_text(answer.comment))
    return Recorded(existing.id, existing.created_at, False, existing.public_id)


def stored_for_revision(survey: Survey, answer: Answer) -> Response:
    """The stored answer a repeat of ``answer`` revises; SubmissionConflict if its key names an
    answer of another survey or channel, EditWindowClosed if it is too old to change."""
    existing = stored_with_key(answer)
    if existing.survey_id != survey.id or existing.channel != answer.channel:
        raise SubmissionConflict("this submission_key already belongs to another answer; "
                                 "send a new one for each answer")
    check_edit_window(existing)
    return existing


def revise_response(response: Response, score: Any = None, comment: str | None = None) -> Response:
    """Change a stored answer's score and/or comment (a later step of the same answer), within the edit window."""
    check_edit_window(response)
    return _revise(response.survey, response, check_score(response.survey, score), comment_text(comment))


def _revise(survey: Survey, response: Response, score: int | None, comment: str | None) -> Response:
    if response.survey_id != survey.id:
        raise OperationError("that answer belongs to another survey")
    if score is not None:
        response.score = score
    if comment is not None and comment != response.comment:
        if response.comment is not None:
            # survey.codeframe imports its routes, which come back to this module: imported when used.
            from survey.codeframe.operations import supersede_examples

            forget_model_labels(response)
            supersede_examples(response)
        response.comment = comment
    response.updated_at = utcnow()
    db.session.commit()
    return response


def set_survey_open(survey: Survey, is_open: bool) -> None:
    survey.is_open = is_open
    db.session.commit()


def import_feedback(survey: Survey, rows: "list[FeedbackRow]") -> tuple[int, int]:
    """Store imported rows in one transaction; return ``(added, already_there)``.

    Rows whose external id this survey already holds are skipped, so importing
    the same file twice adds nothing the second time, also when the two imports
    run at once (the one that commits second looks again and adds the rest).
    """
    for attempt in range(3):
        try:
            return _add_new_rows(survey, rows)
        except sa.exc.IntegrityError:
            # another import committed some of these ids between our look-up and our commit
            db.session.rollback()
    raise OperationError("other imports into this survey kept adding the same ids meanwhile; nothing was "
                         "imported, run it again")


def _add_new_rows(survey: Survey, rows: "list[FeedbackRow]") -> tuple[int, int]:
    ids = [row.external_id for row in rows if row.external_id is not None]
    existing: set[str] = set()
    for chunk in chunks(ids):
        existing.update(db.session.scalars(
            sa.select(Response.external_id).where(Response.survey_id == survey.id, Response.external_id.in_(chunk))
        ))
    now = utcnow()
    added = 0
    for row in rows:
        if row.external_id is not None and row.external_id in existing:
            continue
        db.session.add(Response(
            survey_id=survey.id, score=row.score, comment=row.text, channel="import",
            created_at=row.created_at or now, updated_at=now, external_id=row.external_id, meta={},
        ))
        added += 1
    db.session.commit()
    return added, len(rows) - added
