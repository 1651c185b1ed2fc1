"""Aggregations behind the results page agree with the metrics computed from the rows themselves."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from survey.csvsafe import csv_line, safe_cell
from survey.db import db
from analysis.labeller import CommentLabels
from survey.labels import correct_label, record_model_labels
from survey.metrics import change, metric_for
from survey.models import AnalysisRun, Contact, PainPointRecord, Response
from survey.results import export, queries
from survey.results.filters import ResponseFilter

TODAY = dt.date(2024, 6, 30)


def flt(survey, **args) -> ResponseFilter:
    return ResponseFilter.from_args(survey, MultiDict(args))


@pytest.fixture
def nps_rows(make_survey):
    """120 days of NPS answers with labels on the commented ones; returns (survey, rows as dicts)."""
    survey = make_survey("nps")
    rng = random.Random(3)
    rows = []
    for i in range(400):
        created = dt.datetime.combine(TODAY, dt.time(12)) - dt.timedelta(days=rng.randrange(120), minutes=i)
        commented = i % 3 != 0
        rows.append(dict(
            survey_id=survey.id, score=rng.randint(0, 10), channel=rng.choice(["link", "email", "widget"]),
            comment=f"comment {i}" if commented else None, created_at=created, updated_at=created,
            sentiment=rng.choice(["negative", "neutral", "positive"]) if commented else None,
            theme=rng.choice(["service", "care", "other"]) if commented else None,
            meta={"plan": rng.choice(["basic", "pro"])},
        ))
    db.session.execute(sa.insert(Response), rows)
    db.session.commit()
    return survey, rows


def test_headline_matches_the_metric_of_the_rows(nps_rows):
    survey, rows = nps_rows
    result = queries.headline(flt(survey, channel="email"))
    expected = metric_for("nps", [r["score"] for r in rows if r["channel"] == "email"])
    assert result == expected and result.n > 50


def test_comparison_with_a_date_range_uses_the_previous_period_of_the_same_length(nps_rows):
    survey, rows = nps_rows
    got = queries.comparison(flt(survey, start="2024-06-01", end="2024-06-30"), today=TODAY)
    in_range = lambda a, b: [r["score"] for r in rows if a <= r["created_at"].date() <= b]  # noqa: E731
    expected = change("nps", in_range(dt.date(2024, 5, 2), dt.date(2024, 5, 31)),
                      in_range(dt.date(2024, 6, 1), dt.date(2024, 6, 30)))
    assert got.result == expected and not got.default_window and got.days == 30


def test_comparison_without_a_range_compares_the_last_30_days(nps_rows):
    survey, rows = nps_rows
    got = queries.comparison(flt(survey), today=TODAY)
    assert got.default_window
    assert (got.current.start, got.current.end) == (dt.date(2024, 6, 1), TODAY)
    assert (got.previous.start, got.previous.end) == (dt.date(2024, 5, 2), dt.date(2024, 5, 31))
    assert got.result.after_n == sum(1 for r in rows if r["created_at"].date() >= dt.date(2024, 6, 1))


def test_trend_buckets_by_iso_week_and_month(nps_rows):
    survey, rows = nps_rows
    grain, periods = queries.trend(flt(survey))
    assert grain == "week"
    weeks: dict[dt.date, list[int]] = {}
    for r in rows:
        day = r["created_at"].date()
        weeks.setdefault(day - dt.timedelta(days=day.weekday()), []).append(r["score"])
    assert [start for start, _ in periods] == sorted(weeks)
    assert all(result == metric_for("nps", weeks[start]) for start, result in periods)
    grain, months = queries.trend(flt(survey), grain="month")
    assert grain == "month" and [m.month for m, _ in months] == [3, 4, 5, 6]
    assert sum(result.n for _, result in months) == len(rows)


def test_grain_switches_to_months_after_half_a_year():
    assert queries.pick_grain(dt.date(2024, 1, 1), dt.date(2024, 6, 1)) == "week"
    assert queries.pick_grain(dt.date(2024, 1, 1), dt.date(2024, 8, 1)) == "month"


def test_sentiment_by_theme_counts_labels_in_force(nps_rows):
    survey, rows = nps_rows
    counts = queries.sentiment_by_theme(flt(survey, **{"attr.plan": "pro"}))
    for theme in ("service", "care", "other"):
        for sentiment in ("negative", "neutral", "positive"):
            assert counts[theme][sentiment] == sum(
                1 for r in rows if r["theme"] == theme and r["sentiment"] == sentiment and r["meta"]["plan"] == "pro")


def test_comments_are_newest_first_and_paginated(nps_rows):
    survey, rows = nps_rows
    commented = sorted((r for r in rows if r["comment"]), key=lambda r: r["created_at"], reverse=True)
    first = queries.comments(flt(survey), page=1, per_page=25)
    second = queries.comments(flt(survey), page=2, per_page=25)
    assert first.total == len(commented) and first.pages == -(-len(commented) // 25)
    assert [row.response.comment for row in first.rows + second.rows] == [r["comment"] for r in commented[:50]]
    beyond = queries.comments(flt(survey), page=first.pages + 1, per_page=25)
    assert beyond.rows == [] and beyond.total == first.total


def test_comment_rows_carry_corrections_and_model_confidence(make_survey, make_response):
    survey = make_survey("csat")
    response = make_response(survey, score=2, comment="slow refund")
    record_model_labels("m1", [(response.id, CommentLabels("negative", 0.91, {}, "service", 0.64, {}, []))])
    correct_label(response, "theme", "care", None)
    [row] = queries.comments(flt(survey)).rows
    assert row.corrected == {"theme"} and (row.sentiment_proba, row.theme_proba) == (0.91, 0.64)
    assert (row.response.sentiment, row.response.theme, row.band) == ("negative", "care", "negative")


def test_pain_points_of_the_latest_finished_run_with_filtered_counts(make_survey, make_response):
    survey = make_survey("nps")
    answers = [make_response(survey, score=s, comment=f"c{s}", channel=ch)
               for s, ch in [(1, "email"), (2, "link"), (3, "email"), (9, "email")]]
    old = AnalysisRun(survey_id=survey.id, model_version="m", finished_at=dt.datetime(2024, 1, 1))
    PainPointRecord(run=old, survey_id=survey.id, rank=1, label="old", theme="care", count=1, share=.1, impact=1)
    new = AnalysisRun(survey_id=survey.id, model_version="m", finished_at=dt.datetime(2024, 2, 1))
    second = PainPointRecord(run=new, survey_id=survey.id, rank=2, label="Billing", theme="other", count=1, share=.25,
                       impact=1, responses=[answers[1]])
    first = PainPointRecord(run=new, survey_id=survey.id, rank=1, label="Waiting", theme="service", count=3, share=.75,
                      impact=2, responses=answers[:3])
    unfinished = AnalysisRun(survey_id=survey.id, model_version="m")
    db.session.add_all([old, new, unfinished])
    db.session.commit()
    run = queries.latest_run(survey)
    assert run.id == new.id
    rows = queries.pain_points(flt(survey, channel="email", pain=str(first.id)), run)
    assert [(r.point.label, r.matching) for r in rows] == [("Waiting", 2), ("Billing", 0)]
    assert queries.latest_run(make_survey("csat")) is None


def test_attribute_choices_come_from_meta_and_contacts(make_survey, make_response):
    survey = make_survey("nps")
    contact = Contact(email="a@example.com", attributes={"region": "north", "vip": True, "seats": 3})
    db.session.add(contact)
    db.session.commit()
    make_response(survey, score=1, meta={"plan": "pro"})
    make_response(survey, score=2, meta={"plan": "basic", "region": "south"}, contact_id=contact.id)
    choices = queries.attribute_choices(survey)
    assert {key: choice.values for key, choice in choices.items()} == \
        {"plan": ["basic", "pro"], "region": ["north", "south"], "seats": ["3"]}
    assert not any(choice.many for choice in choices.values())


def test_an_id_like_attribute_is_typed_with_suggestions(client, make_survey, make_response):
    from tests.dashboard_support import login

    survey = make_survey("csat")
    for i in range(30):
        make_response(survey, score=4, comment=f"answer {i}", meta={"customer-id": f"C{i:04d}", "plan": "pro"})
    choices = queries.attribute_choices(survey)
    assert choices["customer-id"].many and len(choices["customer-id"].values) == 25
    assert not choices["plan"].many
    login(client)
    html = client.get(f"/surveys/{survey.public_key}/comments?attr.customer-id=C0029").get_data(as_text=True)
    # A text box with suggestions, keeping what was typed, and the one matching answer.
    assert 'name="attr.customer-id" value="C0029"' in html and 'list="f-attr-1-values"' in html
    assert '<datalist id="f-attr-1-values">' in html and '<select id="f-attr-2" name="attr.plan">' in html
    assert "answer 29" in html and "answer 28" not in html


def test_an_emailed_answer_shows_each_attribute_once(client, make_survey, make_response):
    from tests.dashboard_support import login

    survey = make_survey("nps")
    contact = Contact(email="b@example.com", attributes={"plan": "business", "region": "west", "seats": "9"})
    db.session.add(contact)
    db.session.commit()
    make_response(survey, score=3, comment="slow", channel="email", contact_id=contact.id,
                  meta={"plan": "business", "region": "west"})
    login(client)
    html = client.get(f"/surveys/{survey.public_key}/comments").get_data(as_text=True)
    attrs = html[html.index('<ul class="attrs"'):]
    attrs = attrs[:attrs.index("</ul>")]
    assert attrs.count(">plan<") == 1 and attrs.count(">region<") == 1 and attrs.count(">seats<") == 1


# ---------------------------------------------------------------------- CSV


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+44 20", "'+44 20"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=cmd", "'\t=cmd"), ("\r=cmd", "'\r=cmd"), ("fine = ok", "fine = ok"), ("", ""),
    (None, ""), (-3, -3), (0.5, 0.5), (True, "true"),
])
def test_safe_cell_neutralises_formula_starts_only(value, expected):
    assert safe_cell(value) == expected


def test_csv_line_quotes_and_neutralises():
    line = csv_line(["=HYPERLINK(\"http://x\")", 'a "quoted", text', 7])
    assert next(csv.reader(io.StringIO(line))) == ["'=HYPERLINK(\"http://x\")", 'a "quoted", text', "7"]


def test_export_has_labels_corrections_and_attribute_columns(make_survey, make_response):
    survey = make_survey("nps")
    contact = Contact(email="pat@example.com", name="Pat", attributes={"tier": "=gold"})
    db.session.add(contact)
    db.session.commit()
    a = make_response(survey, score=3, comment="=cmd|' /C calc'!A0", channel="email", meta={"plan": "-pro"},
                      created_at=dt.datetime(2024, 3, 1, 9), contact_id=contact.id, external_id="X-1")
    b = make_response(survey, score=10, comment=None, created_at=dt.datetime(2024, 3, 2), meta={"region": "north"})
    make_response(survey, score=9, comment="other channel", channel="widget", created_at=dt.datetime(2024, 3, 3))
    record_model_labels("m1", [(a.id, CommentLabels("negative", 0.8, {}, "service", 0.7, {}, []))])
    correct_label(a, "sentiment", "neutral", None)
    text = "".join(export.csv_lines(flt(survey, start="2024-03-01", end="2024-03-02")))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["id"] for r in rows] == [str(a.id), str(b.id)]  # oldest first; the 3 March answer is after the range
    first = rows[0]
    assert first["comment"] == "'=cmd|' /C calc'!A0" and first["meta.plan"] == "'-pro"
    assert first["contact.tier"] == "'=gold" and first["contact_email"] == "pat@example.com"
    assert (first["sentiment"], first["theme"], first["sentiment_corrected"], first["theme_corrected"]) == \
        ("neutral", "service", "true", "false")
    assert (first["sentiment_proba"], first["theme_proba"], first["model_version"]) == ("0.8", "0.7", "m1")
    assert (first["band"], first["external_id"], first["created_at"]) == ("negative", "X-1", "2024-03-01 09:00:00")
    assert rows[1]["meta.region"] == "north" and rows[1]["comment"] == "" and rows[1]["band"] == "positive"


def test_export_streams_in_batches_across_equal_timestamps(make_survey, monkeypatch):
    survey = make_survey("csat")
    when = dt.datetime(2024, 1, 1)
    db.session.execute(sa.insert(Response), [
        dict(survey_id=survey.id, score=1 + i % 5, channel="link", created_at=when + dt.timedelta(hours=i // 4),
             updated_at=when, meta={}) for i in range(57)])
    db.session.commit()
    monkeypatch.setattr(export, "BATCH", 10)
    chunks = list(export.csv_lines(flt(survey)))
    assert len(chunks) == 1 + 6  # the header, then batches of at most 10
    ids = [int(line.split(",")[0]) for line in "".join(chunks[1:]).splitlines()]
    assert len(ids) == 57 and len(set(ids)) == 57


def test_page_counts_read_only_the_index_on_sqlite(nps_rows):
    """At 100k answers the difference is seconds: the counts must never read the table itself."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans by its statistics")
    survey, _ = nps_rows
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    def plan_of(run) -> str:
        statements.clear()
        sa.event.listen(db.engine, "before_cursor_execute", capture)
        try:
            run()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", capture)
        with db.engine.connect() as conn:
            return " | ".join(row[-1] for statement, parameters in statements
                              for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))

    everything, dated = flt(survey), flt(survey, start="2024-05-01", channel="email", sentiment="negative")
    for f in (everything, dated):
        for run in (lambda: queries.score_counts(f), lambda: queries.trend(f), lambda: queries.sentiment_by_theme(f),
                    lambda: queries.answer_count(f), lambda: queries.comparison(f, TODAY)):
            plan = plan_of(run)
            assert "COVERING INDEX ix_responses_survey_created" in plan and "SCAN responses" not in plan, plan
    page_plan = plan_of(lambda: queries.comments(everything))
    assert page_plan.count("ix_responses_survey_commented") == 2, page_plan  # the count and the page
