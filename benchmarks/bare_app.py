"""The yardsticks that benchmarks/load.py serves beside Rapport, with the same gunicorn settings.

``create_app``: a bare Flask endpoint that answers two bytes — the most any
Flask view can reach on this machine; every Rapport number is reported as a
ratio to it.

``create_insert_app``: the least an answer endpoint can do — parse a form and
insert one row with SQLAlchemy Core into the same database engine, journal
mode and synchronous setting as Rapport. It shows how much of the gap to the
bare endpoint the database itself takes, so the rest is Rapport's own work.
Its database comes from ``BENCH_INSERT_DATABASE_URL``.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.route("/", methods=["GET", "POST"])
    def ok():
        return "ok"

    return app


def create_insert_app() -> Flask:
    app = Flask(__name__)
    url = os.environ["BENCH_INSERT_DATABASE_URL"]
    engine = sa.create_engine(url, **({"connect_args": {"timeout": 5}} if url.startswith("sqlite") else {}))
    if engine.dialect.name == "sqlite":
        synchronous = os.environ.get("BENCH_SQLITE_SYNCHRONOUS", "FULL").upper()
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"BENCH_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")

        @sa.event.listens_for(engine, "connect")
        def pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.close()

    metadata = sa.MetaData()
    rows = sa.Table(
        "bench_rows", metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("submission_key", sa.String(64), unique=True),
        sa.Column("score", sa.Integer),
    )
    metadata.create_all(engine, checkfirst=True)

    @app.post("/insert")
    def insert():
        with engine.begin() as conn:
            conn.execute(rows.insert().values(submission_key=request.form["submission_key"],
                                              score=int(request.form["score"])))
        return "ok", 201

    return app
