"""A locked database makes an answer wait, then fail clearly (503), never half-write.

Another process holds the lock answers need — SQLite's write lock (``BEGIN
EXCLUSIVE``), or on PostgreSQL a table lock — as a long import, a migration
or a stuck script would. An answer sent meanwhile waits for the busy timeout
(SQLite) or lock timeout (PostgreSQL); if the lock is released in time it is
stored, otherwise the customer gets a 503 page that says nothing was saved,
with Retry-After, and nothing is stored. Sending the same answer again later
stores it once.
"""

import asyncio
import sqlite3
import threading
import time

import pytest
import sqlalchemy as sa

from survey.db import normalise_url
from tests.conftest import TEST_DB_URL
from tests.load_support import (
    Connection, make_submissions, open_form, post_answer, run_async, serve_app, stored_answers,
)

pytestmark = pytest.mark.slow

TIMEOUT_MS = 1000


class SqliteWriteLock:
    """Another connection's exclusive write lock on the database file, held until released."""

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


class PostgresTableLock:
    """Another connection's lock on the answers table: reads go on, inserts wait."""

    def __init__(self, url: str):
        self.engine = sa.create_engine(normalise_url(url))
        self.conn = self.engine.connect()
        self.transaction = self.conn.begin()
        self.conn.exec_driver_sql("LOCK TABLE responses IN EXCLUSIVE MODE")

    def release(self) -> None:
        self.transaction.rollback()
        self.conn.close()
        self.engine.dispose()


async def post_all(port, survey_key, submissions):
    """Post each submission on its own connection at once; return ``[(reply, seconds)]``."""
    async def one(sub):
        conn = Connection(port)
        try:
            form = await open_form(conn, survey_key)
            started = time.monotonic()
            reply = await post_answer(conn, survey_key, form, sub)
            return reply, time.monotonic() - started
        finally:
            await conn.close()

    return await asyncio.gather(*(one(sub) for sub in submissions))


@pytest.mark.skipif(bool(TEST_DB_URL), reason="SQLite's write lock; the PostgreSQL run has its own test")
def test_locked_sqlite_gives_503_then_the_retry_is_stored_once(app, make_survey, tmp_path):
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    check_locked_database(app, make_survey, tmp_path, lambda: SqliteWriteLock(path),
                          SQLITE_BUSY_TIMEOUT_MS=str(TIMEOUT_MS))


@pytest.mark.skipif(not TEST_DB_URL, reason="PostgreSQL's lock_timeout (runs in the PostgreSQL run)")
def test_locked_postgres_gives_503_then_the_retry_is_stored_once(app, make_survey, tmp_path):
    check_locked_database(app, make_survey, tmp_path, lambda: PostgresTableLock(TEST_DB_URL),
                          POSTGRES_LOCK_TIMEOUT_MS=str(TIMEOUT_MS))


def check_locked_database(app, make_survey, tmp_path, take_lock, **timeout_config):
    survey = make_survey("csat")
    first, second, *crowd = make_submissions(6, survey.scale, tag="locked")
    with serve_app(app, tmp_path, workers=2, threads=4, **timeout_config) as server:
        # Held past the timeout: every answer waits for it, then gets a clear 503.
        lock = take_lock()
        try:
            replies = run_async(post_all(server.port, survey.public_key, [first, *crowd]))
        finally:
            lock.release()
        for reply, seconds in replies:
            assert reply.status == 503, reply.text[:500]
            assert seconds >= TIMEOUT_MS / 1000 * 0.9, f"answered after {seconds:.2f} s without waiting"
            assert reply.headers.get("retry-after", "").isdigit()
            assert "Nothing was stored" in reply.text and "try again" in reply.text
        assert stored_answers([sub.key for sub in (first, *crowd)]) == {}

        # Released within the timeout: the answer waits, then is stored.
        lock = take_lock()
        threading.Timer(TIMEOUT_MS / 1000 / 3, lock.release).start()
        [(reply, seconds)] = run_async(post_all(server.port, survey.public_key, [second]))
        assert reply.status == 303, reply.text[:500]  # it waited for the lock rather than failing

        # The customer's retry of the refused answers, with the same keys (one sent twice at
        # once, as a double-click does): stored, once each.
        retried = run_async(post_all(server.port, survey.public_key, [first, first, *crowd]))
        assert [reply.status for reply, _ in retried] == [303] * (len(crowd) + 2)

    stored = stored_answers([sub.key for sub in (first, second, *crowd)])
    assert {key: len(rows) for key, rows in stored.items()} == {sub.key: 1 for sub in (first, second, *crowd)}
    assert stored[first.key][0].score == first.score and stored[first.key][0].comment == first.comment
