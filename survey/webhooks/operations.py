"""Writes about webhook endpoints (each commits once) and the reads the dashboard shows."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from flask import current_app

from survey.db import db
from survey.models import Survey, User, utcnow
from survey.operations import OperationError
from survey.webhooks.events import event_body, new_event_id
from survey.webhooks.models import WebhookDelivery, WebhookEndpoint
from survey.webhooks.targets import TargetRefused, check_url
from survey.webhooks.worker import WebhookReport, claim, deliver_claimed

MAX_ENDPOINTS_PER_SURVEY = 10
#: After a rotation the old secret keeps signing too (a second v1=) this long, so receivers can switch.
ROTATION_OVERLAP = dt.timedelta(hours=24)
RECENT_DELIVERIES = 10


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def allow_local() -> bool:
    return bool(current_app.config["WEBHOOK_ALLOW_LOCAL_TARGETS"])


def create_endpoint(survey: Survey, url: str, user: User | None) -> tuple[WebhookEndpoint, str]:
    """A new endpoint for ``survey``, and its secret (which is shown this once)."""
    try:
        url = check_url(url, allow_local())
    except TargetRefused as exc:
        raise OperationError(str(exc)) from None
    count = db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)
                              .where(WebhookEndpoint.survey_id == survey.id))
    if count >= MAX_ENDPOINTS_PER_SURVEY:
        raise OperationError(f"A survey can have at most {MAX_ENDPOINTS_PER_SURVEY} webhook endpoints; "
                             "delete one first.")
    if db.session.scalar(sa.select(WebhookEndpoint.id).where(WebhookEndpoint.survey_id == survey.id,
                                                             WebhookEndpoint.url == url)):
        raise OperationError("This survey already sends to that address.")
    now = utcnow()
    secret = new_secret()
    endpoint = WebhookEndpoint(survey_id=survey.id, url=url, secret=secret, enabled=True, sending_since=now,
                               scanned_until=now, created_at=now, created_by_id=user.id if user else None)
    db.session.add(endpoint)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:  # the same address added at the same moment by someone else
        db.session.rollback()
        raise OperationError("This survey already sends to that address.") from None
    return endpoint, secret


def rotate_secret(endpoint: WebhookEndpoint) -> str:
    """A new secret; the old one still signs alongside it for ROTATION_OVERLAP."""
    now = utcnow()
    endpoint.previous_secret, endpoint.previous_secret_until = endpoint.secret, now + ROTATION_OVERLAP
    endpoint.secret = secret = new_secret()
    endpoint.secret_rotated_at = now
    db.session.commit()
    return secret


def set_enabled(endpoint: WebhookEndpoint, enabled: bool) -> None:
    """Pause or resume. Answers changed while paused are not sent; queued deliveries wait and resume."""
    if endpoint.enabled == enabled:
        return
    endpoint.enabled = enabled
    if enabled:
        endpoint.sending_since = endpoint.scanned_until = utcnow()
    db.session.commit()


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """The endpoint and its deliveries, queued ones too (nothing more is sent to it)."""
    db.session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    db.session.delete(endpoint)
    db.session.commit()


def send_test_event(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a ``ping`` event and try it at once (one try, recorded like any other); return it."""
    if not endpoint.enabled:
        raise OperationError("Enable the endpoint before sending it a test event.")
    now = utcnow()
    event_id = new_event_id()
    delivery = WebhookDelivery(endpoint_id=endpoint.id, event_id=event_id, event_type="ping",
                               body=event_body(event_id, "ping", endpoint.survey, None, now),
                               state="queued", attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(delivery)
    db.session.commit()
    return _try_now(delivery.id)


def send_again(endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    """A failed delivery of this endpoint, queued afresh (same event id and body) and tried at once."""
    delivery = db.session.scalar(sa.select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                                  WebhookDelivery.endpoint_id == endpoint.id))
    if delivery is None:
        raise LookupError(delivery_id)
    if delivery.state != "failed" or delivery.body is None:
        raise OperationError("Only a failed delivery can be sent again.")
    if not endpoint.enabled:
        raise OperationError("Enable the endpoint before sending anything to it.")
    now = utcnow()
    # A fresh start of its tries and of its give-up clock; its tries so far stay counted in what it shows.
    delivery.state, delivery.attempts, delivery.next_attempt_at, delivery.created_at = "queued", 0, now, now
    delivery.claim_token = delivery.lease_until = None
    db.session.commit()
    return _try_now(delivery.id)


def _try_now(delivery_id: int) -> WebhookDelivery:
    """One try of a queued delivery in this request (claimed like any other, so no worker sends it meanwhile)."""
    token, ids = claim(1, only_id=delivery_id)
    deliver_claimed(token, ids, WebhookReport())
    return db.session.get(WebhookDelivery, delivery_id, populate_existing=True)


def endpoint_of(survey: Survey, endpoint_id: int) -> WebhookEndpoint | None:
    """The survey's endpoint with that id; None for another survey's (ids are not secrets, surveys are)."""
    return db.session.scalar(sa.select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                              WebhookEndpoint.survey_id == survey.id))


@dataclass
class EndpointSummary:
    endpoint: WebhookEndpoint
    recent: list[WebhookDelivery]
    counts: dict[str, int]  # by state, all time
    last_failure: WebhookDelivery | None


def endpoints_of(survey: Survey, recent: int = RECENT_DELIVERIES) -> list[EndpointSummary]:
    endpoints = list(db.session.scalars(sa.select(WebhookEndpoint).where(WebhookEndpoint.survey_id == survey.id)
                                        .order_by(WebhookEndpoint.id)))
    if not endpoints:
        return []
    ids = [endpoint.id for endpoint in endpoints]
    counts: dict[int, dict[str, int]] = {endpoint_id: {"queued": 0, "delivered": 0, "failed": 0}
                                         for endpoint_id in ids}
    for endpoint_id, state, count in db.session.execute(
            sa.select(WebhookDelivery.endpoint_id, WebhookDelivery.state, sa.func.count())
            .where(WebhookDelivery.endpoint_id.in_(ids)).group_by(WebhookDelivery.endpoint_id, WebhookDelivery.state)):
        counts[endpoint_id][state] = count
    return [EndpointSummary(endpoint, deliveries_of(endpoint, recent), counts[endpoint.id], last_failure(endpoint))
            for endpoint in endpoints]


def deliveries_of(endpoint: WebhookEndpoint, limit: int) -> list[WebhookDelivery]:
    return list(db.session.scalars(sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                                   .order_by(WebhookDelivery.id.desc()).limit(limit)))


def last_failure(endpoint: WebhookEndpoint) -> WebhookDelivery | None:
    """The newest try that did not deliver (a retry pending, or failed for good)."""
    return db.session.scalar(sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id,
                                                              WebhookDelivery.last_error.is_not(None))
                             .order_by(WebhookDelivery.last_attempt_at.desc(), WebhookDelivery.id.desc()).limit(1))


def shown_url(url: str, full: bool) -> str:
    """The address as a page shows it: without its query string (it may hold a token) unless ``full``."""
    if full:
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "…" if parts.query else "", ""))
