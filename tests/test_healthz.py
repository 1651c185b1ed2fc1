"""GET /healthz: 200 only when the database answers at the migrations' head; no data in the body."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from flask_migrate import stamp

from survey import create_app
from survey.db import MIGRATIONS_DIR, db
from tests.conftest import TEST_SECRET_KEY, free_port


def drop_version_table() -> None:
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def test_current_schema_is_healthy_and_an_old_or_unstamped_one_is_not(app, client):
    try:
        drop_version_table()
        unstamped = client.get("/healthz")
        assert unstamped.status_code == 503 and unstamped.data == b""
        stamp(directory=MIGRATIONS_DIR, revision="head")
        healthy = client.get("/healthz")
        assert healthy.status_code == 200 and healthy.data == b""
        assert healthy.headers["Cache-Control"] == "no-store"
        previous = ScriptDirectory(MIGRATIONS_DIR).get_current_head()
        previous = ScriptDirectory(MIGRATIONS_DIR).get_revision(previous).down_revision
        stamp(directory=MIGRATIONS_DIR, revision=previous)  # as if `flask db upgrade` were still due
        behind = client.get("/healthz")
        assert behind.status_code == 503 and behind.data == b""
    finally:
        drop_version_table()


def test_a_database_that_does_not_answer_is_unhealthy(tmp_path, monkeypatch):
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET_KEY, "MAIL_TRANSPORT": "file",
                      "SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://rapport@127.0.0.1:{free_port()}/nothing",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.data == b""
    with app.app_context():
        db.engine.dispose()
