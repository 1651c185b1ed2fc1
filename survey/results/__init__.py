"""Results for one survey: the metric and its change, charts, pain points,
comments with label corrections, and the CSV export.

``survey.results.filters`` (Flask-free) decides which answers all of these
are about; the API reuses it so both accept the same query arguments.
"""

from flask import Blueprint, Flask

from analysis.labels import SENTIMENTS, THEMES

bp = Blueprint("results", __name__)

from survey.results import present, routes  # noqa: E402,F401


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    # The label vocabulary, for the filter form and the chart tables.
    app.jinja_env.globals.update(SENTIMENTS=SENTIMENTS, THEMES=THEMES)
