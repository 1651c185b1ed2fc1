"""Turning new and changed answers into queued deliveries, from the worker's side.

The answer write path stays as it is (one INSERT, survey.prepared): nothing
there knows about webhooks. Instead each endpoint keeps a durable cursor,
``scanned_until``. A scan reads the survey's answers whose ``updated_at`` is
at or after ``scanned_until - WEBHOOK_SCAN_OVERLAP_SECONDS`` and queues a
delivery for each whose score or comment differs from what the endpoint was
last sent (its fingerprint), then moves the cursor to the scan's start: the
deliveries and the cursor commit together, so a crash loses no event and a
rescan of the overlap queues nothing twice (the fingerprint, and the unique
endpoint/answer/version key for two workers scanning at once).

What is sent: every new answer on the answer page, the widget and e-mail
links, and every change of its score or comment (a comment added later, an
edit within the edit window). Imported feedback (``flask response import``:
history, often thousands of rows) is not sent, nor a change of labels alone.
Only answers created within the edit window before the cursor are read, so
the scan walks the (survey, created_at) index and never the whole survey.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from survey.api.representations import response_json, timestamp
from survey.db import chunks, db, insert_on_conflict
from survey.models import Response, Survey, utcnow
from survey.operations import edit_window
from survey.webhooks.models import WebhookDelivery, WebhookEndpoint

SIGNATURE_HEADER = "Rapport-Signature"
EVENT_ID_HEADER = "Rapport-Event-Id"


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(16)


def fingerprint(score: int | None, comment: str | None) -> str:
    """What a receiver knows of an answer: its score and comment."""
    return hashlib.sha256(json.dumps([score, comment]).encode()).hexdigest()[:32]


def survey_part(survey: Survey) -> dict[str, Any]:
    return {"key": survey.public_key, "kind": survey.kind, "name": survey.name}


def event_body(event_id: str, event_type: str, survey: Survey, response: Response | None,
               now: dt.datetime) -> str:
    """The JSON sent: the answer as the read API shows it (survey.api.representations), plus its public id."""
    answer = None
    if response is not None:
        answer = {"public_id": response.public_id, **response_json(response)}
    return json.dumps({"id": event_id, "type": event_type, "created_at": timestamp(now),
                       "survey": survey_part(survey), "answer": answer},
                      ensure_ascii=False, separators=(",", ":"))


def sign(secret: str, unix_time: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{unix_time}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(signing_secrets: list[str], unix_time: int, body: bytes) -> str:
    """``t=<unix>,v1=<hex>`` (a second ``v1=`` while a rotated-out secret still signs)."""
    return ",".join([f"t={unix_time}", *(f"v1={sign(secret, unix_time, body)}" for secret in signing_secrets)])


def scan_endpoint(endpoint_id: int, now: dt.datetime | None = None) -> int | None:
    """Queue the endpoint's new events and move its cursor, in one commit; return how many were queued.

    None: another worker is scanning it (PostgreSQL's row lock), or it is gone or disabled.
    Nothing is written while there is nothing to send and the cursor is fresh, so a quiet
    survey's endpoint costs a read per pass, not a write (on SQLite, a turn at the writer's lock).
    """
    now = now or utcnow()
    db.session.commit()
    endpoint = db.session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
    if endpoint is None or not endpoint.enabled:
        return None
    overlap = dt.timedelta(seconds=current_app.config["WEBHOOK_SCAN_OVERLAP_SECONDS"])
    if not _fresh_events(endpoint, overlap) and now - endpoint.scanned_until < overlap / 2:
        db.session.rollback()
        return 0
    lock = sa.select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled)
    db.session.rollback()
    if db.session.get_bind().dialect.name == "sqlite":
        # A write first: SQLite's writer lock keeps a second worker out until this commits.
        db.session.execute(sa.update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
                           .values(scanned_until=WebhookEndpoint.scanned_until),
                           execution_options={"synchronize_session": False})
    else:
        lock = lock.with_for_update(skip_locked=True)
    endpoint = db.session.scalar(lock.execution_options(populate_existing=True))
    if endpoint is None:
        db.session.rollback()
        return None
    fresh = _fresh_events(endpoint, overlap)
    for part in chunks(fresh, 200):
        responses = {response.id: response for response in db.session.scalars(
            sa.select(Response).options(joinedload(Response.contact), joinedload(Response.survey))
            .where(Response.id.in_([row.id for row, _, _ in part])))}
        values = []
        for row, print_, kind in part:
            event_id = new_event_id()
            values.append({"endpoint_id": endpoint.id, "event_id": event_id, "event_type": kind,
                           "response_id": row.id, "response_updated_at": row.updated_at, "fingerprint": print_,
                           "body": event_body(event_id, kind, endpoint.survey, responses[row.id], now),
                           "state": "queued", "attempts": 0, "next_attempt_at": now, "created_at": now})
        table = WebhookDelivery.__table__
        db.session.execute(insert_on_conflict(db.session.get_bind().dialect.name)(table).on_conflict_do_nothing(
            index_elements=[table.c.endpoint_id, table.c.response_id, table.c.response_updated_at]), values)
    endpoint.scanned_until = max(now, endpoint.scanned_until)
    db.session.commit()
    return len(fresh)


def _fresh_events(endpoint: WebhookEndpoint, overlap: dt.timedelta) -> list[tuple[Any, str, str]]:
    """The answers changed since the cursor (less the overlap) whose score or comment the endpoint
    has not been sent yet: ``(row, fingerprint, event type)`` each, oldest change first."""
    since = max(endpoint.scanned_until - overlap, endpoint.sending_since)
    rows = db.session.execute(
        sa.select(Response.id, Response.created_at, Response.updated_at, Response.score, Response.comment)
        .where(Response.survey_id == endpoint.survey_id, Response.created_at >= since - edit_window() - overlap,
               Response.updated_at >= since, Response.channel != "import")
        .order_by(Response.updated_at, Response.id)
    ).all()
    sent = _last_fingerprints(endpoint.id, [row.id for row in rows])
    fresh = []
    for row in rows:
        print_ = fingerprint(row.score, row.comment)
        if sent.get(row.id) == print_:
            continue
        kind = "answer.created" if row.id not in sent and row.created_at >= endpoint.sending_since else "answer.updated"
        fresh.append((row, print_, kind))
        sent[row.id] = print_
    return fresh


def _last_fingerprints(endpoint_id: int, response_ids: list[int]) -> dict[int, str]:
    """For each answer, the fingerprint of the newest event queued for it to this endpoint."""
    last: dict[int, tuple[int, str]] = {}
    for part in chunks(response_ids):
        for delivery_id, response_id, print_ in db.session.execute(
                sa.select(WebhookDelivery.id, WebhookDelivery.response_id, WebhookDelivery.fingerprint)
                .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.response_id.in_(part))):
            if response_id not in last or last[response_id][0] < delivery_id:
                last[response_id] = (delivery_id, print_)
    return {response_id: print_ for response_id, (_, print_) in last.items()}


def scan_all(now: dt.datetime | None = None) -> int:
    """Scan every enabled endpoint; return how many events were queued."""
    ids = list(db.session.scalars(sa.select(WebhookEndpoint.id).where(WebhookEndpoint.enabled)
                                  .order_by(WebhookEndpoint.id)))
    return sum(scan_endpoint(endpoint_id, now) or 0 for endpoint_id in ids)


def anonymise_queued_events(response_ids: sa.Select) -> int:
    """Webhook events not delivered for these answers (queued, or failed and kept to send again) lose
    the person, as the answers do when a contact is forgotten (no contact, no meta); delivered ones
    keep no body already. No commit."""
    queued = db.session.scalars(sa.select(WebhookDelivery).where(
        WebhookDelivery.response_id.in_(response_ids), WebhookDelivery.body.is_not(None))).all()
    for delivery in queued:
        body = json.loads(delivery.body)
        if body.get("answer"):
            body["answer"].update(contact=None, meta={})
        delivery.body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return len(queued)
