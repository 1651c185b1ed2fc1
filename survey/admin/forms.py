"""One form per screen: users and surveys."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, DateTimeLocalField, EmailField, IntegerField, PasswordField, SelectChoice, SelectField, StringField,
                     TextAreaField, ValidationError)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange
from wtforms.validators import Optional as OptionalValidator

from survey.security import PageForm
from survey.admin.operations import WORDING
from survey.auth.operations import find_user, normalise_email
from survey.auth.passwords import PasswordError, check_new_password
from survey.invites.contacts import MAX_NAME, clean_text, parse_attribute_lines
from survey.invites.contacts import normalise_email as normalise_contact_email
from survey.kinds import KINDS
from survey.operations import OperationError
from survey.text import as_sentence
from survey.widget.operations import normalise_origin

MAX_ORIGINS = 50

ROLE_CHOICES = [SelectChoice("analyst", "Analyst: reads results, corrects labels"),
                SelectChoice("admin", "Admin: also manages surveys, contacts and users")]


class UserForm(PageForm):
    email = EmailField("E-mail address", validators=[DataRequired("Enter the person's e-mail address."),
                                                     Length(max=254)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="analyst")
    password = PasswordField("First password", validators=[DataRequired("Choose a first password.")])

    def validate_email(self, field: EmailField) -> None:
        try:
            field.data = normalise_email(field.data)
        except OperationError as exc:
            raise ValidationError(as_sentence(str(exc))) from None
        if find_user(field.data) is not None:
            raise ValidationError(f"There is already an account for {field.data}.")

    def validate_password(self, field: PasswordField) -> None:
        try:
            check_new_password(field.data, self.email.data)
        except PasswordError as exc:
            raise ValidationError(str(exc)) from None


class RoleForm(PageForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


def _optional_text(max_length: int, label: str):
    return [Length(max=max_length, message=f"{label} can be at most {max_length} characters.")]


class SurveyForm(PageForm):
    """Create or edit a survey. Blank wording fields take the kind's standard wording on create."""

    kind = SelectField("Kind", choices=[
        SelectChoice(code, f"{spec.code.upper()} – {spec.title} ({spec.low}–{spec.high})") for code, spec in KINDS.items()
    ])
    name = StringField("Name", validators=[DataRequired("Give the survey a name analysts will recognise."),
                                           *_optional_text(200, "The name")])
    subject = StringField("Subject", validators=_optional_text(200, "The subject"),
                          description="What the question asks about, e.g. “Northwind Broadband”.")
    question = TextAreaField("Question", validators=_optional_text(500, "The question"),
                             description="Leave blank for the standard wording of the kind.")
    low_label = StringField("Label of the lowest score", validators=_optional_text(80, "The label"))
    high_label = StringField("Label of the highest score", validators=_optional_text(80, "The label"))
    followup_enabled = BooleanField("Ask a follow-up question for a comment", default=True)
    followup_negative = StringField("Follow-up after a low score", validators=_optional_text(300, "A prompt"))
    followup_neutral = StringField("Follow-up after a middling score (and before a score)",
                                   validators=_optional_text(300, "A prompt"))
    followup_positive = StringField("Follow-up after a high score", validators=_optional_text(300, "A prompt"))
    thank_you = TextAreaField("Thank-you text", validators=_optional_text(1000, "The thank-you text"))
    origins = TextAreaField("Sites allowed to show the widget",
                            description="One origin per line, e.g. https://shop.example.com")
    throttle_days = IntegerField("Ask the same person at most once every … days", validators=[
        OptionalValidator(), NumberRange(0, 3650, "Enter a number of days from 0 to 3650.")],
        description="Blank: the site-wide setting. Applies to e-mail invitations.")
    widget_cap_days = IntegerField("Widget: ask the same browser again after … days", default=90, validators=[
        InputRequired("Enter a number of days (0 asks every visit)."),
        NumberRange(0, 3650, "Enter a number of days from 0 to 3650.")])
    keep_query_string = BooleanField("Widget: keep the page's query string with each answer")
    email_subject = StringField("E-mail subject", validators=_optional_text(200, "The e-mail subject"))
    email_intro = TextAreaField("E-mail introduction", validators=_optional_text(5000, "The e-mail introduction"))
    is_open = BooleanField("Open: taking answers", default=True)
    followup_max_score = IntegerField("Follow up answers scoring at most", validators=[OptionalValidator()],
                                      description="Blank: the kind's lowest band (detractors, 0–6, for NPS). "
                                                  "These answers wait in the follow-up inbox.")
    # Only on the edit page (a new survey is its maker's); its choices come from owner_choices().
    owner_id = SelectField("Owner", coerce=int, description=(
        "Gets the low-score alerts and the weekly digest. Nobody: every admin gets them."))
    closes_at = DateTimeLocalField("Close date (UTC)", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                   validators=[OptionalValidator()],
                                   description="Blank: open until you close it. From this moment the survey "
                                               "takes no answers.")
    max_responses = IntegerField("Response cap", validators=[
        OptionalValidator(), NumberRange(1, 10_000_000, "Enter a number of answers from 1 to 10,000,000.")],
        description="Blank: no cap. Once the survey has this many answers it takes no new ones.")

    def validate_origins(self, field: TextAreaField) -> None:
        origins, problems = [], []
        for line in (field.data or "").splitlines():
            text = line.strip()
            if not text:
                continue
            try:
                origin = normalise_origin(text)
            except OperationError as exc:
                problems.append(str(exc))
                continue
            if origin not in origins:
                origins.append(origin)
        if problems:
            raise ValidationError(as_sentence("; ".join(problems[:3])))
        if len(origins) > MAX_ORIGINS:
            raise ValidationError(f"At most {MAX_ORIGINS} origins per survey.")
        self.origin_list = origins

    def validate_kind(self, field: SelectField) -> None:
        survey = getattr(self, "survey", None)
        if survey is not None and field.data != survey.kind and self.answer_count:
            raise ValidationError(f"This survey already has {self.answer_count} answers on the "
                                  f"{survey.kind.upper()} scale; its kind can no longer change.")

    def validate_followup_max_score(self, field: IntegerField) -> None:
        spec = KINDS.get(self.kind.data)
        if field.data is not None and spec is not None and field.data not in spec.scale:
            raise ValidationError(f"Enter a score from {spec.low} to {spec.high}, or leave it blank.")

    def show_standard_wording(self) -> None:
        """On create, blank wording fields say what they will hold (the kind is not chosen yet)."""
        for name in (*WORDING, "email_subject", "email_intro"):
            getattr(self, name).render_kw = {"placeholder": "Standard wording"}

    def settings(self) -> dict:
        """The fields as ``Survey`` attributes; blank wording means the standard wording."""
        values = {name: getattr(self, name).data for name in (
            "name", "subject", "followup_enabled", "throttle_days", "widget_cap_days", "keep_query_string",
            "is_open", "closes_at", "max_responses", "followup_max_score", *WORDING)}
        for name in ("name", "subject", *WORDING):
            values[name] = (values[name] or "").strip()
        if "owner_id" in self._fields:
            values["owner_id"] = self.owner_id.data or None
        values["email_subject"] = (self.email_subject.data or "").strip() or None
        values["email_intro"] = (self.email_intro.data or "").strip() or None
        return values


class ContactsUploadForm(PageForm):
    file = FileField("Contacts CSV file", validators=[FileRequired("Choose a CSV file to upload.")])
    skip_bad = BooleanField("Load the good lines even if some lines are bad")


class ContactAttributesMixin:
    """Name and attributes as a person types them, checked like a CSV file's line."""

    def contact_fields(self, max_attributes: int, max_value: int) -> tuple[str | None, dict[str, str]] | None:
        """(name, attributes), or None with the errors on the fields."""
        name = clean_text(self.name.data or "")
        if name and len(name) > MAX_NAME:
            self.name.errors.append(f"A name can be at most {MAX_NAME} characters.")
            return None
        try:
            attributes = parse_attribute_lines(self.attributes.data or "", max_attributes=max_attributes,
                                               max_value=max_value)
        except ValueError as exc:
            self.attributes.errors.append(as_sentence(str(exc)))
            return None
        return name, attributes


ATTRIBUTES_HINT = "One per line as name: value, e.g. plan: pro. Campaign segments and result filters use them."


class ContactForm(ContactAttributesMixin, PageForm):
    email = EmailField("E-mail address", validators=[DataRequired("Enter the contact's e-mail address."),
                                                     Length(max=254)])
    name = StringField("Name")
    attributes = TextAreaField("Attributes", description=ATTRIBUTES_HINT)

    def validate_email(self, field: EmailField) -> None:
        try:
            field.data = normalise_contact_email(field.data)
        except ValueError as exc:
            raise ValidationError(as_sentence(str(exc))) from None


class ContactEditForm(ContactAttributesMixin, PageForm):
    name = StringField("Name")
    attributes = TextAreaField("Attributes", description=ATTRIBUTES_HINT + " Delete a line to remove it.")


class ForgetContactForm(PageForm):
    confirm_email = StringField("Type the address to confirm", validators=[
        DataRequired("Type the contact's e-mail address to confirm.")])
