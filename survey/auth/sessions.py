"""What the session cookie holds for a signed-in person, and the cookie's flags.

The cookie is Flask's signed cookie. It carries the user id, the time of
sign-in, a stamp derived from the password hash (changing a password ends
every other session) and the random id of a server-side ``LoginSession``:
signing out ends that row, and an admin can end all of a user's rows, so a
copied cookie stops working at once. A deactivated account's sessions stop
working at the next request. Sessions end ``LOGIN_SESSION_HOURS`` after sign-in.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

import datetime as dt
import secrets

import sqlalchemy as sa

from survey.db import db
from survey.models import LoginSession, User, utcnow
from survey.tokens import hash_token


def password_stamp(user: User) -> str:
    return hash_token(user.password_hash)[:16]


def session_payload(user: User, now: float | None = None) -> dict[str, Any]:
    """The keys a fresh session gets at sign-in, its server-side session stored (tests use it
    to sign in without the form)."""
    sid = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, token_hash=hash_token(sid)))
    db.session.commit()
    return {"uid": user.id, "sid": sid, "stamp": password_stamp(user),
            "since": int(now if now is not None else time.time())}


def user_from_session(session: Mapping[str, Any]) -> User | None:
    """The active user this session belongs to, or None if it is anonymous, expired, ended or stale."""
    uid, sid, stamp, since = session.get("uid"), session.get("sid"), session.get("stamp"), session.get("since")
    if not all(isinstance(value, kind) for value, kind in ((uid, int), (sid, str), (stamp, str), (since, int))):
        return None
    hours = current_app.config["LOGIN_SESSION_HOURS"]
    if time.time() - since > hours * 3600 or len(sid) > 128:
        return None
    user = db.session.scalar(
        sa.select(User).join(LoginSession, LoginSession.user_id == User.id)
        .where(User.id == uid, LoginSession.token_hash == hash_token(sid), LoginSession.ended_at.is_(None),
               LoginSession.created_at > utcnow() - dt.timedelta(hours=hours))
    )
    if user is None or not user.is_active or stamp != password_stamp(user):
        return None
    return user


def end_session(session: Mapping[str, Any]) -> None:
    """Sign-out: the server-side session behind this cookie stops working, wherever the cookie is."""
    sid = session.get("sid")
    if isinstance(sid, str) and len(sid) <= 128:
        db.session.execute(sa.update(LoginSession).where(LoginSession.token_hash == hash_token(sid),
                                                         LoginSession.ended_at.is_(None)).values(ended_at=utcnow()))
        db.session.commit()


def end_sessions_of(user: User) -> int:
    """End every session of ``user`` (an admin's action; a password change); return how many were live."""
    ended = db.session.execute(sa.update(LoginSession).where(LoginSession.user_id == user.id,
                                                             LoginSession.ended_at.is_(None))
                               .values(ended_at=utcnow())).rowcount
    # Sessions ended or expired long ago are of no further use.
    db.session.execute(sa.delete(LoginSession).where(
        LoginSession.user_id == user.id,
        LoginSession.created_at < utcnow() - dt.timedelta(hours=current_app.config["LOGIN_SESSION_HOURS"])))
    db.session.commit()
    return ended


class RapportSessionInterface(SecureCookieSessionInterface):
    """Marks the cookie ``Secure`` whenever the request came over HTTPS, not only when configured.

    Behind a TLS-terminating proxy the request only looks like HTTPS if the
    proxy's headers are trusted (werkzeug's ProxyFix) or
    ``SESSION_COOKIE_SECURE`` / ``PREFERRED_URL_SCHEME = "https"`` is set.

    A request with no session cookie (every widget answer, a first page view)
    gets an empty session without building the cookie's signing serializer,
    and the serializer is built once per set of keys, not per request
    (building one serializes a test value to learn its type).
    """

    def get_signing_serializer(self, app: Flask):
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        cache = self.__dict__.setdefault("_serializers", {})
        serializer = cache.get(keys)
        if serializer is None:
            serializer = cache[keys] = super().get_signing_serializer(app)
        return serializer

    def open_session(self, app: Flask, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        session = super().open_session(app, request)
        if session is not None and not session and request.cookies[self.get_cookie_name(app)]:
            self._note_unverified_cookie(app)
        return session

    #: Seconds between two log lines about cookies that do not verify (a forger may send many).
    UNVERIFIED_LOG_INTERVAL = 300.0

    def _note_unverified_cookie(self, app: Flask) -> None:
        """Say once in a while that a session cookie did not verify: when several web hosts each made
        their own key, every sign-in seems to vanish at random and this line is the only clue."""
        now = time.monotonic()
        last = self.__dict__.get("_unverified_logged_at")
        if last is not None and now - last < self.UNVERIFIED_LOG_INTERVAL:
            return
        self._unverified_logged_at = now
        app.logger.warning(
            "a session cookie did not verify with this host's SECRET_KEY: an expired or altered cookie, "
            "or one signed by another web host. Every host of one site must share one SECRET_KEY "
            "(RAPPORT_SECRET_KEY, or the same instance/secret_key); otherwise a sign-in made on one host "
            "is unknown on the next")

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        return has_request_context() and request.is_secure
