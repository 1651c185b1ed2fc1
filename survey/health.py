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

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@functools.cache
def expected_heads() -> frozenset[str]:
    """The head revision(s) of the migrations this code ships (read once per process)."""
    return frozenset(ScriptDirectory(MIGRATIONS_DIR).get_heads())


def schema_is_current() -> bool:
    """True when the database answers and stands at the migrations' head; False (and a log line) otherwise."""
    try:
        with db.engine.connect() as conn:
            current = frozenset(MigrationContext.configure(conn).get_current_heads())
    except sa.exc.SQLAlchemyError as exc:
        log.warning("healthz: the database does not answer: %s", exc)
        return False
    if current != expected_heads():
        log.warning("healthz: the schema is at %s, the code expects %s: run `flask db upgrade`",
                    sorted(current) or "nothing", sorted(expected_heads()))
        return False
    return True


@bp.get("/healthz")
def healthz():
    status = 200 if schema_is_current() else 503
    return "", status, {"Cache-Control": "no-store", "Content-Type": "text/plain"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
