"""GET-only endpoints; all but the OpenAPI document need a Bearer token.

Unknown query parameters are refused (400, naming the parameter) so a typo
such as ``chanel=email`` does not silently return unfiltered numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app, jsonify, request, url_for
from sqlalchemy.orm import selectinload

from survey.admin.queries import summarise
from survey.api import bp
from survey.api.openapi import build_document
from survey.api.representations import (change_json, metric_json, period_json, response_json, survey_json,
                                        timestamp)
from survey.auth import login_required
from survey.codeframe.operations import as_edited_now as codeframe_now
from survey.db import db
from survey.lookups import survey_by_key
from survey.errors import error_response
from survey.models import Response, Survey, utcnow
from survey.results.filters import ATTR_PREFIX, FilterError, ResponseFilter
from survey.results.queries import comparison, headline, latest_run
from survey.text import as_sentence

FILTER_ARGS = ("start", "end", "channel", "band", "sentiment", "theme", "pain", "q")
PAGE_ARGS = ("page", "per_page")
MAX_PAGE = 1_000_000
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.field = status, field


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    return error_response(exc.status, as_sentence(str(exc)), field=exc.field)


@bp.errorhandler(FilterError)
def filter_error(exc: FilterError):
    return error_response(400, as_sentence(str(exc)), field=exc.field)


def check_query(known: Iterable[str], attrs: bool = False) -> None:
    """Refuse unknown parameter names, a parameter given twice (only its first value was used: a client asking
    for ``channel=email&channel=widget`` got email alone, as if that were both), and values with control
    characters (no database stores NUL)."""
    known = tuple(known)
    for name in request.args:
        if not (name in known or (attrs and name.startswith(ATTR_PREFIX))):
            takes = ", ".join(known + ((ATTR_PREFIX + "KEY",) if attrs else ())) or "no query parameters"
            raise ApiError(400, f"unknown query parameter {name[:64]!r}; this call takes {takes}", field=name[:64])
        values = request.args.getlist(name)
        if any(CONTROL_CHARACTERS.search(value) for value in values):
            raise ApiError(400, f"the query parameter {name!r} contains a control character (such as NUL or a "
                                "line break)", field=name)
        if len(values) > 1:
            raise ApiError(400, f"the query parameter {name!r} is given {len(values)} times; it takes one value "
                                "(filters combine with AND, one value each)", field=name)


def _whole_number(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit():
        raise ApiError(400, f"{name} must be a whole number, not {raw[:20]!r}", field=name)
    # Eleven digits are a whole number too, just out of range: say the range (read at most 9 digits).
    value = int(raw) if len(raw) <= 9 else None
    if value is None or not low <= value <= high:
        raise ApiError(400, f"{name} must be from {low} to {high}", field=name)
    return value


def page_args() -> tuple[int, int]:
    limit = current_app.config["API_MAX_PAGE_SIZE"]
    per_page = _whole_number("per_page", min(current_app.config["API_PAGE_SIZE"], limit), 1, limit)
    return _whole_number("page", 1, 1, MAX_PAGE), per_page


def paginated(items: list, page: int, per_page: int, total: int) -> dict:
    pages = max(1, math.ceil(total / per_page))
    args = request.args.to_dict()

    def link(number: int) -> str:
        return url_for(request.endpoint, **request.view_args, **{**args, "page": number, "per_page": per_page})

    return {
        "data": items,
        "pagination": {"page": page, "per_page": per_page, "total": total, "pages": pages},
        "links": {"self": link(page), "next": link(page + 1) if page < pages else None,
                  "prev": link(min(page - 1, pages)) if page > 1 else None},
    }


def survey_or_404(public_key: str) -> Survey:
    survey = survey_by_key(public_key)
    if survey is None:
        raise ApiError(404, f"there is no survey with the key {public_key[:64]!r}")
    return survey


@bp.get("/openapi.json")
def openapi():
    return jsonify(build_document())


@bp.get("/surveys")
@login_required
def surveys():
    check_query(PAGE_ARGS)
    page, per_page = page_args()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Survey))
    rows = list(db.session.scalars(
        sa.select(Survey).options(selectinload(Survey.origins)).order_by(Survey.id)
        .offset((page - 1) * per_page).limit(per_page)))
    return jsonify(paginated([survey_json(item) for item in summarise(rows)], page, per_page, total))


@bp.get("/surveys/<public_key>")
@login_required
def survey(public_key: str):
    check_query(())
    (summary,) = summarise([survey_or_404(public_key)])
    return jsonify(survey_json(summary))


@bp.get("/surveys/<public_key>/metrics")
@login_required
def metrics(public_key: str):
    survey = survey_or_404(public_key)
    check_query(FILTER_ARGS, attrs=True)
    flt = ResponseFilter.from_args(survey, request.args)
    compared = comparison(flt, utcnow().date())
    return jsonify({
        "survey": survey.public_key,
        "kind": survey.kind,
        "filters": flt.to_args(),
        "period": period_json(flt),
        "metric": metric_json(headline(flt)),
        "comparison": {
            "period": period_json(compared.current),
            "previous_period": period_json(compared.previous),
            "change": change_json(compared.result),
        },
    })


@bp.get("/surveys/<public_key>/pain-points")
@login_required
def pain_points(public_key: str):
    survey = survey_or_404(public_key)
    check_query(())
    run = latest_run(survey)
    # As the codeframe stands now: renames and hides show at once, a merge until the next run recounts.
    points = codeframe_now(survey, [p for p in run.pain_points if p.survey_id in (survey.id, None)] if run else [])
    return jsonify({
        "survey": survey.public_key,
        "run": None if run is None else {
            "id": run.id, "model_version": run.model_version,
            "finished_at": timestamp(run.finished_at)},
        "pain_points": [{
            "id": p.id, "rank": rank, "label": name, "theme": p.theme, "source": p.source,
            "proposal": p.source == "proposal", "count": p.count, "share": p.share, "score_impact": p.score_impact,
            "impact": p.impact, "quotes": list(p.quotes), "trend": p.trend,
            "merged_since_run": merged,
        } for rank, (p, name, merged) in enumerate(points, start=1)],  # ranks 1..n over the points shown
    })


@bp.get("/surveys/<public_key>/responses")
@login_required
def responses(public_key: str):
    survey = survey_or_404(public_key)
    check_query(FILTER_ARGS + PAGE_ARGS, attrs=True)
    flt = ResponseFilter.from_args(survey, request.args)
    page, per_page = page_args()
    total = db.session.scalar(flt.apply(sa.select(sa.func.count()).select_from(Response)))
    rows = db.session.scalars(
        flt.apply(sa.select(Response)).options(selectinload(Response.contact))
        .order_by(Response.created_at.desc(), Response.id.desc())
        .offset((page - 1) * per_page).limit(per_page))
    return jsonify(paginated([response_json(row) for row in rows], page, per_page, total))
