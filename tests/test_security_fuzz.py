"""A hostile pass over every public route with malformed requests: none may answer 5xx (issue 18).

Routes come from the URL map (the public ones tests/test_access.py lists), so a new public
route is fuzzed too. Each gets, from hypothesis: form bodies with known and unknown fields and
hostile values (control characters, huge, deeply nested JSON text, non-UTF-8), file parts in
place of text, JSON bodies of any shape, raw bytes under any content type, odd query strings and
Origin headers, and path arguments that are real (so the request reaches the view) or junk.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from survey.db import db
from survey.invites.contacts import ContactRow
from survey.invites.models import Invitation
from survey.invites.operations import import_contacts, send_campaign
from survey.tokens import hash_token
from survey.widget.operations import add_origins
from tests.test_access import PUBLIC_ENDPOINTS
from tests.dashboard_support import api_token, make_user
from tests.widget_support import PARTNER

TOKEN = "fuzz-invitation-token-" + "x" * 21
FIELDS = ["score", "comment", "submission_key", "meta_json", "ref", "shown", "website", "csrf_token", "email",
          "password", "next", "edit_token", "elapsed_ms", "meta", "page_url", "sentiment", "theme"]
# Any text HTTP can carry (a lone surrogate cannot even be sent; JSON bodies escape it, below).
hostile_text = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x9f), max_size=20),
    st.sampled_from(["", "0", "-1", "99999999999999999999", "nan", "1e309", "\x00", "\x1b[31m",
                     "/\t/evil.example", "//evil.example", "/x\r\nSet-Cookie: a=b", "[" * 5000 + "]" * 5000,
                     '{"a":' * 3000 + "1" + "}" * 3000, "A" * 6000, "invitation-1", "k" * 32]),
)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | hostile_text | st.just("\ud800"),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=10)
field_names = st.sampled_from(FIELDS) | st.text(max_size=12)


@st.composite
def requests(draw):
    """Keyword arguments for ``client.open``: a body of some kind, headers, a query string."""
    kind = draw(st.sampled_from(["form", "multipart", "json", "raw", "none"]))
    kwargs: dict = {"headers": {}}
    if kind == "form":
        kwargs["data"] = draw(st.dictionaries(field_names, hostile_text, max_size=8))
    elif kind == "multipart":
        fields = draw(st.dictionaries(field_names, hostile_text, max_size=4))
        files = draw(st.dictionaries(field_names, st.binary(max_size=64), min_size=1, max_size=3))
        import io

        kwargs["data"] = {**fields, **{name: (io.BytesIO(content), "f.txt") for name, content in files.items()}}
        kwargs["content_type"] = "multipart/form-data"
    elif kind == "json":
        body = draw(st.dictionaries(field_names, json_values, max_size=8) | json_values)
        kwargs["data"] = json.dumps(body)
        kwargs["content_type"] = "application/json"
    elif kind == "raw":
        kwargs["data"] = draw(st.binary(max_size=300))
        kwargs["content_type"] = draw(st.sampled_from([
            "application/json", "application/x-www-form-urlencoded", "multipart/form-data",
            "multipart/form-data; boundary=x", "text/plain", "application/json; charset=latin-1", "", "*/*"]))
    kwargs["query_string"] = draw(st.dictionaries(field_names, hostile_text, max_size=3))
    origin = draw(st.sampled_from([PARTNER, None, "null", "http://evil.example", "http://localhost"]))
    if origin is not None:
        kwargs["headers"]["Origin"] = origin
    if draw(st.booleans()):
        kwargs["headers"]["Accept"] = draw(st.sampled_from(["application/json", "text/html", "*/*", "garbage"]))
    return kwargs


@pytest.fixture
def site(app_config):
    # No rate limits or bot timer: every request should reach the parsers, not stop at a 429.
    app_config.update(WIDGET_RATE_LIMIT=None, WIDGET_CONFIG_RATE_LIMIT=None, ANSWER_RATE_LIMIT=None,
                      ANSWER_SURVEY_RATE_LIMIT=None, LOGIN_ATTEMPTS_PER_IP=10**6, LOGIN_MAX_FAILURES=10**6,
                      LOGIN_ACCOUNT_MAX_FAILURES=10**6)


# /healthz reads no input, and its 503 is its message (the test database is not at the migrations' head).
NOT_FUZZED = {"health.healthz"}


def public_routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in PUBLIC_ENDPOINTS and rule.endpoint not in NOT_FUZZED:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


# No shrinking: a failure already names every request that failed, and shrinking one costs minutes.
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])
@given(data=st.data())
def test_no_public_route_answers_5xx_to_malformed_requests(site, app, make_survey, data):
    if not db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)):
        survey = make_survey("nps")
        add_origins(survey, [PARTNER])
        import_contacts([ContactRow(line=2, email="fuzz@example.com")])
        send_campaign(survey, base_url="https://surveys.example.com")
        db.session.execute(sa.update(Invitation).values(token_hash=hash_token(TOKEN)))
        db.session.commit()
        make_user("analyst", email="ana@example.com")
    key = db.session.scalar(sa.text("SELECT public_key FROM surveys LIMIT 1"))
    real = {"public_key": key, "token": TOKEN, "score": 5, "filename": "rapport.css", "response_id": "abc",
            "damaged": "7."}  # a score link a mail program cut or stuck a full stop to
    client = app.test_client()
    failures = []
    for rule, method in public_routes(app):
        values = {name: (real[name] if data.draw(st.booleans(), label="real arg") or name == "filename"
                         else data.draw(st.text(alphabet="abcXYZ019-_~.%", min_size=1, max_size=30), label=name))
                  for name in rule.arguments}
        if "score" in values and not isinstance(values["score"], int):
            values["score"] = data.draw(st.integers(0, 10**12), label="score")
        try:
            url = rule.build(values, append_unknown=False)[1]
        except Exception:  # a junk value the converter will not build: try the real one
            url = rule.build({name: real[name] for name in rule.arguments}, append_unknown=False)[1]
        kwargs = data.draw(requests(), label=f"{method} {rule.rule}")
        reply = client.open(url, method=method, **kwargs)
        if reply.status_code >= 500:
            failures.append((method, url, reply.status_code, reply.get_data(as_text=True)[:300]))
        reply.close()
    assert not failures, failures


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.generate])
@given(path=st.sampled_from(["", "/{key}", "/{key}/metrics", "/{key}/responses"]),
       query=st.dictionaries(st.sampled_from(["page", "per_page", "since", "until", "channel", "score",
                                               "sentiment", "theme", "q", "fields"]) | st.text(max_size=6),
                             hostile_text, max_size=4))
def test_the_read_api_never_answers_5xx_to_malformed_queries(site, app, make_survey, path, query):
    if not db.session.scalar(sa.select(sa.func.count()).select_from(sa.text("surveys"))):
        make_survey("csat")
        make_user("admin", email="fuzz-admin@example.com")
    key = db.session.scalar(sa.text("SELECT public_key FROM surveys LIMIT 1"))
    from survey.models import User

    user = db.session.scalar(sa.select(User).where(User.email == "fuzz-admin@example.com"))
    token = api_token(user)
    reply = app.test_client().get("/api/v1/surveys" + path.format(key=key), query_string=query,
                                  headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code < 500, reply.get_data(as_text=True)[:300]
