"""Addresses customers and partner sites use: the public link and the embed snippets."""

from __future__ import annotations

from flask import current_app, request, url_for

from survey.models import Survey


def public_base_url() -> str:
    """Where customers reach this site: PUBLIC_BASE_URL, else the address this request came to."""
    return (current_app.config.get("PUBLIC_BASE_URL") or request.url_root).rstrip("/")


def public_url(survey: Survey) -> str:
    return public_base_url() + url_for("public.answer", public_key=survey.public_key)


def widget_snippet(survey: Survey) -> str:
    """The script tag a partner pastes into their page (survey.widget serves /widget.js)."""
    return f'<script src="{public_base_url()}{url_for("widget.script")}" data-survey="{survey.public_key}" async></script>'


def embed_snippet(survey: Survey) -> str:
    """The iframe for partners whose Content-Security-Policy forbids third-party scripts.

    No style attribute: such a policy usually forbids inline styles too, so the
    partner styles the frame (border, width) in their own stylesheet.
    """
    src = public_base_url() + url_for("widget.embed", public_key=survey.public_key)
    return (f'<iframe src="{src}" title="{_attribute(survey.name)} – feedback" loading="lazy" '
            'width="100%" height="360"></iframe>')


def _attribute(text: str) -> str:
    return (text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;"))
