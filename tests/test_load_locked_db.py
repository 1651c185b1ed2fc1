"""A locked SQLite database makes an answer wait, then fail clearly (503), never half-write.

Another process holds SQLite's write lock (``BEGIN EXCLUSIVE``), as a backup,
a long import or a stuck script would. An answer sent meanwhile waits for
the busy timeout; if the lock is released in time it is stored, otherwise
the customer gets a 503 page that says nothing was saved, with Retry-After,
and nothing is stored. Sending the same answer again later stores it once.
"""

import asyncio
import sqlite3
import threading
import time

import pytest

from tests.conftest import TEST_DB_URL
from tests.load_support import (
    Connection, make_submissions, open_form, post_answer, serve_app, stored_answers,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(TEST_DB_URL), reason="SQLite's database-wide write lock; PostgreSQL locks rows"),
]

BUSY_TIMEOUT_MS = 1000


def sqlite_path(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")


class WriteLock:
    """Another process's exclusive write lock on the database file, held until released."""

    def __init__(self, path: str):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


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


def test_locked_database_gives_503_then_the_retry_is_stored_once(app, make_survey, tmp_path):
    survey = make_survey("csat")
    first, second, *crowd = make_submissions(6, survey.scale, tag="locked")
    with serve_app(app, tmp_path, workers=2, threads=4, SQLITE_BUSY_TIMEOUT_MS=str(BUSY_TIMEOUT_MS)) as server:
        # Held past the busy timeout: every answer waits for it, then gets a clear 503.
        lock = WriteLock(sqlite_path(app))
        try:
            replies = asyncio.run(post_all(server.port, survey.public_key, [first, *crowd]))
        finally:
            lock.release()
        for reply, seconds in replies:
            assert reply.status == 503, reply.text[:500]
            assert seconds >= BUSY_TIMEOUT_MS / 1000 * 0.9, f"answered after {seconds:.2f} s without waiting"
            assert reply.headers.get("retry-after", "").isdigit()
            assert "Nothing was stored" in reply.text and "try again" in reply.text
        assert stored_answers([sub.key for sub in (first, *crowd)]) == {}

        # Released within the busy timeout: the answer waits, then is stored.
        lock = WriteLock(sqlite_path(app))
        threading.Timer(BUSY_TIMEOUT_MS / 1000 / 3, lock.release).start()
        [(reply, seconds)] = asyncio.run(post_all(server.port, survey.public_key, [second]))
        assert reply.status == 303, reply.text[:500]
        assert seconds >= BUSY_TIMEOUT_MS / 1000 / 3 * 0.9

        # The customer's retry of the refused answers, with the same keys: stored, once each.
        retried = asyncio.run(post_all(server.port, survey.public_key, [first, first, *crowd]))
        assert [reply.status for reply, _ in retried] == [303] * (len(crowd) + 2)

    stored = stored_answers([sub.key for sub in (first, second, *crowd)])
    assert {key: len(rows) for key, rows in stored.items()} == {sub.key: 1 for sub in (first, second, *crowd)}
    assert stored[first.key][0].score == first.score and stored[first.key][0].comment == first.comment
