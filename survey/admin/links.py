"""Addresses customers and partner sites use: the public link and the embed snippets."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request, url_for

from survey.models import Survey
from survey.schedule import closed_reason
from survey.widget.cors import own_origin, request_origin


#: The frame's height until the widget inside reports its own (about the question and the scale).
EMBED_START_HEIGHT = 200


def public_base_url() -> str:
    """Where customers reach this site: PUBLIC_BASE_URL, else the address this request came to."""
    return (current_app.config.get("PUBLIC_BASE_URL") or request.url_root).rstrip("/")


def public_url(survey: Survey) -> str:
    return public_base_url() + url_for("public.answer", public_key=survey.public_key)


def widget_snippet(survey: Survey) -> str:
    """The script tag a partner pastes into their page (survey.widget serves /widget.js).

    Safe HTML as it stands (its parts are attribute-escaped): the preview page includes it as is.
    """
    src = _attribute(public_base_url() + url_for("widget.script"))
    return f'<script src="{src}" data-survey="{_attribute(survey.public_key)}" async></script>'


def widget_preview_refusal(survey: Survey) -> str | None:
    """Why the widget cannot be tried on the preview page of the dashboard now; None when it can.

    The preview is a page of this site, so its answers are let in by the rule that lets in the
    site's own pages (survey.widget.cors: only ``own_origin()``, never the Host header alone).
    It works when the dashboard is opened at that address; nothing here widens the rule.
    """
    if closed_reason(survey) is not None:
        return "the survey takes no answers now, so the widget shows on no page"
    own = own_origin()
    if own is None:
        return ("the widget takes answers only from the survey's sites and this site's own address, and this "
                "site has none set (PUBLIC_BASE_URL)")
    if own != request_origin():
        return (f"the widget takes answers only from the survey's sites and this site's own address, {own}; "
                "open the dashboard there to try it")
    return None


def embed_snippet(survey: Survey) -> str:
    """The iframe for partners whose Content-Security-Policy forbids third-party scripts, and its resizer.

    The embedded page posts its height to the parent (README, "Iframe alternative");
    the few lines of script set the frame's ``height`` to it, so the frame fits its
    content at every step. They set the attribute, not a style: a policy strict
    enough to need the iframe usually forbids inline styles too. Where the partner's
    own policy refuses the inline script, the frame keeps its starting height.
    """
    base = public_base_url()
    origin = urlsplit(base)._replace(path="", query="", fragment="").geturl()
    src = base + url_for("widget.embed", public_key=survey.public_key)
    frame_id = f"rapport-{survey.public_key}"
    return (f'<iframe id="{frame_id}" src="{src}" title="{_attribute(survey.name)} – feedback" loading="lazy" '
            f'width="100%" height="{EMBED_START_HEIGHT}"></iframe>\n'
            f'<script>addEventListener("message", e => {{ if (e.origin === "{origin}" && e.data.rapport === "resize" '
            f'&& e.data.survey === "{survey.public_key}")\n'
            f'  document.getElementById("{frame_id}").height = e.data.height; }});</script>')


def _attribute(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;"))
