"""``flask users`` and ``flask tokens``: accounts and API tokens from the command line.

Passwords are never command-line arguments (they would land in shell history
and ``ps``): they are asked for twice with hidden input, or read as one line
from stdin when it is not a terminal (``printf '%s\\n' "$PW" | flask user create …``).
"""

from __future__ import annotations

import json
import sys

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from survey.auth.operations import (create_api_token, create_user, find_user, normalise_email, revoke_api_token,
                                    set_active, set_password, tokens_of, unlock)
from survey.auth.passwords import PasswordError, check_new_password
from survey.db import db
from survey.display import when_text
from survey.models import ROLES, ApiToken, User, utcnow
from survey.operations import OperationError

users_cli = AppGroup("user", help="Dashboard accounts: create, list, deactivate, reset passwords.")
tokens_cli = AppGroup("token", help="Per-user API tokens for /api/v1.")


def _stdin_is_tty() -> bool:
    # sys.stdin, not click.get_text_stream (deprecated in Click 8.5); CliRunner replaces both.
    return sys.stdin.isatty()


def read_new_password(email: str) -> str:
    """Ask twice with hidden input on a terminal; otherwise read one line from stdin."""
    if not _stdin_is_tty():
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException("no password on stdin: pipe one line, or run this in a terminal")
        try:
            return check_new_password(line.rstrip("\r\n"), email)
        except PasswordError as exc:
            raise click.ClickException(str(exc)) from None

    def checked(value: str) -> str:
        try:
            return check_new_password(value, email)
        except PasswordError as exc:
            raise click.BadParameter(str(exc)) from None

    return click.prompt("Password", hide_input=True, confirmation_prompt=True, value_proc=checked)


def user_or_exit(email: str) -> User:
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"there is no account for {email!r}; `flask user list` shows them")
    return user


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="admin: manages surveys, contacts and users; analyst: reads results and corrects labels.")
def users_create(email: str, role: str) -> None:
    """Create a dashboard account; the password is asked for (or read from stdin)."""
    try:
        email = normalise_email(email)  # say what is wrong with the address before asking for a password
        if find_user(email) is not None:
            raise OperationError(f"there is already an account for {email}")
        password = read_new_password(email)
        user = create_user(email, role, password)
    except (OperationError, PasswordError) as exc:
        raise _fail(exc) from None
    click.echo(f"created {user.role} {user.email}")


@users_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def users_list(as_json: bool) -> None:
    """Show every account: e-mail, role, active, created."""
    users = list(db.session.scalars(sa.select(User).order_by(User.email)))
    rows = [{"email": u.email, "role": u.role, "active": u.is_active,
             "created_at": u.created_at.isoformat(timespec="seconds") + "Z"} for u in users]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No accounts yet. Create one with `flask user create EMAIL --role admin`.")
        return
    width = max(len(r["email"]) for r in rows)
    click.echo(f"{'EMAIL':<{width}}  ROLE     ACTIVE  CREATED")
    for r in rows:
        click.echo(f"{r['email']:<{width}}  {r['role']:<7}  {'yes' if r['active'] else 'no':<6}  {r['created_at']}")


@users_cli.command("deactivate")
@click.argument("email")
def users_deactivate(email: str) -> None:
    """Stop an account signing in; its sessions and API tokens stop working at once."""
    user = user_or_exit(email)
    try:
        set_active(user, False)
    except OperationError as exc:
        raise _fail(exc) from None
    click.echo(f"deactivated {user.email}")


@users_cli.command("activate")
@click.argument("email")
def users_activate(email: str) -> None:
    """Let a deactivated account sign in again."""
    user = user_or_exit(email)
    set_active(user, True)
    click.echo(f"activated {user.email}")


@users_cli.command("password")
@click.argument("email")
def users_password(email: str) -> None:
    """Set a new password (asked for, or read from stdin); ends the account's sessions and lifts a lock."""
    user = user_or_exit(email)
    try:
        set_password(user, read_new_password(user.email))
    except PasswordError as exc:
        raise _fail(exc) from None
    click.echo(f"password changed for {user.email}")


@users_cli.command("unlock")
@click.argument("email")
def users_unlock(email: str) -> None:
    """Lift the lock that repeated failed sign-ins put on an account."""
    user = user_or_exit(email)
    unlock(user)
    click.echo(f"unlocked {user.email}")


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for, e.g. 'BI nightly sync'.")
@click.option("--days", metavar="DAYS|never", default=None,
              help="How long it works: a number of days, or 'never' (default: API_TOKEN_DEFAULT_DAYS, 90).")
def tokens_create(email: str, name: str, days: str | None) -> None:
    """Create an API token for EMAIL and print it once (only its hash is stored)."""
    user = user_or_exit(email)
    lifetime = {}
    if days is not None:
        days = days.strip().lower()
        if days != "never" and not days.isdigit():
            raise click.BadParameter(f"{days!r} is neither a number of days nor 'never'", param_hint="--days")
        lifetime["lifetime_days"] = None if days == "never" else int(days)
    try:
        token, raw = create_api_token(user, name, **lifetime)
    except OperationError as exc:
        raise _fail(exc) from None
    until = f"works until {when_text(token.expires_at)}" if token.expires_at else "never expires"
    click.echo(f"token {token.id} “{token.name}” for {user.email} ({until}); it is shown only now:", err=True)
    click.echo(raw)


@tokens_cli.command("list")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of lines.")
def tokens_list(email: str, as_json: bool) -> None:
    """Show EMAIL's tokens: id, name, created, last used, and active, expired or revoked."""
    user = user_or_exit(email)
    now = utcnow()
    tokens = tokens_of(user, now)
    if as_json:
        def stamp(value):
            return value.isoformat(timespec="seconds") + "Z" if value else None

        click.echo(json.dumps([{"id": t.id, "name": t.name, "status": t.status(now), "created_at": stamp(t.created_at),
                                "last_used_at": stamp(t.last_used_at), "expires_at": stamp(t.expires_at),
                                "revoked_at": stamp(t.revoked_at)} for t in tokens], indent=2))
        return
    if not tokens:
        click.echo(f"{user.email} has no API tokens.")
        return

    def when(value) -> str:  # as pages write it; --json keeps ISO 8601 for scripts
        return when_text(value) if value else "–"

    for token in tokens:
        status = token.status(now)
        if status == "revoked":
            state = f"revoked {when(token.revoked_at)}"
        elif status == "expired":
            state = f"expired {when(token.expires_at)}"
        else:
            state = f"active, expires {when(token.expires_at)}" if token.expires_at else "active, never expires"
        click.echo(f"{token.id:>5}  {token.name}  created {when(token.created_at)}  "
                   f"last used {when(token.last_used_at)}  {state}")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke the token with this id (see `flask token list EMAIL`)."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise click.ClickException(f"there is no API token with id {token_id}")
    if token.revoked_at is not None:  # exit 0 (the token is revoked, as asked), but "revoked" again misled
        click.echo(f"token {token.id} “{token.name}” of {token.user.email} was already revoked on "
                   f"{when_text(token.revoked_at)}; nothing changed")
        return
    revoke_api_token(token)
    click.echo(f"revoked token {token.id} “{token.name}” of {token.user.email}")
