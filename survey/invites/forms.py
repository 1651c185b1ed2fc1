"""Forms of the invitation pages: the follow-up answer form and the score-link confirmation."""

from __future__ import annotations

from wtforms import IntegerField
from wtforms.validators import InputRequired

from survey.security import PageForm
from survey.public.forms import AnswerForm


class InvitationAnswerForm(AnswerForm):
    """The public answer form; the invitation, not the submission key, makes the answer unique."""


class ClickForm(PageForm):
    """What the score-link page's script POSTs: the score of the button that was clicked."""

    score = IntegerField("Score", validators=[InputRequired("Please choose a score.")])

    def for_survey_scale(self, scale: range) -> bool:
        """Validate, including that the score is on the survey's scale."""
        if not self.validate():
            return False
        if self.score.data not in scale:
            self.score.errors = [f"Please choose a score from {scale.start} to {scale.stop - 1}."]
            return False
        return True


class UnsubscribeForm(PageForm):
    """The unsubscribe button. The link's own secret token authorises it, and RFC 8058
    one-click POSTs from mail providers carry no form token, so CSRF is off."""

    class Meta:
        csrf = False
