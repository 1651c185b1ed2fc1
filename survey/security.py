"""CSRF protection and the security headers every response carries."""

from __future__ import annotations

from flask import Flask, request
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from flask_wtf.file import FileField
from flask_wtf.form import SUBMIT_METHODS
from flask_wtf.form import _Auto as _AUTO  # FlaskForm's "read the request" marker
from werkzeug.datastructures import CombinedMultiDict

csrf = CSRFProtect()


class PageForm(FlaskForm):
    """Every form of the site: fields are read from what an HTML form sends, nothing else.

    Flask-WTF also fills fields from uploaded file parts and from a JSON body, so a
    comment sent as a file or as a JSON object reached the views as something other
    than text. Here text fields read only ``request.form``; file parts only reach
    forms that have a FileField, and a JSON body none.
    """

    class Meta:
        def wrap_formdata(self, form, formdata):
            if formdata is not _AUTO:
                return formdata
            if request.method not in SUBMIT_METHODS:
                return None
            if request.files and any(isinstance(field, FileField) for field in form):
                return CombinedMultiDict((request.files, request.form))
            return request.form

# No inline scripts anywhere; pages that may be framed (the embed) set their own CSP.
_CSP_SOURCES = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; "
)
DEFAULT_CSP = _CSP_SOURCES + "frame-ancestors 'none'"


def frameable_by_own_pages(response):
    """Let this site's own pages, and no one else's, show ``response`` in a frame (the widget preview)."""
    response.headers["Content-Security-Policy"] = _CSP_SOURCES + "frame-ancestors 'self'"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def init_app(app: Flask) -> None:
    csrf.init_app(app)

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if response.mimetype == "text/html":
            # A page that sets its own CSP (the embed) decides its own framing too.
            if "Content-Security-Policy" not in headers:
                headers["Content-Security-Policy"] = DEFAULT_CSP
                headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    if app.config.get("PREFERRED_URL_SCHEME") == "https":
        # Not setdefault: Flask's own defaults already hold SESSION_COOKIE_SECURE = False.
        app.config["SESSION_COOKIE_SECURE"] = True
