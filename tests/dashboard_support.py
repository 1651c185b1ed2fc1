"""Helpers for dashboard tests: accounts and signing in.

    from tests.dashboard_support import login, make_user, PASSWORD

    def test_something(client):
        analyst = login(client, "analyst")       # a new analyst, signed in on this client
        admin = make_user(role="admin")          # an account, not signed in

``login`` goes through the real /login form when ``via_form=True``; by default it
writes the same session the form would (``survey.auth.sessions.session_payload``),
because scrypt makes each real sign-in cost ~0.2 s.
"""

from __future__ import annotations

import itertools
import re

from survey.auth.passwords import hash_password
from survey.auth.sessions import session_payload
from survey.db import db
from survey.models import User

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)
_hash_cache: dict[str, str] = {}


def make_user(role: str = "analyst", email: str | None = None, password: str = PASSWORD,
              active: bool = True) -> User:
    """A committed account (needs an app context). The password hash is computed once per test run."""
    if password not in _hash_cache:
        _hash_cache[password] = hash_password(password)
    user = User(email=email or f"{role}{next(_counter)}@example.com", role=role,
                password_hash=_hash_cache[password], is_active=active)
    db.session.add(user)
    db.session.commit()
    return user


def login(client, role: str = "analyst", user: User | None = None, via_form: bool = False,
          password: str = PASSWORD) -> User:
    """Sign ``client`` in as ``user`` (or a new account with ``role``); returns the user."""
    user = user or make_user(role=role, password=password)
    if via_form:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True))
        data = {"email": user.email, "password": password}
        if token:
            data["csrf_token"] = token.group(1)
        response = client.post("/login", data=data)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return user
    with client.session_transaction() as session:
        session.clear()
        session.update(session_payload(user))
    return user


def logout(client) -> None:
    with client.session_transaction() as session:
        session.clear()


def api_token(user: User, name: str = "test") -> str:
    """A new API token for ``user``; send it as ``Authorization: Bearer <token>``."""
    from survey.auth.operations import create_api_token

    return create_api_token(user, name)[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
