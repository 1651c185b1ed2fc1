"""Addresses customers and partner sites use: the public link and the embed snippets."""

from __future__ import annotations

from flask import current_app, request, url_for

from survey.models import Survey


def public_base_url() -> str:
    """Where customers reach this site: PUBLIC_BASE_URL, else the address this request came to."""
    return (current_app.config.get("PUBLIC_BASE_URL") or request.url_root).rstrip("/")


def public_url(survey: Survey) -> str:
    return public_base_url() + url_for("public.answer", public_key=survey.public_key)
