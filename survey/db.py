"""The database: one SQLAlchemy instance, engine set-up, migrations and teardown.

SQLite (the default) gets WAL journaling, a busy timeout and enforced foreign
keys on every connection; any other SQLAlchemy URL is used as given.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.functions import FunctionElement

from survey.instance import INSTANCE_FOLDER_MODE, ConfigError
from survey.sqlite_turns import TurnTakingConnection, connection_factory

T = TypeVar("T")

# Named constraints so migrations can alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
MIGRATIONS_DIR = str(Path(__file__).with_name("migrations"))
#: The largest row id any supported database can be asked about: ids are Integer columns, a signed
#: 32-bit INTEGER on PostgreSQL, which refuses a bigger parameter (as SQLite does past 64 bits, a 500),
#: so URLs and forms refuse it first.
ROW_ID_MAX = 2**31 - 1


def normalise_url(url: str) -> str:
    """Accept the common ``postgres://`` spelling and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


#: Where the database URL comes from, as the errors name it.
SETTING = "RAPPORT_SQLALCHEMY_DATABASE_URI, SQLALCHEMY_DATABASE_URI in config.py, or DATABASE_URL"

#: The databases Rapport's SQL is written and tested for (``insert_on_conflict``, the migrations).
BACKENDS = ("sqlite", "postgresql")


def checked_url(uri: object) -> str:
    """``uri`` as SQLAlchemy will use it, or a ConfigError naming the setting when it is no URL
    Rapport can use (a typo, another database, a driver that is not installed): one line, never a
    traceback from the driver. The password is never shown."""
    shown = repr(re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", uri)) if isinstance(uri, str) else repr(uri)
    normalised = normalise_url(uri) if isinstance(uri, str) else uri
    try:
        url = sa.engine.make_url(normalised)
        shown = repr(url.render_as_string(hide_password=True))
        dialect = url.get_dialect()
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, TypeError, ValueError):
        raise ConfigError(
            f"the database URL ({SETTING}) is no URL Rapport can read: {shown}; write "
            "postgresql://USER:PASSWORD@HOST/NAME or sqlite:////ABSOLUTE/PATH/rapport.db") from None
    if url.get_backend_name() not in BACKENDS:
        raise ConfigError(f"the database URL ({SETTING}) is {shown}: Rapport runs on SQLite or PostgreSQL, "
                          f"not {url.get_backend_name()}")
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ConfigError(f"the database URL ({SETTING}) is {shown}, whose driver is not installed ({exc}); "
                          "write postgresql://… without a driver name to use psycopg 3") from None
    return normalised


def init_app(app: Flask) -> None:
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        uri = "sqlite:///" + str(Path(app.instance_path) / "rapport.db")
    app.config["SQLALCHEMY_DATABASE_URI"] = uri = checked_url(uri)
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    # Errors and logs show each statement without its parameters: those are comments, meta,
    # keys, token hashes and addresses, which have no place in a log file.
    options.setdefault("hide_parameters", True)
    if uri.startswith("sqlite"):
        connect_args = dict(options.get("connect_args") or {})
        # Python's sqlite3 timeout is the busy timeout, in seconds.
        connect_args.setdefault("timeout", app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000)
        database = sa.engine.make_url(uri).database
        if database and database != ":memory:" and not database.startswith("file:"):
            # Writers queue on a lock file rather than in SQLite's sleep-and-retry loop.
            connect_args.setdefault("factory", connection_factory(
                str(Path(database).resolve()), app.config["SQLITE_BUSY_TIMEOUT_MS"] / 1000))
        options["connect_args"] = connect_args
    else:
        lock_timeout = app.config.get("POSTGRES_LOCK_TIMEOUT_MS")
        if uri.startswith("postgresql") and lock_timeout:
            # A lock wait past this raises OperationalError, which survey.errors answers with 503.
            connect_args = dict(options.get("connect_args") or {})
            connect_args.setdefault("options", f"-c lock_timeout={int(lock_timeout)}")
            options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            synchronous = _SYNC_MODES[app.config["SQLITE_SYNCHRONOUS"].upper()]
            sa.event.listen(db.engine, "connect", functools.partial(_sqlite_on_connect, synchronous))
            sa.event.listen(db.engine, "do_connect", _make_sqlite_folder)
        elif "pool_pre_ping" not in options:
            ping_after_idle(db.engine, app.config["DATABASE_PING_AFTER_IDLE_SECONDS"])
        if db.engine.dialect.name == "postgresql":
            sa.event.listen(db.engine, "first_connect",
                            functools.partial(note_icu_lower, db.engine.dialect, app.logger))


class unicode_lower(FunctionElement):  # noqa: N801 -- used like sa.func.lower
    """``lower()`` of every letter, not only A–Z, the same on SQLite and PostgreSQL whatever its locale.

    SQLite's own ``lower`` leaves "ÉCOLE" as it is, and so does PostgreSQL's in a database made with
    the C locale (``initdb --locale=C``, common in containers): a search for "école" missed it. On
    SQLite this is Python's ``str.lower``, registered on each connection (``_sqlite_on_connect``); on
    PostgreSQL, ``lower`` under the ICU root collation, which lowers every letter as Python does,
    whatever the database's locale (:func:`note_icu_lower`). Searches lower both sides:
    ``unicode_lower(column).like(pattern.lower())``."""

    type = sa.Text()
    inherit_cache = True


#: PostgreSQL's ICU root collation (built in wherever PostgreSQL was built with ICU, as Debian's and
#: the official images are): ``lower()`` under it knows every letter, whatever LC_CTYPE says.
ICU_ROOT = "und-x-icu"


@compiles(unicode_lower)
def _lower(element, compiler, **kw) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(unicode_lower, "postgresql")
def _lower_on_postgresql(element, compiler, **kw) -> str:
    inner = compiler.process(element.clauses, **kw)
    if getattr(compiler.dialect, "rapport_icu_lower", False):
        return f'lower(({inner}) COLLATE "{ICU_ROOT}")'
    return f"lower({inner})"


def note_icu_lower(dialect: sa.Dialect, logger, dbapi_connection, _record) -> None:
    """first_connect on PostgreSQL: whether ``unicode_lower`` can use the ICU root collation (without
    it, a C-locale database lowers A–Z only, which is said once in the log)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = '{ICU_ROOT}'), "
                       "current_setting('lc_ctype')")
        has_icu, ctype = cursor.fetchone()
    finally:
        cursor.close()
        dbapi_connection.rollback()
    dialect.rapport_icu_lower = bool(has_icu)
    if not has_icu and ctype in ("C", "POSIX"):
        logger.warning(
            "PostgreSQL has no ICU collation %r and its locale is %s: searches of comments and contact "
            "names ignore the case of A-Z only", ICU_ROOT, ctype)


@compiles(unicode_lower, "sqlite")
def _lower_on_sqlite(element, compiler, **kw) -> str:
    return f"unicode_lower({compiler.process(element.clauses, **kw)})"


def _python_lower(value):
    return value.lower() if isinstance(value, str) else value


def _make_sqlite_folder(_dialect, _record, cargs, _cparams) -> None:
    """Make the database's folder (by default the instance folder) and the file itself, readable by
    its owner only (0600, as the secret key), when the first connection needs them.

    Not at start-up: loading the app, even for ``--help``, writes nothing. SQLite gives its
    -wal and -shm files the same mode as the database file.
    """
    if cargs and isinstance(cargs[0], str) and cargs[0] != ":memory:" and not cargs[0].startswith("file:"):
        path = Path(cargs[0])
        if not path.parent.is_dir():
            path.parent.mkdir(mode=INSTANCE_FOLDER_MODE, parents=True, exist_ok=True)
        if not path.exists():
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:  # another process created it first
                pass


def ping_after_idle(engine: sa.Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use only if it sat idle ``idle_seconds`` or longer.

    SQLAlchemy's ``pool_pre_ping`` checks on every checkout: one more round trip
    for every answer. A connection that was in use a moment ago is almost
    surely alive; one that sat idle may have been cut (a database restart, a
    firewall's idle timeout) and is replaced before a request sees it. A
    connection lost while busy fails that one request with a 503 and the
    pool starts afresh.
    """
    @sa.event.listens_for(engine, "checkin")
    def note_idle(_dbapi_connection, record) -> None:
        record.info["rapport.idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def ping_if_idle(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("rapport.idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DisconnectionError("the connection was lost while idle") from exc  # the pool reconnects


# FULL: a commit the customer saw acknowledged survives a power cut, not just a crash.
_SYNC_MODES = {"FULL": "FULL", "NORMAL": "NORMAL", "EXTRA": "EXTRA", "OFF": "OFF"}  # OFF: throw-away test DBs only


def _sqlite_on_connect(synchronous: str, dbapi_connection, _record) -> None:
    # The busy timeout itself is set through sqlite3's ``timeout`` connect argument.
    cursor = dbapi_connection.cursor()
    in_wal = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal"
    if synchronous == "FULL" and in_wal and isinstance(dbapi_connection, TurnTakingConnection):
        # As durable as FULL, but the disk flush waits outside the writer's lock (survey.sqlite_turns).
        dbapi_connection.flush_after_commit = True
        synchronous = "NORMAL"
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    dbapi_connection.create_function("unicode_lower", 1, _python_lower, deterministic=True)


def insert_on_conflict(dialect: str):
    """The dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL spell it the same way)."""
    if dialect == "sqlite":
        return sqlite.insert
    if dialect == "postgresql":
        return postgresql.insert
    raise RuntimeError(f"Rapport needs SQLite or PostgreSQL, not {dialect}")


#: Values per ``IN (...)`` list: under every backend's bound-parameter limit.
IN_LIST_MAX = 500


def chunks(items: Sequence[T], size: int = IN_LIST_MAX) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size`` (for IN lists and batched inserts)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]
