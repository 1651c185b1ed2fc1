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
its own fsync. WAL frames are written in order, so the next durable commit's
fsync covers it anyway; a crash of the process loses nothing either way.

What stays as with ``Connection.execute``: the pool (its checkout events
included), SQLite's writer turns (``survey.sqlite_turns``), and the errors:
a DBAPI error comes out as SQLAlchemy's exception (``OperationalError`` is
answered with 503), after a rollback, and a lost connection is dropped from
the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from survey.db import SQLITE_SYNCHRONOUS_INFO, db


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
        engine = db.engine
        dialect = engine.dialect
        compiled = self._compile(dialect)
        params = compiled.parameters(values)
        connection = engine.raw_connection()
        autocommit = dialect.name == "postgresql"
        relaxed = (not self._durable and connection.info.get(SQLITE_SYNCHRONOUS_INFO) in ("FULL", "EXTRA"))
        cursor = None
        try:
            if autocommit:
                connection.driver_connection.autocommit = True
            cursor = connection.cursor()
            if relaxed:
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
            cursor.close()
            if not autocommit:
                connection.commit()
            return None if row is None else tuple(row)
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, connection.dbapi_connection, cursor)
            if lost:
                connection.invalidate(exc)
            elif not autocommit:
                _rollback_quietly(connection)
            raise sa.exc.DBAPIError.instance(compiled.sql, params, exc, dialect.loaded_dbapi.Error,
                                             connection_invalidated=lost, dialect=dialect) from exc
        finally:
            if connection.dbapi_connection is not None:
                if autocommit:
                    connection.driver_connection.autocommit = False
                if relaxed:
                    _restore_synchronous(connection, dialect)
            connection.close()  # back to the pool, which rolls back anything left open


def _rollback_quietly(connection) -> None:
    # The statement's own error is the one to report; a failing rollback leaves the
    # connection to the pool's reset, which drops it if that fails too.
    try:
        connection.rollback()
    except Exception:  # noqa: BLE001
        pass


def _restore_synchronous(connection, dialect: sa.Dialect) -> None:
    # A connection that stayed relaxed would commit later answers without their fsync: drop it.
    try:
        connection.dbapi_connection.execute(f"PRAGMA synchronous={connection.info[SQLITE_SYNCHRONOUS_INFO]}")
    except dialect.loaded_dbapi.Error as exc:
        connection.invalidate(exc)
