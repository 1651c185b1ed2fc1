"""When a survey stops taking answers: closed by hand, at its close date, or at its response cap.

One rule for every way in (answer page, widget and embed, e-mail links,
campaigns), so each says the same thing. The close date ends everything,
changes to earlier answers too; the cap only refuses *new* answers, so the
customer whose score filled the last place may still add a comment.

The cap counts the survey's answers when asked (one index-only count, and only
for surveys that have a cap). Answers arriving at the very same moment may
each see the last free place, so a cap can be overshot by the answers in
flight at that instant, never by more.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from survey.db import db
from survey.display import when_text
from survey.models import Response, Survey, utcnow
from survey.operations import OperationError

CLOSED = "This survey is closed and no longer takes answers. Thank you for your interest."
FULL = "This survey has all the answers it needs and takes no new ones. Thank you for your interest."


def answer_count(survey: Survey) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Response)
                             .where(Response.survey_id == survey.id))


def closed_reason(survey: Survey, *, new_answer: bool = True, now: dt.datetime | None = None,
                  answers: int | None = None) -> str | None:
    """Why ``survey`` takes no answer now, as a sentence for the customer; None while it is open.

    ``answers``: its number of answers if the caller has counted them already.
    """
    if not survey.is_open:
        return CLOSED
    if survey.closes_at is not None and survey.closes_at <= (now or utcnow()):
        return (f"This survey closed on {when_text(survey.closes_at)} and no longer takes answers. "
                "Thank you for your interest.")
    if new_answer and survey.max_responses is not None and \
            (answer_count(survey) if answers is None else answers) >= survey.max_responses:
        return FULL
    return None


def refusal_for_staff(survey: Survey, now: dt.datetime | None = None) -> str | None:
    """Why nobody should be invited to ``survey`` now, said to the person sending; None while it is open."""
    reason = closed_reason(survey, now=now)
    key = survey.public_key
    if reason is None:
        return None
    if reason == CLOSED:
        return f"survey {key} is closed; open it before inviting anyone"
    if reason == FULL:
        return (f"survey {key} has reached its cap of {survey.max_responses} answers; raise or remove the cap "
                f"(`flask survey schedule {key} --max-responses N` or --no-cap) before inviting anyone")
    return (f"survey {key} closed on {when_text(survey.closes_at)}; move its close date (`flask survey schedule "
            f"{key} --closes-at DATE` or --no-close-date) before inviting anyone")


def state(survey: Survey, answers: int | None = None, now: dt.datetime | None = None) -> str:
    """``open``, ``closed`` (by hand or by date) or ``full`` (the cap is reached): the dashboard's badge."""
    reason = closed_reason(survey, now=now, answers=answers)
    if reason is None:
        return "open"
    return "full" if reason == FULL else "closed"


def parse_close_date(text: str) -> dt.datetime:
    """A close date as typed: ``2026-12-31`` (answers all that day, UTC), ``2026-12-31 18:00`` (UTC)
    or ISO 8601 with an offset (``2026-12-31T18:00+01:00``); returned as naive UTC."""
    value = (text or "").strip()
    try:
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time()) + dt.timedelta(days=1)
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise OperationError(f"{value!r} is not a date: write 2026-12-31, 2026-12-31 18:00 (UTC) "
                             "or 2026-12-31T18:00+01:00") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.replace(second=0, microsecond=0)


def set_schedule(survey: Survey, *, closes_at: dt.datetime | None, max_responses: int | None) -> Survey:
    """Set (or with None remove) the close date and the response cap, in one commit."""
    if max_responses is not None and max_responses < 1:
        raise OperationError("a response cap must be at least 1 (or no cap at all)")
    survey.closes_at = closes_at
    survey.max_responses = max_responses
    db.session.commit()
    return survey
