"""E-mails to survey owners: low-score alerts and the weekly digest, both through the outbox, both opt-out.

``low_scores`` finds new low scores and batches them; ``digest`` builds and
queues the weekly digest; ``mail`` knows the owners, their choices and the
signed unsubscribe link; ``worker`` is the step the delivery worker runs.
Pages: the one-click unsubscribe (``/mail/unsubscribe/<token>``) and the
settings on the account page. Command: ``flask digest send``.
"""

from flask import Blueprint, Flask

bp = Blueprint("alerts", __name__)


def init_app(app: Flask) -> None:
    # Imported here, not above: survey.models_all imports this package for its tables.
    from survey.alerts import cli, routes  # noqa: F401

    app.register_blueprint(bp)
    cli.init_app(app)
