"""The account page's e-mail settings and the unsubscribe page's button."""

from __future__ import annotations

from wtforms import BooleanField

from survey.security import PageForm


class MailSettingsForm(PageForm):
    low_score_alerts = BooleanField("Low-score alerts", description=(
        "An e-mail when a survey you own gets a score at or below its follow-up threshold "
        "(several close together come in one e-mail)."))
    weekly_digest = BooleanField("Weekly digest", description=(
        "Each week, per survey you own: the score and its change, the pain points that grew, "
        "the follow-ups still open."))


class OneClickForm(PageForm):
    """The unsubscribe button. The signed link authorises it, and RFC 8058 one-click POSTs
    from mail providers carry no form token, so CSRF is off."""

    class Meta:
        csrf = False
