"""The customer-facing pages: a survey's own answer page and its thank-you page."""

from flask import Blueprint, Flask

bp = Blueprint("public", __name__)

from survey.public import routes  # noqa: E402,F401


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
