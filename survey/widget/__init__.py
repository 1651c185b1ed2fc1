"""The embeddable widget: /widget.js, the /embed/KEY page and the public JSON API behind them.

Partners paste ``<script src="https://HOST/widget.js" data-survey="KEY" async>``;
the script reads the survey from ``GET /api/v1/surveys/KEY/widget`` and posts
answers to ``/api/v1/surveys/KEY/responses``, allowed only from the origins
listed on the survey (``flask survey origins KEY add ORIGIN``).
"""

from __future__ import annotations

from flask import Blueprint, Flask

from survey.ratelimit import parse_rate

bp = Blueprint("widget", __name__)
api_bp = Blueprint("widget_api", __name__, url_prefix="/api/v1/surveys")

from survey.widget import api, routes  # noqa: E402,F401


def init_app(app: Flask) -> None:
    from survey.cli import survey_cli
    from survey.security import csrf
    from survey.widget.cors import answer_preflight
    from survey.widget.cli import origins_cli

    # Fail at start-up, not on the first answer, if a limit is mistyped.
    for name in ("WIDGET_RATE_LIMIT", "WIDGET_CONFIG_RATE_LIMIT"):
        parse_rate(app.config[name])
    # Cross-origin by design: CORS, the Origin check and JSON-only bodies protect it instead.
    csrf.exempt(api_bp)
    app.before_request(answer_preflight)
    survey_cli.add_command(origins_cli)
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
