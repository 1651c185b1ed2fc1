"""The answer page: showing, validating, storing once, and clear errors."""

import json
import re

import sqlalchemy as sa

from survey.db import db
from survey.models import Response
from tests.conftest import extract_csrf


def responses():
    return db.session.scalars(sa.select(Response).order_by(Response.id)).all()


def form_fields(html: str) -> dict:
    import re

    fields = {}
    for name in ("submission_key", "meta_json", "ref"):
        match = re.search(rf'id="{name}" name="{name}" type="hidden" value="([^"]*)"', html)
        fields[name] = match.group(1).replace("&#34;", '"').replace("&quot;", '"') if match else ""
    return fields


def test_page_shows_question_scale_and_end_labels(client, make_survey):
    survey = make_survey("nps", subject="Acme Broadband")
    page = client.get(f"/s/{survey.public_key}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "How likely are you to recommend Acme Broadband to a friend or colleague?" in html
    assert html.count('type="radio"') == 11
    assert "0, Not at all likely" in html and "10, Extremely likely" in html
    assert 'aria-describedby="scale-ends"' in html
    assert "<legend>" in html and '<label for="comment"' in html


def test_each_kind_has_its_scale(client, make_survey):
    for kind, count, first in (("csat", 5, "1"), ("ces", 7, "1"), ("nps", 11, "0")):
        survey = make_survey(kind)
        html = client.get(f"/s/{survey.public_key}").get_data(as_text=True)
        assert html.count('type="radio"') == count
        assert f'value="{first}"' in html


def test_submit_records_one_answer_and_redirects_to_thanks(client, make_survey):
    survey = make_survey("csat", thank_you="Cheers, that helps!")
    html = client.get(f"/s/{survey.public_key}?meta_plan=pro&meta_Region=north",
                      headers={"Referer": "https://shop.example.com/orders/42?x=1"}).get_data(as_text=True)
    fields = form_fields(html)
    data = {"score": "4", "comment": "Quick and friendly", **fields}
    posted = client.post(f"/s/{survey.public_key}", data=data,
                         headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
                                                "(KHTML, like Gecko) Chrome/120.0 Safari/537.36"})
    assert posted.status_code == 303
    thanks = client.get(posted.headers["Location"])
    assert "Cheers, that helps!" in thanks.get_data(as_text=True)
    [row] = responses()
    assert (row.score, row.comment, row.channel) == (4, "Quick and friendly", "link")
    assert row.meta == {"plan": "pro", "region": "north"}
    assert row.referrer_origin == "https://shop.example.com"
    assert row.ua_family == "Chrome"
    assert row.created_at is not None


def test_second_submit_of_same_form_does_not_duplicate(client, make_survey):
    survey = make_survey("nps")
    fields = form_fields(client.get(f"/s/{survey.public_key}").get_data(as_text=True))
    for score, comment in ((9, "great"), (9, "great"), (10, "great, changed my mind")):
        assert client.post(f"/s/{survey.public_key}", data={"score": score, "comment": comment, **fields}).status_code == 303
    [row] = responses()
    assert (row.score, row.comment) == (10, "great, changed my mind")


def test_missing_or_out_of_range_score_is_shown_next_to_field_and_keeps_comment(client, make_survey):
    survey = make_survey("csat")
    fields = form_fields(client.get(f"/s/{survey.public_key}").get_data(as_text=True))
    for bad in (None, "9", "abc", "-1"):
        data = {"comment": "kept <b>as typed</b>", **fields}
        if bad is not None:
            data["score"] = bad
        page = client.post(f"/s/{survey.public_key}", data=data)
        assert page.status_code == 422
        html = page.get_data(as_text=True)
        assert 'id="score-error"' in html
        assert "kept &lt;b&gt;as typed&lt;/b&gt;" in html
    assert responses() == []


def test_a_score_that_is_not_a_whole_number_gets_the_scales_words_not_wtforms(client, make_survey):
    """A score of "", "abc" or "5.5" (a tampered form, a script) read "Invalid Choice: could not coerce."."""
    survey = make_survey("csat")
    fields = form_fields(client.get(f"/s/{survey.public_key}").get_data(as_text=True))
    for bad, said in (("", "Please choose a score."), ("abc", "Please choose a score from 1 to 5."),
                      ("5.5", "Please choose a score from 1 to 5."), (" ", "Please choose a score.")):
        page = client.post(f"/s/{survey.public_key}", data={**fields, "score": bad, "comment": "kept"})
        html = page.get_data(as_text=True)
        assert page.status_code == 422 and said in html and "coerce" not in html, (bad, html)
    assert responses() == []


def test_too_long_comment_is_refused_with_a_message(client, app, make_survey):
    survey = make_survey("csat")
    fields = form_fields(client.get(f"/s/{survey.public_key}").get_data(as_text=True))
    long = "x" * (app.config["COMMENT_MAX_LENGTH"] + 1)
    page = client.post(f"/s/{survey.public_key}", data={"score": "3", "comment": long, **fields})
    assert page.status_code == 422
    assert 'id="comment-error"' in page.get_data(as_text=True)
    assert responses() == []


def test_tampered_hidden_fields_are_refused(client, make_survey):
    survey = make_survey("csat")
    fields = form_fields(client.get(f"/s/{survey.public_key}").get_data(as_text=True))
    for key, value in (("submission_key", "not-a-uuid"), ("meta_json", "{not json"), ("meta_json", json.dumps({"a": {"b": 1}}))):
        page = client.post(f"/s/{survey.public_key}", data={"score": "3", **fields, key: value})
        assert page.status_code == 422
    assert responses() == []


def test_comment_is_stored_as_typed_and_rendered_escaped(client, make_survey, make_response):
    survey = make_survey("csat")
    fields = form_fields(client.get(f"/s/{survey.public_key}").get_data(as_text=True))
    payload = '<script>alert(1)</script> "quoted" & é'
    client.post(f"/s/{survey.public_key}", data={"score": "1", "comment": payload, **fields})
    assert responses()[0].comment == payload


def test_unknown_key_is_404_page(client):
    page = client.get("/s/doesnotexist")
    assert page.status_code == 404
    assert "no survey at this address" in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)


def test_closed_survey_is_410_for_page_and_post(client, make_survey):
    survey = make_survey("nps", is_open=False)
    assert client.get(f"/s/{survey.public_key}").status_code == 410
    assert client.post(f"/s/{survey.public_key}", data={"score": "5"}).status_code == 410
    assert "closed" in client.get(f"/s/{survey.public_key}").get_data(as_text=True)
    assert responses() == []


def test_preselected_score_and_band_prompt(client, make_survey):
    survey = make_survey("nps", followup_negative="What went wrong?", followup_positive="What did you love?")
    html = client.get(f"/s/{survey.public_key}?score=2").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="2"', html)
    assert "What went wrong?" in html
    assert 'data-positive="What did you love?"' in html


def test_bad_meta_in_link_is_400_page(client, make_survey):
    survey = make_survey("nps")
    page = client.get(f"/s/{survey.public_key}?meta_bad%20name=1")
    assert page.status_code == 400
    assert "damaged" in page.get_data(as_text=True)


def test_security_headers_on_pages(client, make_survey):
    survey = make_survey("nps")
    page = client.get(f"/s/{survey.public_key}")
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_oversized_body_is_refused_early(client, app, make_survey):
    survey = make_survey("nps")
    body = b"comment=" + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    page = client.post(f"/s/{survey.public_key}", data=body, content_type="application/x-www-form-urlencoded")
    assert page.status_code == 413
    assert responses() == []


def test_csrf_is_enforced_when_enabled(app_config, tmp_path, monkeypatch):
    from survey import create_app

    app_config["WTF_CSRF_ENABLED"] = True
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "csrf-instance"))
    app = create_app(app_config)
    with app.app_context():
        import survey.models_all  # noqa: F401
        from survey.operations import create_survey

        db.create_all()
        survey = create_survey("csat", "csrf", "Acme")
        client = app.test_client()
        html = client.get(f"/s/{survey.public_key}").get_data(as_text=True)
        fields = form_fields(html)
        refused = client.post(f"/s/{survey.public_key}", data={"score": "5", **fields})
        assert refused.status_code == 400
        assert "reload the page" in refused.get_data(as_text=True)
        ok = client.post(f"/s/{survey.public_key}", data={"score": "5", "csrf_token": extract_csrf(html), **fields})
        assert ok.status_code == 303
        assert len(responses()) == 1
        db.session.remove()
        db.drop_all() if "postgresql" in app.config["SQLALCHEMY_DATABASE_URI"] else None


USER_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
    "Safari/537.36 Edg/124.0.2478.51",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 "
    "Chrome/117.0.0.0 Mobile Safari/537.36",
    "curl/8.5.0",
    "not a browser at all",
]


def test_user_agents_are_parsed_by_the_compiled_resolver_with_the_reference_results():
    """Each answer's browser family comes from ua-parser's Rust resolver (the ``regex`` extra):
    the pure-Python one took 0.3 ms per new User-Agent, as much as the rest of an answer."""
    import ua_parser

    from survey.requestinfo import ua_family

    assert isinstance(ua_parser.parser.resolver.parser, ua_parser.RegexResolver), \
        "install ua-parser with its regex extra (setup.cfg) so answers do not parse User-Agents in Python"
    reference = ua_parser.Parser(ua_parser.BasicResolver(ua_parser.load_builtins()))
    for user_agent in USER_AGENTS:
        expected = reference.parse_user_agent(user_agent)
        assert ua_family(user_agent) == (expected.family if expected else "Other"), user_agent
    assert [ua_family(ua) for ua in USER_AGENTS[:3]] == ["Mobile Safari", "Chrome Mobile", "Firefox"]
