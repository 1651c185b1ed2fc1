"""The follow-up inbox and an answer's follow-up page; views stay thin (survey.followup.operations writes)."""

from __future__ import annotations

import math

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from survey.auth import current_user, login_required
from survey.db import db
from survey.followup import bp
from survey.followup.forms import NOBODY, FollowUpForm, InboxFilterForm
from survey.followup.models import STATE_TITLES
from survey.followup.operations import follow_up_of, update_follow_up
from survey.followup.queries import PER_PAGE, VIEWS, inbox, pain_points_of, responsiveness
from survey.models import Response, Survey, User
from survey.operations import OperationError
from survey.text import as_sentence


def _surveys() -> list[Survey]:
    return list(db.session.scalars(sa.select(Survey).order_by(Survey.name, Survey.id)))


@bp.get("/follow-up")
@login_required
def inbox_page():
    form = InboxFilterForm(request.args)
    surveys = _surveys()
    form.survey.choices = [SelectChoice("", "All surveys")] + [SelectChoice(survey.public_key, survey.name)
                                                               for survey in surveys]
    view = form.view.data if form.view.data in VIEWS else "waiting"
    chosen = next((survey for survey in surveys if survey.public_key == form.survey.data), None)
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 1_000_000))
    items, total = inbox(view, survey_id=chosen.id if chosen else None,
                         assignee_id=current_user().id if form.who.data == "mine" else None,
                         unassigned=form.who.data == "unassigned", page=page)
    query = {key: value for key, value in request.args.items() if key != "page"}
    return render_template("followup/inbox.html", form=form, items=items, total=total, page=page, query=query,
                           pages=max(1, math.ceil(total / PER_PAGE)), chosen=chosen,
                           speed=responsiveness(chosen.id if chosen else None), state_titles=STATE_TITLES)


@bp.route("/follow-up/<int:response_id>", methods=["GET", "POST"])
@login_required
def answer_page(response_id: int):
    response = db.session.get(Response, response_id)
    if response is None:
        abort(404, description="There is no answer with that number.")
    follow_up = follow_up_of(response)
    form = FollowUpForm(data={"assignee": follow_up.assignee_id or NOBODY if follow_up else NOBODY,
                              "state": follow_up.state if follow_up else "open"} if request.method == "GET" else None)
    team = list(db.session.scalars(sa.select(User).where(User.is_active).order_by(User.email)))
    form.assignee.choices = [SelectChoice(NOBODY, "Nobody")] + [SelectChoice(user.id, user.email) for user in team]
    if follow_up and follow_up.assignee and follow_up.assignee not in team:
        form.assignee.choices.append(SelectChoice(follow_up.assignee.id, f"{follow_up.assignee.email} (deactivated)"))
    if form.validate_on_submit():
        try:
            change = update_follow_up(response, current_user(), assignee_id=form.assignee.data or None,
                                      state=form.state.data, note=form.note.data)
        except OperationError as exc:
            db.session.rollback()
            form.assignee.errors.append(as_sentence(str(exc)))
        else:
            flash("Saved." if change.anything else "Nothing changed.", "info")
            return redirect(url_for("followup.answer_page", response_id=response.id), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("followup/answer.html", form=form, response=response, follow_up=follow_up,
                           pain_points=pain_points_of([response.id]).get(response.id, []),
                           state_titles=STATE_TITLES), status
