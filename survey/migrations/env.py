import contextlib
import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context

import survey.models_all  # noqa: F401  (every feature's tables in the metadata)

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging, leaving the loggers that exist alone:
# a migration run inside a process (the demo, tests) must not silence the app's own logs.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger('alembic.env')


def get_engine():
    # Flask-SQLAlchemy >= 3 (setup.cfg); its get_engine() is deprecated and warned on every migration
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


@contextlib.contextmanager
def sqlite_foreign_keys_off(connection):
    """On SQLite, run the migrations with foreign keys off and refuse a revision that breaks one.

    Batch mode alters a SQLite table by copying it and dropping the old one;
    with foreign keys on, that DROP TABLE runs ON DELETE CASCADE and empties
    every table that refers to it (a recreate of responses would delete all
    labels and pain point links). With them off nothing is deleted. Yields the
    ``on_version_apply`` hook that runs ``PRAGMA foreign_key_check`` after each
    revision, before its transaction commits; None on other databases.
    """
    if connection.dialect.name != "sqlite":
        yield None
        return
    # The pragma is ignored inside a transaction, so it goes before Alembic begins one.
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.commit()
    if connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("could not turn SQLite's foreign keys off for the migration (a transaction is "
                           "open): a table recreate would delete the rows that refer to it")
    broken_before = set(connection.exec_driver_sql("PRAGMA foreign_key_check").all())
    connection.commit()

    def refuse_broken_keys(ctx, step, heads, run_args):
        broken = set(connection.exec_driver_sql("PRAGMA foreign_key_check").all()) - broken_before
        if broken:
            raise RuntimeError(f"revision {step.up_revision_id} left rows referring to rows that do not exist "
                               f"(table, rowid, referred table, key): {sorted(broken)[:5]}; "
                               "the upgrade stopped before recording it")

    try:
        yield refuse_broken_keys
    finally:
        connection.rollback()  # whatever is still open: the pragma below applies only outside one
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")  # the app may use this connection next
        connection.commit()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection, sqlite_foreign_keys_off(connection) as check_keys:
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args,
            **({"on_version_apply": check_keys} if check_keys else {}),
        )

        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
