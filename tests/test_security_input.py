"""Hostile input that used to cause a 500 or slip through (issue 18, findings 5, 7, 10, 12 and 13)."""

from __future__ import annotations

import io
import logging
import os
import stat
import uuid

import pytest
import sqlalchemy as sa

from survey.csvsafe import safe_cell
from survey.db import db
from survey.importer import parse_feedback_csv
from survey.redirects import safe_next
from survey.widget.operations import add_origins
from tests.conftest import TEST_DB_URL, TEST_SECRET_KEY
from tests.dashboard_support import login
from tests.widget_support import HUMAN_MS, PARTNER, answers, error_of, post_answer

HOSTILE_TEXT = ["bad\x00byte", "\x1b[31mred\x1b[0m", "bell\x07", "c1\x9bcontrol", "del\x7f"]


@pytest.fixture
def survey(make_survey):
    survey = make_survey("nps")
    add_origins(survey, [PARTNER])
    return survey


def form(score=9, **fields):
    return {"score": score, "submission_key": uuid.uuid4().hex, **fields}


def test_meta_nested_100000_deep_is_a_422_not_a_500(client, survey):
    for deep in ("[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
        page = client.post(f"/s/{survey.public_key}", data=form(meta_json=deep))
        assert page.status_code == 422 and "This form is damaged" in page.get_data(as_text=True)
    assert answers() == []


def test_a_comment_sent_as_a_file_part_or_a_json_body_is_not_read_as_text(client, survey):
    sent = client.post(f"/s/{survey.public_key}", content_type="multipart/form-data",
                       data={**form(), "comment": (io.BytesIO(b"=HYPERLINK()"), "comment.txt")})
    assert sent.status_code == 303  # the score is the answer; a file is nobody's comment
    [stored] = answers()
    assert (stored.score, stored.comment) == (9, None)
    as_json = client.post(f"/s/{survey.public_key}", json={"score": 9, "comment": {"nested": [1, 2]},
                                                          "submission_key": uuid.uuid4().hex})
    assert as_json.status_code == 422
    assert client.post(f"/s/{survey.public_key}", json=[1, 2, 3]).status_code == 422
    assert len(answers()) == 1


@pytest.mark.parametrize("target", ["/surveys\n/x", "/\t/evil.example", "/\\evil.example", "//evil.example",
                                    "https://evil.example/", "/x\r\nSet-Cookie: a=b", "/%09/x\x85"])
def test_the_correction_form_follows_only_checked_next_paths(client, survey, make_response, target):
    response = make_response(survey, score=2, comment="They never called me back")
    login(client)
    reply = client.post(f"/surveys/{survey.public_key}/responses/{response.id}/labels",
                        data={"sentiment": "negative", "next": target})
    assert reply.status_code == 400 and "Location" not in reply.headers


def test_one_helper_decides_every_next():
    fallback = "/home"
    for bad in (None, "", "x", "//a", "/\\a", "/\ta", "/a\nb", "/a\x7fb", "/a\x85b", "http://a/", "/" + "a" * 2001):
        assert safe_next(bad, fallback) == fallback, bad
    assert safe_next("/surveys?x=1#y", fallback) == "/surveys?x=1#y"
    assert safe_next("/login?next=/a", fallback, avoid=("/login",)) == fallback


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_every_channel_and_import_refuses_the_same_control_characters(client, survey, text):
    page = client.post(f"/s/{survey.public_key}", data=form(comment=text))
    assert page.status_code == 422 and ("control character" in page.get_data(as_text=True)
                                        or "NUL" in page.get_data(as_text=True))
    widget = post_answer(client, survey, {"score": 9, "comment": text, "elapsed_ms": HUMAN_MS})
    assert widget.status_code == 400 and error_of(widget)["field"] == "comment"
    meta = client.get(f"/s/{survey.public_key}", query_string={"meta_plan": text})
    assert meta.status_code == 400
    parsed = parse_feedback_csv(io.StringIO(f'text,score\n"{text}",3\n'), text_col="text", score_col="score",
                                scale=(0, 10))
    assert parsed.rows == [] and "line 2" in str(parsed.problems[0]).lower()
    assert answers() == []
    # Tabs and line breaks are text on every channel.
    assert client.post(f"/s/{survey.public_key}", data=form(comment="two\tcols\r\nlines")).status_code == 303


def test_csv_cells_follow_owaspss_full_list():
    for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\n=1", " =1", "  +1", "\u00a0-1", "\u00a0 @x",
                 "\u200b=1", "\uff1d1+1"):
        assert safe_cell(cell) == "'" + cell, repr(cell)
    for cell in ("fine", "a=b", "1-2", "email@example.com"):
        assert safe_cell(cell) == cell
    assert safe_cell(-3) == -3


def test_logs_and_errors_never_carry_sql_parameters(app, client, survey, caplog):
    from survey.operations import Answer, insert_response

    secret = "my card number is 4111 1111 1111 1111"
    caplog.set_level(logging.DEBUG)
    assert db.engine.hide_parameters
    with pytest.raises(sa.exc.IntegrityError) as caught:  # no such invitation: the foreign key refuses
        insert_response(survey, Answer(score=9, comment=secret, channel="email", invitation_id=999_999))
    assert "parameters hidden" in str(caught.value)

    # A request whose write the database refuses (PostgreSQL quotes the failing row in its DETAIL)
    # and one that meets a locked database: their log records name neither the comment nor the key.
    def refused_write():
        db.session.execute(sa.text("INSERT INTO responses (survey_id, channel, comment, meta, created_at, "
                                   "updated_at) VALUES (:s, 'nope', :c, '{}', '2026-01-01', '2026-01-01')"),
                           {"s": survey.id, "c": secret})

    def locked():
        raise sa.exc.OperationalError("UPDATE responses SET comment = %(c)s", {"c": secret},
                                      Exception("database is locked"))

    app.add_url_rule("/test-refused-write", view_func=refused_write)
    app.add_url_rule("/test-locked", view_func=locked)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.get("/test-refused-write").status_code == 500
    assert client.get("/test-locked").status_code == 503
    assert "database unavailable" in caplog.text and "Exception on /test-refused-write" in caplog.text
    assert secret not in caplog.text


@pytest.mark.skipif(bool(TEST_DB_URL), reason="the SQLite file's mode")
def test_the_sqlite_database_is_created_readable_by_its_owner_only(tmp_path, monkeypatch):
    from survey import create_app

    instance = tmp_path / "fresh-instance"
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(instance))
    old = os.umask(0o022)
    try:
        app = create_app({"SECRET_KEY": TEST_SECRET_KEY, "TESTING": True})
        with app.app_context():
            import survey.models_all  # noqa: F401

            db.create_all()
            db.session.execute(sa.text("SELECT 1"))
            db.session.remove()
            db.engine.dispose()
    finally:
        os.umask(old)
    for path in instance.glob("rapport.db*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (instance / "rapport.db").exists()


def test_safe_cell_fast_path_agrees_with_the_full_rule():
    """Plain text skips the regular expression; every kind of dangerous or odd first character still gets the rule."""
    import re

    from survey.csvsafe import FORMULA_STARTS, safe_cell

    lead = re.compile(r"^[\s\u200b-\u200d\u2060\ufeff]+")

    def full_rule(text):
        return "'" + text if text.startswith(FORMULA_STARTS) or lead.sub("", text, count=1).startswith(FORMULA_STARTS) \
            else text

    samples = ["", "plain", "=1+1", " =1", "\u00a0+1", "\u200b@x", "\ufeff-3", "\t", "\u3000=A1", " ok", "\u2060text",
               "\uff1dA1", "-", "a=b", "\u2003\u200b=x"]
    for text in samples:
        assert safe_cell(text) == full_rule(text), text


INVISIBLE_ONLY = ["\u200b\u200b", "\u2060", " \u200d\ufeff ", "\u200e\u200f\u00ad", "\u3000\u200b"]


@pytest.mark.parametrize("text", INVISIBLE_ONLY)
def test_a_comment_of_invisible_characters_alone_is_no_comment_on_any_channel(client, survey, make_response, text):
    """Zero-width spaces, joiners, direction marks and soft hyphens show nothing: such a 'comment' was stored,
    counted in every comment total and labelled by the model (and alone made an answer with no score)."""
    from survey.operations import revise_response

    widget = post_answer(client, survey, {"comment": text, "elapsed_ms": HUMAN_MS})
    assert widget.status_code in (400, 422) and error_of(widget)  # no score and no comment: nothing to store
    assert answers() == []
    scored = post_answer(client, survey, {"score": 9, "comment": text, "elapsed_ms": HUMAN_MS})
    assert scored.status_code == 201
    patch = client.patch(f"/api/v1/surveys/{survey.public_key}/responses/{scored.get_json()['id']}",
                         json={"edit_token": scored.get_json()["edit_token"], "comment": text},
                         headers={"Origin": PARTNER})
    assert patch.status_code == 422 and error_of(patch)["field"] == "comment"
    assert client.post(f"/s/{survey.public_key}", data=form(comment=text)).status_code == 303
    assert [(a.score, a.comment) for a in answers()] == [(9, None), (9, None)]
    parsed = parse_feedback_csv(io.StringIO(f'text,score\n"{text}",3\n'), text_col="text", score_col="score",
                                scale=(0, 10))
    assert [row.text for row in parsed.rows] == [None]
    # a visible character with them is a comment, kept as written
    kept = make_response(survey, score=5, comment="ok")
    revise_response(kept, comment="\u200bfine\u200b")
    assert kept.comment == "\u200bfine\u200b"


def post_chunked(server_url: str, path: str, body: bytes, content_type: str, **headers) -> tuple[int, bytes]:
    """POST ``body`` as HTTP/1.1 chunked (no Content-Length), as a streaming client or a proxy may send it."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(server_url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        connection.request("POST", path, body=(body[i:i + 8192] for i in range(0, len(body), 8192)),
                           encode_chunked=True, headers={"Content-Type": content_type, **headers})
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


def test_an_oversized_chunked_body_is_refused_with_413_not_cut_short(app, live_server, survey):
    """Werkzeug stops reading a body without a Content-Length at the limit and drops the rest, so an
    oversized widget answer reached the JSON parser cut short (400 'not valid JSON') and an oversized
    answer form its validators (422), where the same bodies with a Content-Length get 413."""
    import json as json_module

    path = f"/api/v1/surveys/{survey.public_key}/responses"
    answer = {"score": 9, "elapsed_ms": HUMAN_MS, "comment": "x" * (app.config["WIDGET_MAX_BODY_BYTES"] + 10)}
    status, body = post_chunked(live_server.url, path, json_module.dumps(answer).encode(), "application/json",
                                Origin=PARTNER)
    assert status == 413 and json_module.loads(body)["error"]["status"] == 413
    form_body = f"score=5&submission_key={uuid.uuid4().hex}&comment=".encode() + b"x" * app.config["MAX_CONTENT_LENGTH"]
    status, body = post_chunked(live_server.url, f"/s/{survey.public_key}", form_body,
                                "application/x-www-form-urlencoded")
    assert status == 413 and b"That was too large" in body
    assert answers() == []
    # within the limits, a chunked answer is stored like any other
    status, _ = post_chunked(live_server.url, path, json_module.dumps({"score": 9, "elapsed_ms": HUMAN_MS,
                                                                        "comment": "fine"}).encode(),
                             "application/json", Origin=PARTNER)
    assert status == 201 and [(a.score, a.comment) for a in answers()] == [(9, "fine")]


def test_an_id_too_big_for_any_database_is_a_404_not_a_500(app, client, make_survey):
    """/contacts/99999999999999999999 was an OverflowError from SQLite (a 500) on every ``<int:…>`` page."""
    from werkzeug.routing import IntegerConverter

    from survey.db import ROW_ID_MAX

    key = make_survey().public_key
    login(client, "admin")
    tried = 0
    for rule in app.url_map.iter_rules():
        ids = [name for name, converter in rule._converters.items() if isinstance(converter, IntegerConverter)]
        if not ids:
            continue
        for method in sorted(set(rule.methods) & {"GET", "POST"}):
            values = {name: 1 for name in rule.arguments} | {"public_key": key} | dict.fromkeys(ids, ROW_ID_MAX + 1)
            url = rule.build(values, append_unknown=False)[1]
            reply = client.open(url, method=method)
            assert reply.status_code == 404, (method, url, reply.status_code)
            tried += 1
    assert tried >= 20
    # The largest id a database holds is still looked up, and not found.
    assert client.get(f"/contacts/{ROW_ID_MAX}").status_code == 404
