"""Signing in and out: passwords, lock-out, session cookies, redirects, CSRF, API tokens and the CLI."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from survey.auth.operations import authenticate, create_user, LoginError
from survey.auth.passwords import hash_password
from survey.db import db
from survey.models import ApiToken, User, utcnow
from tests.conftest import extract_csrf
from tests.dashboard_support import PASSWORD, api_token, bearer, login, make_user


def sign_in(client, email, password=PASSWORD, next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password})


def session_cookie(response) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


# -- signing in ---------------------------------------------------------------------------


def test_sign_in_with_the_form_lands_on_the_survey_list(client):
    user = make_user("analyst", email="ana@example.com")
    page = client.get("/login")
    assert page.status_code == 200 and 'autocomplete="current-password"' in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    response = sign_in(client, "  ANA@example.com ")  # e-mail addresses are not case-sensitive
    assert response.status_code == 302 and response.location == "/surveys"
    assert client.get("/surveys").status_code == 200
    assert db.session.get(User, user.id).last_login_at is not None
    # Signed in, /login goes straight on.
    assert client.get("/login").location == "/surveys"


def test_passwords_are_stored_as_scrypt_hashes_and_old_hashes_upgraded(client):
    user = create_user("new@example.com", "admin", "a long enough password")
    assert user.password_hash.startswith("scrypt:32768:8:1$")
    assert "a long enough password" not in user.password_hash
    user.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    db.session.commit()
    assert sign_in(client, user.email).status_code == 302
    db.session.refresh(user)
    assert user.password_hash.startswith("scrypt:32768:8:1$")


@pytest.mark.parametrize("email,password", [("ana@example.com", "wrong password"),
                                            ("nobody@example.com", PASSWORD)])
def test_a_wrong_password_and_an_unknown_address_get_the_same_answer(client, email, password):
    make_user("analyst", email="ana@example.com")
    response = sign_in(client, email, password)
    assert response.status_code == 401
    assert "do not match an account" in response.get_data(as_text=True)
    assert client.get("/surveys").status_code == 302


def test_an_empty_form_says_what_is_missing(client):
    response = client.post("/login", data={"email": "", "password": ""})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Enter your e-mail address." in text and "Enter your password." in text


def test_repeated_failures_lock_the_account_for_a_while(client, app, monkeypatch):
    """Failures hold that address from that network for a while; the same happens for an unknown address."""
    hold_the_counting_clock(monkeypatch)
    app.config.update(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_SECONDS=600)
    user = make_user("admin", email="boss@example.com")
    for email in (user.email, "nobody@example.com"):
        for _ in range(3):
            assert sign_in(client, email, "not it at all").status_code == 401
        held = sign_in(client, email)  # even the right password waits, so guessing learns nothing
        assert held.status_code == 429
        assert 0 < int(held.headers["Retry-After"]) <= 600
        assert "Too many failed sign-ins for this address from your network" in held.get_data(as_text=True)
    # The owner on another network is not locked out; a success there lifts nothing for the attacker's.
    elsewhere = client.post("/login", data={"email": user.email, "password": PASSWORD},
                            environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert elsewhere.status_code == 302
    from survey.auth.operations import unlock

    unlock(user)  # `flask users unlock` lifts the limits at once
    assert sign_in(client, user.email).status_code == 302


def test_the_lockout_tells_nobody_which_accounts_exist(app, monkeypatch):
    """Known and unknown addresses: the same replies, in the same order, with the same work (statements
    run and password hashes checked), so neither the answer nor its timing tells them apart."""
    import time

    from survey.auth import passwords

    hold_the_counting_clock(monkeypatch)
    app.config.update(LOGIN_MAX_FAILURES=5)
    monkeypatch.setattr("survey.ratelimit.CLEANUP_ONE_IN", 10**9)  # no clean-up of old counters mid-count
    make_user("analyst", email="ana@example.com")
    checks = []
    original = passwords.check_password_hash
    statements = []

    def count(*_args):
        statements.append(1)

    def story(email: str, client) -> list:
        replies = []
        for _ in range(7):
            statements.clear(), checks.clear()
            started = time.perf_counter()
            reply = sign_in(client, email, "wrong password!")
            text = re.sub(r"\d+ minutes?", "N minutes", reply.get_data(as_text=True))
            replies.append((reply.status_code, reply.headers.get("Retry-After") is not None,
                            re.search(r'class="form-error[^>]*>([^<]+)', text) or text.count("account"),
                            len(statements), len(checks)))
            assert time.perf_counter() - started < 5
        return replies

    sa.event.listen(db.engine, "before_cursor_execute", count)
    passwords.check_password_hash = lambda *args: checks.append(1) or original(*args)
    try:
        known = story("ana@example.com", app.test_client())
        unknown = story("nobody@example.com", app.test_client())
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
        passwords.check_password_hash = original
    assert [reply[:3] for reply in known] == [reply[:3] for reply in unknown]
    assert [reply[0] for reply in known] == [401] * 5 + [429] * 2
    assert [reply[3:] for reply in known] == [reply[3:] for reply in unknown]


def hold_the_counting_clock(monkeypatch) -> None:
    """Failures are counted in windows aligned to the clock (every 300 s by default): a test whose
    attempts crossed a window's edge saw its count start again (a CI run did). The counters' clock
    stands still one second into the hour, which starts every window these tests use."""
    import time
    import types

    still = types.SimpleNamespace(time=lambda moment=time.time() // 3600 * 3600 + 1: moment)
    monkeypatch.setattr("survey.ratelimit.time", still)
    monkeypatch.setattr("survey.auth.operations.time", still)


def test_failures_count_across_requests_without_losing_any(app, monkeypatch):
    import threading

    hold_the_counting_clock(monkeypatch)
    app.config.update(LOGIN_MAX_FAILURES=8)
    user = make_user("analyst")
    errors = []

    def guess():
        with app.app_context():
            try:
                authenticate(user.email, "wrong password!", "192.0.2.1")
            except LoginError as exc:
                errors.append(exc.status)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [401] * 8
    with pytest.raises(LoginError) as caught:
        authenticate(user.email, PASSWORD, "192.0.2.1")
    assert caught.value.status == 429


def test_each_address_is_slowed_down_after_many_attempts(client, app, monkeypatch):
    hold_the_counting_clock(monkeypatch)
    app.config.update(LOGIN_ATTEMPTS_PER_IP=4, LOGIN_ATTEMPT_WINDOW_SECONDS=900, LOGIN_MAX_FAILURES=100)
    for i in range(4):
        assert sign_in(client, f"guess{i}@example.com", "wrong password").status_code == 401
    refused = sign_in(client, "guess9@example.com", "wrong password")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "from your network" in refused.get_data(as_text=True)
    # Another address is not affected.
    other = client.post("/login", data={"email": "x@example.com", "password": "wrong password"},
                        environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 401


def test_a_deactivated_account_cannot_sign_in_and_its_sessions_end(client):
    user = login(client, "analyst")
    assert client.get("/surveys").status_code == 200
    user.is_active = False
    db.session.commit()
    assert client.get("/surveys").status_code == 302
    response = sign_in(client, user.email)
    assert response.status_code == 403 and "deactivated" in response.get_data(as_text=True)


def test_the_dashboards_scripts_learn_that_the_session_ended_in_json(client, make_survey, make_response):
    """A label correction saved by the page's script (Accept: application/json) after the account was
    deactivated was redirected to the sign-in page; the script could not read it as JSON and showed a
    parse error, and the analysis progress bar polled that page every 5 s for ever."""
    survey = make_survey()
    answer = make_response(survey, score=2, comment="on hold for an hour")
    user = login(client, "analyst")
    user.is_active = False
    db.session.commit()
    json_accept = {"Accept": "application/json"}
    saved = client.post(f"/surveys/{survey.public_key}/responses/{answer.id}/labels",
                        data={"sentiment": "negative", "theme": "service"}, headers=json_accept)
    assert saved.status_code == 401 and saved.is_json
    assert saved.get_json()["error"]["message"] == ("You are signed out (your session ended). Sign in again; "
                                                    "nothing was saved, so repeat it after.")
    polled = client.get(f"/surveys/{survey.public_key}/analysis.json", headers=json_accept)
    assert polled.status_code == 401 and polled.get_json()["error"]["message"].endswith("Sign in again.")
    # a page asked for by the browser itself still leads to the sign-in page
    page = client.get(f"/surveys/{survey.public_key}/comments")
    assert page.status_code == 302 and page.location.startswith("/login?next=")


def test_changing_the_password_ends_other_sessions(client, app):
    from survey.auth.operations import set_password

    user = login(client, "analyst")
    assert client.get("/surveys").status_code == 200
    set_password(user, "a brand new passphrase")
    assert client.get("/surveys").status_code == 302


def test_signing_out_ends_the_session_even_for_a_copied_cookie(app, client):
    login(client, "analyst", via_form=True)
    assert client.get("/surveys").status_code == 200
    copied = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/surveys").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/surveys").status_code == 302
    assert thief.get("/surveys").status_code == 302  # the copy taken before sign-out no longer works


def test_a_cookie_from_a_host_with_another_key_is_logged_once_in_a_while(app, client, caplog):
    """Two web hosts that each made their own secret key: sign-ins vanished at random and nothing
    anywhere said why. The host that cannot verify the cookie now says so in its log, not once per
    request (anyone can send a bad cookie)."""
    login(client, "analyst", via_form=True)
    assert client.get("/surveys").status_code == 200
    copied = client.get_cookie("session").value
    app.config["SECRET_KEY"] = "the-other-hosts-own-key"  # the second host, same database, its own key
    other_host = app.test_client()
    other_host.set_cookie("session", copied)
    with caplog.at_level("WARNING"):
        assert other_host.get("/surveys").status_code == 302
        assert other_host.get("/surveys").status_code == 302
    logged = [r.getMessage() for r in caplog.records if "did not verify" in r.getMessage()]
    assert len(logged) == 1 and "share one SECRET_KEY" in logged[0] and "RAPPORT_SECRET_KEY" in logged[0]
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert app.test_client().get("/surveys").status_code == 302  # no cookie at all: nothing to say
    assert not [r for r in caplog.records if "did not verify" in r.getMessage()]


def test_an_admin_ends_every_session_of_a_user(app, client):
    from tests.dashboard_support import login as sign_in_as

    user = make_user("analyst")
    browsers = [app.test_client() for _ in range(2)]
    for browser in browsers:
        sign_in_as(browser, user=user)
        assert browser.get("/surveys").status_code == 200
    sign_in_as(client, "admin")
    page = client.get("/users").get_data(as_text=True)
    assert f"/users/{user.id}/sessions/end" in page and "Sign out everywhere" in page
    done = client.post(f"/users/{user.id}/sessions/end", follow_redirects=True)
    assert done.status_code == 200 and f"Every session of {user.email} is ended" in done.get_data(as_text=True)
    assert [browser.get("/surveys").status_code for browser in browsers] == [302, 302]
    assert client.get("/surveys").status_code == 200  # the admin's own session goes on
    assert sign_in(browsers[0], user.email).status_code == 302  # the user simply signs in again


def test_sessions_expire_after_the_configured_hours(client, app):
    app.config["LOGIN_SESSION_HOURS"] = 2
    login(client, "analyst")
    with client.session_transaction() as session:
        session["since"] -= 2 * 3600 + 5
    assert client.get("/surveys").status_code == 302


def test_sign_in_starts_a_fresh_session(client):
    user = make_user("analyst")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        session["uid"] = 999
    assert sign_in(client, user.email).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session and session["uid"] == user.id


def test_session_cookie_flags_over_http_and_https(app):
    user = make_user("analyst")
    plain = app.test_client()
    cookie = session_cookie(plain.post("/login", data={"email": user.email, "password": PASSWORD}))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = app.test_client()
    cookie = session_cookie(secure.post("https://localhost/login", data={"email": user.email, "password": PASSWORD}))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_secure_everywhere_when_configured(app_config, tmp_path, monkeypatch):
    from survey import create_app

    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "https-site"))
    app_config["PREFERRED_URL_SCHEME"] = "https"
    app = create_app(app_config)
    with app.app_context():
        import survey.models_all  # noqa: F401

        db.create_all()
        user = make_user("analyst")
        response = app.test_client().post("/login", data={"email": user.email, "password": PASSWORD})
        assert "Secure" in session_cookie(response)
        db.session.remove()


@pytest.mark.parametrize("target,expected", [
    ("/surveys/abc/results?channel=email", "/surveys/abc/results?channel=email"),
    ("/tokens", "/tokens"),
    ("//evil.example/x", "/surveys"),
    ("https://evil.example/", "/surveys"),
    ("/\\evil.example", "/surveys"),
    ("/%09/evil.example", "/surveys"),
    ("javascript:alert(1)", "/surveys"),
    ("/login?next=//evil.example", "/surveys"),
])
def test_next_only_leads_to_pages_of_this_site(client, target, expected):
    user = make_user("analyst")
    response = client.post("/login", query_string={"next": target.replace("%09", "\t")},
                           data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.location == expected


def test_anonymous_pages_redirect_to_sign_in_and_come_back(client, make_survey):
    survey = make_survey()
    user = make_user("analyst")
    target = f"/surveys/{survey.public_key}?x=1"
    response = client.get(target)
    assert response.status_code == 302 and response.location.startswith("/login?next=")
    followed = client.post(response.location, data={"email": user.email, "password": PASSWORD})
    assert followed.location == target


def test_sign_out_clears_the_session(client):
    login(client, "analyst")
    response = client.post("/logout")
    assert response.status_code == 302 and response.location == "/login"
    assert client.get("/surveys").status_code == 302
    assert "You have signed out." in client.get("/login").get_data(as_text=True)


def test_forms_need_their_csrf_token(app):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    user = make_user("analyst")
    refused = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert refused.status_code == 400 and "expired or was sent from another site" in refused.get_data(as_text=True)
    token = extract_csrf(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"email": user.email, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    # Another site cannot sign the user out: the sign-out form carries a token too.
    assert client.post("/logout").status_code == 400
    assert client.get("/surveys").status_code == 200
    page = client.get("/surveys").get_data(as_text=True)
    logout_token = re.search(r'action="/logout".*?name="csrf_token" value="([^"]+)"', page, re.S).group(1)
    assert client.post("/logout", data={"csrf_token": logout_token}).status_code == 302
    assert client.get("/surveys").status_code == 302


def test_real_sign_in_helper_matches_the_shortcut(client):
    user = login(client, "admin", via_form=True)
    assert client.get("/users").status_code == 200
    assert user.role == "admin"


# -- API tokens -----------------------------------------------------------------------------


def test_tokens_page_shows_a_new_token_once_and_revokes_it(client):
    user = login(client, "analyst")
    created = client.post("/tokens", data={"name": "nightly BI sync"})
    assert created.status_code == 200
    raw = re.search(r'id="new-token" class="code" value="(rpt_[A-Za-z0-9_-]{40,})"', created.get_data(as_text=True))
    assert raw, created.get_data(as_text=True)
    token = raw.group(1)
    stored = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    assert stored.name == "nightly BI sync" and token not in stored.token_hash and len(stored.token_hash) == 64
    listing = client.get("/tokens").get_data(as_text=True)
    assert "nightly BI sync" in listing and token not in listing
    assert client.get("/api/v1/surveys", headers=bearer(token)).status_code == 200
    db.session.refresh(stored)
    assert stored.last_used_at is not None
    assert client.post(f"/tokens/{stored.id}/revoke").status_code == 302
    refused = client.get("/api/v1/surveys", headers=bearer(token))
    assert refused.status_code == 401 and "invalid_token" in refused.headers["WWW-Authenticate"]


def test_a_token_needs_a_name(client):
    login(client, "analyst")
    response = client.post("/tokens", data={"name": "  "})
    assert response.status_code == 422 and "Give the token a name" in response.get_data(as_text=True)


def test_nobody_revokes_someone_elses_token(client):
    other = make_user("admin")
    token = api_token(other)
    login(client, "admin")
    stored = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == other.id))
    assert client.post(f"/tokens/{stored.id}/revoke").status_code == 404
    assert client.get("/api/v1/surveys", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer rpt_not-a-real-token", "Basic dXNlcjpwYXNz",
                                    "Bearer " + "x" * 500])
def test_the_api_refuses_missing_and_bad_tokens(client, header):
    make_user("analyst")
    response = client.get("/api/v1/surveys", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    body = response.get_json()
    assert body["error"]["status"] == 401 and "token" in body["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("form", ["{token}", "Token {token}", "Bearer", "Bearer ", "Basic {token}"])
def test_a_good_token_in_the_wrong_form_of_header_says_how_to_send_it(client, form):
    """A script sending the bare token (or ``Token …``) was told the token may have been revoked: its owner then
    made a new one, which failed the same way."""
    token = api_token(make_user("analyst"))
    response = client.get("/api/v1/surveys", headers={"Authorization": form.format(token=token)})
    assert response.status_code == 401
    message = response.get_json()["error"]["message"]
    assert "'Authorization: Bearer <token>'" in message and "revoked" not in message and token not in message
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="rapport", error="invalid_request"'
    assert client.get("/api/v1/surveys", headers={"Authorization": f"bearer  {token} "}).status_code == 200


def test_a_deactivated_users_tokens_stop_working(client):
    user = make_user("analyst")
    token = api_token(user)
    assert client.get("/api/v1/surveys", headers=bearer(token)).status_code == 200
    user.is_active = False
    db.session.commit()
    assert client.get("/api/v1/surveys", headers=bearer(token)).status_code == 401


def test_the_api_ignores_the_session_cookie(client):
    login(client, "admin")
    assert client.get("/api/v1/surveys").status_code == 401


# -- API token lifetimes --------------------------------------------------------------------


def created_token(client, **data) -> tuple[ApiToken, str, str]:
    """POST the tokens form; the stored row, the raw token and the page."""
    response = client.post("/tokens", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    raw = re.search(r'id="new-token" class="code" value="(rpt_[A-Za-z0-9_-]{40,})"', page).group(1)
    stored = db.session.scalar(sa.select(ApiToken).where(ApiToken.name == data["name"]))
    return stored, raw, page


@pytest.mark.parametrize("lifetime,days", [("30", 30), ("90", 90), ("365", 365), ("never", None), (None, 90)])
def test_tokens_are_made_with_the_chosen_lifetime(client, lifetime, days):
    login(client, "analyst")
    form = client.get("/tokens").get_data(as_text=True)
    assert re.search(r'<option selected value="90">90 days</option>', form), form  # the default
    assert all(f'value="{value}"' in form for value in ("30", "365", "never"))
    data = {"name": "BI sync"} | ({"lifetime": lifetime} if lifetime else {})
    before = utcnow()
    stored, raw, page = created_token(client, **data)
    if days is None:
        assert stored.expires_at is None and "It never expires" in page
    else:
        assert stored.expires_at - stored.created_at == dt.timedelta(days=days)
        assert before <= stored.created_at <= utcnow()
        assert "It works until" in page and stored.expires_at.strftime("%-d %b %Y, %H:%M") + " UTC" in page
        # the list's "expires 7 Mar 2027" tells its minute on hover, written the same way
        assert f'title="{stored.expires_at:%-d %b %Y, %H:%M} UTC"' in page
    assert client.get("/api/v1/surveys", headers=bearer(raw)).status_code == 200


def test_the_operation_takes_the_configured_default_and_refuses_odd_lifetimes(app):
    from survey.auth.operations import create_api_token
    from survey.operations import OperationError

    user = make_user("analyst")
    assert create_api_token(user, "default")[0].expires_at is not None
    app.config["API_TOKEN_DEFAULT_DAYS"] = 7
    token = create_api_token(user, "a week")[0]
    assert token.expires_at - token.created_at == dt.timedelta(days=7)
    app.config["API_TOKEN_DEFAULT_DAYS"] = None
    assert create_api_token(user, "site default never")[0].expires_at is None
    for bad in (0, -1, 3651, "30", 1.5, True):
        with pytest.raises(OperationError, match="lifetime is 1 to 3650 days"):
            create_api_token(user, "odd", bad)


def test_the_form_offers_a_configured_default_lifetime(app, client):
    app.config["API_TOKEN_DEFAULT_DAYS"] = 7  # read on each request
    login(client, "analyst")
    form = client.get("/tokens").get_data(as_text=True)
    assert '<option selected value="7">7 days</option>' in form and 'value="90"' in form
    stored, _, _ = created_token(client, name="weekly", lifetime="7")
    assert stored.expires_at - stored.created_at == dt.timedelta(days=7)


@pytest.mark.parametrize("lifetime", ["7", "forever", "", "90.0", "-30"])
def test_the_form_refuses_a_lifetime_it_does_not_offer(client, lifetime):
    login(client, "analyst")
    response = client.post("/tokens", data={"name": "BI sync", "lifetime": lifetime})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="token-lifetime-error">Choose how long the token lasts: 30, 90 or 365 days, or never.</p>' in page
    assert 'aria-describedby="token-lifetime-error" aria-invalid="true" id="token-lifetime"' in page
    assert '<option selected value="90">' in page  # offered again with the default chosen
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def freeze(monkeypatch, moment: dt.datetime) -> None:
    """The token checks (find and touch) see ``moment`` as now."""
    monkeypatch.setattr("survey.auth.operations.utcnow", lambda: moment)


def test_an_expired_token_is_refused_with_its_date_and_not_touched(client, monkeypatch):
    user = make_user("analyst")
    raw = api_token(user)
    stored = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    expires = dt.datetime(2027, 2, 25, 9, 30)
    stored.expires_at = expires
    db.session.commit()

    for now in (expires, expires + dt.timedelta(seconds=1), expires + dt.timedelta(days=400)):
        freeze(monkeypatch, now)
        refused = client.get("/api/v1/surveys", headers=bearer(raw))
        assert refused.status_code == 401
        assert refused.get_json()["error"]["message"] == (
            "This API token expired on 25 Feb 2027, 09:30 UTC; create a new one on the dashboard's API tokens page.")
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        db.session.refresh(stored)
        assert stored.last_used_at is None  # a refused call leaves no trace of use

    freeze(monkeypatch, expires - dt.timedelta(seconds=1))  # its last second still works
    assert client.get("/api/v1/surveys", headers=bearer(raw)).status_code == 200
    db.session.refresh(stored)
    assert stored.last_used_at == expires - dt.timedelta(seconds=1)


def test_revoked_and_deactivated_tokens_do_not_claim_to_have_expired(client, monkeypatch):
    user = make_user("analyst")
    raw = api_token(user)
    stored = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    stored.expires_at = utcnow() - dt.timedelta(days=1)
    user.is_active = False  # a new token would not help: say the account is the problem
    db.session.commit()
    message = client.get("/api/v1/surveys", headers=bearer(raw)).get_json()["error"]["message"]
    assert "not valid" in message and "expired" not in message
    user.is_active = True
    stored.revoked_at = utcnow()
    db.session.commit()
    message = client.get("/api/v1/surveys", headers=bearer(raw)).get_json()["error"]["message"]
    assert "revoked" in message and "expired" not in message


def test_tokens_that_never_expire_keep_working(client, monkeypatch):
    from survey.auth.operations import create_api_token

    user = make_user("analyst")
    chosen = create_api_token(user, "chosen never", None)[1]
    older = create_api_token(user, "made before lifetimes", None)[1]  # as the migration leaves old rows
    assert all(token.expires_at is None for token in db.session.scalars(sa.select(ApiToken)))
    freeze(monkeypatch, utcnow() + dt.timedelta(days=20 * 365))
    for raw in (chosen, older):
        assert client.get("/api/v1/surveys", headers=bearer(raw)).status_code == 200


def test_token_status_and_days_left_at_their_boundaries():
    now = dt.datetime(2027, 2, 10, 23, 0)

    def token(expires=None, revoked=None):
        return ApiToken(name="t", token_hash="0" * 64, expires_at=expires, revoked_at=revoked)

    assert (token().status(now), token().days_left(now)) == ("active", None)
    assert token(now + dt.timedelta(days=14, seconds=1)).status(now) == "active"
    assert token(now + dt.timedelta(days=14)).status(now) == "expiring"  # marked from 14 days left
    assert token(now + dt.timedelta(seconds=1)).status(now) == "expiring"
    assert token(now).status(now) == "expired" and token(now).days_left(now) == 0
    assert token(now - dt.timedelta(days=3)).days_left(now) == 0
    assert token(now, revoked=now).status(now) == "revoked"
    # Days are counted to the date shown: 2 hours before midnight, tomorrow 01:00 is "tomorrow".
    assert token(now + dt.timedelta(minutes=30)).days_left(now) == 0
    assert token(now + dt.timedelta(hours=2)).days_left(now) == 1
    assert token(now + dt.timedelta(days=9, hours=2)).days_left(now) == 10


def test_the_tokens_page_shows_each_expiry_and_lists_expired_ones_last(client):
    user = login(client, "analyst")
    now = utcnow()
    rows = {  # name: (created, expires, revoked)
        "old never": (now - dt.timedelta(days=300), None, None),
        "quarterly": (now - dt.timedelta(days=1), now + dt.timedelta(days=89), None),
        "soon": (now - dt.timedelta(days=85), now + dt.timedelta(days=5, hours=1), None),
        "last day": (now - dt.timedelta(days=30), now + dt.timedelta(hours=3), None),
        "lapsed": (now - dt.timedelta(hours=2), now - dt.timedelta(hours=1), None),
        "withdrawn": (now, now + dt.timedelta(days=30), now),
    }
    for number, (name, (created, expires, revoked)) in enumerate(rows.items()):
        db.session.add(ApiToken(user_id=user.id, name=name, token_hash=f"{number:064d}", created_at=created,
                                expires_at=expires, revoked_at=revoked))
    db.session.commit()
    page = client.get("/tokens").get_data(as_text=True)
    listed = re.findall(r'<tr class="token-(\w+)( muted)?">\s*<td[^>]*>([^<]+)</td>(.*?)</tr>', page, re.S)
    order = [(name, status) for status, _, name, _ in listed]
    # Usable ones newest first, then the expired, then the revoked (newest first within each).
    assert order == [("quarterly", "active"), ("last day", "expiring"), ("soon", "expiring"),
                     ("old never", "active"), ("lapsed", "expired"), ("withdrawn", "revoked")]
    cells = {name: (muted, re.sub(r"<[^>]+>|\s+", " ", rest)) for _, muted, name, rest in listed}
    quarterly = (now + dt.timedelta(days=89)).strftime("%-d %b %Y")
    assert f"expires {quarterly}" in cells["quarterly"][1] and "active" in cells["quarterly"][1]
    # Counted in calendar days to the date shown, so the label agrees with it at any time of day.
    soon = ((now + dt.timedelta(days=5, hours=1)).date() - now.date()).days
    assert f"expires {(now + dt.timedelta(days=5, hours=1)).strftime('%-d %b %Y')}" in cells["soon"][1]
    assert f"expires in {soon} days" in cells["soon"][1]
    assert ("expires today" if (now + dt.timedelta(hours=3)).date() == now.date() else "expires tomorrow") \
        in cells["last day"][1]
    assert "never expires" in cells["old never"][1] and "active" in cells["old never"][1]
    lapsed = (now - dt.timedelta(hours=1)).strftime("%-d %b %Y")
    assert f"expired {lapsed}" in cells["lapsed"][1] and 'badge bad">expired' in page
    assert cells["lapsed"][0] == " muted" and cells["withdrawn"][0] == " muted" and not cells["soon"][0]
    assert "revoked" in cells["withdrawn"][1]
    assert page.count(">Revoke</button>") == 4  # not for the expired or revoked ones


def test_expired_and_revoked_tokens_can_be_removed_from_the_list(client):
    from survey.auth.operations import remove_api_token
    from survey.operations import OperationError

    user = login(client, "analyst")
    now = utcnow()
    for number, (name, expires, revoked) in enumerate([("live", now + dt.timedelta(days=30), None),
                                                         ("never", None, None),
                                                         ("lapsed", now - dt.timedelta(hours=1), None),
                                                         ("withdrawn", now + dt.timedelta(days=30), now)]):
        db.session.add(ApiToken(user_id=user.id, name=name, token_hash=f"{number:064d}", created_at=now,
                                expires_at=expires, revoked_at=revoked))
    db.session.commit()
    ids = {t.name: t.id for t in db.session.scalars(sa.select(ApiToken))}
    page = client.get("/tokens").get_data(as_text=True)
    assert page.count(">Remove<") == 2  # only the expired and the revoked one
    assert f'action="/tokens/{ids["lapsed"]}/remove"' in page and f'/tokens/{ids["live"]}/remove' not in page

    response = client.post(f"/tokens/{ids['lapsed']}/remove")
    assert response.status_code == 302 and response.location == "/tokens"
    assert "The token “lapsed” is removed from the list." in client.get("/tokens").get_data(as_text=True)
    assert client.post(f"/tokens/{ids['withdrawn']}/remove").status_code == 302
    # A token that still works has to be revoked first.
    client.post(f"/tokens/{ids['live']}/remove")
    assert "still works: revoke it first, then remove it." in client.get("/tokens").get_data(as_text=True)
    db.session.expire_all()
    assert sorted(db.session.scalars(sa.select(ApiToken.name))) == ["live", "never"]
    with pytest.raises(OperationError, match="revoke it first"):
        remove_api_token(db.session.get(ApiToken, ids["never"]))
    assert client.post(f"/tokens/{ids['lapsed']}/remove").status_code == 404  # already gone
    client.post(f"/tokens/{ids['live']}/revoke")
    assert client.post(f"/tokens/{ids['live']}/remove").status_code == 302
    db.session.expire_all()
    assert list(db.session.scalars(sa.select(ApiToken.name))) == ["never"]


def test_nobody_removes_someone_elses_token(client):
    other = make_user("admin")
    api_token(other)
    stored = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == other.id))
    stored.revoked_at = utcnow()
    db.session.commit()
    login(client, "admin")
    assert client.post(f"/tokens/{stored.id}/remove").status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, stored.id) is not None


def test_removing_a_token_needs_the_pages_csrf_token(app, client):
    user = login(client, "analyst")
    db.session.add(ApiToken(user_id=user.id, name="old", token_hash="7" * 64, revoked_at=utcnow()))
    db.session.commit()
    stored = db.session.scalar(sa.select(ApiToken))
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(f"/tokens/{stored.id}/remove").status_code == 400
    page = client.get("/tokens").get_data(as_text=True)
    token = re.search(rf'action="/tokens/{stored.id}/remove".*?name="csrf_token" value="([^"]+)"', page, re.S)
    assert client.post(f"/tokens/{stored.id}/remove", data={"csrf_token": token.group(1)}).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_tokens_create_takes_a_lifetime_and_list_shows_it(runner, monkeypatch):
    make_user("analyst", email="ana@example.com")
    week = runner.invoke(args=["tokens", "create", "ana@example.com", "--name", "week", "--days", "7"])
    assert week.exit_code == 0 and "works until" in week.stderr
    never = runner.invoke(args=["tokens", "create", "ana@example.com", "--name", "forever", "--days", "never"])
    assert never.exit_code == 0 and "never expires" in never.stderr
    tokens = {t.name: t for t in db.session.scalars(sa.select(ApiToken))}
    assert tokens["week"].expires_at - tokens["week"].created_at == dt.timedelta(days=7)
    # written as every page writes a moment ("works until 14 Dec 2026, 09:43 UTC"), not 2026-12-14 09:43
    assert f"works until {tokens['week'].expires_at:%-d %b %Y, %H:%M} UTC)" in week.stderr
    assert tokens["forever"].expires_at is None
    assert runner.invoke(args=["tokens", "create", "ana@example.com", "--name", "x", "--days", "soon"]).exit_code == 2
    zero = runner.invoke(args=["tokens", "create", "ana@example.com", "--name", "x", "--days", "0"])
    assert zero.exit_code == 1 and "lifetime is 1 to 3650 days" in zero.output
    tokens["week"].expires_at = utcnow() - dt.timedelta(minutes=1)
    db.session.commit()
    listing = runner.invoke(args=["tokens", "list", "ana@example.com"]).output.splitlines()
    assert "forever" in listing[0] and "active, never expires" in listing[0]
    assert "week" in listing[1] and f"expired {tokens['week'].expires_at:%-d %b %Y, %H:%M} UTC" in listing[1]
    assert f"created {tokens['week'].created_at:%-d %b %Y, %H:%M} UTC" in listing[1]


# -- the command line -----------------------------------------------------------------------


def test_users_create_reads_the_password_from_stdin(runner):
    result = runner.invoke(args=["users", "create", "Ops@Example.com", "--role", "admin"],
                           input="a very long password\n")
    assert result.exit_code == 0, result.output
    assert "created admin ops@example.com" in result.output
    user = db.session.scalar(sa.select(User).where(User.email == "ops@example.com"))
    assert user.role == "admin" and user.password_hash.startswith("scrypt:")
    assert "a very long password" not in result.output


def test_users_create_asks_twice_on_a_terminal(runner, monkeypatch):
    monkeypatch.setattr("survey.auth.cli._stdin_is_tty", lambda: True)
    result = runner.invoke(args=["users", "create", "ana@example.com", "--role", "analyst"],
                           input="short\nfirst password ok\nsecond different!\n"
                                 "first password ok\nfirst password ok\n")
    assert result.exit_code == 0, result.output
    assert "at least 10 characters" in result.output
    assert "do not match" in result.output.lower()
    user = db.session.scalar(sa.select(User).where(User.email == "ana@example.com"))
    assert authenticate(user.email, "first password ok").id == user.id


@pytest.mark.parametrize("args,stdin,message", [
    (["users", "create", "a@example.com", "--role", "admin"], "short\n", "at least 10 characters"),
    (["users", "create", "not-an-address", "--role", "admin"], "long enough password\n", "not a valid e-mail"),
    (["users", "create", "a@example.com", "--role", "owner"], "long enough password\n", "Invalid value"),
    (["users", "create", "a@example.com", "--role", "admin"], "", "no password on stdin"),
])
def test_users_create_refuses_bad_input_and_stores_nothing(runner, args, stdin, message):
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_users_create_refuses_a_second_account_for_an_address(runner):
    make_user("analyst", email="ana@example.com")
    # Said before any password is asked for.
    result = runner.invoke(args=["users", "create", "ANA@example.com", "--role", "admin"], input="")
    assert result.exit_code == 1 and "already an account" in result.output


def test_users_list_deactivate_activate_unlock_and_password(runner):
    admin = make_user("admin", email="boss@example.com")
    make_user("analyst", email="ana@example.com")
    listed = runner.invoke(args=["users", "list"])
    assert "boss@example.com" in listed.output and "analyst" in listed.output
    # The last active admin stays.
    refused = runner.invoke(args=["users", "deactivate", "boss@example.com"])
    assert refused.exit_code == 1 and "last active admin" in refused.output
    assert runner.invoke(args=["users", "deactivate", "ana@example.com"]).exit_code == 0
    as_json = runner.invoke(args=["users", "list", "--json"])
    assert '"active": false' in as_json.output
    assert runner.invoke(args=["users", "activate", "ana@example.com"]).exit_code == 0
    admin.locked_until = utcnow() + dt.timedelta(hours=1)
    db.session.commit()
    assert runner.invoke(args=["users", "unlock", "boss@example.com"]).exit_code == 0
    db.session.refresh(admin)
    assert not admin.is_locked
    changed = runner.invoke(args=["users", "password", "boss@example.com"], input="another fine password\n")
    assert changed.exit_code == 0, changed.output
    assert authenticate("boss@example.com", "another fine password").id == admin.id
    missing = runner.invoke(args=["users", "deactivate", "ghost@example.com"])
    assert missing.exit_code == 1 and "no account" in missing.output


def test_tokens_create_prints_the_token_once_and_revoke_works(runner, app):
    user = make_user("analyst", email="ana@example.com")
    result = runner.invoke(args=["tokens", "create", "ana@example.com", "--name", "cron"])
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert token.startswith("rpt_") and "\n" not in token
    client = app.test_client()
    assert client.get("/api/v1/surveys", headers=bearer(token)).status_code == 200
    listing = runner.invoke(args=["tokens", "list", "ana@example.com"])
    assert "cron" in listing.output and token not in listing.output and "active" in listing.output
    stored = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    assert runner.invoke(args=["tokens", "revoke", str(stored.id)]).exit_code == 0
    assert client.get("/api/v1/surveys", headers=bearer(token)).status_code == 401
    revoked_at = stored.revoked_at
    again = runner.invoke(args=["tokens", "revoke", str(stored.id)])
    assert again.exit_code == 0 and "was already revoked on" in again.output and "nothing changed" in again.output
    db.session.refresh(stored)
    assert stored.revoked_at == revoked_at
    assert runner.invoke(args=["tokens", "revoke", "999"]).exit_code == 1
    assert runner.invoke(args=["tokens", "create", "ana@example.com", "--name", " "]).exit_code == 1


def test_hash_password_salts_every_hash():
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


def test_the_demo_creates_an_admin_once_and_prints_its_password_once(app):
    from survey.demo import DEMO_ADMIN, seed_demo_admin

    first = seed_demo_admin("http://127.0.0.1:5000")
    password = re.search(r"with password (\S+)$", first[0]).group(1)
    assert "http://127.0.0.1:5000/login" in first[0]
    user = authenticate(DEMO_ADMIN, password)
    assert user.role == "admin" and password not in user.password_hash
    again = seed_demo_admin("http://127.0.0.1:5000")
    assert len(again) == 1 and "exists" in again[0] and "flask user password admin@example.com" in again[0]
    assert password not in again[0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_people_change_their_own_password_and_other_sessions_end(app):
    user = make_user("analyst")
    elsewhere = app.test_client()
    login(elsewhere, user=user)
    client = app.test_client()
    login(client, user=user)
    page = client.get("/account")
    assert page.status_code == 200 and user.email in page.get_data(as_text=True)
    refused = client.post("/account", data={"current_password": "not my password", "new_password": "x",
                                            "confirm_password": "y"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "at least 10 characters" in text and "not the same" in text
    refused = client.post("/account", data={"current_password": "not my password",
                                            "new_password": "a fresh passphrase", "confirm_password": "a fresh passphrase"})
    assert refused.status_code == 422 and "not your current password" in refused.get_data(as_text=True)
    from survey.ratelimit import peek

    # A wrong current password counts towards the limit on guessing, as a failed sign-in does.
    assert peek(f"login-fail-any:{user.email}", app.config["LOGIN_ACCOUNT_WINDOW_SECONDS"]) == 1
    changed = client.post("/account", data={"current_password": PASSWORD, "new_password": "a fresh passphrase",
                                            "confirm_password": "a fresh passphrase"})
    assert changed.status_code == 302
    assert client.get("/account").status_code == 200  # this browser stays signed in
    assert elsewhere.get("/account").status_code == 302  # the other one is signed out
    assert authenticate(user.email, "a fresh passphrase").id == user.id
