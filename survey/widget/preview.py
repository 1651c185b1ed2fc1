"""Answers sent from the dashboard's widget preview: checked and answered like any other, stored nowhere.

A test answer kept in the database, even marked, would have to be left out of every metric, export,
API and analysis, one query at a time; an answer never stored cannot leak into any of them. So the
preview page (``admin.widget_preview``, signed-in users only) carries a token signed with the site's
key for its survey, the widget sends it with the answer, and the API answers it as it answers a real
one (201, an id and an edit token the follow-up comment can use) without writing it.

The token counts only on a request from this site's own origin, which is where the preview page is
(it is offered nowhere else: ``admin.links.widget_preview_refusal``). A browser sets ``Origin`` and
no page's script can change it, so a token copied onto a partner page changes nothing there: its
answers are stored as ever. The site's other own page, ``/embed/KEY``, takes no token from its
address. A token from this site that no longer holds (too old, another survey's, the key changed)
is refused with a message saying to reload the preview, never stored as a real answer.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from survey.models import Survey
from survey.widget.cors import own_origin

#: How long a preview page's answers are taken for previews; reloading the page gives a new token.
PREVIEW_MAX_AGE = dt.timedelta(hours=12)
_SALT = "rapport.widget-preview"


class StalePreview(Exception):
    """A preview token sent from this site's own origin that does not hold (any more)."""


def preview_token(survey: Survey) -> str:
    """The token the preview page of ``survey`` gives its widget."""
    return _serializer().dumps(survey.public_key)


def is_preview(survey: Survey, token: str | None, origin: str | None) -> bool:
    """Whether an answer to ``survey`` with ``token``, sent from ``origin``, comes from its preview page.

    False without a token, or from any origin but this site's (a partner page cannot flag its answers);
    StalePreview for a token from this site that does not hold.
    """
    if token is None or origin is None or origin != own_origin():
        return False
    try:
        key = _serializer().loads(token, max_age=PREVIEW_MAX_AGE.total_seconds())
    except SignatureExpired:
        raise StalePreview(f"this preview page is more than {PREVIEW_MAX_AGE.total_seconds() / 3600:.0f} hours "
                           "old; reload it to try the widget again (nothing was stored)") from None
    except BadSignature:
        key = None
    if key != survey.public_key:
        raise StalePreview("this preview page's mark is not valid for this survey; reload the preview "
                           "(nothing was stored)")
    return True


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=_SALT)
