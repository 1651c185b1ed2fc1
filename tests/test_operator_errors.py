"""A wrong setting or a database that cannot serve the code: one line saying which and what to do,
exit status 1, never a traceback (and never the database password)."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import FlaskGroup

from survey import create_app
from survey.cli import survey_cli
from survey.health import expected_heads
from survey.instance import ConfigError
from tests.conftest import TEST_SECRET_KEY

#: Nothing listens on port 1: the connection is refused at once.
UNREACHABLE = "postgresql://rapport:s3cret-pw@127.0.0.1:1/rapport"


def run(config: dict, *args: str, env: dict | None = None):
    """``flask --app survey ARGS`` in this process, as an operator types it (the app loaded by the command)."""
    cli = FlaskGroup(create_app=lambda: create_app({"TESTING": True, "SECRET_KEY": TEST_SECRET_KEY, **config}))
    return CliRunner().invoke(cli, list(args), env=env)


def assert_one_line_error(result, *words: str) -> str:
    assert result.exit_code == 1, (result.output, result.exception)
    assert "Traceback" not in result.output and not isinstance(result.exception, sa.exc.SQLAlchemyError)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for word in words:
        assert word in lines[0], lines[0]
    assert "s3cret-pw" not in result.output
    return lines[0]


@pytest.mark.parametrize("url, words", [
    ("garbage", ("SQLALCHEMY_DATABASE_URI", "DATABASE_URL", "'garbage'", "postgresql://USER:PASSWORD@HOST/NAME")),
    ("mysql://rapport:s3cret-pw@db/rapport", ("SQLite or PostgreSQL, not mysql", "rapport:***@db")),
    ("postgresql+psycopg2://rapport:s3cret-pw@db/rapport", ("driver is not installed", "psycopg2")),
    ("post gres://rapport:s3cret-pw@db/rapport", ("no URL Rapport can read",)),
])
def test_a_database_url_rapport_cannot_use_is_named_at_start(url, words, tmp_path):
    with pytest.raises(ConfigError) as caught:
        create_app({"SQLALCHEMY_DATABASE_URI": url})
    message = caught.value.format_message()
    assert all(word in message for word in words) and "s3cret-pw" not in message
    assert_one_line_error(run({"SQLALCHEMY_DATABASE_URI": url}, "survey", "list"), *words)


@pytest.mark.parametrize("address", ["feedback.example.com", "ftp://feedback.example.com",
                                     "https://feedback.example.com?utm=x", "https://feedback.example.com:https"])
def test_a_public_address_that_is_no_address_is_named_at_start(address, tmp_path):
    """``feedback.example.com`` without its scheme made the dashboard offer partners ``src="feedback.example.com/
    widget.js"``, a link relative to their own page; the worker only logged it at every pass."""
    with pytest.raises(ConfigError) as caught:
        create_app({"PUBLIC_BASE_URL": address, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'r.db'}"})
    assert "RAPPORT_PUBLIC_BASE_URL" in caught.value.format_message()
    assert_one_line_error(run({"PUBLIC_BASE_URL": address}, "survey", "list"),
                          "public address", repr(address), "must look like https://surveys.example.com")


def test_a_public_address_with_a_path_or_a_trailing_slash_is_fine(tmp_path):
    for address in ("https://feedback.example.com/", "https://example.com/feedback", "http://127.0.0.1:5000"):
        app = create_app({"PUBLIC_BASE_URL": address, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'r.db'}"})
        assert app.config["PUBLIC_BASE_URL"] == address


@pytest.mark.parametrize("key, words", [
    ("changeme", ("is 8 characters long", "at least 32")),
    ("secret" * 6, ("only 5 different characters",)),
    ("0" * 64, ("only 1 different characters",)),
])
def test_a_short_or_repetitive_secret_key_is_named_at_start(key, words, tmp_path, monkeypatch):
    """Session cookies, CSRF tokens, unsubscribe links and bounce tags are signed with SECRET_KEY: a weak one
    set by an operator was used silently, and could be guessed offline from any signed cookie."""
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RAPPORT_SECRET_KEY", key)
    with pytest.raises(ConfigError) as caught:
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'r.db'}"})
    assert "RAPPORT_SECRET_KEY" in caught.value.format_message()
    result = CliRunner().invoke(FlaskGroup(create_app=create_app), ["survey", "list"],
                                env={"RAPPORT_INSTANCE_PATH": str(tmp_path), "RAPPORT_SECRET_KEY": key})
    line = assert_one_line_error(result, "SECRET_KEY", "secrets.token_hex(32)", *words)
    assert key not in line  # the key itself is not printed into logs


def test_a_weak_or_mistyped_old_key_in_the_fallbacks_is_named_at_start(tmp_path):
    """A fallback still verifies cookies, so a weak one is as good as a weak key; a string instead of a
    list would have made Flask try each of its characters as a key."""
    strong, base = TEST_SECRET_KEY, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'r.db'}"}
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS.*old key that is 3 characters long"):
        create_app({**base, "SECRET_KEY": strong, "SECRET_KEY_FALLBACKS": ["old"]})
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS.*must be a list"):
        create_app({**base, "SECRET_KEY": strong, "SECRET_KEY_FALLBACKS": strong[::-1]})
    app = create_app({**base, "SECRET_KEY": strong, "SECRET_KEY_FALLBACKS": [strong[::-1]]})
    assert app.secret_key == strong


def test_a_random_secret_key_or_none_starts(tmp_path, monkeypatch):
    import secrets

    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    for key in (secrets.token_hex(16), secrets.token_urlsafe(32), secrets.token_hex(32)):
        monkeypatch.setenv("RAPPORT_SECRET_KEY", key)
        assert create_app().secret_key == key
    monkeypatch.setenv("RAPPORT_SECRET_KEY", "")  # empty: generated into the instance folder
    assert len(create_app().secret_key) == 64


def test_a_weak_key_written_by_hand_into_the_instance_folder_is_refused(tmp_path, monkeypatch):
    from survey.instance import InstanceError

    (tmp_path / "secret_key").write_text("hunter2\n")
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("RAPPORT_SECRET_KEY", raising=False)
    with pytest.raises(InstanceError, match="is 7 characters long.*delete the file"):
        create_app().secret_key  # noqa: B018


@pytest.mark.parametrize("args", [("survey", "list"), ("user", "list"), ("db", "upgrade"), ("invite", "status")])
def test_a_database_that_does_not_answer_is_one_line(args):
    assert_one_line_error(run({"SQLALCHEMY_DATABASE_URI": UNREACHABLE}, *args),
                          "cannot open the database postgresql+psycopg://rapport:***@127.0.0.1:1/rapport",
                          "Connection refused")


def test_a_database_without_the_schema_says_run_db_upgrade(tmp_path):
    database = tmp_path / "rapport.db"
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}
    assert_one_line_error(run(config, "survey", "list"), "has no Rapport tables yet: run `flask db upgrade`")
    with sqlite3.connect(database) as conn:  # stamped at the first migration, its tables never made
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('a820b9d15653')")
    assert_one_line_error(run(config, "user", "list"), "is at migration a820b9d15653",
                          f"needs {min(expected_heads())}: run `flask db upgrade`")
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'fffffffffff0'")
    assert_one_line_error(run(config, "survey", "list"), "fffffffffff0, which this version of Rapport does not know")


def test_an_instance_folder_the_database_cannot_be_made_in_is_one_line(tmp_path):
    (tmp_path / "not-a-folder").write_text("")  # even root cannot make a folder inside a file
    database = tmp_path / "not-a-folder" / "instance" / "rapport.db"
    for args in (("db", "upgrade"), ("survey", "list")):
        assert_one_line_error(run({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}, *args),
                              "cannot open the database", "Not a directory", "must be able to write")


def test_a_failure_the_database_does_not_explain_keeps_its_traceback(tmp_path):
    @survey_cli.command("fail-for-test", hidden=True)
    def fail():
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("a bug, not the database"))

    try:
        result = run({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'rapport.db'}"}, "db", "upgrade")
        assert result.exit_code == 0, result.output
        result = run({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'rapport.db'}"}, "survey", "fail-for-test")
        assert isinstance(result.exception, sa.exc.OperationalError)
    finally:
        survey_cli.commands.pop("fail-for-test")


def test_a_lock_timeout_says_how_to_wait_instead(tmp_path):
    """`flask db upgrade` beside a busy session gives up after POSTGRES_LOCK_TIMEOUT_MS, as the README
    says; it came out as a LockNotAvailable traceback."""
    class LockNotAvailable(Exception):
        sqlstate = "55P03"  # what psycopg raises when lock_timeout ends a statement

    @survey_cli.command("lock-for-test", hidden=True)
    def wait_for_lock():
        raise sa.exc.OperationalError("ALTER TABLE responses ADD x INT", {},
                                      LockNotAvailable("canceling statement due to lock timeout"))

    try:
        result = run({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'rapport.db'}"}, "survey", "lock-for-test")
    finally:
        survey_cli.commands.pop("lock-for-test")
    assert_one_line_error(result, "POSTGRES_LOCK_TIMEOUT_MS (5000 ms)", "RAPPORT_POSTGRES_LOCK_TIMEOUT_MS=null")


@pytest.mark.parametrize("content, words", [
    ("MAIL_PORT = 2525\nMAIL_SERVER = smtp.example.com\n", ("config.py, line 2", "NameError", "smtp")),
    ("MAIL_PORT = 2525 +\n", ("config.py, line 1", "invalid syntax")),
])
def test_a_broken_config_file_says_which_line(content, words, tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text(content)
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError) as caught:
        create_app()
    message = caught.value.format_message()
    assert str(tmp_path / "config.py") in message and all(word in message for word in words), message
    assert_one_line_error(run({}, "survey", "list", env={"RAPPORT_INSTANCE_PATH": str(tmp_path)}), *words)
    # --help lists the commands by loading the app inside Flask's own `except Exception`: it printed
    # the traceback, then the help, and exited 0
    assert_one_line_error(run({}, "--help", env={"RAPPORT_INSTANCE_PATH": str(tmp_path)}), *words)


def test_a_config_file_the_service_cannot_read_says_what_to_do(tmp_path, monkeypatch):
    (tmp_path / "config.py").mkdir()  # unreadable as a file, even for root
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="cannot read .*config.py: Is a directory"):
        create_app()
    (tmp_path / "config.py").rmdir()
    (tmp_path / "config.py").write_text("MAIL_PORT = 2525\n")
    monkeypatch.setattr("pathlib.Path.read_bytes", lambda self: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied", str(self))))
    with pytest.raises(ConfigError) as caught:
        create_app()
    message = caught.value.format_message()
    assert "Permission denied" in message and "chmod 640" in message, message


@pytest.mark.parametrize("loose", ["file", "folder"])
def test_a_config_file_anyone_could_have_written_is_not_run(loose, tmp_path, monkeypatch):
    """config.py is run as Python with the service's rights: a world-writable one (or one in a
    world-writable folder, where anyone may put it) let every local user run code as Rapport."""
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o750)
    (instance / "config.py").write_text("MAIL_PORT = 2525\n")
    (instance / "config.py").chmod(0o640)
    (instance if loose == "folder" else instance / "config.py").chmod(0o777 if loose == "folder" else 0o646)
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(instance))
    with pytest.raises(ConfigError) as caught:
        create_app()
    message = caught.value.format_message()
    assert "writable by every user" in message and "chmod o-w" in message, message
    (instance if loose == "folder" else instance / "config.py").chmod(0o750 if loose == "folder" else 0o640)
    assert create_app().config["MAIL_PORT"] == 2525


def test_a_config_file_still_sets_what_it_says(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text("import datetime\nMAIL_PORT = 2525\nlower = 1\n")
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    config = create_app().config
    assert config["MAIL_PORT"] == 2525 and "lower" not in config and "datetime" not in config



@pytest.mark.parametrize("sqlstate, status", [("42P01", 503), ("42703", 503), ("42601", 500)])
def test_new_code_on_an_old_schema_is_a_503_that_says_run_db_upgrade(sqlstate, status, tmp_path, caplog):
    """On PostgreSQL a table or column the code needs but the database lacks (code serving before
    `flask db upgrade`) was a 500 with a traceback; SQLite's "no such table" was already a 503."""
    class UndefinedTable(Exception):
        pass

    UndefinedTable.sqlstate = sqlstate
    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False, "SECRET_KEY": TEST_SECRET_KEY,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'rapport.db'}"})

    @app.get("/statement-for-test")
    def statement():
        raise sa.exc.ProgrammingError("SELECT surveys.closes_at FROM surveys", {},
                                      UndefinedTable('relation "surveys" does not exist'))

    with caplog.at_level("WARNING"):
        response = app.test_client().get("/statement-for-test")
    assert response.status_code == status
    said = [r.getMessage() for r in caplog.records if "flask db upgrade" in r.getMessage()]
    assert bool(said) == (status == 503) and (not said or 'relation "surveys" does not exist' in said[0])


def test_a_setting_that_holds_text_keeps_the_text_the_environment_gave(tmp_path, monkeypatch):
    """Environment values are read as JSON: a numeric password became an int, 1e3 the float 1000.0,
    and a numeric RAPPORT_SECRET_KEY a key nothing could sign with (a TypeError on every page)."""
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("RAPPORT_SECRET_KEY", "1234567890123456789012345678901234567890")
    monkeypatch.setenv("RAPPORT_MAIL_PASSWORD", "1e3")
    monkeypatch.setenv("RAPPORT_MAIL_USERNAME", "true")
    monkeypatch.setenv("RAPPORT_MAIL_DEFAULT_SENDER", "42")
    monkeypatch.setenv("RAPPORT_MAIL_PORT", "2525")
    monkeypatch.setenv("RAPPORT_PUBLIC_BASE_URL", "null")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'rapport.db'}"})
    config = app.config
    assert config["SECRET_KEY"] == "1234567890123456789012345678901234567890" and config["MAIL_PASSWORD"] == "1e3"
    assert config["MAIL_USERNAME"] == "true" and config["MAIL_DEFAULT_SENDER"] == "42"
    assert config["MAIL_PORT"] == 2525 and config["PUBLIC_BASE_URL"] is None  # numbers and null as before
    assert app.test_client().get("/login").status_code == 200  # the form's CSRF token signs with the key
