"""One form per screen: a new campaign, and the confirmation that cancels one."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from wtforms import DateTimeLocalField, SelectChoice, HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError
from wtforms.validators import Optional as OptionalValidator

from survey.invites.campaigns import parse_segment
from survey.models import utcnow
from survey.operations import OperationError
from survey.security import PageForm
from survey.text import as_sentence

MAX_AUDIENCE_LINES = 20


class CampaignForm(PageForm):
    survey = SelectField("Survey", validators=[InputRequired("Choose the survey to send.")])
    audience = TextAreaField("Audience", validators=[Length(max=2000)], description=(
        "One condition per line on the contacts' attributes, e.g. plan=pro,business (any of these values); "
        "every line must hold (AND). Empty: every contact."))
    name = StringField("Campaign name", validators=[Length(max=200)],
                       description="Blank: the survey's name and the send time.")
    when = RadioField("When", choices=[SelectChoice("now", "Send now"), SelectChoice("later", "At a set time")], default="now")
    send_at = DateTimeLocalField("Send at (UTC)", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                 validators=[OptionalValidator()])
    remind_after_days = IntegerField("Reminder after (days)", validators=[
        OptionalValidator(), NumberRange(1, 365, "Enter a number of days from 1 to 365, or leave it blank.")],
        description="Blank: no reminder. Otherwise one reminder to those who have not answered by then.")
    # The preview these settings were shown with, and the form's one-time key (a double submit
    # finds the campaign the first one made).
    previewed = HiddenField()
    submission_key = HiddenField(validators=[Length(max=64)])
    action = HiddenField()

    def validate_audience(self, field: TextAreaField) -> None:
        lines = [line.strip() for line in (field.data or "").splitlines() if line.strip()]
        if len(lines) > MAX_AUDIENCE_LINES:
            raise ValidationError(f"At most {MAX_AUDIENCE_LINES} conditions.")
        segment: dict[str, list[str]] = {}
        for number, line in enumerate(lines, start=1):
            try:
                for key, values in parse_segment([line], label=f"Line {number}:").items():
                    segment.setdefault(key, []).extend(values)
            except OperationError as exc:
                raise ValidationError(as_sentence(str(exc))) from None
        self.segment = segment

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Here, not in validate_send_at: a blank optional field skips its own validators.
        if self.when.data == "later" and not self.send_at.errors:
            if self.send_at.data is None:
                self.send_at.errors.append("Choose when to send it (UTC), or choose “Send now”.")
                valid = False
            elif self.send_at.data <= utcnow():
                self.send_at.errors.append("That time has passed; choose a later one, or choose “Send now”.")
                valid = False
        return valid

    @property
    def send_time(self) -> dt.datetime | None:
        return self.send_at.data if self.when.data == "later" else None

    def digest(self) -> str:
        """What the preview counted: the survey and the audience (a change needs a new preview)."""
        text = json.dumps([self.survey.data, getattr(self, "segment", {})], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


class CancelCampaignForm(PageForm):
    """Only the CSRF token: the confirmation page's button."""
