"""Writers to one SQLite file take turns through a lock file, instead of sleeping and retrying.

SQLite lets one connection write at a time. A writer that finds the file
locked calls SQLite's busy handler, which sleeps 1, 2, 5, 10 … ms between
tries; a write transaction takes a tenth of a millisecond, so under load
most of that sleep is idle time and the web workers answer a fraction of
what they could. Here every connection of the app takes an exclusive
``flock`` on ``<database>-writer.lock`` just before its first write
statement and gives it back when the transaction commits or rolls back.
A waiting writer polls the lock every fraction of a millisecond.

The turn is only scheduling: SQLite's own locking still guarantees
correctness. A writer that cannot get its turn within the busy timeout
goes ahead anyway and meets SQLite's lock as before (so a database held
by an outside tool still answers 503 after the timeout). Programs that do
not use this (the ``sqlite3`` shell, backups) simply are not in the queue.

Durable commits flush after the turn. With ``synchronous=FULL`` SQLite
fsyncs the write-ahead log inside every commit, while it holds the write
lock, so writers queue behind each other's disk flushes. A connection with
``flush_after_commit`` set runs SQLite at ``synchronous=NORMAL`` (the commit
writes the log without waiting for the disk), gives the turn back, and then
calls ``fdatasync`` on the log itself before ``commit()`` returns. Nobody
hears "stored" before the flush, as with FULL; but the next writer goes
ahead during it, and concurrent flushes of the same file share the disk's
work. Log frames are written in order, so a flush also covers every commit
before it; checkpoints sync as SQLite always does.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_FIRST_POLL, _LONGEST_POLL = 0.00005, 0.001  # seconds between tries while another writer has the turn


def _is_write(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(_WRITES)


class TurnTakingConnection(sqlite3.Connection):
    """A ``sqlite3`` connection that takes the writer's turn before writing (``factory=`` of connect)."""

    lock_path: str | None = None
    wal_path: str | None = None
    wait_seconds: float = 5.0
    flush_after_commit = False  # set per connection (survey.db, for synchronous=FULL)

    def cursor(self, factory=None):  # noqa: D102 -- SQLAlchemy makes every cursor here
        return super().cursor(factory or TurnTakingCursor)

    def take_turn(self) -> None:
        self._wrote = True  # even if the turn never comes: the write goes ahead and needs its flush
        if getattr(self, "_has_turn", False) or self.lock_path is None:
            return
        fd = getattr(self, "_lock_fd", None)
        if fd is None:  # opened once per connection: the turn itself is only flock calls
            fd = self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + self.wait_seconds
        pause = _FIRST_POLL
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return  # go ahead without a turn; SQLite's busy timeout decides
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_POLL)
        self._has_turn = True

    def give_turn_back(self) -> None:
        if getattr(self, "_has_turn", False):
            self._has_turn = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        wrote, self._wrote = getattr(self, "_wrote", False), False
        try:
            super().commit()
        finally:
            self.give_turn_back()
        if wrote:
            self.flush_log()

    def flush_log(self) -> None:
        """Wait until everything committed so far is on disk (if this connection is to)."""
        if not self.flush_after_commit or self.wal_path is None:
            return
        try:
            fd = getattr(self, "_wal_fd", None)
            if fd is None:  # the log exists: this connection just committed to it
                fd = self._wal_fd = os.open(self.wal_path, os.O_RDONLY | os.O_CLOEXEC)
                _sync_directory(os.path.dirname(self.wal_path))  # in case the log file itself is new
            os.fdatasync(fd)
        except OSError as exc:
            # Committed but maybe not on disk: say so rather than acknowledge it (a retry is deduplicated).
            raise sqlite3.OperationalError(f"could not flush the write-ahead log to disk: {exc}") from exc

    def rollback(self) -> None:
        self._wrote = False
        try:
            super().rollback()
        finally:
            self.give_turn_back()

    def close(self) -> None:
        try:
            super().close()
        finally:
            fd, self._lock_fd, self._has_turn = getattr(self, "_lock_fd", None), None, False
            if fd is not None:
                os.close(fd)  # releases the flock too, if it was still held
            wal_fd, self._wal_fd = getattr(self, "_wal_fd", None), None
            if wal_fd is not None:
                os.close(wal_fd)


def _sync_directory(path: str) -> None:
    fd = os.open(path or ".", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TurnTakingCursor(sqlite3.Cursor):
    def execute(self, sql, parameters=(), /):
        return self._with_turn(super().execute, sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        return self._with_turn(super().executemany, sql, seq_of_parameters)

    def _with_turn(self, run, sql, parameters):
        connection = self.connection
        if _is_write(sql):
            connection.take_turn()
        try:
            result = run(sql, parameters)
        except BaseException:
            # A failed first statement leaves no transaction open: nothing to hold the turn for.
            if not connection.in_transaction:
                connection._wrote = False
                connection.give_turn_back()
            raise
        if getattr(connection, "_wrote", False) and not connection.in_transaction:
            # The write committed by itself (autocommit): the turn goes back before the flush.
            connection._wrote = False
            connection.give_turn_back()
            connection.flush_log()
        return result


def connection_factory(database_path: str, wait_seconds: float) -> type[TurnTakingConnection]:
    """A connection class that queues on ``<database_path>-writer.lock``."""
    return type("TurnTakingConnection", (TurnTakingConnection,), {
        "lock_path": database_path + "-writer.lock", "wal_path": database_path + "-wal",
        "wait_seconds": wait_seconds,
    })
