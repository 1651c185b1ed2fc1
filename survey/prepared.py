"""One-statement writes run straight on a pooled DBAPI connection: every answer and rate count.

An answer is one ``INSERT … RETURNING``; SQLite runs it in under a tenth of a
millisecond, and SQLAlchemy's per-execution work around it (a Connection and
its transaction, the statement-cache look-up, the result wrapping) cost more
than that again. A ``PreparedWrite`` is the same Core statement, compiled once
per dialect: each run converts the values with the columns' own types (JSON,
dates), executes on a connection checked out of the engine's pool, and
commits; on PostgreSQL in autocommit, one round trip.

A write that need not survive a power cut (a rate-limit count) says
``durable=False``: on SQLite with ``synchronous=FULL`` it commits without
waiting for its own flush of the write-ahead log (``survey.sqlite_turns``).
Log frames are written in order, so the next durable commit's flush covers
it anyway; a crash of the process loses nothing either way.

Writes made for the same request run ``together()``: a widget answer and
its rate-limit count are one commit, one turn at SQLite's writer lock and
one flush instead of two; on PostgreSQL each stays one round trip.

What stays as with ``Connection.execute``: the pool (its checkout events
included), SQLite's writer turns (``survey.sqlite_turns``), and the errors:
a DBAPI error comes out as SQLAlchemy's exception (``OperationalError`` is
answered with 503), after a rollback, and a lost connection is dropped from
the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import sqlalchemy as sa

from survey.db import db


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # bind names in order for positional paramstyles (SQLite), else None
    defaults: Mapping[str, Any]  # values the statement carries itself (``.values(count=1)``)
    processors: Mapping[str, Callable[[Any], Any]]  # the column types' conversions, by bind name

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        params = {**self.defaults, **values}
        for name, process in self.processors.items():
            params[name] = process(params[name])
        return params if self.order is None else [params[name] for name in self.order]


class PreparedWrite:
    """``build(dialect_name)`` → a Core statement with ``RETURNING``, whose parameters are ``columns``.

    ``run(values)`` executes it in a transaction of its own and returns the first
    row returned (a tuple), or None if none was. ``durable=False``: see the module.
    Inside ``together()``, ``writes.run(write, values)`` does the same as part of the group.
    """

    def __init__(self, build: Callable[[str], sa.Executable], columns: Sequence[str], durable: bool = True):
        self._build = build
        self._columns = list(columns)
        self._durable = durable
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _compile(self, dialect: sa.Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)
        compiled = self._compiled.get(key)
        if compiled is None:
            core = self._build(dialect.name).compile(dialect=dialect, column_keys=self._columns)
            if core.insert_prefetch or core.update_prefetch:
                # Python-side defaults are computed by Connection.execute, which this bypasses.
                missing = ", ".join(column.name for column in [*core.insert_prefetch, *core.update_prefetch])
                raise TypeError(f"give PreparedWrite the columns with Python-side defaults too: {missing}")
            processors = {}
            for name, bind in core.binds.items():
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors[name] = process
            order = tuple(core.positiontup) if core.positional else None
            compiled = self._compiled[key] = _Compiled(core.string, order, core.params, processors)
        return compiled

    def run(self, values: Mapping[str, Any]) -> tuple | None:
        with Writes(durable=self._durable) as writes:
            return writes.run(self, values)


def together() -> "Writes":
    """Prepared writes sent the cheapest way: ``with together() as writes: writes.run(write, values)``.

    On SQLite, where one writer goes at a time, they are one transaction:
    one turn at the writer's lock, one commit, one flush; an exception in
    the block rolls them all back. On PostgreSQL a transaction would cost a
    BEGIN and a COMMIT round trip more, so each commits as it runs. Group
    only writes that need not stand or fall together (an answer and its
    rate-limit count). ``writes.after_commit(fn)`` runs ``fn`` when the block
    has committed (a write to the same SQLite file from inside the block
    would wait for this one).
    """
    return Writes(durable=True)


class Writes:
    """One pooled DBAPI connection, checked out for the ``with`` block (see ``together()``)."""

    def __init__(self, durable: bool):
        self._durable = durable
        self._after_commit: list[Callable[[], Any]] = []

    def __enter__(self) -> "Writes":
        engine = db.engine
        self.dialect = dialect = engine.dialect
        self.hide_parameters = engine.hide_parameters  # errors name the statement, not the customer's data
        self.connection = connection = engine.raw_connection()
        self.autocommit = dialect.name == "postgresql"  # one round trip per write
        self.relaxed = not self._durable and getattr(connection.driver_connection, "flush_after_commit", False)
        self.lost = False
        if self.autocommit:
            connection.driver_connection.autocommit = True
        if self.relaxed:
            connection.driver_connection.flush_after_commit = False
        return self

    def run(self, write: PreparedWrite, values: Mapping[str, Any]) -> tuple | None:
        """Execute ``write`` with ``values`` in this group; its first returned row, or None."""
        compiled = write._compile(self.dialect)
        params = compiled.parameters(values)
        cursor = None
        try:
            cursor = self.connection.cursor()
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone() if cursor.description else None
            cursor.close()
        except self.dialect.loaded_dbapi.Error as exc:
            raise self._translated(exc, compiled.sql, params, cursor) from exc
        return None if row is None else tuple(row)

    def after_commit(self, callback: Callable[[], Any]) -> None:
        self._after_commit.append(callback)

    def _translated(self, exc: Exception, sql: str, params, cursor) -> sa.exc.DBAPIError:
        dialect = self.dialect
        self.lost = dialect.is_disconnect(exc, self.connection.dbapi_connection, cursor)
        if self.lost:
            self.connection.invalidate(exc)
        return sa.exc.DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error,
                                          hide_parameters=self.hide_parameters,
                                          connection_invalidated=self.lost, dialect=dialect)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        try:
            if self.autocommit or self.lost:
                pass  # nothing open to end: each write committed itself, or the connection is gone
            elif exc_type is not None:
                _rollback_quietly(self.connection)
            else:
                try:
                    self.connection.commit()
                except self.dialect.loaded_dbapi.Error as error:
                    _rollback_quietly(self.connection)
                    raise self._translated(error, "COMMIT", (), None) from error
        finally:
            self._release()
        if exc_type is None:
            for callback in self._after_commit:
                callback()

    def _release(self) -> None:
        connection = self.connection
        if connection.dbapi_connection is not None:
            if self.autocommit:
                connection.driver_connection.autocommit = False
            if self.relaxed:
                connection.driver_connection.flush_after_commit = True
        connection.close()  # back to the pool, which rolls back anything left open


def _rollback_quietly(connection) -> None:
    # The statement's own error is the one to report; a failing rollback leaves the
    # connection to the pool's reset, which drops it if that fails too.
    try:
        connection.rollback()
    except Exception:  # noqa: BLE001
        pass
