"""Low-score alerts: the worker finds answers at or below their survey's follow-up threshold and mails the owners.

Nothing happens on the answer's write path (survey.prepared is tuned for
speed): the worker looks for low scores of the last ``ALERT_LOOKBACK_HOURS``
that no alert batch covered yet (``alerted_responses``), on every pass.

Batching: a survey's first low score goes out at the next pass; after a batch,
the survey's next one waits until ``ALERT_BATCH_MINUTES`` have passed and then
lists everything that arrived meanwhile (the first ``ALERT_MAX_ITEMS``, and how
many more). So a burst of 50 answers costs each owner one or two e-mails.

Exactly once: a batch's marks, its e-mails' outbox rows and their
``owner_mails`` records are one commit. A crash before it leaves nothing (the
next pass does the batch again); after it, the marks stop a second batch, and
the primary key of ``alerted_responses`` stops two workers racing on one answer.
An answer whose score is later changed is not alerted again.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from survey.alerts.mail import build_mail, outbox_message, recipients, site_links
from survey.alerts.models import AlertBatch, AlertedResponse, OwnerMail
from survey.db import chunks, db
from survey.followup.queries import needs_follow_up
from survey.display import isolated
from survey.invites.contacts import clean_text
from survey.models import Response, Survey, utcnow
from survey.results.present import CHANNEL_NAMES

log = logging.getLogger(__name__)
COMMENT_SHOWN = 300  # characters of a comment in the e-mail; the inbox has the rest


@dataclass
class AlertReport:
    batches: int = 0
    answers: int = 0
    mails: int = 0
    waiting: int = 0  # surveys whose low scores wait for the end of their batch window


def _unalerted(since: dt.datetime) -> sa.ColumnElement[bool]:
    """Low scores since ``since`` that no batch covered; correlated with ``Survey`` so each survey's
    answers are read by ix_responses_survey_created (survey, date, score) and not by a scan of all."""
    alerted = sa.exists().where(AlertedResponse.response_id == Response.id)
    return sa.and_(Response.survey_id == Survey.id, Response.created_at >= since, needs_follow_up(), ~alerted)


def queue_alerts(now: dt.datetime | None = None) -> AlertReport:
    """Queue one alert batch for each survey with new low scores whose batch window has passed."""
    now = now or utcnow()
    config = current_app.config
    report = AlertReport()
    links = site_links()
    since = now - dt.timedelta(hours=config["ALERT_LOOKBACK_HOURS"])
    survey_ids = list(db.session.scalars(
        sa.select(Survey.id).where(sa.exists().where(_unalerted(since))).order_by(Survey.id)))
    if survey_ids and links is None:
        if not current_app.extensions.get("rapport.alerts_warned_no_base_url"):  # once per process, not per pass
            current_app.extensions["rapport.alerts_warned_no_base_url"] = True
            log.warning("alerts: %s survey(s) have new low scores, but PUBLIC_BASE_URL is not set, so no alert "
                        "can link to them; they wait until it is", len(survey_ids))
        return report
    window = dt.timedelta(minutes=config["ALERT_BATCH_MINUTES"])
    for survey_id in survey_ids:
        if _last_batch_at(survey_id, lock=False) > now - window:
            report.waiting += 1
            continue
        try:
            mails, answers = _queue_batch(survey_id, since, window, links, now)
        except sa.exc.IntegrityError:
            mails = answers = 0
            db.session.rollback()  # another worker covered these answers first (the marks' primary key)
        except Exception:  # noqa: BLE001 - one survey's problem must not hold back the others' alerts
            db.session.rollback()
            log.exception("alerts: survey %s could not be batched; its low scores wait for the next pass",
                          survey_id)
            continue
        if not answers:
            log.info("alerts: survey %s was batched by another worker", survey_id)
            continue
        report.batches += 1
        report.answers += answers
        report.mails += mails
    return report


def _last_batch_at(survey_id: int, *, lock: bool) -> dt.datetime:
    if lock:
        # Workers take a survey's batch one at a time (PostgreSQL: a row lock that answers' inserts, which
        # take KEY SHARE, do not wait for). SQLite runs one writer at a time already: a worker whose
        # snapshot is older than another's batch cannot write its own.
        db.session.execute(sa.select(Survey.id).where(Survey.id == survey_id).with_for_update(key_share=True))
    last = db.session.scalar(sa.select(sa.func.max(AlertBatch.created_at)).where(AlertBatch.survey_id == survey_id))
    return last or dt.datetime.min


def _queue_batch(survey_id: int, since: dt.datetime, window: dt.timedelta, links,
                 now: dt.datetime) -> tuple[int, int]:
    """One survey's batch: marks, e-mails and records in one commit; returns (e-mails, answers)."""
    if _last_batch_at(survey_id, lock=True) > now - window:  # another worker's batch came first
        db.session.rollback()
        return 0, 0
    survey = db.session.get(Survey, survey_id)
    ids = list(db.session.scalars(
        sa.select(Response.id).join(Survey, Survey.id == Response.survey_id)
        .where(Survey.id == survey.id, _unalerted(since))
        .order_by(Response.created_at.desc(), Response.id.desc())))
    if not ids:  # another worker covered them since this one looked
        db.session.rollback()
        return 0, 0
    batch = AlertBatch(survey_id=survey.id, created_at=now, answers=len(ids))
    db.session.add(batch)
    db.session.flush()
    for part in chunks(ids, 1000):
        db.session.execute(sa.insert(AlertedResponse), [{"response_id": i, "batch_id": batch.id} for i in part])
    people = recipients(survey, "alert")
    shown = ids[:current_app.config["ALERT_MAX_ITEMS"]]
    listed = {answer.id: answer for answer in db.session.scalars(sa.select(Response).where(Response.id.in_(shown)))}
    items = [_item(listed[i], links) for i in shown]
    count = len(ids)
    name = isolated(clean_text(survey.name) or survey.public_key)  # typed: it cannot reorder the rest
    subject = f"Low score on {name}: {items[0].score}" if count == 1 else f"{count} low scores on {name}"
    for user in people:
        built = build_mail(user, "alert", subject, "low_score_alert", links, now, survey=survey, items=items,
                           count=count, more=count - len(items), threshold=survey.followup_threshold,
                           inbox_url=links.build("followup.inbox_page", survey=survey.public_key))
        message = outbox_message("alert", built, now)
        db.session.flush()
        db.session.add(OwnerMail(kind="alert", survey_id=survey.id, user_id=user.id, batch_id=batch.id,
                                 outbox_message_id=message.id, created_at=now))
    batch.recipients = len(people)
    db.session.commit()
    if not people:
        log.warning("alerts: survey %s had %s low score(s) but nobody to tell (no active owner or admin, or all "
                    "turned alerts off)", survey.public_key, count)
    return len(people), count


@dataclass
class AlertItem:
    score: int
    comment: str | None
    channel: str
    at: dt.datetime
    url: str


def _item(answer: Response, links) -> AlertItem:
    comment = (answer.comment or "").strip() or None
    if comment and len(comment) > COMMENT_SHOWN:
        comment = comment[:COMMENT_SHOWN].rstrip() + "…"
    return AlertItem(score=answer.score, comment=comment, channel=CHANNEL_NAMES.get(answer.channel, answer.channel),
                     at=answer.created_at, url=links.build("followup.answer_page", response_id=answer.id))
