"""The forms of the results screens: an analyst's correction of a comment's labels, an admin's "Analyze now"."""

from __future__ import annotations

from wtforms import HiddenField, SelectField, ValidationError
from wtforms.fields.choices import SelectChoice

from analysis.labels import SENTIMENTS, THEMES
from survey.redirects import local_path
from survey.security import PageForm


#: The value of the correction form's "Confirm both" button (``confirm``): the analyst read both labels.
CONFIRM_BOTH = "both"


class CorrectionForm(PageForm):
    """Sentiment and theme as the analyst reads the comment.

    The form shows both labels as they are, so a field left as it was says nothing: saving stores
    only what the analyst changed. Pressing "Confirm both" (``confirm=both``) also stores the labels
    left as they were as confirmed, a deliberate act.
    """

    # "" is "not labelled yet": choosing nothing leaves that field as it is.
    sentiment = SelectField("Sentiment", choices=[SelectChoice("", "—")] + [SelectChoice(s, s) for s in SENTIMENTS],
                            validate_choice=False)
    theme = SelectField("Theme", choices=[SelectChoice("", "—")] + [SelectChoice(t, t) for t in THEMES],
                        validate_choice=False)
    next = HiddenField()
    confirm = HiddenField()  # the submit button's value: "" (save changes) or CONFIRM_BOTH

    @property
    def confirms_both(self) -> bool:
        return self.confirm.data == CONFIRM_BOTH

    @property
    def wanted(self) -> dict[str, str]:
        """The labels the analyst chose, leaving out fields left blank."""
        return {name: value for name, value in (("sentiment", self.sentiment.data), ("theme", self.theme.data))
                if value}

    def validate_sentiment(self, field: SelectField) -> None:
        if field.data and field.data not in SENTIMENTS:
            raise ValidationError(f"Sentiment must be one of {', '.join(SENTIMENTS)}.")

    def validate_theme(self, field: SelectField) -> None:
        if field.data and field.data not in THEMES:
            raise ValidationError(f"Theme must be one of {', '.join(THEMES)}.")

    def validate_confirm(self, field: HiddenField) -> None:
        if field.data not in (None, "", CONFIRM_BOTH):
            raise ValidationError(f"confirm is {CONFIRM_BOTH!r} (confirm both labels) or empty (save changes only).")

    def validate_next(self, field: HiddenField) -> None:
        # Only a path on this site (survey.redirects, the one check): never an open redirect to another host.
        if field.data and local_path(field.data) is None:
            raise ValidationError("The page to return to must be on this site.")


class AnalyzeForm(PageForm):
    """Start an analysis of this survey now (a button: the form carries only its CSRF token)."""
