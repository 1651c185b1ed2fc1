"""One form per screen: a new endpoint's address."""

from __future__ import annotations

from wtforms import URLField

from survey.security import PageForm
from survey.webhooks.targets import MAX_URL_LENGTH


class EndpointForm(PageForm):
    url = URLField("Endpoint address", render_kw={"maxlength": MAX_URL_LENGTH, "placeholder": "https://"},
                   description="An https:// address on your server. Each new or changed answer is POSTed there "
                               "as signed JSON.")
