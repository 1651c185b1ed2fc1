"""Results views: parse the filter, ask ``queries`` for the numbers, render. Signed-in people only."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Response as HttpResponse
from flask import abort, current_app, flash, jsonify, redirect, render_template, request, stream_with_context, url_for

from survey.auth import current_user, login_required, role_required
from survey.csvsafe import SPREADSHEET_BOM
from survey.db import db
from survey.errors import error_response
from survey.insights import jobs
from survey.lookups import survey_or_404
from survey.models import PainPointRecord, Response, utcnow
from survey.redirects import safe_next
from survey.results import bp, charts_cache, queries
from survey.results.export import csv_lines
from survey.results.filters import FilterError, ResponseFilter
from survey.results.forms import AnalyzeForm, CorrectionForm
from survey.results.operations import apply_corrections
from survey.results.present import band_names, filter_chips

PER_PAGE = 25
LATEST_ON_RESULTS = 5


def filter_or_400(survey) -> ResponseFilter:
    try:
        return ResponseFilter.from_args(survey, request.args)
    except FilterError as exc:
        # The filter form sends here (a From date after the To date is one click away): offer the same
        # page without the argument at fault rather than a dead end.
        kept = [(k, v) for k, v in request.args.items(multi=True) if k not in (exc.field, "page")]
        way_out = (url_for(request.endpoint, **request.view_args) + ("?" + urlencode(kept) if kept else ""),
                   "Show the page without this filter")
        abort(error_response(400, f"This filter cannot be used: {exc}.", field=exc.field, way_out=way_out))


def page_number() -> int:
    raw = request.args.get("page", "1").strip() or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        abort(error_response(400, f"page {raw[:20]!r} is not a page number (1, 2, 3…).", field="page"))
    return int(raw)


def filter_bar(flt: ResponseFilter, endpoint: str) -> dict:
    """What the filter form needs: choices, the filters in use, and where to send it."""
    pain = db.session.get(PainPointRecord, flt.pain_point) if flt.pain_point is not None else None
    return {
        "flt": flt,
        "endpoint": endpoint,
        "band_names": band_names(flt.survey),
        "attribute_choices": queries.attribute_choices(flt.survey),
        "chips": filter_chips(flt, endpoint, pain),
        "pain": pain,
    }


def grain_arg() -> str | None:
    grain = request.args.get("grain", "").strip() or None
    if grain is not None and grain not in queries.GRAINS:
        abort(error_response(400, f"grain {grain[:20]!r} must be week or month.", field="grain"))
    return grain


def band_rows(survey, counts: dict[int, int]) -> list[dict]:
    """Each score band with its name, count and share of the scored answers."""
    bands = queries.band_counts(survey, counts)
    scored = sum(bands.values())
    names = band_names(survey)
    return [{"band": band, "name": names[band], "count": n,
             "percent": f"{100 * n / scored:.0f}%" if scored else "–"} for band, n in bands.items()]


def score_rows(survey, counts: dict[int, int]) -> list[dict]:
    """Every score of the scale with its band and count: the distribution chart's data."""
    names = band_names(survey)
    return [{"score": score, "band": names[survey.spec.band(score)], "count": counts.get(score, 0)}
            for score in survey.spec.scale]


def enough_answers(result) -> bool:
    return result.n >= current_app.config["MIN_ANSWERS"]


@bp.get("/surveys/<public_key>/results")
@login_required
def survey_results(public_key: str):
    survey = survey_or_404(public_key)
    flt = filter_or_400(survey)
    grain = queries.trend_grain(flt, grain_arg())

    counts = queries.score_counts(flt)
    latest = queries.comments(flt, page=1, per_page=LATEST_ON_RESULTS)
    run = queries.latest_run(survey)
    pain_rows = queries.pain_points(flt, run)
    job = jobs.latest_job(survey)
    return render_template(
        "results/results.html", survey=survey, metric=queries.metric_from_counts(survey, counts),
        answers=queries.answer_count(flt), band_rows=band_rows(survey, counts), comparison=queries.comparison(flt, utcnow().date()),
        grain=grain, run=run, pain_rows=pain_rows, coverage=queries.coverage(run, survey), show_matching=not flt.without("pain").is_empty,
        latest=latest, score_rows=score_rows(survey, counts), trend_points=queries.trend(flt, grain)[1],
        themes=queries.sentiment_by_theme(flt),
        bar=filter_bar(flt, "results.survey_results"), correction_form=CorrectionForm(),
        job=job, job_status=jobs.job_status(job), analyze_form=AnalyzeForm(),
        can_analyze=current_user().role == "admin", comment_count=queries.comment_count(survey),
    )


@bp.post("/surveys/<public_key>/analyze")
@role_required("admin")
def analyze_now(public_key: str):
    """Start an analysis of this survey in the background; one at a time across the site."""
    survey = survey_or_404(public_key)
    if not AnalyzeForm().validate():
        abort(error_response(400, "The form expired; reload the page and press Analyze now again."))
    try:
        jobs.start_analysis(survey, current_user(), background=current_app.config.get("ANALYSIS_JOBS_IN_BACKGROUND",
                                                                                        True))
    except jobs.AnalysisBusy as busy:
        flash(f"Not started: {busy}. This page shows its progress; {jobs.stale_rule_text()}.", "error")
    else:
        flash("Analysis started: it labels new comments and finds the pain points; this page updates when done.",
              "ok")
    return redirect(url_for("results.survey_results", public_key=survey.public_key), code=303)


@bp.get("/surveys/<public_key>/analysis.json")
@login_required
def analysis_status(public_key: str):
    """The latest analysis job of this survey (the results page polls it while one runs)."""
    survey = survey_or_404(public_key)
    return jsonify(jobs.job_status(jobs.latest_job(survey)))


@bp.get("/surveys/<public_key>/charts/<any(distribution, trend, themes, pain):name>.svg")
@login_required
def chart(public_key: str, name: str):
    """One chart of the results page under the same filters, as an SVG image (drawn apart so the page is quick)."""
    survey = survey_or_404(public_key)
    flt = filter_or_400(survey)
    size = request.args.get("size", "wide").strip() or "wide"
    if size not in ("wide", "narrow"):
        abort(error_response(400, f"size {size[:20]!r} must be wide or narrow (drawn for a phone).", field="size"))
    narrow = size == "narrow"
    filtered = not flt.is_empty
    if name == "distribution":
        svg = charts_cache.distribution(survey.kind, queries.score_counts(flt), narrow, filtered)
    elif name == "trend":
        # A period with too few answers is not drawn as if its score were known (the data table lists it).
        points = [(start, result) for start, result in queries.trend(flt, grain_arg())[1] if enough_answers(result)]
        svg = charts_cache.trend(survey.kind, points, narrow, filtered)
    elif name == "themes":
        svg = charts_cache.themes(queries.sentiment_by_theme(flt), narrow, filtered)
    else:
        show_matching = not flt.without("pain").is_empty
        svg = charts_cache.pain_points([
            {"label": row.name, "impact": row.point.impact, "theme": row.point.theme,
             "count": row.matching if show_matching else row.point.count,
             # The bar is the whole analysis's impact: say the number beside it counts only the matches.
             **({"count_of": "matching"} if show_matching else {})}
            for row in queries.pain_points(flt, queries.latest_run(survey))
        ], narrow)
    response = HttpResponse(svg, mimetype="image/svg+xml")
    # Opened on its own, the image may not run anything (it holds no script; this makes sure).
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@bp.get("/surveys/<public_key>/comments")
@login_required
def comments(public_key: str):
    """All comments under the filter, newest first; with ``pain`` it is that pain point's drill-down."""
    survey = survey_or_404(public_key)
    flt = filter_or_400(survey)
    page = queries.comments(flt, page=page_number(), per_page=PER_PAGE)
    bar = filter_bar(flt, "results.comments")
    pain_row = None
    if bar["pain"] is not None:
        pain_row = next((row for row in queries.pain_points(flt, bar["pain"].run) if row.point.id == flt.pain_point),
                        None)
    return render_template("results/comments.html", survey=survey, page=page, bar=bar, pain_row=pain_row,
                           correction_form=CorrectionForm())


@bp.post("/surveys/<public_key>/responses/<int:response_id>/labels")
@login_required
def correct(public_key: str, response_id: int):
    survey = survey_or_404(public_key)
    response = db.session.get(Response, response_id)
    if response is None or response.survey_id != survey.id:
        abort(404, description="There is no such answer in this survey.")
    if response.comment is None:
        abort(error_response(400, "This answer has no comment, so it has no labels to correct."))
    form = CorrectionForm()
    if not form.validate():
        field, errors = next(iter(form.errors.items()))
        abort(error_response(400, errors[0], field=field))
    changed, confirmed = apply_corrections(response, form.wanted, current_user(), confirm=form.confirms_both)
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"id": response.id, "sentiment": response.sentiment, "theme": response.theme,
                        "changed": changed, "confirmed": confirmed})
    if changed:
        also = f" and confirmed its {' and '.join(confirmed)}" if confirmed else ""
        flash(f"Saved your {' and '.join(changed)}{also}: answer #{response.id} is now "
              f"{response.sentiment or '–'} · {response.theme or '–'}.", "ok")
    elif confirmed:
        flash(f"Confirmed: answer #{response.id} is {response.sentiment or '–'} · {response.theme or '–'}, "
              "as the model said; your label now counts for the next retraining.", "ok")
    elif form.confirms_both:
        flash(f"Nothing changed on answer #{response.id}: its labels were already corrected or confirmed.", "info")
    else:
        flash(f"Nothing changed on answer #{response.id}. If its labels are right, press Confirm both: "
              "then they count for the next retraining.", "info")
    back = safe_next(form.next.data, url_for("results.comments", public_key=survey.public_key))
    return redirect(f"{back}#r{response.id}", code=303)


@bp.get("/surveys/<public_key>/export.csv")
@login_required
def export_csv(public_key: str):
    survey = survey_or_404(public_key)
    flt = filter_or_400(survey)
    slug = re.sub(r"[^a-z0-9]+", "-", survey.name.lower()).strip("-")[:60] or survey.public_key
    filename = f"rapport-{slug}-{utcnow():%Y%m%d-%H%M}.csv"

    def body():
        yield SPREADSHEET_BOM
        yield from csv_lines(flt)

    return HttpResponse(
        stream_with_context(body()), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff"},
    )
