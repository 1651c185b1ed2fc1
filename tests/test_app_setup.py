"""The factory's configuration layers, the secret key, SQLite settings and migrations."""

import datetime as dt

import pytest
import sqlalchemy as sa

from survey import create_app
from survey.db import db, normalise_url
from tests.conftest import TEST_DB_URL, TEST_SECRET_KEY
from tests.conftest import flask_db as run_flask_db


def test_defaults_instance_config_env_and_test_config_layer(tmp_path, monkeypatch):
    instance = tmp_path / "site-a"
    instance.mkdir()
    (instance / "config.py").write_text("COMMENT_MAX_LENGTH = 123\nMAIL_PORT = 2525\nTHROTTLE_DAYS = 7\n")
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("RAPPORT_MAIL_PORT", "2626")
    monkeypatch.setenv("RAPPORT_MAIL_SERVER", "smtp.example.org")
    app = create_app({"THROTTLE_DAYS": 3})
    assert app.instance_path == str(instance)
    assert app.config["COMMENT_MAX_LENGTH"] == 123  # instance/config.py over the default
    assert app.config["MAIL_PORT"] == 2626  # environment over instance/config.py, parsed as JSON
    assert app.config["MAIL_SERVER"] == "smtp.example.org"
    assert app.config["THROTTLE_DAYS"] == 3  # test_config last
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'rapport.db'}"


def test_database_url_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RAPPORT_SQLALCHEMY_DATABASE_URI", f"sqlite:///{tmp_path / 'other.db'}")
    assert create_app().config["SQLALCHEMY_DATABASE_URI"].endswith("other.db")
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"


def test_secret_key_generated_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.delenv("RAPPORT_SECRET_KEY", raising=False)
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    assert first == second and len(first) == 64
    key_file = tmp_path / "inst" / "secret_key"
    assert key_file.read_text().strip() == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


@pytest.mark.skipif(bool(TEST_DB_URL), reason="SQLite settings")
def test_sqlite_runs_wal_with_foreign_keys_and_busy_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    app = create_app()
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            # FULL's durability: SQLite runs at NORMAL and Rapport flushes the log after each commit.
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
            assert conn.connection.driver_connection.flush_after_commit is True


def test_migrations_build_the_schema_the_models_describe(tmp_path, monkeypatch):
    """`flask db upgrade` on an empty database yields exactly the models' schema."""
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    app = create_app({"SQLALCHEMY_DATABASE_URI": TEST_DB_URL or f"sqlite:///{tmp_path / 'rapport.db'}"})
    with app.app_context():
        import survey.models_all  # noqa: F401

        if TEST_DB_URL:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        try:
            done = run_flask_db(app, "upgrade")
            assert done.exit_code == 0, (done.output, done.exception)
            check = run_flask_db(app, "check")
            assert check.exit_code == 0, (check.output, check.exception)
        finally:
            if TEST_DB_URL:
                with db.engine.begin() as conn:
                    conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
                    db.metadata.create_all(conn)
            db.engine.dispose()


def test_demo_seeds_three_kinds_once(runner):
    from survey.demo import seed_demo
    from survey.models import Response, Survey

    lines = seed_demo("http://127.0.0.1:5000")
    assert len(lines) == 4 and all("/s/" in line for line in lines[1:])
    seed_demo("http://127.0.0.1:5000")
    kinds = sorted(db.session.scalars(sa.select(Survey.kind)))
    assert kinds == ["ces", "csat", "nps"]
    for survey in db.session.scalars(sa.select(Survey)):
        count = db.session.scalar(sa.select(sa.func.count()).where(Response.survey_id == survey.id))
        assert count > 50


def test_proxy_headers_trusted_only_when_configured(tmp_path, monkeypatch):
    from flask import request

    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    seen = {}
    for setting in (0, 1):
        app = create_app({"SECRET_KEY": TEST_SECRET_KEY, "PROXY_FIX_X_FOR": setting, "PROXY_FIX_X_PROTO": setting})

        @app.get("/_whoami")
        def whoami():
            return f"{request.remote_addr} {request.scheme}"

        seen[setting] = app.test_client().get(
            "/_whoami", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}).get_data(as_text=True)
    assert seen[0] == "127.0.0.1 http"
    assert seen[1] == "203.0.113.9 https"


def test_token_expiry_migration_keeps_old_tokens_and_its_downgrade_revives_no_expired_one(tmp_path, monkeypatch):
    """a2e127aea5f0 adds api_tokens.expires_at (NULL for tokens made before it: they never expire);
    going back revokes the tokens that had expired, so dropping the column brings none back."""
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    url = normalise_url(TEST_DB_URL) if TEST_DB_URL else f"sqlite:///{tmp_path / 'rapport.db'}"
    engine = sa.create_engine(url)
    if TEST_DB_URL:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "MAIL_SERVER": None})

    def flask_db(*args: str) -> None:
        done = run_flask_db(app, *args)
        assert done.exit_code == 0, (done.output, done.exception)

    def columns() -> set[str]:
        return {column["name"] for column in sa.inspect(engine).get_columns("api_tokens")}

    users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String),
                     sa.column("password_hash", sa.String), sa.column("role", sa.String),
                     sa.column("is_active", sa.Boolean), sa.column("failed_logins", sa.Integer),
                     sa.column("created_at", sa.DateTime))
    tokens = sa.table("api_tokens", sa.column("id", sa.Integer), sa.column("user_id", sa.Integer),
                      sa.column("name", sa.String), sa.column("token_hash", sa.String),
                      sa.column("created_at", sa.DateTime), sa.column("revoked_at", sa.DateTime),
                      sa.column("expires_at", sa.DateTime))
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    try:
        flask_db("upgrade", "c41d7e0f2a95")
        assert "expires_at" not in columns()
        with engine.begin() as conn:
            conn.execute(sa.insert(users).values(id=1, email="ana@example.com", password_hash="x", role="analyst",
                                                 is_active=True, failed_logins=0, created_at=now))
            before = sa.table("api_tokens", *(sa.column(column.name, column.type) for column in tokens.c
                                               if column.name != "expires_at"))
            conn.execute(sa.insert(before), [{"id": n, "user_id": 1, "name": name, "token_hash": f"{n:064d}",
                                              "created_at": now} for n, name in ((1, "lapsed"), (2, "current"),
                                                                                (3, "old"))])
        flask_db("upgrade")
        with engine.begin() as conn:
            assert conn.execute(sa.select(tokens.c.id, tokens.c.expires_at, tokens.c.revoked_at)
                                .order_by(tokens.c.id)).all() == [(1, None, None), (2, None, None), (3, None, None)]
            lapsed_at = now - dt.timedelta(days=2)
            conn.execute(sa.update(tokens).where(tokens.c.id == 1).values(expires_at=lapsed_at))
            conn.execute(sa.update(tokens).where(tokens.c.id == 2).values(expires_at=now + dt.timedelta(days=30)))
        flask_db("downgrade", "c41d7e0f2a95")
        assert "expires_at" not in columns()
        with engine.begin() as conn:
            revoked = dict(conn.execute(sa.select(tokens.c.id, tokens.c.revoked_at).order_by(tokens.c.id)).all())
        assert revoked == {1: lapsed_at, 2: None, 3: None}
        flask_db("upgrade")
        flask_db("check")
    finally:
        if TEST_DB_URL:
            from survey.db import db as survey_db

            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
                import survey.models_all  # noqa: F401

                survey_db.metadata.create_all(conn)
        engine.dispose()
        with app.app_context():
            db.engine.dispose()


def test_each_test_request_has_its_own_app_context(app, client):
    """The test's open app context is not shared with requests: no ``g`` or session carries over."""
    from flask import g

    request_sessions = []  # held, so that no session's id can be reused by a later object

    @app.get("/_probe/g")
    def probe():
        seen = g.get("probe")
        g.probe = "set by an earlier request"
        request_sessions.append(db.session())
        return {"seen": seen}

    first, second = client.get("/_probe/g").get_json(), client.get("/_probe/g").get_json()
    assert first["seen"] is None and second["seen"] is None
    assert g.get("probe") is None  # nor does a request write into the test's context
    assert all(db.session() is not session for session in request_sessions)
