"""Campaign pages; thin views over survey.invites (campaigns, scheduling, reporting)."""

from __future__ import annotations

import math
import secrets

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from survey.auth import current_user, login_required, role_required
from survey.campaigns import bp
from survey.campaigns.forms import CampaignForm, CancelCampaignForm
from survey.campaigns.queries import PER_PAGE, campaigns_page, course_per_day
from survey.db import db
from survey.display import counted, when_text
from survey.invites.campaigns import create_campaign, describe_segment, preview_audience
from survey.invites.models import Campaign
from survey.invites.operations import campaign_stats
from survey.invites.scheduling import cancel_campaign, queue_claimed
from survey.lookups import survey_or_404
from survey.models import Survey, utcnow
from survey.operations import OperationError
from survey.results import charts_cache
from survey.schedule import refusal_for_staff
from survey.text import as_sentence


def campaign_or_404(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404, description="There is no campaign with that number.")
    return campaign


def _list(survey: Survey | None):
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 1_000_000))
    rows, total = campaigns_page(survey, page)
    return render_template("campaigns/list.html", survey=survey, rows=rows, total=total, page=page,
                           pages=max(1, math.ceil(total / PER_PAGE)))


@bp.get("/campaigns")
@login_required
def campaign_list():
    return _list(None)


@bp.get("/surveys/<public_key>/campaigns")
@login_required
def survey_campaigns(public_key: str):
    return _list(survey_or_404(public_key))


@bp.route("/campaigns/new", methods=["GET", "POST"])
@role_required("admin")
def new_campaign():
    form = CampaignForm()
    surveys = list(db.session.scalars(sa.select(Survey).order_by(Survey.is_open.desc(), Survey.name, Survey.id)))
    form.survey.choices = [SelectChoice(s.public_key, s.name if refusal_for_staff(s) is None else f"{s.name} (closed)")
                           for s in surveys]
    if not form.is_submitted():
        wanted = request.args.get("survey")
        form.survey.data = wanted if any(s.public_key == wanted for s in surveys) else None
        form.submission_key.data = secrets.token_urlsafe(24)
    base_url = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    preview = None
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        survey = next(s for s in surveys if s.public_key == form.survey.data)
        existing = db.session.scalar(sa.select(Campaign).where(Campaign.submission_key == form.submission_key.data))
        refusal = refusal_for_staff(survey)
        if existing is not None:  # the same form sent again: a double click or a reload
            return redirect(url_for("campaigns.campaign_page", campaign_id=existing.id), code=303)
        if refusal:
            form.survey.errors.append(as_sentence(refusal))
        elif form.action.data == "send" and form.previewed.data == form.digest():
            try:
                campaign = create_campaign(
                    survey, base_url=base_url, segment=form.segment, name=(form.name.data or "").strip() or None,
                    send_at=form.send_time, remind_after_days=form.remind_after_days.data,
                    created_by_id=current_user().id, submission_key=form.submission_key.data or None)
            except OperationError as exc:
                db.session.rollback()
                form.audience.errors.append(as_sentence(str(exc)))
            except sa.exc.IntegrityError:  # the same form, sent twice at the same moment
                db.session.rollback()
                existing = db.session.scalar(sa.select(Campaign)
                                             .where(Campaign.submission_key == form.submission_key.data))
                return redirect(url_for("campaigns.campaign_page", campaign_id=existing.id), code=303)
            else:
                return _sent(campaign)
        else:
            if form.action.data == "send":
                flash("The survey or the audience changed since the preview: check the numbers below, "
                      "then send.", "info")
            preview = preview_audience(survey, form.segment)
            form.previewed.data = form.digest()
            status = 200
    return render_template("campaigns/new.html", form=form, preview=preview, base_url=base_url,
                           segment_text=describe_segment(getattr(form, "segment", {}) or {})), status


def _sent(campaign: Campaign):
    """After the form: queue a "send now" campaign straight away, in this request."""
    if campaign.state == "scheduled":
        flash(f"Scheduled “{campaign.name}” for {when_text(campaign.send_at)}. "
              "The delivery worker queues it then.", "info")
    else:
        outcome = queue_claimed(campaign, utcnow())
        if isinstance(outcome, str):
            flash(f"Not sent: {as_sentence(outcome)}", "error")
        else:
            flash(f"Queued {counted(outcome.queued, 'invitation')}; skipped {outcome.skipped}. "
                  "The delivery worker sends them.", "info")
    return redirect(url_for("campaigns.campaign_page", campaign_id=campaign.id), code=303)


@bp.get("/campaigns/<int:campaign_id>")
@login_required
def campaign_page(campaign_id: int):
    campaign = campaign_or_404(campaign_id)
    stats = campaign_stats(campaign)
    course = course_per_day(campaign)
    return render_template("campaigns/campaign.html", campaign=campaign, stats=stats, course=course,
                           chart=charts_cache.course(course), cancel_form=CancelCampaignForm())


@bp.route("/campaigns/<int:campaign_id>/cancel", methods=["GET", "POST"])
@role_required("admin")
def cancel_campaign_page(campaign_id: int):
    """Asks first (saying what stops), then cancels; CSRFProtect checks the token."""
    campaign = campaign_or_404(campaign_id)
    form = CancelCampaignForm()
    problem = None
    if form.validate_on_submit():
        try:
            cancelled = cancel_campaign(campaign)
        except OperationError as exc:
            problem = f"This campaign cannot be cancelled: {as_sentence(str(exc))}"
        else:
            flash(f"Cancelled “{campaign.name}”"
                  + (f": {counted(cancelled, 'e-mail')} not yet sent will not go out." if cancelled else "."), "info")
            return redirect(url_for("campaigns.campaign_page", campaign_id=campaign.id), code=303)
    return render_template("campaigns/cancel.html", campaign=campaign, form=form, stats=campaign_stats(campaign),
                           problem=problem), 409 if problem else 200
