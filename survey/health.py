"""``GET /healthz`` for load balancers, container health checks and monitoring.

200 when the database answers and its schema is at the migrations' head, 503
otherwise (unreachable, or ``flask db upgrade`` not yet run or still due after
an upgrade). The body says nothing about the site: anyone may call it.
"""

from __future__ import annotations

import functools
import logging

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask

from survey.db import MIGRATIONS_DIR, db
from survey.instance import os_user

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@functools.cache
def expected_heads() -> frozenset[str]:
    """The head revision(s) of the migrations this code ships (read once per process)."""
    return frozenset(ScriptDirectory(MIGRATIONS_DIR).get_heads())


def database_problem(check_schema: bool = True) -> str | None:
    """Why the database cannot serve this code, in one line (``--…`` the operator's next step), or None.

    Unreachable (a wrong URL, a server down, a file the user may not open), then, with
    ``check_schema``, a schema that is not at the migrations' head. Connects afresh, so it
    may be asked after a failed statement."""
    shown = db.engine.url.render_as_string(hide_password=True)
    try:
        with db.engine.connect() as conn:
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        hint = ""
        if db.engine.dialect.name == "sqlite":
            hint = f" (the user running Rapport, {os_user()}, must be able to write the file and its folder)"
        return f"cannot open the database {shown}: {one_line(exc)}{hint}"
    if not check_schema or current == expected_heads():
        return None
    if not current:
        return f"the database {shown} has no Rapport tables yet: run `flask db upgrade`"
    known = {script.revision for script in ScriptDirectory(MIGRATIONS_DIR).walk_revisions()}
    at, needed = ", ".join(sorted(current)), ", ".join(sorted(expected_heads()))
    if current <= known:
        return f"the database {shown} is at migration {at}, this version of Rapport needs {needed}: " \
               "run `flask db upgrade`"
    return (f"the database {shown} is at migration {at}, which this version of Rapport does not know "
            f"(a newer version upgraded it); it needs {needed}: run the newer version")


def one_line(exc: BaseException) -> str:
    """The driver's own words for ``exc`` on one line, without SQLAlchemy's statement and link."""
    original = getattr(exc, "orig", None) or exc
    text = str(original)
    if isinstance(original, OSError) and original.strerror:
        text = f"{original.strerror}: {original.filename}" if original.filename else original.strerror
    return "; ".join(line.strip() for line in text.splitlines() if line.strip()).rstrip(".")


def schema_is_current() -> bool:
    """True when the database answers and stands at the migrations' head; False (and a log line) otherwise."""
    problem = database_problem()
    if problem:
        log.warning("healthz: %s", problem)
        return False
    return True


@bp.get("/healthz")
def healthz():
    status = 200 if schema_is_current() else 503
    return "", status, {"Cache-Control": "no-store", "Content-Type": "text/plain"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
