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
    wait_seconds: float = 5.0

    def cursor(self, factory=None):  # noqa: D102 -- SQLAlchemy makes every cursor here
        return super().cursor(factory or TurnTakingCursor)

    def take_turn(self) -> None:
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
        try:
            super().commit()
        finally:
            self.give_turn_back()

    def rollback(self) -> None:
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


class TurnTakingCursor(sqlite3.Cursor):
    def execute(self, sql, parameters=(), /):
        return self._with_turn(super().execute, sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):
        return self._with_turn(super().executemany, sql, seq_of_parameters)

    def _with_turn(self, run, sql, parameters):
        if _is_write(sql):
            self.connection.take_turn()
        try:
            return run(sql, parameters)
        finally:
            # In autocommit mode (or after a failed first statement) no transaction stays open.
            if not self.connection.in_transaction:
                self.connection.give_turn_back()


def connection_factory(database_path: str, wait_seconds: float) -> type[TurnTakingConnection]:
    """A connection class that queues on ``<database_path>-writer.lock``."""
    return type("TurnTakingConnection", (TurnTakingConnection,), {
        "lock_path": database_path + "-writer.lock", "wait_seconds": wait_seconds,
    })
