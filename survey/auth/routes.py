"""Signing in and out, each person's own password, and their API tokens."""

from __future__ import annotations

from typing import NamedTuple

from flask import abort, flash, g, make_response, redirect, render_template, request, session, url_for

from survey.auth import bp
from survey.auth.decorators import current_user, login_required
from survey.auth.forms import LoginForm, PasswordChangeForm, TokenForm
from survey.auth.operations import (LoginError, authenticate, create_api_token, remove_api_token,
                                    revoke_api_token, set_password, tokens_of)
from survey.auth.sessions import end_session, end_sessions_of, session_payload
from survey.db import db
from survey.models import ApiToken, utcnow
from survey.operations import OperationError
from survey.redirects import safe_next
from survey.text import as_sentence

LANDING_ENDPOINT = "admin.survey_list"


class TokenRow(NamedTuple):
    """One line of the tokens page: ``status`` from ApiToken.status, ``days_left`` None for never."""

    token: ApiToken
    status: str
    days_left: int | None


def next_or_landing(target: str | None) -> str:
    """``target`` if it is a page of this site other than sign-in, else the landing page (no open redirects)."""
    return safe_next(target, url_for(LANDING_ENDPOINT), avoid=(url_for("auth.login"),))


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = request.args.get("next")
    if current_user() is not None:
        return redirect(next_or_landing(next_url))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data, request.remote_addr)
        except LoginError as exc:
            form.form_errors.append(str(exc))
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
            return _login_page(form, exc.status, headers)
        start_session(user)
        return redirect(next_or_landing(next_url))
    if form.is_submitted():
        status = 422
    return _login_page(form, status)


def start_session(user) -> None:
    """A fresh session: nothing planted in the cookie before survives (session fixation)."""
    session.clear()
    g.pop("csrf_token", None)  # its secret went with the old session; the next form makes a new one
    session.update(session_payload(user))


def _login_page(form: LoginForm, status: int, headers: dict | None = None):
    response = make_response(render_template("auth/login.html", form=form), status)
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@bp.post("/logout")
def logout():
    # CSRFProtect checks the token of every POST, so another site cannot sign people out.
    signed_in = g.get("user") is not None
    end_session(session)  # a copy of the cookie taken before now stops working too
    session.clear()
    if signed_in:
        flash("You have signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    user = current_user()
    form = TokenForm()
    new_token = new_row = None
    status = 200
    if form.validate_on_submit():
        try:
            new_row, new_token = create_api_token(user, form.name.data, form.lifetime_days)
        except OperationError as exc:
            form.name.errors.append(as_sentence(str(exc)))
            status = 422
        else:
            form = TokenForm(formdata=None)
    elif form.is_submitted():
        status = 422
    now = utcnow()
    rows = [TokenRow(token, token.status(now), token.days_left(now)) for token in tokens_of(user, now)]
    return render_template("auth/tokens.html", form=form, rows=rows, new_token=new_token,
                           new_row=new_row), status


def own_token_or_404(token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    # Someone else's token is as good as absent: say nothing about it.
    if token is None or token.user_id != current_user().id:
        abort(404, description="You have no API token with that id.")
    return token


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    token = own_token_or_404(token_id)
    revoke_api_token(token)
    flash(f"The token “{token.name}” is revoked; calls using it are now refused.", "info")
    return redirect(url_for("auth.tokens"))


@bp.post("/tokens/<int:token_id>/remove")
@login_required
def remove_token(token_id: int):
    """Take an expired or revoked token off the list; one that still works must be revoked first."""
    token = own_token_or_404(token_id)
    name = token.name
    try:
        remove_api_token(token)
    except OperationError as exc:
        flash(as_sentence(str(exc)), "error")
    else:
        flash(f"The token “{name}” is removed from the list.", "info")
    return redirect(url_for("auth.tokens"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """Change one's own password; every other session of the account ends."""
    user = current_user()
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        try:
            authenticate(user.email, form.current_password.data, request.remote_addr, signing_in=False)
        except LoginError as exc:
            message = str(exc) if exc.status == 429 else "That is not your current password."
            form.current_password.errors.append(message)
            status = exc.status if exc.status == 429 else 422
        else:
            set_password(user, form.new_password.data)
            end_sessions_of(user)
            start_session(user)
            flash("Your password is changed. Any other browser signed in as you has been signed out.", "info")
            return redirect(url_for("auth.account"))
    elif form.is_submitted():
        status = 422
    return render_template("auth/account.html", form=form, user=user), status
