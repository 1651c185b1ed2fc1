"""The one-click unsubscribe from owner e-mails, and the e-mail settings on the account page."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from survey.alerts import bp
from survey.alerts.forms import MailSettingsForm, OneClickForm
from survey.alerts.mail import KIND_TITLES, preference_of, set_preferences, user_of_unsubscribe_token
from survey.auth import current_user, login_required
from survey.security import csrf

FORGED = ("This unsubscribe link is not valid. It may have been cut short or changed: open it again from "
          "the e-mail, or sign in and change your e-mail settings on your account page.")


@bp.app_template_global()
def owner_mail_form() -> MailSettingsForm:
    """The settings form, filled with the signed-in person's choices (for the account page)."""
    preference = preference_of(current_user())
    return MailSettingsForm(formdata=None, low_score_alerts=preference.low_score_alerts,
                            weekly_digest=preference.weekly_digest)


@bp.post("/account/mail")
@login_required
def mail_settings():
    form = MailSettingsForm()
    if not form.validate_on_submit():
        flash("Your e-mail settings were not saved: reload the page and try again.", "error")
        return redirect(url_for("auth.account")), 303
    set_preferences(current_user(), low_score_alerts=form.low_score_alerts.data,
                    weekly_digest=form.weekly_digest.data)
    flash("Your e-mail settings are saved.", "info")
    return redirect(url_for("auth.account"), code=303)


@bp.route("/mail/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt
def unsubscribe(token: str):
    """GET asks (a link scanner's fetch changes nothing); POST turns the e-mail off: the page's
    button, or a mail provider's RFC 8058 one-click POST (body ``List-Unsubscribe=One-Click``)."""
    user, kind = user_of_unsubscribe_token(token)
    if kind is None:
        abort(404, description=FORGED)
    if user is None:
        abort(410, description="The account this e-mail was sent to no longer exists (or its address has "
                               "changed), so nothing more is sent to it from this link. If you still have an "
                               "account, sign in and choose your e-mails on your account page.")
    form = OneClickForm()
    if request.method == "POST":
        set_preferences(user, **{"low_score_alerts" if kind == "alert" else "weekly_digest": False})
        if request.form.get("List-Unsubscribe") == "One-Click":
            return "", 204
        return render_template("alerts/unsubscribed.html", what=KIND_TITLES[kind])
    return render_template("alerts/unsubscribe.html", form=form, what=KIND_TITLES[kind],
                           already=not preference_of(user).wants(kind))


@bp.after_request
def private_page(response):
    # The unsubscribe page carries a personal link: not for caches, search engines or other sites' logs.
    if request.endpoint == "alerts.unsubscribe":
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response
