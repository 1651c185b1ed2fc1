"""The read-only JSON API under /api/v1: surveys, their metrics and their answers.

Every call but the OpenAPI document needs a per-user token
(``Authorization: Bearer <token>``, see survey.auth). Errors are JSON
``{"error": {"status", "message", "field"?}}`` from survey.errors.
"""

from flask import Blueprint, Flask

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from survey.api import routes  # noqa: E402,F401


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
