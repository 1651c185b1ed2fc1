"""The answer form: one score on the survey's scale, an optional comment."""

from __future__ import annotations

import json
import uuid

from flask import current_app
from wtforms import HiddenField, RadioField, StringField, TextAreaField, ValidationError
from wtforms.validators import Optional as OptionalValidator

from survey.models import Survey
from survey.requestinfo import MetaError, clean_meta
from survey.security import PageForm
from survey.textrules import text_problem


class ScaleField(RadioField):
    """A radio group whose missing or off-scale choice gets a message a customer understands."""

    off_scale = False  # sent, but not a whole number ("5.5")

    def process_formdata(self, valuelist) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:  # WTForms said "Invalid Choice: could not coerce."; pre_validate says what to choose
            self.data, self.off_scale = None, bool(valuelist[0].strip())

    def pre_validate(self, form) -> None:
        if self.data is None and not self.off_scale:
            raise ValidationError("Please choose a score.")
        if self.data not in dict(self.choices):
            low, high = self.choices[0][0], self.choices[-1][0]
            raise ValidationError(f"Please choose a score from {low} to {high}.")


class AnswerForm(PageForm):
    class Meta:
        # CSRFProtect (survey.security) checks every POST before the view runs; checking
        # and re-signing the token again here cost each answer a tenth of its time.
        csrf = False

    score = ScaleField("Score", coerce=int)
    comment = TextAreaField("Comment", validators=[OptionalValidator()])
    submission_key = HiddenField()
    meta_json = HiddenField()
    ref = HiddenField()  # the referrer's origin, taken when the page was first shown
    shown = HiddenField()  # when the page was shown, signed (survey.public.traps)
    website = StringField()  # the honeypot: hidden from people, filled by simple bots

    @classmethod
    def for_survey(cls, survey: Survey, **kwargs) -> "AnswerForm":
        form = cls(**kwargs)
        form.survey = survey
        form.score.choices = [(n, str(n)) for n in survey.scale]
        if not form.submission_key.data:
            form.submission_key.data = uuid.uuid4().hex
        return form

    def validate_comment(self, field: TextAreaField) -> None:
        limit = current_app.config["COMMENT_MAX_LENGTH"]
        problem = text_problem(field.data or "")
        if problem is not None:
            raise ValidationError(f"Your comment {problem}; please remove it and send again.")
        if field.data and len(field.data) > limit:
            raise ValidationError(f"Please keep your comment under {limit} characters (it has {len(field.data)}).")

    def validate_submission_key(self, field: HiddenField) -> None:
        try:
            uuid.UUID(hex=field.data or "")
        except ValueError:
            raise ValidationError("This form is damaged; please reload the page.") from None

    def validate_meta_json(self, field: HiddenField) -> None:
        try:
            self.meta_dict = clean_meta(json.loads(field.data)) if field.data else {}
        except RecursionError:
            raise ValidationError("This form is damaged; please reload the page. (its meta data is nested "
                                  "too deeply)") from None
        except (ValueError, AttributeError, MetaError) as exc:
            raise ValidationError(f"This form is damaged; please reload the page. ({exc})") from None
