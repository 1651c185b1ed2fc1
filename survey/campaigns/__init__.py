"""E-mail campaigns on the dashboard: the list, a new campaign with its audience preview, a
campaign's page (funnel and course over time) and cancelling.

Everyone signed in sees campaigns; only admins create, send and cancel them.
Every write goes through survey.invites (the functions ``flask invite send``
uses and the delivery worker's scheduler), so the outbox's exactly-once
delivery and the link-scanner safety hold for campaigns made here too.
"""

from flask import Blueprint, Flask

bp = Blueprint("campaigns", __name__)


def init_app(app: Flask) -> None:
    from survey.campaigns import routes  # noqa: F401

    app.register_blueprint(bp)
