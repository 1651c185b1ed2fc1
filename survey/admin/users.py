"""Admins manage accounts: create with a role, change the role, deactivate and reactivate."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for

from survey.admin import bp
from survey.admin.forms import RoleForm, UserForm
from survey.auth import current_user, role_required
from survey.auth.operations import create_user, set_active, set_role
from survey.auth.sessions import end_sessions_of
from survey.text import as_sentence
from survey.db import db
from survey.models import User
from survey.operations import OperationError


def user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, description="There is no account with that id.")
    return user


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users():
    form = UserForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = create_user(form.email.data, form.role.data, form.password.data)
        except OperationError as exc:
            form.email.errors.append(as_sentence(str(exc)))
            status = 422
        else:
            flash(f"Created the {user.role} account {user.email}. Give them their first password "
                  "by a separate channel.", "info")
            return redirect(url_for("admin.users"))
    elif form.is_submitted():
        status = 422
    accounts = list(db.session.scalars(sa.select(User).order_by(User.is_active.desc(), User.email)))
    return render_template("admin/users.html", form=form, accounts=accounts, me=current_user()), status


@bp.post("/users/<int:user_id>/deactivate")
@role_required("admin")
def deactivate_user(user_id: int):
    return _change(user_id, lambda user: set_active(user, False),
                   "{email} is deactivated: they are signed out and their API tokens stop working.",
                   not_yourself=True)


@bp.post("/users/<int:user_id>/activate")
@role_required("admin")
def activate_user(user_id: int):
    return _change(user_id, lambda user: set_active(user, True), "{email} can sign in again.")


@bp.post("/users/<int:user_id>/sessions/end")
@role_required("admin")
def end_user_sessions(user_id: int):
    """End every session of the account (a lost laptop, a copied cookie); its API tokens are not touched."""
    return _change(user_id, end_sessions_of, "Every session of {email} is ended: each browser signed in as "
                                             "them has to sign in again.")


@bp.post("/users/<int:user_id>/role")
@role_required("admin")
def change_role(user_id: int):
    form = RoleForm()
    if not form.validate():
        abort(400, description="Choose a role: admin or analyst.")
    return _change(user_id, lambda user: set_role(user, form.role.data), "{email} is now {role}.",
                   not_yourself=form.role.data != "admin")


def _change(user_id: int, change, message: str, *, not_yourself: bool = False):
    user = user_or_404(user_id)
    if not_yourself and user.id == current_user().id:
        # One click would lock you out of this page; another admin has to do it.
        flash("You cannot deactivate your own account or give up your own admin role here; "
              "ask another admin.", "error")
        return redirect(url_for("admin.users"))
    try:
        change(user)
    except OperationError as exc:
        flash(as_sentence(str(exc)), "error")
    else:
        flash(message.format(email=user.email, role=user.role), "info")
    return redirect(url_for("admin.users"))
