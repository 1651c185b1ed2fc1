"""``/widget.js`` (the script partners paste) and ``/embed/KEY`` (the same widget in an iframe)."""

from __future__ import annotations

import hashlib
import re
import secrets
from pathlib import Path

from flask import abort, current_app, render_template, request

from survey.lookups import require_open
from survey.published import published_or_404
from survey.requestinfo import MetaError, clean_meta
from survey.widget import bp

SCRIPT = Path(__file__).resolve().parent.parent / "static" / "widget.js"
_LANG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


#: A line that is nothing but a ``//`` comment: it explains the source to its reader, and every
#: visitor of every partner page would download it (served without, as a minifier would).
_COMMENT_LINE = re.compile(rb"^[ \t]*//[^\n]*\n", re.MULTILINE)


def script_bytes() -> tuple[bytes, str]:
    """The script (without its comment lines) and its ETag, read once per change of the file (not at import)."""
    mtime = SCRIPT.stat().st_mtime_ns
    cached = current_app.extensions.get("rapport.widget_js")
    if cached is None or cached[0] != mtime:
        data = _COMMENT_LINE.sub(b"", SCRIPT.read_bytes())
        cached = (mtime, data, hashlib.sha256(data).hexdigest()[:32])
        current_app.extensions["rapport.widget_js"] = cached
    return cached[1], cached[2]


@bp.get("/widget.js")
def script():
    data, etag = script_bytes()
    response = current_app.response_class(data, mimetype="text/javascript")
    response.set_etag(etag)
    # Partners cannot change the URL they pasted, so revalidate hourly (cheap: 304 by ETag).
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["WIDGET_SCRIPT_MAX_AGE"]
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response.make_conditional(request)


@bp.get("/embed/<public_key>")
def embed(public_key: str):
    """The widget alone on a page, for partners whose CSP forbids third-party scripts.

    Only the survey's origins may frame it; it posts its height to the parent.
    """
    published = published_or_404(public_key)
    survey = published.survey
    require_open(survey)
    try:
        meta = clean_meta(request.args, prefix="meta_")
    except MetaError as exc:
        abort(400, description=f"This embed address is damaged: {exc}.")
    lang = request.args.get("lang", "")
    accent = request.args.get("accent", "")
    nonce = secrets.token_urlsafe(16)
    ancestors = " ".join(sorted(published.origins)) or "'none'"
    html = render_template(
        "widget/embed.html", survey=survey, meta=meta, nonce=nonce,
        lang=lang if _LANG.match(lang) else None, accent=accent if _COLOUR.match(accent) else None,
    )
    response = current_app.response_class(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; "
        f"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
