"""The widget's JSON API: answers and their edits, CORS, every error, the rate limit and the bot traps."""

import datetime as dt
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.models import Response
from survey.ratelimit import RateLimitCounter
from survey.widget.models import BotCatch
from survey.widget.operations import add_origins, bot_catch_totals
from tests.widget_support import HUMAN_MS, PARTNER, answers, answers_url, error_of, patch_answer, post_answer

CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/124.0.0.0 Safari/537.36")


@pytest.fixture
def survey(make_survey):
    survey = make_survey("nps", subject="Northwind", followup_negative="What went wrong?")
    add_origins(survey, [PARTNER, "http://127.0.0.1:8080"])
    return survey


def config_url(survey) -> str:
    return f"/api/v1/surveys/{survey.public_key}/widget"


# --- the happy path --------------------------------------------------------------------

def test_config_gives_the_widget_everything_it_shows(client, survey):
    got = client.get(config_url(survey), headers={"Origin": PARTNER})
    assert got.status_code == 200
    assert got.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "Origin" in got.headers["Vary"]
    assert got.headers["Cache-Control"] == "max-age=60"
    body = got.get_json()
    assert body["question"] == "How likely are you to recommend Northwind to a friend or colleague?"
    assert body["scale"] == {"low": 0, "high": 10, "low_label": "Not at all likely", "high_label": "Extremely likely",
                             "negative_max": 6, "positive_min": 9}
    assert body["followup"]["negative"] == "What went wrong?"
    assert body["thank_you"] and body["cap_days"] == 90 and body["comment_max_length"] == 5000


def test_config_without_followup_and_with_own_cap(client, make_survey):
    survey = make_survey("csat", followup_enabled=False, widget_cap_days=7)
    add_origins(survey, [PARTNER])
    body = client.get(config_url(survey), headers={"Origin": PARTNER}).get_json()
    assert body["followup"] is None and body["cap_days"] == 7 and body["scale"]["low"] == 1


def test_score_then_comment_make_one_answer_with_where_and_what_browser(client, survey):
    created = post_answer(client, survey, {
        "score": 3, "elapsed_ms": HUMAN_MS, "meta": {"customer-id": "C-42", "plan": "pro", "seats": 12},
        "page_url": "https://shop.example.com/account/billing?session=secret#top",
    }, **{"User-Agent": CHROME_UA})
    assert created.status_code == 201, created.get_json()
    assert created.headers["Access-Control-Allow-Origin"] == PARTNER
    body = created.get_json()
    assert set(body) == {"id", "edit_token", "edit_until"} and len(body["edit_token"]) >= 40
    assert created.headers["Location"] == f"{answers_url(survey)}/{body['id']}"

    updated = patch_answer(client, survey, body["id"], {"edit_token": body["edit_token"],
                                                        "comment": "  The engineer came late  "})
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json() == {"id": body["id"], "score": 3, "comment": "The engineer came late"}

    [row] = answers()
    assert (row.score, row.comment, row.channel) == (3, "The engineer came late", "widget")
    assert row.meta == {"customer-id": "C-42", "plan": "pro", "seats": "12"}
    assert row.page_url == "/account/billing"  # no query string unless the owner opts in
    assert row.referrer_origin == PARTNER
    assert row.ua_family == "Chrome"
    assert row.edit_token_hash and body["edit_token"] not in row.edit_token_hash  # only the hash is kept


def test_query_string_kept_when_the_owner_opts_in(client, make_survey):
    survey = make_survey("ces", keep_query_string=True)
    add_origins(survey, [PARTNER])
    assert post_answer(client, survey, {"score": 6, "elapsed_ms": HUMAN_MS,
                                        "page_url": "https://shop.example.com/help?topic=refunds"}).status_code == 201
    assert answers()[0].page_url == "/help?topic=refunds"


def test_comment_only_answer_and_score_change_by_patch(client, survey):
    body = post_answer(client, survey, {"comment": "No score, just words", "elapsed_ms": HUMAN_MS}).get_json()
    assert patch_answer(client, survey, body["id"], {"edit_token": body["edit_token"], "score": 8}).status_code == 200
    [row] = answers()
    assert (row.score, row.comment) == (8, "No score, just words")


def test_retried_submission_revises_the_first_answer_with_a_fresh_token(client, survey):
    first = post_answer(client, survey, {"score": 5, "elapsed_ms": HUMAN_MS, "submission_key": "k" * 32})
    again = post_answer(client, survey, {"score": 6, "elapsed_ms": HUMAN_MS, "submission_key": "k" * 32})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"]
    [row] = answers()
    assert row.score == 6
    new_token, old_token = again.get_json()["edit_token"], first.get_json()["edit_token"]
    assert patch_answer(client, survey, row.public_id, {"edit_token": old_token, "comment": "x"}).status_code == 403
    assert patch_answer(client, survey, row.public_id, {"edit_token": new_token, "comment": "ok"}).status_code == 200


def test_the_embed_page_posts_from_this_sites_own_origin(client, survey):
    """/embed/KEY is served from this site, so its answers carry this site's origin."""
    got = post_answer(client, survey, {"score": 10, "elapsed_ms": HUMAN_MS,
                                       "page_url": "https://shop.example.com/"}, origin="http://localhost")
    assert got.status_code == 201
    [row] = answers()
    assert row.referrer_origin == PARTNER  # the framing page's origin, as it is on the survey's list


@pytest.mark.parametrize("base_url, origin", [("http://Bücher.example/feedback", "http://xn--bcher-kva.example"),
                                              ("http://shop.example:80/", "http://shop.example")])
def test_this_sites_own_origin_is_compared_as_the_browser_sends_it(app, client, survey, base_url, origin):
    """Browsers send an internationalised host in punycode and leave out the default port."""
    app.config["PUBLIC_BASE_URL"] = base_url
    got = client.post(answers_url(survey), json={"score": 7, "elapsed_ms": HUMAN_MS},
                      headers={"Origin": origin, "Host": urlsplit(origin).netloc})
    assert got.status_code == 201, got.get_json()
    assert got.headers["Access-Control-Allow-Origin"] == origin


@pytest.mark.parametrize("base_url", ["https://feedback.example.com", None])
def test_the_host_header_does_not_make_an_origin_this_sites_own(app, client, survey, base_url):
    """``Host: evil.example`` with ``Origin: http://evil.example`` used to pass as this site's own origin."""
    app.config["PUBLIC_BASE_URL"] = base_url
    got = client.post(answers_url(survey), json={"score": 7, "elapsed_ms": HUMAN_MS},
                      headers={"Origin": "http://evil.example", "Host": "evil.example"})
    assert got.status_code == 403 and "Access-Control-Allow-Origin" not in got.headers
    assert answers() == []
    if base_url:
        own = client.post(answers_url(survey), json={"score": 7, "elapsed_ms": HUMAN_MS},
                          headers={"Origin": base_url, "Host": "evil.example"})
        assert own.status_code == 201


# --- CORS ------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [("POST", ""), ("PATCH", "/1"), ("GET", None)])
def test_preflight_from_a_listed_origin(client, survey, method, path):
    url = config_url(survey) if path is None else answers_url(survey) + path
    got = client.options(url, headers={"Origin": PARTNER, "Access-Control-Request-Method": method,
                                       "Access-Control-Request-Headers": "content-type"})
    assert got.status_code == 204
    assert got.headers["Access-Control-Allow-Origin"] == PARTNER
    assert got.headers["Access-Control-Allow-Methods"] == method
    assert got.headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert int(got.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in got.headers  # no cookies, ever


def test_other_origins_are_refused_and_store_nothing(client, survey):
    # Another scheme, port or subdomain is another origin; "null" is what sandboxed frames send.
    for origin in ("https://evil.example.com", "http://shop.example.com", "https://shop.example.com:8443",
                   "https://sub.shop.example.com", "null"):
        preflight = client.options(answers_url(survey), headers={"Origin": origin,
                                                                 "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 403 and "Access-Control-Allow-Origin" not in preflight.headers
        posted = post_answer(client, survey, origin=origin)
        assert posted.status_code == 403 and "Access-Control-Allow-Origin" not in posted.headers
        assert "may not use this survey" in error_of(posted)["message"]
        assert client.get(config_url(survey), headers={"Origin": origin}).status_code == 403
    assert answers() == [] and db.session.scalar(sa.select(sa.func.count()).select_from(BotCatch)) == 0


def test_a_survey_with_no_origins_accepts_none(client, make_survey):
    survey = make_survey("csat")
    assert post_answer(client, survey, origin=PARTNER).status_code == 403
    assert answers() == []


def test_no_origin_header_refused_unless_configured(app, client, survey):
    refused = post_answer(client, survey, origin=None)
    assert refused.status_code == 403 and "no Origin header" in error_of(refused)["message"]
    assert client.get(config_url(survey)).status_code == 200  # reading the question is public anyway
    app.config["WIDGET_ACCEPT_NO_ORIGIN"] = True
    accepted = post_answer(client, survey, origin=None)
    assert accepted.status_code == 201 and "Access-Control-Allow-Origin" not in accepted.headers
    assert answers()[0].referrer_origin is None


def test_preflight_without_origin_and_other_features_paths_are_left_alone(client, survey):
    assert client.options(answers_url(survey), headers={"Access-Control-Request-Method": "POST"}).status_code == 400
    # A preflight for the read API's GET on the same path is not the widget's to answer.
    other = client.options(answers_url(survey), headers={"Origin": PARTNER, "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_errors_from_allowed_origins_are_readable_by_the_widget(client, survey):
    got = post_answer(client, survey, {"score": 99, "elapsed_ms": HUMAN_MS})
    assert got.status_code == 422 and got.headers["Access-Control-Allow-Origin"] == PARTNER


def test_csrf_does_not_apply_to_the_api(app, client, survey):
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(f"/s/{survey.public_key}", data={"score": "9"}).status_code == 400  # forms are protected
    assert post_answer(client, survey).status_code == 201


# --- errors ----------------------------------------------------------------------------

def test_unknown_and_closed_surveys(client, survey, make_survey):
    missing = client.post("/api/v1/surveys/no-such-key/responses", json={"score": 1, "elapsed_ms": HUMAN_MS},
                          headers={"Origin": PARTNER})
    assert missing.status_code == 404 and error_of(missing)
    assert client.get("/api/v1/surveys/no-such-key/widget", headers={"Origin": PARTNER}).status_code == 404
    survey.is_open = False
    db.session.commit()
    closed = post_answer(client, survey)
    assert closed.status_code == 410 and "closed" in error_of(closed)["message"]
    assert client.get(config_url(survey), headers={"Origin": PARTNER}).status_code == 410
    assert answers() == []


BAD_ANSWERS = [
    ({"elapsed_ms": HUMAN_MS}, 422, "score"),
    ({"score": 11, "elapsed_ms": HUMAN_MS}, 422, "score"),
    ({"score": -1, "elapsed_ms": HUMAN_MS}, 422, "score"),
    ({"score": "9", "elapsed_ms": HUMAN_MS}, 400, "score"),
    ({"score": 9.0, "elapsed_ms": HUMAN_MS}, 400, "score"),
    ({"score": True, "elapsed_ms": HUMAN_MS}, 400, "score"),
    ({"score": 9}, 400, "elapsed_ms"),
    ({"score": 9, "elapsed_ms": -5}, 400, "elapsed_ms"),
    ({"score": 9, "elapsed_ms": "soon"}, 400, "elapsed_ms"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "comment": 5}, 400, "comment"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "comment": "x" * 5001}, 422, "comment"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "comment": "bad\x00byte"}, 400, "comment"),
    ({"comment": "   ", "elapsed_ms": HUMAN_MS}, 422, "score"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "meta": ["plan"]}, 400, "meta"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "meta": {"plan": {"nested": 1}}}, 422, "meta"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "meta": {"bad name!": "x"}}, 422, "meta"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "meta": {f"f{i}": "x" for i in range(21)}}, 422, "meta"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "meta": {"plan": "x" * 201}}, 422, "meta"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "page_url": 7}, 400, "page_url"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "page_url": "https://x/" + "a" * 5000}, 400, "page_url"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "submission_key": "short"}, 400, "submission_key"),
    ({"score": 9, "elapsed_ms": HUMAN_MS, "scroe": 9}, 400, "scroe"),
    ([9], 400, None),
]


def test_bad_answers_get_a_json_error_naming_the_field(client, survey):
    for body, status, field in BAD_ANSWERS:  # one app for all cases: none of them stores anything
        got = post_answer(client, survey, body)
        assert (got.status_code, error_of(got).get("field")) == (status, field), (body, got.get_json())
    assert answers() == []


NOT_JSON = [
    (b"", "empty"), (b"{not json", "not valid JSON"), (b"\xff\xfe{}", "JSON"), (b"[" * 5000, "nested too deeply"),
    (b'{"score": 9, "elapsed_ms": 4000, "comment": "\\ud800"}', "Unicode"),
]


def test_bodies_that_are_not_json_objects(client, survey):
    for data, message in NOT_JSON:
        got = client.post(answers_url(survey), data=data, content_type="application/json",
                          headers={"Origin": PARTNER})
        assert got.status_code == 400 and message in error_of(got)["message"], (data[:20], got.get_json())


def test_body_must_be_sent_as_json(client, survey):
    got = client.post(answers_url(survey), data='{"score": 9, "elapsed_ms": 4000}', content_type="text/plain",
                      headers={"Origin": PARTNER})
    assert got.status_code == 415 and "application/json" in error_of(got)["message"]
    assert answers() == []


def test_oversized_bodies_get_413_as_json_before_being_read(app, client, survey):
    limit = app.config["WIDGET_MAX_BODY_BYTES"]
    body = '{"score": 9, "elapsed_ms": 4000, "comment": "' + "x" * limit + '"}'
    got = client.post(answers_url(survey), data=body, content_type="application/json", headers={"Origin": PARTNER})
    assert got.status_code == 413 and error_of(got)
    assert got.headers["Access-Control-Allow-Origin"] == PARTNER
    # Over the site-wide MAX_CONTENT_LENGTH too, and on PATCH.
    huge = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    got = client.patch(f"{answers_url(survey)}/1", data=huge, content_type="application/json",
                       headers={"Origin": PARTNER})
    assert got.status_code == 413 and error_of(got)
    assert answers() == []


def test_patch_errors(app, client, survey, make_survey):
    body = post_answer(client, survey, {"score": 2, "elapsed_ms": HUMAN_MS}).get_json()
    url_id, token = body["id"], body["edit_token"]
    wrong = patch_answer(client, survey, url_id, {"edit_token": "x" * 43, "comment": "hijack"})
    assert wrong.status_code == 403 and error_of(wrong)["field"] == "edit_token"
    assert patch_answer(client, survey, url_id, {"comment": "no token"}).status_code == 400
    assert patch_answer(client, survey, url_id[::-1], {"edit_token": token, "comment": "x"}).status_code == 404
    assert patch_answer(client, survey, "x" * 500, {"edit_token": token, "comment": "x"}).status_code == 404
    assert patch_answer(client, survey, 2**63, {"edit_token": token, "comment": "x"}).status_code == 404
    other = make_survey("nps")
    add_origins(other, [PARTNER])
    assert patch_answer(client, other, url_id, {"edit_token": token, "comment": "x"}).status_code == 404
    assert patch_answer(client, survey, url_id, {"edit_token": token, "comment": ""}).status_code == 422
    assert patch_answer(client, survey, url_id, {"edit_token": token, "score": 12}).status_code == 422
    assert patch_answer(client, survey, url_id, {"edit_token": token, "meta": {}}).status_code == 400
    assert patch_answer(client, survey, url_id, {"edit_token": token, "comment": "x"},
                        origin="https://evil.example.com").status_code == 403
    assert answers()[0].comment is None


def test_patch_only_within_the_edit_window_and_only_widget_answers(client, survey, make_response):
    body = post_answer(client, survey, {"score": 2, "elapsed_ms": HUMAN_MS}).get_json()
    row = db.session.scalar(sa.select(Response).where(Response.public_id == body["id"]))
    row.created_at -= dt.timedelta(hours=25)
    db.session.commit()
    late = patch_answer(client, survey, body["id"], {"edit_token": body["edit_token"], "comment": "late"})
    assert late.status_code == 409 and "no longer be changed" in error_of(late)["message"]
    # A retry of that old submission cannot revise it either.
    from survey.tokens import hash_token

    link_answer = make_response(survey, score=9, channel="link", edit_token_hash=hash_token("t" * 43),
                                submission_key="L" * 32, public_id="L" * 22)
    assert patch_answer(client, survey, link_answer.public_id, {"edit_token": "t" * 43, "comment": "x"}).status_code == 403
    taken = post_answer(client, survey, {"score": 1, "elapsed_ms": HUMAN_MS, "submission_key": "L" * 32})
    assert taken.status_code == 409 and error_of(taken)["field"] == "submission_key"
    assert [a.comment for a in answers()] == [None, None]


def test_unknown_methods_get_json_405(client, survey):
    got = client.put(answers_url(survey) + "/1", json={}, headers={"Origin": PARTNER})
    assert got.status_code == 405 and error_of(got)


# --- rate limit ------------------------------------------------------------------------

@pytest.fixture
def rate_clock(monkeypatch):
    """The rate limiter's clock, held half a minute into a minute (and an hour): its fixed
    windows must not roll over in the middle of a test and forget the counts so far."""
    from types import SimpleNamespace

    monkeypatch.setattr("survey.ratelimit.time", SimpleNamespace(time=lambda: 1_800_000_030.0))


def test_too_many_answers_from_one_client_get_429_with_retry_after(app, client, survey, make_survey, rate_clock):
    app.config["WIDGET_RATE_LIMIT"] = "3/minute"
    for _ in range(3):
        assert post_answer(client, survey).status_code == 201
    refused = post_answer(client, survey)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["Access-Control-Allow-Origin"] == PARTNER
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]
    assert "try again in" in error_of(refused)["message"]
    assert len(answers()) == 3
    # Per client: another address is not affected; per survey: another survey is not either.
    other_client = client.post(answers_url(survey), json={"score": 1, "elapsed_ms": HUMAN_MS},
                               headers={"Origin": PARTNER}, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert other_client.status_code == 201
    other = make_survey("csat")
    add_origins(other, [PARTNER])
    assert post_answer(client, other).status_code == 201


def test_every_write_counts_invalid_refused_and_bots_too(app, client, survey, rate_clock):
    """The count commits with the answer; requests that store nothing still count."""
    app.config["WIDGET_RATE_LIMIT"] = "4/minute"
    assert client.post(answers_url(survey), json={"score": 99, "elapsed_ms": HUMAN_MS},
                       headers={"Origin": PARTNER}).status_code == 422
    assert client.post(answers_url(survey), data=b"{not json", content_type="application/json",
                       headers={"Origin": PARTNER}).status_code == 400
    assert client.post(answers_url(survey), json={"score": 9, "elapsed_ms": 10},
                       headers={"Origin": PARTNER}).status_code == 201  # too fast: a bot, only counted
    assert post_answer(client, survey).status_code == 201
    assert post_answer(client, survey).status_code == 429
    assert len(answers()) == 1
    counts = db.session.scalars(sa.select(RateLimitCounter.count).where(
        RateLimitCounter.key.like(f"widget:{survey.id}:%"))).all()
    assert counts == [5]  # all five were counted and kept, the refused one too


def test_widget_loads_have_their_own_limit(app, client, survey, rate_clock):
    app.config["WIDGET_CONFIG_RATE_LIMIT"] = "2/hour"
    assert [client.get(config_url(survey), headers={"Origin": PARTNER}).status_code for _ in range(3)] == [200, 200, 429]
    assert post_answer(client, survey).status_code == 201  # answering is counted separately


def test_no_limit_when_configured_off(app, client, survey):
    app.config["WIDGET_RATE_LIMIT"] = None
    assert all(post_answer(client, survey).status_code == 201 for _ in range(31))  # one over the default


def test_mistyped_limit_stops_the_app_at_start(app_config, tmp_path, monkeypatch):
    from survey import create_app
    from survey.ratelimit import RateError

    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "other"))
    with pytest.raises(RateError, match="30 a minute"):
        create_app({**app_config, "WIDGET_RATE_LIMIT": "30 a minute"})


# --- bot traps -------------------------------------------------------------------------

def test_honeypot_looks_like_success_but_only_counts(client, survey):
    got = post_answer(client, survey, {"score": 9, "elapsed_ms": HUMAN_MS, "website": "http://spam.example"})
    assert got.status_code == 201
    assert set(got.get_json()) == {"id", "edit_token", "edit_until"}
    assert answers() == []
    assert bot_catch_totals(survey) == {"honeypot": 1, "too_fast": 0}


def test_too_fast_answers_are_counted_not_stored(app, client, survey):
    fast = app.config["WIDGET_MIN_ANSWER_MS"] - 1
    for _ in range(2):
        assert post_answer(client, survey, {"score": 9, "elapsed_ms": fast}).status_code == 201
    assert post_answer(client, survey, {"score": 9, "elapsed_ms": app.config["WIDGET_MIN_ANSWER_MS"]}).status_code == 201
    assert len(answers()) == 1
    assert bot_catch_totals(survey) == {"honeypot": 0, "too_fast": 2}
    [catch] = db.session.scalars(sa.select(BotCatch)).all()
    assert catch.count == 2 and catch.reason == "too_fast"


def test_honeypot_on_the_comment_step(client, survey):
    body = post_answer(client, survey, {"score": 4, "elapsed_ms": HUMAN_MS}).get_json()
    got = patch_answer(client, survey, body["id"], {"edit_token": body["edit_token"], "comment": "buy pills",
                                                    "website": "x"})
    assert got.status_code == 200
    assert answers()[0].comment is None and bot_catch_totals(survey)["honeypot"] == 1


def test_bot_counts_are_per_day(client, survey):
    from survey.widget.operations import count_bot

    today = dt.date(2026, 5, 1)
    count_bot(survey, "honeypot", today)
    count_bot(survey, "honeypot", today + dt.timedelta(days=1))
    assert bot_catch_totals(survey) == {"honeypot": 2, "too_fast": 0}
    assert bot_catch_totals(survey, since=today + dt.timedelta(days=1)) == {"honeypot": 1, "too_fast": 0}


def test_errors_name_fields_as_the_client_sends_them_and_an_overlong_token_is_a_wrong_one(client, survey):
    """Messages began "Elapsed_ms must …" and "Edit_token is required …": no field of that name exists.
    A token longer than any issued was called missing (400) where a wrong one is a mismatch (403)."""
    slow = post_answer(client, survey, {"score": 9, "elapsed_ms": -1})
    assert error_of(slow)["message"].startswith("elapsed_ms must be a whole number")
    first = post_answer(client, survey).get_json()
    missing = patch_answer(client, survey, first["id"], {"comment": "later"})
    assert missing.status_code == 400 and error_of(missing)["message"].startswith("edit_token is required")
    overlong = patch_answer(client, survey, first["id"], {"edit_token": "x" * 400, "comment": "later"})
    wrong = patch_answer(client, survey, first["id"], {"edit_token": "x" * 40, "comment": "later"})
    assert overlong.status_code == wrong.status_code == 403
    assert error_of(overlong) == error_of(wrong)
    assert answers()[0].comment is None
