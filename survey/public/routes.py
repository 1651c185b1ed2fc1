"""Views stay thin: the form validates, ``operations.record_response`` stores."""

from __future__ import annotations

import json

from flask import abort, redirect, render_template, request, url_for

from survey.db import db
from survey.models import Survey
from survey.operations import Answer, OperationError, record_response
from survey.public import bp
from survey.public.forms import AnswerForm
from survey.published import NO_SURVEY, SURVEY_BY_KEY, published_or_404
from survey.requestinfo import MetaError, clean_meta, origin_of, ua_family


def survey_or_404(public_key: str) -> Survey:
    survey = db.session.scalar(SURVEY_BY_KEY, {"public_key": public_key})
    if survey is None:
        abort(404, description=NO_SURVEY)
    return survey


def require_open(survey: Survey) -> None:
    if not survey.is_open:
        abort(410, description="This survey is closed and no longer takes answers. Thank you for your interest.")


@bp.get("/s/<public_key>")
def answer(public_key: str):
    survey = published_or_404(public_key).survey
    require_open(survey)
    try:
        meta = clean_meta(request.args, prefix="meta_")
    except MetaError as exc:
        abort(400, description=f"This survey link is damaged: {exc}.")
    form = AnswerForm.for_survey(survey, formdata=None)
    form.meta_json.data = json.dumps(meta) if meta else ""
    form.ref.data = origin_of(request.referrer) or ""
    preset = request.args.get("score", type=int)
    if preset is not None and preset in survey.scale:
        form.score.data = preset
    return render_template("public/answer.html", survey=survey, form=form)


@bp.post("/s/<public_key>")
def submit(public_key: str):
    survey = published_or_404(public_key).survey
    require_open(survey)
    form = AnswerForm.for_survey(survey)
    if not form.validate():
        return render_template("public/answer.html", survey=survey, form=form), 422
    try:
        record_response(
            survey,
            Answer(
                score=form.score.data,
                comment=form.comment.data,
                channel="link",
                meta=form.meta_dict,
                ua_family=ua_family(request.user_agent.string),
                referrer_origin=origin_of(form.ref.data),
                submission_key=form.submission_key.data,
            ),
        )
    except OperationError as exc:  # a key of another answer, or an answer too old to change
        abort(409, description=f"Your answer could not be changed: {exc}. Please reload the page to send a new one.")
    # Post/redirect/get: a reload of the thank-you page sends nothing twice.
    return redirect(url_for("public.thanks", public_key=public_key), code=303)


@bp.get("/s/<public_key>/thanks")
def thanks(public_key: str):
    survey = published_or_404(public_key).survey
    return render_template("public/thanks.html", survey=survey)
