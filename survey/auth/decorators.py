"""Who is asking: the session's user on pages, the API token's user under /api/.

``login_required`` and ``role_required`` refuse the anonymous (a redirect to
the sign-in page, or 401 JSON under /api/) and the wrong role (403). They tag
the view with ``access`` so tests can check that every route is protected.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import after_this_request, g, redirect, request, session, url_for

from survey.display import when_text
from survey.errors import error_response, wants_json
from survey.models import ROLES, User


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def load_user() -> None:
    """before_request: put the person making this request on ``g.user`` (None if anonymous)."""
    from survey.auth.sessions import user_from_session

    g.user = token_user() if is_api_request() else user_from_session(session)


def current_user() -> User | None:
    if "user" not in g:
        load_user()
    return g.user


def token_user() -> User | None:
    """The active user whose unrevoked, unexpired API token came in ``Authorization: Bearer <token>``.

    Otherwise None, with ``g.token_problem`` saying why: "missing", "malformed" (a header that is not
    ``Bearer <token>``: the bare token, ``Token …``, ``Basic …``), "invalid" or "expired" (then
    ``g.token_expired_at`` says when). A refused token is not touched.
    """
    from survey.auth.operations import ApiTokenExpired, find_api_token, touch_api_token

    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    g.token_problem = None
    if not header:
        g.token_problem = "missing"
        return None
    if scheme.lower() != "bearer" or not raw.strip():
        g.token_problem = "malformed"  # told apart from a revoked token, which a new one would not fix
        return None
    expired = False
    try:
        token = find_api_token(raw.strip())
    except ApiTokenExpired as exc:
        token, expired = exc.token, True
    # A deactivated account outranks expiry: a new token would not help its owner.
    if token is None or not token.user.is_active:
        g.token_problem = "invalid"
        return None
    if expired:
        g.token_problem = "expired"
        g.token_expired_at = token.expires_at
        return None
    touch_api_token(token)
    return token.user


def _no_store(response):
    # Signed-in pages hold customers' comments: keep them out of shared and back-button caches.
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Vary", "Cookie, Authorization")
    return response


def _refuse_anonymous():
    if is_api_request():
        if g.get("token_problem") == "expired":
            return error_response(401, f"This API token expired on {when_text(g.token_expired_at)}; "
                                       "create a new one on the dashboard's API tokens page.",
                                  headers={"WWW-Authenticate": 'Bearer realm="rapport", error="invalid_token", '
                                                               'error_description="The token expired"'})
        if g.get("token_problem") == "invalid":
            return error_response(401, "This API token is not valid: it may have been revoked, "
                                       "or its account deactivated.",
                                  headers={"WWW-Authenticate": 'Bearer realm="rapport", error="invalid_token"'})
        if g.get("token_problem") == "malformed":
            return error_response(401, "The Authorization header is not in the form 'Authorization: Bearer <token>' "
                                       "(the word Bearer, a space, then the token).",
                                  headers={"WWW-Authenticate": 'Bearer realm="rapport", error="invalid_request"'})
        return error_response(401, "This API needs a token: send the header 'Authorization: Bearer <token>'. "
                                   "Create one on the dashboard's API tokens page.",
                              headers={"WWW-Authenticate": 'Bearer realm="rapport"'})
    if wants_json():
        # The dashboard's own scripts (a label correction, the analysis progress) ask for JSON: the sign-in
        # page a redirect leads to would reach them as a page they cannot read, and the person as a parse error.
        unsaved = "" if request.method in ("GET", "HEAD") else "; nothing was saved, so repeat it after"
        return error_response(401, f"You are signed out (your session ended). Sign in again{unsaved}.")
    target = None
    if request.method in ("GET", "HEAD"):
        target = request.full_path.rstrip("?")
    return redirect(url_for("auth.login", next=target))


def login_required(view: Callable) -> Callable:
    """Only signed-in people (any role) reach ``view``."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        if current_user() is None:
            return _refuse_anonymous()
        after_this_request(_no_store)
        return view(*args, **kwargs)

    wrapped.access = "login"
    return wrapped


def role_required(role: str) -> Callable[[Callable], Callable]:
    """Only signed-in people with ``role`` reach the view; others get 403."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            user = current_user()
            if user is None:
                return _refuse_anonymous()
            after_this_request(_no_store)
            if user.role != role:
                return error_response(403, f"This needs the {role} role; your account is {user.role}. "
                                           "Ask an administrator if you need access.")
            return view(*args, **kwargs)

        wrapped.access = role
        return wrapped

    return decorate
