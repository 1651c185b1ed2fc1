"""How surveys, metrics and answers look in JSON (the shapes survey.api.openapi documents)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import url_for

from survey.admin.links import public_url
from survey.admin.queries import SurveySummary
from survey.metrics import ChangeResult, MetricResult
from survey.models import Response
from survey.results.filters import ResponseFilter
from survey.schedule import closed_reason


def timestamp(value: dt.datetime | None) -> str | None:
    """Stored times are naive UTC; the API says so with a ``Z``."""
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"


def survey_json(summary: SurveySummary) -> dict[str, Any]:
    survey = summary.survey
    return {
        "key": survey.public_key,
        "kind": survey.kind,
        "name": survey.name,
        "subject": survey.subject,
        "question": survey.question,
        "scale": {"low": survey.spec.low, "high": survey.spec.high,
                  "low_label": survey.low_label, "high_label": survey.high_label},
        "followup": {"enabled": survey.followup_enabled, "negative": survey.followup_negative,
                     "neutral": survey.followup_neutral, "positive": survey.followup_positive},
        "thank_you": survey.thank_you,
        "is_open": survey.is_open,
        "created_at": timestamp(survey.created_at),
        "widget": {"origins": [row.origin for row in survey.origins], "cap_days": survey.widget_cap_days,
                   "keep_query_string": survey.keep_query_string},
        "throttle_days": survey.throttle_days,
        "schedule": schedule_json(summary),
        "responses": summary.responses,
        "score": _rounded(summary.metric.score),
        "links": {
            "self": url_for("api.survey", public_key=survey.public_key),
            "metrics": url_for("api.metrics", public_key=survey.public_key),
            "responses": url_for("api.responses", public_key=survey.public_key),
            "public": public_url(survey),
        },
    }


def schedule_json(summary: SurveySummary) -> dict[str, Any]:
    """The close date and response cap, and whether (and why) the survey takes no answers now."""
    survey = summary.survey
    if summary.state == "open":
        reason = None
    elif not survey.is_open:
        reason = "closed_by_hand"
    else:
        reason = "response_cap_reached" if summary.state == "full" else "close_date_passed"
    return {
        "closes_at": timestamp(survey.closes_at),
        "max_responses": survey.max_responses,
        "state": summary.state,
        "closed_reason": reason,
        "message": None if reason is None else closed_reason(survey, answers=summary.responses),
    }


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def metric_json(result: MetricResult) -> dict[str, Any]:
    return {key: _rounded(value) if isinstance(value, float) else value for key, value in result.as_dict().items()}


def change_json(result: ChangeResult) -> dict[str, Any]:
    return {key: _rounded(value, 6) if isinstance(value, float) else value for key, value in result.as_dict().items()}


def period_json(flt: ResponseFilter) -> dict[str, str | None]:
    return {"start": flt.start.isoformat() if flt.start else None, "end": flt.end.isoformat() if flt.end else None}


def response_json(response: Response) -> dict[str, Any]:
    contact = response.contact
    return {
        "id": response.id,
        "score": response.score,
        "band": None if response.score is None else response.survey.spec.band(response.score),
        "comment": response.comment,
        "channel": response.channel,
        "created_at": timestamp(response.created_at),
        "updated_at": timestamp(response.updated_at),
        "sentiment": response.sentiment,
        "theme": response.theme,
        "meta": dict(response.meta or {}),
        "page_url": response.page_url,
        "referrer_origin": response.referrer_origin,
        "browser": response.ua_family,
        "contact": None if contact is None else {
            "email": contact.email, "name": contact.name, "attributes": dict(contact.attributes or {}),
        },
    }
