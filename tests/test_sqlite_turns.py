"""SQLite writers take turns through a lock file: taken at the first write, given back at the end.

The turn is checked from outside, the way another web process sees it: by
trying to take the same ``flock`` without waiting.
"""

import fcntl
import os
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from survey.db import db
from survey.ratelimit import RateLimitCounter
from tests.conftest import TEST_DB_URL

pytestmark = pytest.mark.skipif(bool(TEST_DB_URL), reason="SQLite's writer turns; PostgreSQL has row locks")

counters = RateLimitCounter.__table__


def lock_path(app) -> str:
    return os.path.realpath(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")) + "-writer.lock"


def turn_is_free(app) -> bool:
    fd = os.open(lock_path(app), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # also gives back the turn if this check took it


def row(key: str, count: int = 1) -> dict:
    return {"key": key, "window_start": 0, "expires_at": 1, "count": count}


def test_a_write_takes_the_turn_until_commit(app):
    with db.engine.connect() as conn:
        conn.execute(sa.select(counters)).all()
        assert turn_is_free(app), "reading takes no turn"
        conn.execute(counters.insert(), row("a"))
        assert not turn_is_free(app), "another writer must wait now"
        conn.commit()
        assert turn_is_free(app)


def test_rollback_and_a_failed_write_give_the_turn_back(app):
    with db.engine.begin() as conn:
        conn.execute(counters.insert(), row("taken"))
    with db.engine.connect() as conn:
        with pytest.raises(IntegrityError):
            conn.execute(counters.insert(), row("taken"))
        conn.rollback()
        assert turn_is_free(app)
    with db.engine.connect() as conn:
        conn.execute(counters.insert(), row("undone"))
    assert turn_is_free(app), "a connection closed mid-transaction gives its turn back"
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(counters.c.key)).scalars().all() == ["taken"]


def test_the_session_takes_and_gives_back_the_turn(app):
    db.session.execute(counters.insert(), row("s"))
    assert not turn_is_free(app)
    db.session.commit()
    assert turn_is_free(app)


def test_concurrent_writers_all_store(app):
    errors, threads_count, per_thread = [], 8, 40
    engine = db.engine

    def write(n: int) -> None:
        try:
            for i in range(per_thread):
                with engine.begin() as conn:
                    conn.execute(counters.insert(), row(f"{n}-{i}"))
        except Exception as exc:  # noqa: BLE001 -- collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(counters)).scalar_one() == threads_count * per_thread
    assert turn_is_free(app)


def test_a_writer_that_never_gets_its_turn_goes_ahead_after_the_busy_timeout(app_config, tmp_path, monkeypatch):
    """The turn is only scheduling: held forever elsewhere, writes still happen (SQLite's lock decides)."""
    from survey import create_app

    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({**app_config, "SQLITE_BUSY_TIMEOUT_MS": 300})
    with app.app_context():
        db.create_all()
        fd = os.open(lock_path(app), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # a stuck process holds the turn
        try:
            started = time.monotonic()
            with db.engine.begin() as conn:
                conn.execute(counters.insert(), row("late"))
            waited = time.monotonic() - started
        finally:
            os.close(fd)
        assert 0.3 <= waited < 5
        with db.engine.connect() as conn:
            assert conn.execute(sa.select(counters.c.key)).scalars().all() == ["late"]
        db.engine.dispose()


def test_a_commit_whose_flush_fails_is_not_acknowledged(app_config, tmp_path, monkeypatch, make_survey):
    """With FULL, a failed fdatasync of the log raises (503 for a request) instead of answering "stored"."""
    import errno
    import os
    import uuid

    from survey import create_app
    from survey.operations import Answer, insert_response

    app_config["SQLITE_SYNCHRONOUS"] = "FULL"
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "instance-flush"))
    app = create_app(app_config)
    with app.app_context():
        db.create_all()
        survey = make_survey("csat")

        def failing_fdatasync(fd):
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(os, "fdatasync", failing_fdatasync)
        answer = Answer(score=4, comment=None, channel="link", submission_key=uuid.uuid4().hex)
        with pytest.raises(sa.exc.OperationalError, match="could not flush the write-ahead log"):
            insert_response(survey, answer)
        monkeypatch.undo()
        # The writer's turn went back: the same answer sent again is recognised, and others go in.
        assert insert_response(survey, answer) is None
        another = Answer(score=5, comment=None, channel="link", submission_key=uuid.uuid4().hex)
        assert insert_response(survey, another).created
        db.engine.dispose()
