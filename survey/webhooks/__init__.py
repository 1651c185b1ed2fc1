"""Webhooks: each survey's new and changed answers POSTed, signed, to the team's own endpoints.

Admins add, test, pause and delete endpoints on the survey's page; analysts
see them and their deliveries. The worker (survey.webhooks.worker) finds the
events and sends them from a durable queue; the answer write path is untouched.
"""

from flask import Blueprint, Flask

bp = Blueprint("webhooks", __name__)


def init_app(app: Flask) -> None:
    # Imported here, not above: survey.models_all imports this package for its tables.
    from survey.webhooks import cli, routes  # noqa: F401
    from survey.webhooks.operations import endpoints_of, shown_url

    app.register_blueprint(bp)
    app.cli.add_command(cli.webhook_cli)
    app.add_template_global(endpoints_of, "webhook_endpoints_of")
    app.add_template_filter(shown_url, "webhook_url")
