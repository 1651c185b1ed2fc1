"""`flask backup` copies a live SQLite database; a restored copy has every answer."""

import os
import shutil
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from survey import create_app
from survey.db import db
from survey.models import Response
from tests.conftest import TEST_DB_URL, TEST_SECRET_KEY

pytestmark = pytest.mark.skipif(bool(TEST_DB_URL), reason="flask backup is for SQLite")


def db_file(app):
    return app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")


def test_backup_while_answers_arrive_then_restore(app, runner, make_survey, tmp_path, monkeypatch):
    survey = make_survey("nps")
    for i in range(300):
        db.session.add(Response(survey_id=survey.id, score=i % 11, comment=f"before {i}", channel="link", meta={}))
    db.session.commit()
    survey_id, path = survey.id, db_file(app)

    stop = threading.Event()
    written = []

    def keep_answering():
        conn = sqlite3.connect(path, timeout=10)
        i = 0
        while not stop.is_set() and i < 5000:
            conn.execute("INSERT INTO responses (survey_id, score, comment, channel, created_at, updated_at, meta) "
                         "VALUES (?, 7, ?, 'link', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '{}')",
                         (survey_id, f"during {i}"))
            conn.commit()
            written.append(i)
            i += 1
        conn.close()

    writer = threading.Thread(target=keep_answering)
    writer.start()
    try:
        deadline = time.monotonic() + 10
        while len(written) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        result = runner.invoke(args=["backup", str(tmp_path / "copy.db")])
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    assert "backed up" in result.output
    assert not list(tmp_path.glob(".copy.db.partial*"))

    copy = sqlite3.connect(tmp_path / "copy.db")
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    comments = {row[0] for row in copy.execute("SELECT comment FROM responses")}
    copy.close()
    assert {f"before {i}" for i in range(300)} <= comments  # everything committed before the backup
    during = sorted(int(c.split()[1]) for c in comments if c.startswith("during"))
    assert during == list(range(len(during)))  # a snapshot: a prefix of the concurrent writes, no gaps

    # Restore as the README says: copy the file into a fresh instance folder, start the site.
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(tmp_path / "copy.db", restored / "rapport.db")
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(restored))
    monkeypatch.delenv("RAPPORT_SQLALCHEMY_DATABASE_URI", raising=False)
    other = create_app({"SECRET_KEY": TEST_SECRET_KEY})
    with other.app_context():
        got = set(db.session.scalars(sa.select(Response.comment)))
        db.session.remove()
    assert got == comments


def test_the_backup_is_readable_by_its_owner_only_like_the_database(app, runner, tmp_path):
    """A backup holds every address, comment and password hash: it was written 0644 (the umask's
    default) beside a live database of 0600, readable by every user of the machine."""
    old_umask = os.umask(0o022)
    try:
        (tmp_path / "old.db").write_text("an older backup, world-readable")
        for name in ("new.db", "old.db"):
            result = runner.invoke(args=["backup", str(tmp_path / name)])
            assert result.exit_code == 0, result.output
            assert oct((tmp_path / name).stat().st_mode & 0o777) == "0o600", name
    finally:
        os.umask(old_umask)


def test_backup_refuses_bad_destinations(app, runner, tmp_path):
    assert runner.invoke(args=["backup", db_file(app)]).exit_code == 1
    missing = runner.invoke(args=["backup", str(tmp_path / "no" / "such" / "dir.db")])
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self"), reason="needs Linux's /proc, which root cannot write")
def test_a_folder_the_backup_cannot_be_written_in_is_a_message_not_a_traceback(app, runner):
    """sqlite3's "unable to open database file" came out as a traceback (a folder without write
    permission; /proc stands for one even for root, who may write everywhere else)."""
    result = runner.invoke(args=["backup", "/proc/rapport-backup.db"])
    assert result.exit_code == 1 and result.exception.__class__ is SystemExit, result.output
    assert "cannot write the backup in /proc" in result.stderr and "nothing was written" in result.stderr


def test_backup_refuses_other_databases():
    from survey.backup import BackupError, sqlite_path

    with pytest.raises(BackupError, match="pg_dump"):
        sqlite_path("postgresql+psycopg://u@localhost/db")


def test_locked_database_answers_503_and_stores_nothing(app_config, tmp_path, monkeypatch, make_survey):
    survey_key = make_survey("csat").public_key
    app_config["SQLITE_BUSY_TIMEOUT_MS"] = 200
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "locked"))
    locked_app = create_app(app_config)
    with locked_app.app_context():
        holder = sqlite3.connect(app_config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
        holder.execute("BEGIN EXCLUSIVE")
        try:
            client = locked_app.test_client()
            sent = client.post(f"/s/{survey_key}", data={"score": "4", "submission_key": "a" * 32})
        finally:
            holder.rollback()
            holder.close()
        assert sent.status_code == 503
        assert sent.headers["Retry-After"] == "2"
        assert "Nothing was stored" in sent.get_data(as_text=True)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0
        retry = client.post(f"/s/{survey_key}", data={"score": "4", "submission_key": "a" * 32})
        assert retry.status_code == 303
        db.session.remove()
