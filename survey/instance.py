"""The instance folder and the generated secret key, made when first needed.

Loading the app (every command, even ``--help``) creates nothing: the folder
appears when something is written into it (the SQLite database, the outbox, a
report), and ``instance/secret_key`` when something first signs or checks a
signature (a session, a CSRF token, an invitation link, a bounce address).
A command first run as root therefore leaves no key the service user cannot
read, and when a key cannot be read the message says what to do.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import traceback
from collections.abc import Iterator
from pathlib import Path

import click
from flask import Config, Flask


#: The instance folder, when Rapport makes it: the database, reports and outbox are nobody else's
#: business (0750, as deploy/ makes it; mkdir's default let every local user read the reports).
INSTANCE_FOLDER_MODE = 0o750


class InstanceError(click.ClickException):
    """The instance folder or its secret key cannot be used (a CLI prints it; a request logs it)."""


class ConfigError(click.ClickException):
    """A setting Rapport cannot start with (``instance/config.py``, the database URL): one line saying
    which and why, instead of a traceback; a CLI prints it and exits 1, gunicorn logs it and stops."""


@contextlib.contextmanager
def config_errors_end_a_command() -> Iterator[None]:
    """Inside a command (``flask …``, ``rapport …``), a ConfigError prints its one line and exits 1.

    A command run by name does that already (click shows a ClickException), but ``flask --help``
    lists the commands by loading the app inside Flask's ``except Exception``, which printed the
    whole traceback and then the help with exit 0. SystemExit passes that handler. Anywhere else
    (gunicorn, tests) the error goes on to the caller, who logs it.
    """
    try:
        yield
    except ConfigError as exc:
        if click.get_current_context(silent=True) is None:
            raise
        exc.show()
        raise SystemExit(exc.exit_code) from None


def read_config_file(config: Config, path: Path) -> None:
    """``instance/config.py`` into ``config`` when it exists; when it cannot be read or run, which file,
    which line and why (Flask's ``from_pyfile`` gives a traceback, or says nothing for a folder)."""
    if not path.exists() and not path.is_symlink():
        return
    for writable in (path, path.parent):
        try:
            mode = writable.stat().st_mode
        except OSError:
            continue  # the read below says why
        if mode & stat.S_IWOTH:
            raise ConfigError(
                f"{writable} is writable by every user of this machine, and Rapport runs {path} as Python "
                f"with its own rights: make it writable by its owner only (`chmod o-w {writable}`)")
    try:
        source = path.read_bytes()
    except OSError as exc:
        hint = (f". Rapport runs as user {os_user()}, which must be able to read it (e.g. `chgrp {os_user()} {path}; "
                f"chmod 640 {path}`)") if isinstance(exc, PermissionError) else ""
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}{hint}") from None
    settings: dict = {"__file__": str(path)}
    try:
        exec(compile(source, str(path), "exec"), settings)  # noqa: S102 -- the operator's own settings file
    except SyntaxError as exc:
        raise ConfigError(f"{path}, line {exc.lineno}: {exc.msg}") from None
    except Exception as exc:  # noqa: BLE001 -- any mistake in the file is the operator's to fix
        lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == str(path)]
        where = f", line {lines[-1]}" if lines else ""
        raise ConfigError(f"{path}{where}: {type(exc).__name__}: {exc}") from None
    config.update({key: value for key, value in settings.items() if key.isupper()})


def keep_text_settings_text(config: Config, defaults: type, prefix: str = "RAPPORT_") -> None:
    """``RAPPORT_*`` values are read as JSON, so ``RAPPORT_MAIL_PASSWORD=20261207`` became a number,
    ``RAPPORT_MAIL_PASSWORD=1e3`` the float 1000.0 (a wrong password) and a numeric
    ``RAPPORT_SECRET_KEY`` a key nothing could sign with. A setting that holds text keeps the text as
    typed; ``null`` still means None."""
    for name, raw in os.environ.items():
        key = name[len(prefix):]
        if not name.startswith(prefix) or not isinstance(config.get(key), (bool, int, float)):
            continue
        default = getattr(defaults, key, None)
        if key == "SECRET_KEY" or isinstance(default, str) or "str" in defaults.__annotations__.get(key, ""):
            config[key] = raw


def load_or_create_secret_key(instance_path: str | os.PathLike) -> str:
    """The key in ``<instance>/secret_key``, written (0600) by whichever process needs it first."""
    key_file = Path(instance_path) / "secret_key"
    try:
        if not key_file.exists():
            key_file.parent.mkdir(mode=INSTANCE_FOLDER_MODE, parents=True, exist_ok=True)
            # Write aside, then link into place: link fails if another process won
            # the race, so every process ends up reading the same complete key.
            tmp = key_file.with_name(f".secret_key.{os.getpid()}")
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            try:
                os.link(tmp, key_file)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        key = key_file.read_text().strip()
    except OSError as exc:
        raise InstanceError(
            f"cannot use the secret key {key_file}: {exc.strerror or exc}. Rapport runs as user "
            f"{os_user()}; give that user the instance folder (e.g. `chown -R {os_user()} {key_file.parent}`), "
            f"or set SECRET_KEY in instance/config.py or RAPPORT_SECRET_KEY in the environment."
        ) from None
    if not key:
        raise InstanceError(f"the secret key file {key_file} is empty; delete it and a new key is made "
                            f"(signed-in users then sign in again), or set RAPPORT_SECRET_KEY")
    from survey.config import secret_key_problem

    problem = secret_key_problem(key)
    if problem:  # written by hand: a weak key here signs sessions as surely as a configured one
        raise InstanceError(f"the secret key in {key_file} {problem}; delete the file and a new key is made "
                            f"(signed-in users then sign in again)")
    return key


def os_user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return str(os.geteuid()) if hasattr(os, "geteuid") else "the current user"


class InstanceConfig(Config):
    """Flask's config, whose ``SECRET_KEY``, when none is configured, comes from the instance folder on first use.

    ``root_path`` is the instance folder (``instance_relative_config``).
    """

    def __missing__(self, key: str):
        if key != "SECRET_KEY":
            raise KeyError(key)
        value = self["SECRET_KEY"] = load_or_create_secret_key(self.root_path)
        return value

    def get(self, key, default=None):
        if key == "SECRET_KEY" and key not in self:
            return self[key]
        return super().get(key, default)


class RapportFlask(Flask):
    config_class = InstanceConfig


def defer_secret_key(app: Flask) -> None:
    """Without a configured key, leave ``SECRET_KEY`` out so the first read loads or makes it."""
    if not app.config.get("SECRET_KEY"):
        app.config.pop("SECRET_KEY", None)
