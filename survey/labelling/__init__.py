"""Teach the model from the dashboard: the comments it is least sure of, the
corrections made since it was trained, and retraining (admins) with the new
version's scores beside the old before switching.
"""

from flask import Blueprint, Flask

bp = Blueprint("labelling", __name__)

from survey.labelling import routes  # noqa: E402,F401


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
