"""A survey's webhook endpoints: admins add, test, pause, rotate and delete; everyone signed in looks."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from survey.auth import current_user, login_required, role_required
from survey.lookups import survey_or_404
from survey.models import Survey
from survey.operations import OperationError
from survey.webhooks import bp
from survey.webhooks.forms import EndpointForm
from survey.webhooks.models import WebhookEndpoint
from survey.webhooks.operations import (
    create_endpoint, delete_endpoint, deliveries_of, endpoint_of, rotate_secret, send_again, send_test_event,
    set_enabled,
)

PAGE_DELIVERIES = 50


def _endpoint_or_404(public_key: str, endpoint_id: int) -> tuple[Survey, WebhookEndpoint]:
    survey = survey_or_404(public_key)
    endpoint = endpoint_of(survey, endpoint_id)
    if endpoint is None:
        abort(404, description="This survey has no webhook endpoint with that number.")
    return survey, endpoint


def _back(endpoint: WebhookEndpoint):
    return redirect(url_for("webhooks.endpoint_page", public_key=endpoint.survey.public_key,
                            endpoint_id=endpoint.id), code=303)


@bp.route("/surveys/<public_key>/webhooks/new", methods=["GET", "POST"])
@role_required("admin")
def new_endpoint(public_key: str):
    survey = survey_or_404(public_key)
    form = EndpointForm()
    if form.validate_on_submit():
        try:
            endpoint, secret = create_endpoint(survey, form.url.data, current_user())
        except OperationError as exc:
            form.url.errors.append(str(exc))
        else:
            # Shown in this response only, never stored in the session or a redirect.
            return render_template("webhooks/secret.html", survey=survey, endpoint=endpoint, secret=secret,
                                   created=True), 201
    status = 422 if form.is_submitted() else 200
    return render_template("webhooks/new.html", survey=survey, form=form), status


@bp.get("/surveys/<public_key>/webhooks/<int:endpoint_id>")
@login_required
def endpoint_page(public_key: str, endpoint_id: int):
    survey, endpoint = _endpoint_or_404(public_key, endpoint_id)
    return render_template("webhooks/endpoint.html", survey=survey, endpoint=endpoint,
                           deliveries=deliveries_of(endpoint, PAGE_DELIVERIES), limit=PAGE_DELIVERIES)


@bp.post("/surveys/<public_key>/webhooks/<int:endpoint_id>/test")
@role_required("admin")
def test_endpoint(public_key: str, endpoint_id: int):
    _, endpoint = _endpoint_or_404(public_key, endpoint_id)
    return _tried(endpoint, lambda: send_test_event(endpoint), "Test event delivered",
                  "The test event was not delivered: {error}.")


@bp.post("/surveys/<public_key>/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/resend")
@role_required("admin")
def resend_delivery(public_key: str, endpoint_id: int, delivery_id: int):
    _, endpoint = _endpoint_or_404(public_key, endpoint_id)
    try:
        return _tried(endpoint, lambda: send_again(endpoint, delivery_id), "Sent again and delivered",
                      "Sent again, not delivered yet ({error}); it is retried with growing waits.")
    except LookupError:
        abort(404, description="This endpoint has no delivery with that number.")


def _tried(endpoint: WebhookEndpoint, attempt, delivered: str, failed: str):
    """Run one immediate try and say how it went."""
    try:
        delivery = attempt()
    except OperationError as exc:
        flash(str(exc), "error")
    else:
        if delivery.state == "delivered":
            flash(f"{delivered}: HTTP {delivery.last_status} in {delivery.duration_ms} ms.", "info")
        else:
            flash(failed.format(error=delivery.last_error), "error")
    return _back(endpoint)


@bp.post("/surveys/<public_key>/webhooks/<int:endpoint_id>/disable")
@role_required("admin")
def disable_endpoint(public_key: str, endpoint_id: int):
    return _switch(public_key, endpoint_id, False)


@bp.post("/surveys/<public_key>/webhooks/<int:endpoint_id>/enable")
@role_required("admin")
def enable_endpoint(public_key: str, endpoint_id: int):
    return _switch(public_key, endpoint_id, True)


def _switch(public_key: str, endpoint_id: int, enabled: bool):
    _, endpoint = _endpoint_or_404(public_key, endpoint_id)
    set_enabled(endpoint, enabled)
    flash("Enabled: answers changed from now on are sent, and deliveries still queued go out." if enabled else
          "Paused: nothing is sent to this endpoint until you enable it again.", "info")
    return _back(endpoint)


@bp.post("/surveys/<public_key>/webhooks/<int:endpoint_id>/rotate")
@role_required("admin")
def rotate_endpoint_secret(public_key: str, endpoint_id: int):
    survey, endpoint = _endpoint_or_404(public_key, endpoint_id)
    secret = rotate_secret(endpoint)
    return render_template("webhooks/secret.html", survey=survey, endpoint=endpoint, secret=secret, created=False)


@bp.route("/surveys/<public_key>/webhooks/<int:endpoint_id>/delete", methods=["GET", "POST"])
@role_required("admin")
def delete_endpoint_page(public_key: str, endpoint_id: int):
    """Asks first (GET), deletes on the confirming POST (CSRFProtect checks its token)."""
    survey, endpoint = _endpoint_or_404(public_key, endpoint_id)
    if request.method == "POST":
        delete_endpoint(endpoint)
        flash("Webhook endpoint deleted; nothing more is sent to it.", "info")
        return redirect(url_for("admin.survey_detail", public_key=survey.public_key, _anchor="webhooks-title"),
                        code=303)
    return render_template("webhooks/delete.html", survey=survey, endpoint=endpoint)
