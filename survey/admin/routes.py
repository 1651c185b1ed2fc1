"""Survey pages: the list everyone lands on, a survey's page, and the admins' create and edit forms."""

from __future__ import annotations

import secrets

from flask import flash, make_response, redirect, render_template, request, session, url_for

from survey.admin import bp
from survey.admin.forms import SurveyForm
from survey.admin.links import embed_snippet, public_url, widget_preview_refusal, widget_snippet
from survey.admin.operations import answer_count, create_survey_from_settings, update_survey
from survey.admin.queries import NO_OWNER, all_surveys, campaign_count, campaign_stats_of, owner_choices, summarise
from survey.auth import current_user, login_required, role_required
from survey.db import db
from survey.lookups import survey_or_404
from survey.models import Survey
from survey.operations import OperationError
from survey.security import frameable_by_own_pages
from survey.text import as_sentence
from survey.widget.preview import preview_token


MADE_SURVEYS = "made_surveys"  # session: new-survey form key -> the survey it created
MADE_SURVEYS_KEPT = 10


@bp.get("/")
@login_required
def index():
    return redirect(url_for("admin.survey_list"))


@bp.get("/surveys")
@login_required
def survey_list():
    return render_template("admin/surveys.html", summaries=summarise(all_surveys()))


@bp.route("/surveys/new", methods=["GET", "POST"])
@role_required("admin")
def new_survey():
    form = SurveyForm()
    del form.owner_id  # a new survey is its maker's
    form.answer_count = 0
    form.show_standard_wording()
    # The same form sent again (Back then Create, a reload that re-posts) made a second, identical
    # survey: each form carries a key, and the session remembers which survey each key created.
    form_key = (request.form.get("form_key") or "")[:64] if form.is_submitted() else secrets.token_urlsafe(16)
    made = session.get(MADE_SURVEYS, {})
    if form.is_submitted() and form_key in made:
        flash("That form was already sent: this is the survey it created.", "info")
        return redirect(url_for("admin.survey_detail", public_key=made[form_key]), code=303)
    if form.validate_on_submit():
        try:
            survey = create_survey_from_settings(form.kind.data, form.settings(), form.origin_list,
                                                 owner_id=current_user().id)
        except OperationError as exc:
            form.name.errors.append(as_sentence(str(exc)))
        else:
            if form_key:
                made = dict(list(made.items())[-(MADE_SURVEYS_KEPT - 1):], **{form_key: survey.public_key})
                session[MADE_SURVEYS] = made
            flash(f"Created “{survey.name}”. Share its link or add the widget to a site.", "info")
            return redirect(url_for("admin.survey_detail", public_key=survey.public_key))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/survey_form.html", form=form, survey=None, form_key=form_key), status


@bp.route("/surveys/<public_key>/edit", methods=["GET", "POST"])
@role_required("admin")
def edit_survey(public_key: str):
    survey = survey_or_404(public_key)
    form = SurveyForm(obj=survey)
    form.survey = survey
    form.answer_count = answer_count(survey)
    form.owner_id.choices = owner_choices(survey)
    if form.owner_id.data is None:  # no owner yet, or a post without the field: keep it as it is
        form.owner_id.data = NO_OWNER
    if not form.is_submitted():
        form.origins.data = "\n".join(row.origin for row in survey.origins)
    if form.validate_on_submit():
        try:
            update_survey(survey, form.kind.data, form.settings(), form.origin_list)
        except OperationError as exc:
            db.session.rollback()
            form.name.errors.append(as_sentence(str(exc)))
        else:
            flash("Saved.", "info")
            return redirect(url_for("admin.survey_detail", public_key=survey.public_key))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/survey_form.html", form=form, survey=survey), status


@bp.get("/surveys/<public_key>")
@login_required
def survey_detail(public_key: str):
    survey = survey_or_404(public_key)
    (summary,) = summarise([survey])
    return render_template(
        "admin/survey.html", survey=survey, summary=summary, public_url=public_url(survey),
        widget_snippet=widget_snippet(survey), embed_snippet=embed_snippet(survey),
        preview_refusal=widget_preview_refusal(survey),
        campaigns=campaign_stats_of(survey), campaign_total=campaign_count(survey),
    )


@bp.get("/surveys/<public_key>/widget-preview")
@login_required
def widget_preview(public_key: str):
    """A sample partner page holding the script snippet exactly as the survey's page gives it for copying,
    framed by that page so the widget can be tried before any partner site has it. Its answers are
    checked and answered but not stored: the page marks itself for the widget (survey.widget.preview)."""
    survey = survey_or_404(public_key)
    html = render_template("admin/widget_preview.html", survey=survey, widget_snippet=widget_snippet(survey),
                           refusal=widget_preview_refusal(survey), preview_token=preview_token(survey))
    return frameable_by_own_pages(make_response(html))
