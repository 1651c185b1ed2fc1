"""E-mail invitations: contacts, campaigns, the e-mail itself, delivery, reminders, unsubscribes.

Pages live under ``/i/<token>`` (answering) and ``/u/<token>`` (unsubscribing);
commands under ``flask contacts`` and ``flask invite``.
"""

from flask import Blueprint, Flask

bp = Blueprint("invites", __name__, static_folder="static", static_url_path="/invites/static")

from survey.invites import routes  # noqa: E402,F401


def init_app(app: Flask) -> None:
    from survey.invites import cli, models  # noqa: F401  (models: Response.invitation_id's table)

    app.register_blueprint(bp)
    cli.init_app(app)
