"""Admins see the contact list, add to it from a CSV file (survey.invites parses and stores it)
and clear a contact's bounced mark."""

from __future__ import annotations

import math

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for

from survey.admin import bp
from survey.admin.forms import ContactsUploadForm
from survey.auth import role_required
from survey.db import db, unicode_lower
from survey.display import counted
from survey.importer import ImportError_, header_only_notice, open_csv_text
from survey.invites.contacts import parse_contacts_csv
from survey.invites.operations import clear_bounce, import_contacts
from survey.models import Contact
from survey.operations import OperationError
from survey.text import escape_like

PER_PAGE = 50
SHOWN_PROBLEMS = 20


def contact_counts() -> dict[str, int]:
    count = sa.func.count()
    row = db.session.execute(sa.select(
        count,
        sa.func.count(Contact.unsubscribed_at),
        sa.func.count(Contact.bounced_at),
    )).one()
    return {"total": row[0], "unsubscribed": row[1], "bounced": row[2]}


def contact_page(search: str, page: int) -> tuple[list[Contact], int]:
    query = sa.select(Contact)
    if search:
        pattern = f"%{escape_like(search.lower())}%"
        query = query.where(sa.or_(Contact.email.like(pattern, escape="\\"),
                                   unicode_lower(Contact.name).like(pattern, escape="\\")))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Contact.email).offset((page - 1) * PER_PAGE).limit(PER_PAGE))
    return list(rows), total


@bp.route("/contacts", methods=["GET", "POST"])
@role_required("admin")
def contacts():
    form = ContactsUploadForm()
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        config = current_app.config
        try:
            parsed = parse_contacts_csv(open_csv_text(form.file.data.read()),
                                        max_attributes=config["META_MAX_FIELDS"],
                                        max_value=config["META_MAX_VALUE_LENGTH"])
        except ImportError_ as exc:
            form.file.errors.append(f"{form.file.data.filename or 'The file'}: {exc}.")
            status = 422
        else:
            problems = [str(problem) for problem in parsed.problems]
            empty = header_only_notice(form.file.data.filename or "The file", parsed)
            if empty:
                flash(f"{empty}.", "info")  # as the command line says it; not an error (nothing was wrong)
                return redirect(url_for("admin.contacts"))
            if problems and not form.skip_bad.data:
                form.file.errors.append(f"{counted(len(problems), 'bad line')}, so nothing was imported. Fix them, or tick "
                                        "“Load the good lines” to import the rest.")
                status = 422
            else:
                try:
                    result = import_contacts(parsed.rows)
                except OperationError as exc:
                    form.file.errors.append(f"{exc}.")
                    status = 409
                else:
                    flash(f"Imported {form.file.data.filename or 'the file'}: {counted(result.added, 'new contact')}, "
                          f"{result.updated} updated, {counted(parsed.merged, 'duplicate line')} merged, "
                          f"{counted(len(problems), 'bad line')} skipped.", "info")
                    return redirect(url_for("admin.contacts"))
    elif form.is_submitted():
        status = 422
    search = (request.args.get("q") or "").strip()[:200]
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 1_000_000))
    rows, total = contact_page(search, page)
    return render_template(
        "admin/contacts.html", form=form, problems=problems[:SHOWN_PROBLEMS], problem_count=len(problems),
        counts=contact_counts(), rows=rows, total=total, search=search, page=page,
        pages=max(1, math.ceil(total / PER_PAGE)), max_upload=current_app.config["MAX_CONTENT_LENGTH"],
    ), status


@bp.post("/contacts/<int:contact_id>/unbounce")
@role_required("admin")
def clear_contact_bounce(contact_id: int):
    """The "Clear bounce" button: campaigns invite the address again (CSRFProtect checks the token)."""
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        abort(404)
    if not clear_bounce(contact):
        flash(f"{contact.email} is not marked bounced; nothing changed.", "info")
    elif contact.unsubscribed_at is not None:
        flash(f"Cleared the bounce of {contact.email}. They stay unsubscribed, so campaigns still skip them.", "info")
    else:
        flash(f"Cleared the bounce of {contact.email}: campaigns invite them again, "
              "as often as the survey throttle allows.", "info")
    search = (request.form.get("q") or "").strip()[:200]
    page = max(1, min(request.form.get("page", 1, type=int) or 1, 1_000_000))
    return redirect(url_for("admin.contacts", q=search or None, page=page if page > 1 else None))
