"""The one form of the codeframe screen: an analyst's edit (which edit is the submit button's ``action``)."""

from __future__ import annotations

from survey.security import PageForm
from wtforms import HiddenField, IntegerField, SelectMultipleField, StringField
from wtforms.validators import Length, Optional

from survey.codeframe.models import NAME_MAX

ACTIONS = ("rename", "merge", "split", "hide", "show", "assign", "remove", "accept", "dismiss")


class CodeframeEditForm(PageForm):
    action = HiddenField()
    point_id = IntegerField(validators=[Optional()])
    target_id = IntegerField(validators=[Optional()])
    response_id = IntegerField(validators=[Optional()])
    name = StringField("Name", validators=[Optional(), Length(max=NAME_MAX)])
    theme = StringField(validators=[Optional()])
    example_ids = SelectMultipleField(coerce=int, validate_choice=False)
    proposal_id = IntegerField(validators=[Optional()])
