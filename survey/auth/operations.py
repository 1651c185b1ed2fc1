"""Accounts and API tokens: every write goes through one of these and commits once.

Sign-in never tells whether an account exists, and nobody can lock another
person out. Failures are counted per e-mail address *as typed* (so an unknown
address behaves exactly as a known one) and per client network, in the shared
rate-limit table: ``LOGIN_MAX_FAILURES`` per ``LOGIN_LOCKOUT_SECONDS`` for one
address from one network, and ``LOGIN_ACCOUNT_MAX_FAILURES`` per
``LOGIN_ACCOUNT_WINDOW_SECONDS`` for one address from all networks together;
the owner signing in from a network they signed in from before
(``LOGIN_KNOWN_NETWORK_DAYS``) is not held by the second. Each client network
is also limited to ``LOGIN_ATTEMPTS_PER_IP`` attempts per
``LOGIN_ATTEMPT_WINDOW_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import time

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from survey.auth.passwords import check_new_password, hash_password, needs_rehash, verify_password
from survey.db import db
from survey.display import when_text
from survey.models import ROLES, ApiToken, User, utcnow
from survey.operations import OperationError
from survey import text
from survey.ratelimit import client_key, forget, hit, peek
from survey.tokens import hash_token

TOKEN_PREFIX = "rpt_"  # lets secret scanners and people recognise a leaked Rapport token
TOKEN_TOUCH_SECONDS = 60  # last_used_at is kept to the minute, not written on every call


class LoginError(Exception):
    """A refused sign-in: ``message`` for the person, ``status`` for the response."""

    def __init__(self, message: str, status: int = 401, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def normalise_email(email: str) -> str:
    """A syntactically valid address, lower-cased; raise OperationError otherwise."""
    try:
        return text.normalise_email(email)
    except ValueError as exc:
        raise OperationError(str(exc)) from None


def find_user(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == (email or "").strip().lower()))


def create_user(email: str, role: str, password: str) -> User:
    if role not in ROLES:
        raise OperationError(f"unknown role {role!r}: choose {' or '.join(ROLES)}")
    email = normalise_email(email)
    check_new_password(password, email)
    if find_user(email) is not None:
        raise OperationError(f"there is already an account for {email}")
    user = User(email=email, role=role, password_hash=hash_password(password), is_active=True)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise OperationError(f"there is already an account for {email}") from None
    return user


def set_password(user: User, password: str) -> None:
    """Change the password; this ends the user's other sessions and lifts any lock."""
    check_new_password(password, user.email)
    user.password_hash = hash_password(password)
    unlock(user)


def unlock(user: User) -> None:
    """Lift every sign-in limit on this account's address (from every network)."""
    for prefix in ("login-fail:", "login-fail-any:"):
        forget(f"{prefix}{_login_name(user.email)}")
    user.failed_logins = 0
    user.locked_until = None
    db.session.commit()


def _other_active_admins(user: User) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
        User.role == "admin", User.is_active.is_(True), User.id != user.id))


def set_active(user: User, active: bool) -> None:
    """Deactivate (sessions and API tokens stop working at once) or reactivate an account."""
    if not active and user.role == "admin" and user.is_active and _other_active_admins(user) == 0:
        raise OperationError(f"{user.email} is the last active admin; make someone else admin first")
    user.is_active = active
    db.session.commit()


def set_role(user: User, role: str) -> None:
    if role not in ROLES:
        raise OperationError(f"unknown role {role!r}: choose {' or '.join(ROLES)}")
    if user.role == "admin" and role != "admin" and user.is_active and _other_active_admins(user) == 0:
        raise OperationError(f"{user.email} is the last active admin; make someone else admin first")
    user.role = role
    db.session.commit()


def _throttle_address(address: str | None) -> None:
    if not address:
        return
    # client_key groups IPv6 clients by their /64, as one host usually holds the whole block.
    allowed, retry_after = hit(f"login:{client_key(address)}", current_app.config["LOGIN_ATTEMPTS_PER_IP"],
                               current_app.config["LOGIN_ATTEMPT_WINDOW_SECONDS"])
    if not allowed:
        raise LoginError("Too many sign-in attempts from your network. "
                         f"Please wait {_minutes(retry_after)} and try again.", 429, retry_after)


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def _login_name(email: str | None) -> str:
    return (email or "").strip().lower()[:254]


def authenticate(email: str, password: str, address: str | None = None, *, signing_in: bool = True) -> User:
    """The active user with this e-mail and password; raise LoginError (and count the failure) otherwise.

    Every step is the same whether or not the account exists. ``signing_in=False``
    only confirms the password (the account page asks for it again) without
    recording a sign-in.
    """
    _throttle_address(address)
    config = current_app.config
    name, network = _login_name(email), client_key(address) if address else "unknown"
    pair, anywhere, known = f"login-fail:{name}:{network}", f"login-fail-any:{name}", f"login-ok:{name}:{network}"
    held = _held(pair, config["LOGIN_MAX_FAILURES"], config["LOGIN_LOCKOUT_SECONDS"])
    if held:
        raise LoginError("Too many failed sign-ins for this address from your network. "
                         f"Please wait {_minutes(held)} and try again.", 429, held)
    held = _held(anywhere, config["LOGIN_ACCOUNT_MAX_FAILURES"], config["LOGIN_ACCOUNT_WINDOW_SECONDS"])
    if held and not peek(known, config["LOGIN_KNOWN_NETWORK_DAYS"] * 86400):
        raise LoginError("Too many failed sign-ins for this address. Please wait "
                         f"{_minutes(held)}, or sign in from a network you have used before.", 429, held)
    user = find_user(email)
    if not verify_password(user.password_hash if user else None, password or ""):
        hit(pair, 10**9, config["LOGIN_LOCKOUT_SECONDS"])
        hit(anywhere, 10**9, config["LOGIN_ACCOUNT_WINDOW_SECONDS"])
        raise LoginError("That e-mail address and password do not match an account.")
    if not user.is_active:
        raise LoginError("This account has been deactivated. Ask an administrator to reactivate it.", 403)
    hit(known, 10**9, config["LOGIN_KNOWN_NETWORK_DAYS"] * 86400)
    if signing_in:
        user.last_login_at = utcnow()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.commit()
    return user


def _held(key: str, limit: int, window_seconds: int) -> int:
    """Seconds until ``key``'s window ends if it already has ``limit`` failures in it, else 0."""
    if peek(key, window_seconds) < limit:
        return 0
    return max(1, math.ceil(window_seconds - time.time() % window_seconds))


TOKEN_MAX_DAYS = 3650  # ten years; "never" is the honest choice beyond that


class ApiTokenExpired(Exception):
    """``find_api_token`` found the token, unrevoked, but past its ``expires_at``."""

    def __init__(self, token: ApiToken):
        super().__init__(f"this API token expired on {when_text(token.expires_at)}")
        self.token = token


_CONFIGURED = object()  # create_api_token's default: the site's API_TOKEN_DEFAULT_DAYS


def check_lifetime(days: object) -> int | None:
    """A token lifetime in whole days (1 to TOKEN_MAX_DAYS), or None for never; raise OperationError otherwise."""
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= TOKEN_MAX_DAYS:
        raise OperationError(f"a token's lifetime is 1 to {TOKEN_MAX_DAYS} days, or never; not {days!r}")
    return days


def create_api_token(user: User, name: str, lifetime_days: int | None | object = _CONFIGURED) -> tuple[ApiToken, str]:
    """A new read token for ``user``; returns the row and the token itself, which is never stored.

    It expires ``lifetime_days`` from now (None: never; left out: ``API_TOKEN_DEFAULT_DAYS``).
    """
    name = (name or "").strip()
    if not name:
        raise OperationError("give the token a name, e.g. the script or system that will use it")
    if len(name) > 100:
        raise OperationError("a token name can be at most 100 characters")
    if lifetime_days is _CONFIGURED:
        lifetime_days = current_app.config["API_TOKEN_DEFAULT_DAYS"]
    days = check_lifetime(lifetime_days)
    if not user.is_active:
        raise OperationError(f"{user.email} is deactivated")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(raw), created_at=now,
                     expires_at=None if days is None else now + dt.timedelta(days=days))
    db.session.add(token)
    db.session.commit()
    return token, raw


def revoke_api_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()


def remove_api_token(token: ApiToken, now: dt.datetime | None = None) -> None:
    """Delete a token that no longer works (revoked or expired) from its owner's list, in one commit.

    A token that still works is refused (OperationError): it has to be revoked
    first, so removing a row never cuts off a script by surprise.
    """
    if token.status(now or utcnow()) not in ("revoked", "expired"):
        raise OperationError(f"the token “{token.name}” still works: revoke it first, then remove it")
    db.session.delete(token)
    db.session.commit()


def find_api_token(raw: str) -> ApiToken | None:
    """The unrevoked token with this value, or None; raise ApiTokenExpired if it has expired."""
    if not raw or len(raw) > 200:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(
        ApiToken.token_hash == hash_token(raw), ApiToken.revoked_at.is_(None)))
    if token is not None and token.is_expired(utcnow()):
        raise ApiTokenExpired(token)
    return token


def touch_api_token(token: ApiToken) -> None:
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= TOKEN_TOUCH_SECONDS:
        token.last_used_at = now
        db.session.commit()


def tokens_of(user: User, now: dt.datetime | None = None) -> list[ApiToken]:
    """``user``'s tokens: usable ones first, then expired, then revoked; newest first within each."""
    now = now or utcnow()
    standing = sa.case((ApiToken.revoked_at.is_not(None), 2), (ApiToken.expires_at <= now, 1), else_=0)
    return list(db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(standing, ApiToken.created_at.desc(),
                                                                         ApiToken.id.desc())))
