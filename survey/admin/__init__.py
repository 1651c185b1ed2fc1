"""Survey administration on the dashboard: the survey list (the landing page),
creating and editing surveys, their links, snippets and campaigns, users, and
the contacts e-mail campaigns go to.

Everyone signed in sees the survey list and a survey's page; only admins
create and edit surveys and manage users.
"""

from flask import Blueprint, Flask

bp = Blueprint("admin", __name__)

from survey.admin import contact_pages, contacts, routes, users  # noqa: E402,F401


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
