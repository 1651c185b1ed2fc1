"""The read API: tokens, pagination, filters shared with the dashboard, metrics and the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.metrics import change, metric_for
from survey.models import Contact, Response, utcnow
from tests.dashboard_support import api_token, bearer, make_user


@pytest.fixture
def token(app):
    return api_token(make_user("analyst"))


@pytest.fixture
def get(client, token):
    def call(url, **params):
        return client.get(url, query_string=params or None, headers=bearer(token))
    return call


def test_surveys_are_listed_a_page_at_a_time(get, make_survey, make_response):
    surveys = [make_survey("nps", name=f"Survey {i}") for i in range(3)]
    make_response(surveys[0], score=10)
    first = get("/api/v1/surveys", per_page=2)
    assert first.status_code == 200
    body = first.get_json()
    assert [item["name"] for item in body["data"]] == ["Survey 0", "Survey 1"]
    assert body["pagination"] == {"page": 1, "per_page": 2, "total": 3, "pages": 2}
    assert body["links"]["prev"] is None and body["links"]["next"].endswith("page=2")
    assert body["data"][0]["responses"] == 1 and body["data"][0]["score"] == 100.0
    assert body["data"][1]["score"] is None
    second = get(body["links"]["next"]).get_json()
    assert [item["name"] for item in second["data"]] == ["Survey 2"] and second["links"]["next"] is None
    assert get("/api/v1/surveys", page=7).get_json()["data"] == []


@pytest.mark.parametrize("params,field,message", [
    ({"per_page": "0"}, "per_page", "from 1 to 500"),
    ({"per_page": "501"}, "per_page", "from 1 to 500"),
    ({"page": "two"}, "page", "whole number"),
    ({"page": "-1"}, "page", "whole number"),
    # A whole number too long to be a page was called "not a whole number".
    ({"page": "99999999999"}, "page", "from 1 to 1000000"),
    ({"per_page": "10000000000"}, "per_page", "from 1 to 500"),
    ({"chanel": "email"}, "chanel", "Unknown query parameter 'chanel'"),
])
def test_bad_paging_and_unknown_parameters_are_400(get, params, field, message):
    response = get("/api/v1/surveys", **params)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == field and message in error["message"] and error["status"] == 400


def test_a_survey_in_full(get, make_survey, app):
    from survey.models import SurveyOrigin

    app.config["PUBLIC_BASE_URL"] = "https://surveys.example.com"
    survey = make_survey("csat", name="Support CSAT", origins=[SurveyOrigin(origin="https://shop.example.com")],
                         throttle_days=14)
    body = get(f"/api/v1/surveys/{survey.public_key}").get_json()
    assert body["key"] == survey.public_key and body["kind"] == "csat"
    assert body["scale"] == {"low": 1, "high": 5, "low_label": "Very dissatisfied", "high_label": "Very satisfied"}
    assert body["widget"]["origins"] == ["https://shop.example.com"] and body["throttle_days"] == 14
    assert body["links"]["public"] == f"https://surveys.example.com/s/{survey.public_key}"
    assert body["created_at"].endswith("Z")
    missing = get("/api/v1/surveys/nope")
    assert missing.status_code == 404 and missing.get_json()["error"]["message"].startswith("There is no survey")
    assert get(f"/api/v1/surveys/{survey.public_key}", page=1).status_code == 400


def test_a_survey_carries_its_schedule_and_why_it_is_closed(get, make_survey, make_response):
    survey = make_survey("csat")
    schedule = get(f"/api/v1/surveys/{survey.public_key}").get_json()["schedule"]
    assert schedule == {"closes_at": None, "max_responses": None, "state": "open", "closed_reason": None,
                        "message": None}
    later = (utcnow() + dt.timedelta(days=3)).replace(microsecond=0)
    survey.closes_at, survey.max_responses = later, 2
    db.session.commit()
    schedule = get(f"/api/v1/surveys/{survey.public_key}").get_json()["schedule"]
    assert schedule["closes_at"] == later.isoformat() + "Z" and schedule["max_responses"] == 2
    assert schedule["state"] == "open" and schedule["closed_reason"] is None
    make_response(survey, score=4)
    make_response(survey, score=5)
    schedule = get(f"/api/v1/surveys/{survey.public_key}").get_json()["schedule"]
    assert schedule["state"] == "full" and schedule["closed_reason"] == "response_cap_reached"
    assert "all the answers it needs" in schedule["message"]
    survey.closes_at = utcnow() - dt.timedelta(minutes=1)
    db.session.commit()
    listed = get("/api/v1/surveys").get_json()["data"][0]["schedule"]
    assert listed["state"] == "closed" and listed["closed_reason"] == "close_date_passed"
    assert "closed on" in listed["message"]
    survey.is_open = False
    db.session.commit()
    schedule = get(f"/api/v1/surveys/{survey.public_key}").get_json()["schedule"]
    assert schedule["closed_reason"] == "closed_by_hand" and schedule["state"] == "closed"


@pytest.fixture
def answered(make_survey, make_response):
    """An NPS survey: email answers in the last 30 days, link answers 31–60 days ago."""
    survey = make_survey("nps")
    now = utcnow()
    recent = [10, 9, 9, 8, 3, 10, 7, 2]
    older = [4, 5, 9, 6, 2, 8]
    for i, score in enumerate(recent):
        make_response(survey, score=score, channel="email", created_at=now - dt.timedelta(days=i + 1),
                      comment=f"recent {i}", meta={"plan": "pro" if i % 2 else "basic"},
                      sentiment="positive" if score >= 9 else "negative")
    for i, score in enumerate(older):
        make_response(survey, score=score, channel="link", created_at=now - dt.timedelta(days=31 + i))
    return survey, recent, older


def test_metrics_match_survey_metrics_and_compare_with_the_previous_period(get, answered):
    survey, recent, older = answered
    body = get(f"/api/v1/surveys/{survey.public_key}/metrics").get_json()
    expected = metric_for("nps", recent + older)
    assert body["metric"]["n"] == 14 and body["metric"]["score"] == pytest.approx(expected.score, abs=1e-4)
    assert body["metric"]["ci_low"] == pytest.approx(expected.ci_low, abs=1e-4)
    assert body["metric"]["promoters"] == expected.promoters
    compared = change("nps", older, recent)
    assert body["comparison"]["change"]["difference"] == pytest.approx(compared.difference, abs=1e-6)
    assert body["comparison"]["change"]["p_value"] == pytest.approx(compared.p_value, abs=1e-6)
    assert body["comparison"]["change"]["significant"] is compared.significant
    today = utcnow().date()
    assert body["comparison"]["period"] == {"start": (today - dt.timedelta(days=29)).isoformat(),
                                            "end": today.isoformat()}
    assert body["comparison"]["previous_period"]["end"] == (today - dt.timedelta(days=30)).isoformat()


def test_metrics_take_the_dashboards_filters(get, answered):
    survey, recent, _ = answered
    url = f"/api/v1/surveys/{survey.public_key}/metrics"
    email = get(url, channel="email").get_json()
    assert email["metric"]["n"] == len(recent) and email["filters"] == {"channel": "email"}
    pro = get(url, **{"attr.plan": "pro"}).get_json()
    assert pro["metric"]["n"] == 4 and pro["filters"] == {"attr.plan": "pro"}
    start = (utcnow().date() - dt.timedelta(days=3)).isoformat()
    ranged = get(url, start=start).get_json()
    assert ranged["metric"]["n"] == 3 and ranged["period"]["start"] == start
    bad = get(url, channel="fax")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "channel"
    backwards = get(url, start="2024-05-01", end="2024-04-01")
    assert backwards.status_code == 400 and "after the end (To) date" in backwards.get_json()["error"]["message"]
    assert get(url, per_page=5).status_code == 400  # metrics are not paginated


def test_responses_newest_first_with_labels_contact_and_filters(get, answered):
    survey, recent, _ = answered
    contact = Contact(email="ann@example.com", name="Ann", attributes={"region": "north"})
    db.session.add(contact)
    db.session.commit()
    newest = db.session.scalar(sa.select(Response).where(Response.survey_id == survey.id)
                               .order_by(Response.created_at.desc()).limit(1))
    newest.contact_id = contact.id
    db.session.commit()
    url = f"/api/v1/surveys/{survey.public_key}/responses"
    body = get(url, per_page=5).get_json()
    assert body["pagination"]["total"] == 14 and len(body["data"]) == 5
    times = [item["created_at"] for item in body["data"]]
    assert times == sorted(times, reverse=True)
    top = body["data"][0]
    assert top["comment"] == "recent 0" and top["score"] == 10 and top["band"] == "positive"
    assert top["sentiment"] == "positive" and top["channel"] == "email" and top["meta"] == {"plan": "basic"}
    assert top["contact"] == {"email": "ann@example.com", "name": "Ann", "attributes": {"region": "north"}}
    negative = get(url, sentiment="negative").get_json()
    assert {item["sentiment"] for item in negative["data"]} == {"negative"}
    assert get(url, q="RECENT 7").get_json()["pagination"]["total"] == 1
    assert get(url, **{"attr.region": "north"}).get_json()["pagination"]["total"] == 1
    assert get(url, band="negative", channel="link").get_json()["pagination"]["total"] == 4
    third = get(url, per_page=5, page=3, channel="email").get_json()
    assert third["data"] == [] and third["pagination"]["pages"] == 2
    assert get(url, pain="123456").status_code == 400


def test_control_characters_in_a_search_do_not_break_the_database(get, answered):
    survey, _, _ = answered
    for params in ({"q": "a\x00b"}, {"attr.plan": "pro\nbasic"}, {"channel": "email\x7f"}):
        response = get(f"/api/v1/surveys/{survey.public_key}/responses", **params)
        assert response.status_code == 400, params
        error = response.get_json()["error"]
        assert error["field"] == next(iter(params)) and "control character" in error["message"]


def test_a_parameter_given_twice_is_refused_not_read_as_its_first_value(get, answered):
    """``channel=email&channel=link`` answered with the e-mail answers alone, as if they were both channels'."""
    survey, _, _ = answered
    for url, params in ((f"/api/v1/surveys/{survey.public_key}/responses", {"channel": ["email", "link"]}),
                        (f"/api/v1/surveys/{survey.public_key}/metrics", {"attr.region": ["north", "south"]}),
                        ("/api/v1/surveys", {"page": ["1", "2"]})):
        response = get(url, **params)
        assert response.status_code == 400, (url, params)
        error = response.get_json()["error"]
        field = next(iter(params))
        assert error["field"] == field and f"The query parameter '{field}' is given 2 times" in error["message"]


def test_openapi_document_describes_every_api_route(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["bearer"]
        ["description"]}
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {path} is not in the OpenAPI document"
    read = document["paths"]["/api/v1/surveys/{public_key}/responses"]["get"]
    assert read["security"] == [{"bearer": []}]
    assert {p["name"] for p in read["parameters"]} >= {"start", "end", "channel", "band", "sentiment", "theme",
                                                       "pain", "q", "page", "per_page", "public_key"}


def test_filter_arguments_known_to_the_api_cover_every_filter(make_survey):
    """If survey.results.filters learns a new argument, the API must accept it too."""
    from survey.api.routes import FILTER_ARGS
    from survey.results.filters import ResponseFilter

    survey = make_survey()
    full = ResponseFilter(survey=survey, start=dt.date(2024, 1, 1), end=dt.date(2024, 2, 1), channel="email",
                          band="negative", sentiment="negative", theme="care", pain_point=1, q="x",
                          attrs=(("plan", "pro"),))
    names = {name for name in full.to_args() if not name.startswith("attr.")}
    assert names == set(FILTER_ARGS)
    assert set(ResponseFilter.__dataclass_fields__) == {"survey", "start", "end", "channel", "band", "sentiment",
                                                        "theme", "pain_point", "q", "attrs"}


@pytest.mark.parametrize("params", [{"end": "9999-12-31"}, {"start": "0002-01-01"},
                                    {"start": "2000-01-01", "end": "3999-01-01"}])
def test_dates_at_the_ends_of_the_calendar_get_400_not_500(get, answered, params):
    survey, _, _ = answered
    for call in ("metrics", "responses"):
        response = get(f"/api/v1/surveys/{survey.public_key}/{call}", **params)
        assert response.status_code in (200, 400), (call, params, response.status_code)
        if response.status_code == 400:
            assert response.get_json()["error"]["field"] in ("start", "end")


def test_error_messages_keep_parameter_names_as_written(get):
    message = get("/api/v1/surveys", per_page="0").get_json()["error"]["message"]
    assert message == "per_page must be from 1 to 500."
    # an ordinary word still starts a sentence
    assert get("/api/v1/surveys", page="x").get_json()["error"]["message"].startswith("Page must be a whole number")


def test_the_readme_api_table_lists_every_read_call(app):
    """A new user learns the read API from the README's table: each token-read GET route is in it."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `GET (/api/v1/[^`]+)` \|", readme, flags=re.M))
    routes = {re.sub(r"<[^>]+>", "KEY", rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") and "GET" in rule.methods and rule.endpoint != "api.openapi"}
    assert routes - listed == set()
