"""Shared fixtures: ``app``, ``client``, ``runner``, factories, a live server and a browser.

The database is SQLite in a temporary folder unless ``RAPPORT_TEST_DATABASE_URL``
names another (CI runs the whole suite a second time against PostgreSQL).
"""

from __future__ import annotations

import contextvars
import os
import re
import shutil
import socket
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient

from survey import create_app
from survey.db import db

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Start-up refuses a short or repetitive key (survey.config.secret_key_problem), tests' own included.
TEST_SECRET_KEY = "rapport-tests-only-0123456789abcdef"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def _database_of_this_worker(url: str | None) -> str | None:
    """Under pytest-xdist (``-n 2``, as .ci/test runs) each worker gets a PostgreSQL database of its own.

    Tests empty every table after themselves (``TRUNCATE``), so two workers cannot share one.
    The database is named after the one given plus the worker (``rapport_test_gw0``) and
    created when missing; SQLite needs nothing, each test has its own file.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    given = sa.engine.make_url(url)
    name = f"{given.database}_{worker}"
    engine = sa.create_engine(given, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            if exists.scalar() is None:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return given.set(database=name).render_as_string(hide_password=False)


TEST_DB_URL = _database_of_this_worker(os.environ.get("RAPPORT_TEST_DATABASE_URL"))


def shared_file(name: str) -> Path:
    """A file from ../shared/data, or skip the test saying why."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data set is not part of a fresh clone)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_config(tmp_path):
    """Overrides for create_app; a test may update it before asking for ``app``."""
    config = {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": TEST_DB_URL or f"sqlite:///{tmp_path / 'test.db'}",
        "SQLITE_SYNCHRONOUS": "OFF" if not TEST_DB_URL else "FULL",
        "WTF_CSRF_ENABLED": False,
        "MAIL_SERVER": None,
        "MAIL_TRANSPORT": "file",  # chosen explicitly: without it delivery refuses
        # Tests post the answer form the moment they read it (or without reading it); the
        # minimum fill time is tested on its own (tests/test_security_floods.py).
        "ANSWER_MIN_FILL_MS": 0,
    }
    return config


class ClosingClient(FlaskClient):
    """A test client whose requests run as in production and whose responses are closed at the end.

    The ``app`` fixture keeps an app context open for the test's own database
    work. A request made inside it would reuse that context (Flask pushes a new
    one only when none is current), so ``g`` and the database session would
    carry over from one request to the next. Each request therefore runs in a
    fresh ``contextvars`` context: it gets its own app context, ``g`` and
    session, torn down when it ends, exactly as under a real server.

    A streamed response nobody read to the end (the CSV export) keeps its
    request context pushed until it is closed. Left to the garbage collector,
    it could be closed in a later test and pop that test's context mid-way.
    """

    _following = False  # set while werkzeug follows a redirect (it calls open again)

    def open(self, *args, **kwargs):
        if self._following:
            return super().open(*args, **kwargs)
        context = contextvars.Context()
        self._following = True
        try:
            response = context.run(super().open, *args, **kwargs)
        finally:
            self._following = False
        # A streamed body is produced while it is read: in the request's context too.
        response.response = _ReadIn(context, response.response)
        if has_app_context():  # what the request committed, the test's own session reads afresh
            db.session.expire_all()
        self.application.extensions.setdefault("test_responses", []).append(response)
        return response


class _ReadIn:
    """A response body iterated (and closed) inside the ``contextvars`` context of its request."""

    def __init__(self, context: contextvars.Context, body):
        self._context, self._body, self._iterator = context, body, None

    def __iter__(self):
        return self

    def __next__(self):
        if self._iterator is None:
            self._iterator = self._context.run(iter, self._body)
        return self._context.run(next, self._iterator)

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            self._context.run(close)


class SchemaFiles:
    """SQLite databases holding the models' empty schema, made once per test process and copied for each test.

    ``db.create_all()`` (some 30 tables and their indexes) was a good part of every test's set-up;
    copying the file it made for the first test takes a millisecond. Keyed by the tables the
    metadata holds, so a table registered later still gets a file of its own.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.made: dict[frozenset[str], Path] = {}

    def give(self, path: Path) -> None:
        """The schema into the app's SQLite database at ``path`` (not yet made), as create_all makes it."""
        tables = frozenset(db.metadata.tables)
        if tables in self.made:
            shutil.copyfile(self.made[tables], path)
            return
        db.create_all()
        copy = self.folder / f"schema-{len(self.made)}.db"
        out = sqlite3.connect(copy)
        try:
            with db.engine.connect() as conn:
                conn.connection.driver_connection.backup(out)  # a consistent copy, WAL included
        finally:
            out.close()
        self.made[tables] = copy


@pytest.fixture(scope="session")
def schema_files(tmp_path_factory) -> SchemaFiles:
    return SchemaFiles(tmp_path_factory.mktemp("schema"))


@pytest.fixture
def app(app_config, tmp_path, monkeypatch, schema_files):
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(app_config)
    app.test_client_class = ClosingClient
    own_file = f"sqlite:///{tmp_path / 'test.db'}"
    with app.app_context():
        import survey.models_all  # noqa: F401

        if app_config["SQLALCHEMY_DATABASE_URI"] == own_file and not (tmp_path / "test.db").exists():
            schema_files.give(tmp_path / "test.db")
        else:
            db.create_all()
        yield app
        for response in reversed(app.extensions.pop("test_responses", [])):
            response.close()  # newest first: each pops the context it pushed
        db.session.remove()
        if TEST_DB_URL:
            _truncate_all()
        db.engine.dispose()


def _truncate_all() -> None:
    names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_survey(app):
    """Factory: ``make_survey(kind="nps", name=..., **fields)`` → a committed Survey."""
    from survey.operations import create_survey

    counter = iter(range(1, 10_000))

    def make(kind: str = "nps", name: str | None = None, subject: str = "Acme", **fields):
        return create_survey(kind, name or f"{kind} survey {next(counter)}", subject, **fields)

    return make


@pytest.fixture
def make_response(app):
    """Factory: ``make_response(survey, score=9, comment="...", **fields)`` → a committed Response."""
    from survey.models import Response

    def make(survey, score=None, comment=None, channel="link", **fields):
        response = Response(survey_id=survey.id, score=score, comment=comment, channel=channel,
                            meta=fields.pop("meta", {}), **fields)
        db.session.add(response)
        db.session.commit()
        return response

    return make


class LiveServer:
    def __init__(self, app, host: str = "127.0.0.1"):
        from werkzeug.serving import make_server

        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self._server = make_server(host, self.port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._thread.join(5)


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on 127.0.0.1 (a thread), for browser tests."""
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright; skips where Chromium is absent."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (.ci/run installs it: apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def flask_db(app, *args: str):
    """``flask db ARGS`` on ``app``'s database, run in this process; the click result.

    It is the command an operator types (Flask-Migrate's, through the app's CLI); the
    migrations are written to run inside a process (survey/migrations/env.py). A subprocess
    per call only imported the app again, about 4 s of CPU each, and the migration tests make
    a dozen calls; tests/test_operator_setup.py runs ``flask db upgrade`` as a real process.
    """
    return app.test_cli_runner().invoke(args=["db", *args])


def extract_csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)
