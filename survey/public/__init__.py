"""The customer-facing pages: a survey's own answer page and its thank-you page."""

from flask import Blueprint

bp = Blueprint("public", __name__)

from survey.public import routes  # noqa: E402,F401
