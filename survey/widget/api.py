"""The widget's public JSON API under /api/v1/surveys/KEY/.

Every call goes through the same gate, in this order: unknown survey 404,
origin not allowed 403 (nothing read or stored), closed survey 410, then
for writes: not JSON 415, body too large 413, too many requests 429, bad
body 400/422 (so every write counts against its client's limit, refused
and invalid ones too). Submissions caught by a bot trap are answered as
if stored (so bots do not learn to adapt) and only counted; those from the
dashboard's widget preview are answered as if stored and not written at all
(survey.widget.preview).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import abort, current_app, g, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from survey.db import db
from survey.errors import error_response
from survey.models import Response, Survey, utcnow
from survey.lookups import require_open
from survey.operations import Answer, edit_allowed_until, edit_window
from survey.published import Published, published_or_404
from survey.ratelimit import RateLimit, RateResult, client_key, parse_rate
from survey.requestinfo import origin_of, page_path, ua_family
from survey.text import as_sentence
from survey.widget import api_bp
from survey.widget.cors import add_cors_headers, allow_origin, check_origin
from survey.widget.operations import (
    EditWindowClosed, RateLimited, SubmissionConflict, TokenMismatch, count_bot, record_widget_answer,
    find_trapped, trapped_answer, update_widget_answer,
)
from survey.widget.payload import (
    PREVIEW_FIELD, NewAnswer, PayloadError, Scale, bot_reason, decode_json, parse_answer_update, parse_new_answer,
)
from survey.widget.preview import StalePreview, is_preview


PUBLIC_ID_MAX_LENGTH = 32  # Response.public_id; anything longer names no answer


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers


@api_bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    return error_response(exc.status, as_sentence(exc.message), exc.field, exc.headers)


@api_bp.errorhandler(PayloadError)
def payload_error(exc: PayloadError):
    return error_response(exc.status, as_sentence(exc.message), exc.field)


api_bp.after_request(add_cors_headers)


def gate(public_key: str, write: bool) -> Published:
    """The survey, if this request may use it; otherwise the error that says why."""
    published = admit(public_key, write)
    refuse_if_limited(count_request(published.survey, write))
    return published


def admit(public_key: str, write: bool) -> Published:
    """Every check of ``gate`` before the rate limit, which the caller then counts itself."""
    published = published_or_404(public_key)
    survey = published.survey
    check = check_origin(published, write)
    if not check.allowed:
        raise ApiError(403, check.message)
    allow_origin(check.origin)
    # Remembered so partner_origin need not ask the database the same question again.
    g.partner_origin = check.origin if check.partner else None
    require_open(survey, new_answer=request.method != "PATCH")  # a comment to a counted answer is no new one
    if write:
        if not request.is_json:
            raise ApiError(415, "send the body as JSON with Content-Type: application/json")
        limit = current_app.config["WIDGET_MAX_BODY_BYTES"]
        request.max_content_length = limit  # also bounds bodies sent without a Content-Length
        if request.content_length is not None and request.content_length > limit:
            abort(413)
    return published


def rate_limit(survey: Survey, write: bool) -> RateLimit:
    """This request's client's limit for the survey (answers and loads are counted apart)."""
    rate_name = "WIDGET_RATE_LIMIT" if write else "WIDGET_CONFIG_RATE_LIMIT"
    return RateLimit(f"widget{'' if write else '-load'}:{survey.id}:{client_key()}",
                     parse_rate(current_app.config[rate_name]))


def count_request(survey: Survey, write: bool) -> RateResult:
    """Count this request against its client's limit for the survey."""
    return rate_limit(survey, write).hit()


def refuse_if_limited(result: RateResult) -> None:
    if not result.allowed:
        raise too_many_requests(result)


def too_many_requests(result: RateResult) -> ApiError:
    return ApiError(429, f"too many requests for this survey from your network; try again in "
                         f"{result.retry_after} seconds", headers={"Retry-After": str(result.retry_after)})


def scale_of(survey: Survey) -> Scale:
    return Scale(survey.spec.low, survey.spec.high, current_app.config["COMMENT_MAX_LENGTH"])


def iso(moment: dt.datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


@api_bp.route("/<public_key>/widget", methods=["GET"])
def widget_config(public_key: str):
    """What the widget shows: question, scale with its end labels, follow-ups, thank-you, cap."""
    survey = gate(public_key, write=False).survey
    spec = survey.spec
    response = jsonify({
        "key": survey.public_key,
        "kind": survey.kind,
        "question": survey.question,
        "scale": {"low": spec.low, "high": spec.high, "low_label": survey.low_label,
                  "high_label": survey.high_label, "negative_max": spec.negative_max,
                  "positive_min": spec.positive_min},
        "followup": {"negative": survey.followup_negative, "neutral": survey.followup_neutral,
                     "positive": survey.followup_positive} if survey.followup_enabled else None,
        "thank_you": survey.thank_you,
        "cap_days": survey.widget_cap_days,
        "comment_max_length": current_app.config["COMMENT_MAX_LENGTH"],
    })
    # Short, so closing a survey or editing its question reaches the widgets within a minute.
    response.cache_control.max_age = 60
    return response


@api_bp.route("/<public_key>/responses", methods=["POST"])
def create_response(public_key: str):
    """A new widget answer: 201 with its id and the token that may add the comment later.

    A valid answer's rate-limit count is written together with the answer; a
    refused or trapped one is counted on its own first, so a flooding client hears 429.
    """
    published = admit(public_key, write=True)
    survey = published.survey
    try:
        payload = parse_new_answer(decode_json(request.get_data()), scale_of(survey))
    except (PayloadError, HTTPException):
        refuse_if_limited(count_request(survey, write=True))
        raise
    try:
        preview = is_preview(survey, payload.preview, request.headers.get("Origin"))
    except StalePreview as exc:
        refuse_if_limited(count_request(survey, write=True))
        raise ApiError(422, str(exc), PREVIEW_FIELD) from None
    if preview:  # answered as a stored answer is, by an id its comment can follow; nothing is written
        refuse_if_limited(count_request(survey, write=True))
        public_id, token = trapped_answer(_secret(), payload.score)
        return _created_body(public_id, token, utcnow() + edit_window(), public_key, 201)
    trap = bot_reason(payload.honeypot_filled, payload.elapsed_ms, current_app.config["WIDGET_MIN_ANSWER_MS"])
    if trap:
        refuse_if_limited(count_request(survey, write=True))
        count_bot(survey, trap)
        public_id, token = trapped_answer(_secret(), payload.score)
        return _created_body(public_id, token, utcnow() + edit_window(), public_key, 201)
    answer = Answer(
        score=payload.score, comment=payload.comment, channel="widget", meta=payload.meta,
        ua_family=ua_family(request.user_agent.string), referrer_origin=partner_origin(published, payload),
        page_url=page_path(payload.page_url, survey.keep_query_string), submission_key=payload.submission_key,
    )
    try:
        recorded, token = record_widget_answer(survey, answer, rate_limit(survey, write=True))
    except RateLimited as exc:
        raise too_many_requests(exc.result) from None
    except (SubmissionConflict, EditWindowClosed) as exc:
        raise ApiError(409, str(exc), "submission_key") from None
    return _created_body(recorded.public_id, token, edit_allowed_until(recorded), public_key,
                         201 if recorded.created else 200)


def _token_mismatch() -> ApiError:
    return ApiError(403, TokenMismatch.MESSAGE, "edit_token")


def _secret() -> bytes:
    key = current_app.secret_key
    return key.encode() if isinstance(key, str) else key


def partner_origin(published: Published, payload: NewAnswer) -> str | None:
    """The partner site the answer was given on: the request's Origin, or for the embed page
    (same-origin requests) the origin of the page that framed it; only if the survey lists it."""
    header = request.headers.get("Origin")
    if header and header == g.get("partner_origin"):
        return header  # the gate found it on the survey's list
    for candidate in (header, origin_of(payload.page_url)):
        if candidate in published.origins:
            return candidate
    return None


def _created_body(response_id: str, token: str, until: dt.datetime, public_key: str, status: int):
    body = jsonify({"id": response_id, "edit_token": token, "edit_until": iso(until)})
    body.status_code = status
    body.headers["Location"] = url_for("widget_api.update_response", public_key=public_key,
                                       response_id=response_id)
    return body


@api_bp.route("/<public_key>/responses/<response_id>", methods=["PATCH"])
def update_response(public_key: str, response_id: str):
    """A later step of the same answer (the comment after the score), with the edit token.

    The id and token of a trapped or preview answer (never stored) are answered as a real edit is.
    """
    survey = gate(public_key, write=True).survey
    payload = parse_answer_update(decode_json(request.get_data()), scale_of(survey))
    if payload.honeypot_filled:
        count_bot(survey, "honeypot")
        return jsonify({"id": response_id, "score": payload.score, "comment": payload.comment})
    response = None
    if len(response_id) <= PUBLIC_ID_MAX_LENGTH:
        response = db.session.scalar(sa.select(Response).where(Response.public_id == response_id,
                                                               Response.survey_id == survey.id))
    if response is None:
        trapped = find_trapped(_secret(), response_id, payload.edit_token)
        if trapped is None:
            raise ApiError(404, f"this survey has no answer {response_id[:PUBLIC_ID_MAX_LENGTH]!r}")
        if not trapped.edit_token_ok:
            raise _token_mismatch()
        score = payload.score if payload.score is not None else trapped.score
        return jsonify({"id": response_id, "score": score, "comment": payload.comment})
    try:
        response = update_widget_answer(response, payload.edit_token, payload.score, payload.comment)
    except TokenMismatch:
        raise _token_mismatch() from None
    except EditWindowClosed as exc:
        raise ApiError(409, str(exc)) from None
    return jsonify({"id": response.public_id, "score": response.score, "comment": response.comment})
