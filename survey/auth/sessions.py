"""What the session cookie holds for a signed-in person, and the cookie's flags.

The cookie is Flask's signed cookie. It carries the user id, the time of
sign-in and a stamp derived from the password hash, so changing a password
ends every other session, and a deactivated account's sessions stop working
at the next request. Sessions end ``LOGIN_SESSION_HOURS`` after sign-in.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

from survey.db import db
from survey.models import User
from survey.tokens import hash_token


def password_stamp(user: User) -> str:
    return hash_token(user.password_hash)[:16]


def session_payload(user: User, now: float | None = None) -> dict[str, Any]:
    """The keys a fresh session gets at sign-in (tests use it to sign in without the form)."""
    return {"uid": user.id, "stamp": password_stamp(user), "since": int(now if now is not None else time.time())}


def user_from_session(session: Mapping[str, Any]) -> User | None:
    """The active user this session belongs to, or None if it is anonymous, expired or stale."""
    uid, stamp, since = session.get("uid"), session.get("stamp"), session.get("since")
    if not isinstance(uid, int) or not isinstance(since, int) or not isinstance(stamp, str):
        return None
    if time.time() - since > current_app.config["LOGIN_SESSION_HOURS"] * 3600:
        return None
    user = db.session.get(User, uid)
    if user is None or not user.is_active or stamp != password_stamp(user):
        return None
    return user


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
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        return has_request_context() and request.is_secure
