"""Every route refuses the anonymous and the wrong role, derived from the app's url_map.

A new route is protected unless its endpoint is in PUBLIC_ENDPOINTS below, so
adding an unprotected page or API call makes this test fail until it is either
protected (``login_required`` / ``role_required``) or listed here with a reason.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter, PathConverter

from survey.db import db
from tests.dashboard_support import api_token, bearer, login, make_user

# Public by design; each with why.
PUBLIC_ENDPOINTS = {
    "static": "stylesheets, scripts and images",
    "favicon": "the site's icon, which browsers fetch on every site",
    "health.healthz": "load balancers and monitors probe it; the body holds no data",
    "auth.login": "the sign-in page",
    "auth.logout": "signing out needs no account (and is CSRF-protected)",
    "api.openapi": "the API's own description; it holds no data",
    "public.answer": "customers answer without an account",
    "public.submit": "customers answer without an account",
    "public.thanks": "customers answer without an account",
    "widget.script": "partner sites load the widget script",
    "widget.embed": "partner sites frame the widget",
    "widget_api.widget_config": "the widget reads its survey (origin-checked)",
    "widget_api.create_response": "the widget posts answers (origin-checked, rate-limited)",
    "widget_api.update_response": "the widget adds a comment with its edit token",
    "invites.answer": "e-mailed invitation links (the token is the credential)",
    "invites.submit": "e-mailed invitation links",
    "invites.score_link": "one-click scores in e-mails",
    "invites.click": "one-click scores in e-mails",
    "invites.damaged_score_link": "one-click score links a mail program damaged (the token is the credential)",
    "invites.thanks": "e-mailed invitation links",
    "invites.unsubscribe": "unsubscribe links in e-mails",
    "invites.static": "the invitation pages' stylesheet",
    "alerts.unsubscribe": "unsubscribe links in alert and digest e-mails (the signed token is the credential)",
}

# Pages only admins may use; the test checks they really are marked admin-only.
ADMIN_ONLY = {"admin.new_survey", "admin.edit_survey", "admin.users", "admin.deactivate_user",
              "admin.activate_user", "admin.change_role", "admin.contacts", "admin.clear_contact_bounce",
              "admin.new_contact", "admin.contact_detail", "admin.unsubscribe_contact_page", "admin.forget_contact_page",
              "admin.end_user_sessions", "campaigns.new_campaign", "campaigns.cancel_campaign_page",
              "webhooks.new_endpoint", "webhooks.test_endpoint", "webhooks.disable_endpoint",
              "webhooks.enable_endpoint", "webhooks.rotate_endpoint_secret", "webhooks.delete_endpoint_page",
              "webhooks.resend_delivery"}
# Pages every signed-in role works, by decision; the test checks they are not admin-only.
# The follow-up inbox: analysts and admins both follow up with unhappy customers (it changes no
# survey, contact or account, only the answer's follow-up and notes).
EVERY_ROLE = {"followup.inbox_page", "followup.answer_page"}
# Campaigns: everyone reads them; only admins create, send and cancel (ADMIN_ONLY above).
EVERY_ROLE |= {"campaigns.campaign_list", "campaigns.survey_campaigns", "campaigns.campaign_page"}
# Each person's own e-mail settings (low-score alerts, weekly digest): every role has them.
EVERY_ROLE |= {"alerts.mail_settings"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def sample_url(rule) -> str:
    """The rule's URL with a plausible value for each argument (protection comes before any lookup)."""
    values = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = 1
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, PathConverter):
            values[name] = "some/path"
        else:
            values[name] = "someKey"
    return rule.build(values, append_unknown=False)[1]


def protected_routes(app):
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in sorted(set(rule.methods) & set(METHODS)):
            routes.append((rule.endpoint, method, sample_url(rule)))
    return routes


def call(client, method, url, **kwargs):
    return client.open(url, method=method, **kwargs)


def test_every_route_is_public_by_decision_or_protected(app):
    unmarked = sorted({endpoint for endpoint, _, _ in protected_routes(app)
                       if getattr(app.view_functions[endpoint], "access", None) not in ("login", "admin")})
    assert not unmarked, (f"{unmarked} neither use login_required/role_required nor are listed in "
                          "PUBLIC_ENDPOINTS (tests/test_access.py) with a reason")
    for endpoint in ADMIN_ONLY:
        assert app.view_functions[endpoint].access == "admin", endpoint
    for endpoint in EVERY_ROLE:
        assert app.view_functions[endpoint].access == "login", endpoint


def test_anonymous_visitors_are_sent_to_sign_in_or_get_401(app, make_survey):
    make_survey()
    client = app.test_client()
    routes = protected_routes(app)
    assert len(routes) >= 20
    for endpoint, method, url in routes:
        response = call(client, method, url)
        if url.startswith("/api/"):
            assert response.status_code == 401, (method, url, response.status_code)
            assert response.is_json and response.get_json()["error"]["status"] == 401
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        else:
            assert response.status_code == 302, (method, url, response.status_code)
            assert response.location.startswith("/login"), (method, url, response.location)
            if method == "GET":
                assert response.location.startswith("/login?next=/"), response.location


def test_analysts_get_403_on_admin_pages_and_reach_the_rest(app):
    client = app.test_client()
    login(client, "analyst")
    for endpoint, method, url in protected_routes(app):
        if url.startswith("/api/"):
            continue
        response = call(client, method, url)
        if app.view_functions[endpoint].access == "admin":
            assert response.status_code == 403, (method, url, response.status_code)
            assert "needs the admin role" in response.get_data(as_text=True)
        else:
            assert response.status_code not in (401, 403), (method, url, response.status_code)
            assert not (response.status_code == 302 and response.location.startswith("/login")), (method, url)


def test_admins_reach_admin_pages(app, make_survey):
    survey = make_survey()
    client = app.test_client()
    login(client, "admin")
    for url in ("/surveys/new", f"/surveys/{survey.public_key}/edit", "/users", "/contacts", "/campaigns/new"):
        assert client.get(url).status_code == 200, url


def test_api_calls_with_a_token_are_not_refused(app, make_survey):
    survey = make_survey()
    client = app.test_client()
    headers = bearer(api_token(make_user("analyst")))
    for endpoint, method, url in protected_routes(app):
        if not url.startswith("/api/"):
            continue
        response = call(client, method, url.replace("someKey", survey.public_key), headers=headers)
        assert response.status_code not in (401, 403), (method, url, response.status_code)


# Signed-in pages that the dashboard's own pages frame (and nobody else's), each with why.
FRAMED_BY_OWN_PAGES = {
    "admin.widget_preview": "the survey's page shows the widget live on this sample page",
}


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_signed_in_pages_carry_strict_security_headers(app, make_survey, role):
    survey = make_survey()
    client = app.test_client()
    login(client, role)
    pages = [(endpoint, url.replace("someKey", survey.public_key)) for endpoint, method, url in protected_routes(app)
             if method == "GET" and not url.startswith("/api/")
             and (role == "admin" or app.view_functions[endpoint].access != "admin")]
    checked = 0
    for endpoint, url in pages:
        response = client.get(url)
        assert response.headers["Cache-Control"] == "no-store", url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        assert response.headers["Referrer-Policy"], url
        if response.mimetype == "text/html" and response.status_code == 200:
            checked += 1
            csp = response.headers["Content-Security-Policy"]
            script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
            assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, url
            assert "object-src 'none'" in csp, url
            if endpoint in FRAMED_BY_OWN_PAGES:
                assert csp.endswith("frame-ancestors 'self'") and response.headers["X-Frame-Options"] == "SAMEORIGIN"
            else:
                assert "frame-ancestors 'none'" in csp and response.headers["X-Frame-Options"] == "DENY", url
            assert "<script>" not in response.get_data(as_text=True), url
    assert checked >= 4


# State-changing routes that take no CSRF token, by decision; each with why. Every other POST,
# PUT, PATCH or DELETE is a dashboard or answer form sent with the visitor's session cookie.
NO_CSRF_BY_DESIGN = {
    "widget_api.create_response": "partner pages post JSON cross-origin with no cookie; the origin check does "
                                  "CSRF's job (README, the widget)",
    "widget_api.update_response": "the same, authorised by the edit token",
    "invites.unsubscribe": "RFC 8058 one-click: the mail provider's POST carries no form token",
    "alerts.unsubscribe": "RFC 8058 one-click: the mail provider's POST carries no form token",
}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def write_routes(app):
    """``(endpoint, method, url)`` of every state-changing route, from the url_map."""
    return [(rule.endpoint, method, sample_url(rule))
            for rule in app.url_map.iter_rules() for method in sorted(set(rule.methods) & set(WRITE_METHODS))]


def test_every_write_route_needs_the_csrf_token_unless_exempt_by_decision(app, make_survey):
    """Signed in as an admin (who may do everything), a POST without the form's token is refused
    before the view runs: a page on another site cannot make a signed-in browser change anything."""
    survey = make_survey()
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    login(client, "admin")
    routes = [(e, m, u.replace("someKey", survey.public_key)) for e, m, u in write_routes(app)]
    assert len(routes) >= 40
    for endpoint, method, url in routes:
        if endpoint in NO_CSRF_BY_DESIGN:
            continue
        response = call(client, method, url, data={"confirm": "y", "comment": "x", "score": "5"})
        assert response.status_code == 400, (method, url, response.status_code)
        assert "This form has expired or was sent from another site" in response.get_data(as_text=True), url
    assert set(NO_CSRF_BY_DESIGN) <= {endpoint for endpoint, _, _ in routes}, "a listed exemption no longer exists"


def test_exempt_routes_really_take_no_csrf_token(app):
    """The list above says which routes skip CSRF; a route exempted without being listed fails here."""
    from survey.security import csrf

    exempt = {view for view in csrf._exempt_views}
    exempt_endpoints = {endpoint for endpoint, view in app.view_functions.items()
                        if f"{view.__module__}.{view.__name__}" in exempt}
    exempt_blueprints = {blueprint.name for blueprint in csrf._exempt_blueprints}
    exempt_endpoints |= {endpoint for endpoint in app.view_functions if endpoint.split(".")[0] in exempt_blueprints}
    written = {endpoint for endpoint, _, _ in write_routes(app)}
    assert exempt_endpoints & written == set(NO_CSRF_BY_DESIGN)


def test_a_deactivated_users_session_is_refused_everywhere(app, make_survey):
    """Deactivating an account ends its sessions at once, on every page and form, not at sign-out."""
    survey = make_survey()
    client = app.test_client()
    user = login(client, "admin")
    user.is_active = False
    db.session.commit()
    for endpoint, method, url in protected_routes(app):
        if url.startswith("/api/"):
            continue
        response = call(client, method, url.replace("someKey", survey.public_key))
        assert response.status_code == 302 and response.location.startswith("/login"), (method, url,
                                                                                          response.status_code)
