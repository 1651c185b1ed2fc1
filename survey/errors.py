"""Every error gets a page (or JSON under /api/) a person understands, with the right status."""

from __future__ import annotations

import logging
import re
import traceback

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from survey.db import db
from survey.operations import OperationError

TITLES = {
    400: "Something in that request was not right",
    401: "Please sign in",
    403: "You do not have access to this page",
    404: "Not found",
    405: "Not allowed",
    409: "That could not be done",
    410: "This is no longer available",
    413: "That was too large",
    422: "Please check your answer",
    429: "Too many requests",
    500: "Something went wrong on our side",
    503: "We are busy right now",
}


#: PostgreSQL's SQLSTATEs for a table or column that does not exist (SQLite says it in words).
UNDEFINED_TABLE_OR_COLUMN = ("42P01", "42703")


def schema_behind(exc: Exception) -> bool:
    """The statement failed because a table or column the code uses is not in the database yet."""
    original = getattr(exc, "orig", None)
    return (getattr(original, "sqlstate", None) in UNDEFINED_TABLE_OR_COLUMN
            or str(original).startswith(("no such table", "no such column")))


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, message: str, field: str | None = None, headers: dict | None = None,
                   way_out: tuple[str, str] | None = None):
    """The error as JSON or as a page; ``way_out`` is ``(url, text)``: a link the page offers onwards."""
    if wants_json():
        body = {"error": {"status": status, "message": message}}
        if field:
            body["error"]["field"] = field
        response = jsonify(body)
    else:
        response = current_app.response_class(
            render_template("error.html", title=TITLES.get(status, "Error"), message=message,
                            way_out=way_out)
        )
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


# What a database error's text may carry of the customer's data: SQLAlchemy's parameter list
# (hidden by the engine's hide_parameters, survey.db) and PostgreSQL's DETAIL line ("Failing row
# contains (…)", "Key (submission_key)=(…)").
_DATA_IN_ERRORS = re.compile(r"^(\s*)(DETAIL:|\[parameters:).*$", re.MULTILINE)


def without_data(text: str) -> str:
    return _DATA_IN_ERRORS.sub(r"\1\2 (hidden: it may hold customer data)", text)


class HideDatabaseData(logging.Filter):
    """Log records of the app (its errors, with tracebacks) lose what database errors quote of the data."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = without_data(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = without_data("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        return True


def init_app(app: Flask) -> None:
    app.logger.addFilter(HideDatabaseData())

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return error_response(400, "This form has expired or was sent from another site. "
                                   "Please reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            message = "The request body is larger than this site accepts."
        elif exc.description and exc.description != type(exc).description:
            message = exc.description
        else:
            message = TITLES.get(exc.code or 500, "Error") + "."
        response = error_response(exc.code or 500, message)
        for key, value in exc.get_headers():
            if key.lower() not in ("content-type", "content-length"):
                response.headers[key] = value
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    @app.errorhandler(ProgrammingError)
    def database_unavailable(exc: Exception):
        # A locked SQLite file past its busy timeout, a restarting PostgreSQL or an
        # exhausted pool: the transaction was rolled back whole, so say so and
        # invite a retry rather than show a 500. So too while the schema is behind the
        # code (new code serving before `flask db upgrade`), said plainly in the log.
        if isinstance(exc, ProgrammingError) and not schema_behind(exc):
            raise exc  # a bug in a statement: a 500 with its traceback
        db.session.rollback()
        if schema_behind(exc):
            current_app.logger.error("the database schema is behind the code (%s): run `flask db upgrade`",
                                     str(getattr(exc, "orig", exc)).splitlines()[0])
        else:
            current_app.logger.warning("database unavailable: %s", exc)
        return error_response(503, "We are very busy right now and could not save this. "
                                   "Nothing was stored; please try again in a moment.",
                              headers={"Retry-After": "2"})

    @app.errorhandler(OperationError)
    def operation_refused(exc: OperationError):
        # A service function refused the request as a whole (it stored nothing); a view that
        # did not expect it still answers with its message, never a 500.
        db.session.rollback()
        message = str(exc).strip() or "That could not be done"
        return error_response(409, message[0].upper() + message[1:].rstrip(".") + ".")

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError):
        # Whatever the failed request half-did must not leak into the next one.
        db.session.rollback()
        return error_response(500, "Something went wrong on our side and nothing was saved. Please try again.")
