"""One form per screen: the inbox's filters and an answer's follow-up."""

from __future__ import annotations

from survey.security import PageForm
from wtforms import SelectChoice, SelectField, TextAreaField
from wtforms.validators import Length

from survey.followup.models import STATE_TITLES
from survey.followup.operations import NOTE_MAX_LENGTH

VIEW_TITLES = {"waiting": "Waiting (open or contacted)", "open": "Open", "contacted": "Contacted",
               "resolved": "Resolved", "all": "All low scores"}
NOBODY = 0


class InboxFilterForm(PageForm):
    """The inbox's filters, read from the query string (a GET changes nothing, so no CSRF token)."""

    class Meta:
        csrf = False

    view = SelectField("Show", choices=[SelectChoice(*item) for item in VIEW_TITLES.items()], default="waiting")
    survey = SelectField("Survey", choices=[SelectChoice("", "All surveys")], default="")
    who = SelectField("Assigned to", choices=[SelectChoice("", "Anyone"), SelectChoice("mine", "Me"),
                                                  SelectChoice("unassigned", "Nobody yet")],
                      default="")


class FollowUpForm(PageForm):
    assignee = SelectField("Assigned to", coerce=int)
    state = SelectField("Follow-up state", choices=[SelectChoice(*item) for item in STATE_TITLES.items()])
    note = TextAreaField("Add an internal note", validators=[
        Length(max=NOTE_MAX_LENGTH, message=f"A note can be at most {NOTE_MAX_LENGTH} characters.")],
        description="Only your team sees notes; each keeps its author and time.")
