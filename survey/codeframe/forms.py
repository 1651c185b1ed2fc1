"""The codeframe screen's forms: an analyst's edit (which edit is the submit button's ``action``), and an
admin's upload of a codeframe file."""

from __future__ import annotations

from flask_wtf.file import FileField, FileRequired

from survey.security import PageForm
from wtforms import HiddenField, IntegerField, SelectMultipleField, StringField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from survey.codeframe.models import NAME_MAX
from survey.db import ROW_ID_MAX

ACTIONS = ("rename", "merge", "split", "hide", "show", "assign", "remove", "accept", "dismiss")
NOT_AN_ID = "not one of this page's ids (reload the page)"
# The page only ever sends ids it was given: anything else is refused before the database sees it.
ROW_ID = NumberRange(1, ROW_ID_MAX, NOT_AN_ID)


class CodeframeEditForm(PageForm):
    action = HiddenField()
    point_id = IntegerField(validators=[Optional(), ROW_ID])
    target_id = IntegerField(validators=[Optional(), ROW_ID])
    response_id = IntegerField(validators=[Optional(), ROW_ID])
    name = StringField("Name", validators=[Optional(), Length(max=NAME_MAX)])
    theme = StringField(validators=[Optional()])
    example_ids = SelectMultipleField(coerce=int, validate_choice=False)
    proposal_id = IntegerField(validators=[Optional(), ROW_ID])

    def validate_example_ids(self, field: SelectMultipleField) -> None:
        if any(not 1 <= value <= ROW_ID_MAX for value in field.data or []):
            raise ValidationError(NOT_AN_ID)


class CodeframeUploadForm(PageForm):
    file = FileField("Codeframe CSV file", validators=[FileRequired("Choose a CSV file to upload.")])
