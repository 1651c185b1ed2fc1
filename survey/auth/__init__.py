"""Accounts: signing in and out, roles, API tokens and the ``flask users`` / ``flask tokens`` commands.

Other features protect their views with ``login_required`` and
``role_required("admin")`` and read the signed-in person with
``current_user()`` (also ``flask.g.user``). Under ``/api/`` the person comes
from an ``Authorization: Bearer`` API token instead of the session cookie.
"""

from flask import Blueprint, Flask

bp = Blueprint("auth", __name__)

from survey.auth import routes  # noqa: E402,F401
from survey.auth.decorators import current_user, login_required, role_required, token_user  # noqa: E402

__all__ = ["bp", "current_user", "init_app", "login_required", "role_required", "token_user"]


def init_app(app: Flask) -> None:
    from survey.auth.cli import tokens_cli, users_cli
    from survey.auth.decorators import load_user
    from survey.auth.sessions import RapportSessionInterface
    from survey.cli import add_group

    app.session_interface = RapportSessionInterface()
    app.before_request(load_user)
    app.register_blueprint(bp)
    add_group(app, users_cli, "users")
    add_group(app, tokens_cli, "tokens")
