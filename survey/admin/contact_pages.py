"""One contact at a time (admins): add, edit name and attributes, unsubscribe, forget, see their answers.

Writes go through survey.invites' contact functions, the ones ``flask contact …`` uses.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, url_for

from survey.admin import bp
from survey.admin.forms import ContactEditForm, ContactForm, ForgetContactForm
from survey.auth import role_required
from survey.db import db
from survey.display import counted
from survey.invites.contacts import ContactRow
from survey.invites.models import Invitation
from survey.invites.operations import add_contact, forget_contact, unsubscribe_contact, update_contact
from survey.models import Contact, Response
from survey.operations import OperationError
from survey.text import as_sentence

SHOWN_ANSWERS = 100


def contact_or_404(contact_id: int) -> Contact:
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        abort(404, description="There is no such contact; it may have been forgotten.")
    return contact


def answers_of(contact: Contact) -> sa.Select:
    """The contact's answers: linked directly, or through one of their invitations."""
    invitations = sa.select(Invitation.id).where(Invitation.contact_id == contact.id)
    return sa.select(Response).where(sa.or_(Response.contact_id == contact.id,
                                            Response.invitation_id.in_(invitations)))


def attribute_text(attributes: dict | None) -> str:
    return "\n".join(f"{key}: {value}" for key, value in sorted((attributes or {}).items()))


def _limits() -> dict:
    return {"max_attributes": current_app.config["META_MAX_FIELDS"],
            "max_value": current_app.config["META_MAX_VALUE_LENGTH"]}


@bp.route("/contacts/new", methods=["GET", "POST"])
@role_required("admin")
def new_contact():
    form = ContactForm()
    if form.validate_on_submit():
        fields = form.contact_fields(**_limits())
        if fields is not None:
            try:
                contact = add_contact(ContactRow(line=1, email=form.email.data, name=fields[0], attributes=fields[1]))
            except OperationError as exc:
                form.email.errors.append(as_sentence(str(exc)))
            else:
                flash(f"Added {contact.email}.", "info")
                return redirect(url_for("admin.contact_detail", contact_id=contact.id))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/contact_new.html", form=form), status


@bp.route("/contacts/<int:contact_id>", methods=["GET", "POST"])
@role_required("admin")
def contact_detail(contact_id: int):
    contact = contact_or_404(contact_id)
    form = ContactEditForm(data={"name": contact.name, "attributes": attribute_text(contact.attributes)})
    if form.validate_on_submit():
        fields = form.contact_fields(**_limits())
        if fields is not None:
            changed = update_contact(contact, *fields)
            flash("Saved." if changed else "Nothing changed.", "info")
            return redirect(url_for("admin.contact_detail", contact_id=contact.id), code=303)
    answers = list(db.session.scalars(answers_of(contact).order_by(Response.created_at.desc(), Response.id.desc())
                                      .limit(SHOWN_ANSWERS)))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/contact.html", contact=contact, form=form, answers=answers), status


@bp.post("/contacts/<int:contact_id>/unsubscribe")
@role_required("admin")
def unsubscribe_contact_page(contact_id: int):
    """The "Unsubscribe" button (CSRFProtect checks the token): as if they clicked the link in an e-mail."""
    contact = contact_or_404(contact_id)
    if unsubscribe_contact(contact):
        flash(f"Unsubscribed {contact.email}: no campaign or reminder e-mails them again; "
              "their mail still queued was cancelled.", "info")
    else:
        flash(f"{contact.email} was already unsubscribed; nothing changed.", "info")
    return redirect(url_for("admin.contact_detail", contact_id=contact.id), code=303)


@bp.route("/contacts/<int:contact_id>/forget", methods=["GET", "POST"])
@role_required("admin")
def forget_contact_page(contact_id: int):
    """Asks first, saying what is erased and what stays anonymised; the address must be typed to confirm."""
    contact = contact_or_404(contact_id)
    form = ForgetContactForm()
    if form.validate_on_submit():
        if (form.confirm_email.data or "").strip().lower() != contact.email:
            form.confirm_email.errors.append(f"That is not {contact.email}; nothing was erased.")
        else:
            done = forget_contact(contact.email)
            flash(f"Forgot {done.email}: {counted(done.answers_anonymised, 'answer')} anonymised, "
                  f"{counted(done.invitations_anonymised, 'invitation link')} erased, "
                  f"{counted(done.messages_deleted, 'e-mail')} deleted.", "info")
            return redirect(url_for("admin.contacts"), code=303)
    answer_count = db.session.scalar(sa.select(sa.func.count()).select_from(answers_of(contact).subquery()))
    invitation_count = db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)
                                         .where(Invitation.contact_id == contact.id))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/contact_forget.html", contact=contact, form=form, answer_count=answer_count,
                           invitation_count=invitation_count), status
