"""Views stay thin: the form validates, ``operations.record_response`` stores."""

from __future__ import annotations

import json

from flask import abort, make_response, redirect, render_template, request, url_for

from survey.lookups import require_open
from survey.models import Survey
from survey.operations import Answer, OperationError, RateLimited, record_response
from survey.public import bp
from survey.public.forms import AnswerForm
from survey.public.traps import answer_limits, bot_trap, count_answer_post, shown_stamp
from survey.published import published_or_404
from survey.ratelimit import RateResult
from survey.requestinfo import MetaError, clean_meta, origin_of, ua_family


@bp.get("/s/<public_key>")
def answer(public_key: str):
    survey = published_or_404(public_key).survey
    require_open(survey)
    try:
        meta = clean_meta(request.args, prefix="meta_")
    except MetaError as exc:
        abort(400, description=f"This survey link is damaged: {exc}.")
    form = AnswerForm.for_survey(survey, formdata=None)
    form.shown.data = shown_stamp(survey)
    form.meta_json.data = json.dumps(meta) if meta else ""
    form.ref.data = origin_of(request.referrer) or ""
    preset = request.args.get("score", type=int)
    if preset is not None and preset in survey.scale:
        form.score.data = preset
    return render_template("public/answer.html", survey=survey, form=form)


@bp.post("/s/<public_key>")
def submit(public_key: str):
    """Store the answer; every post counts against the limits, and a trapped one is thanked, not stored."""
    survey = published_or_404(public_key).survey
    require_open(survey)
    form = AnswerForm.for_survey(survey)
    if not form.validate():
        refused = count_answer_post(survey)
        return _answer_page(survey, form, 422) if refused is None else _too_many(survey, form, refused)
    trap = bot_trap(survey, form.website.data, form.shown.data)
    if trap:
        refused = count_answer_post(survey)
        if refused is not None:
            return _too_many(survey, form, refused)
        from survey.widget.operations import count_bot  # the widget's bot counts (its package imports this one)

        count_bot(survey, trap)
        return redirect(url_for("public.thanks", public_key=public_key), code=303)
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
            limits=answer_limits(survey),
        )
    except RateLimited as exc:
        return _too_many(survey, form, exc.result)
    except OperationError as exc:  # a key of another answer, or an answer too old to change
        abort(409, description=f"Your answer could not be changed: {exc}. Please reload the page to send a new one.")
    # Post/redirect/get: a reload of the thank-you page sends nothing twice.
    return redirect(url_for("public.thanks", public_key=public_key), code=303)


def _answer_page(survey: Survey, form: AnswerForm, status: int, refusal: str | None = None):
    return render_template("public/answer.html", survey=survey, form=form, refusal=refusal), status


def _too_many(survey: Survey, form: AnswerForm, limit: RateResult):
    """429 with the form as it was sent, so nothing the person wrote is lost."""
    wait = limit.retry_after
    when = "a minute" if 50 <= wait <= 60 else (f"{wait} seconds" if wait < 120 else f"{round(wait / 60)} minutes")
    refusal = (f"We have received a great many answers from your network in a short time, so we paused for a "
               f"moment. Your answer is still here: please send it again in {when}.")
    response = make_response(_answer_page(survey, form, 429, refusal))
    response.headers["Retry-After"] = str(wait)
    return response


@bp.get("/s/<public_key>/thanks")
def thanks(public_key: str):
    survey = published_or_404(public_key).survey
    return render_template("public/thanks.html", survey=survey)
