"""ResponseFilter: parsing, validation messages, and the answers each filter selects."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict

from survey.db import db
from survey.models import AnalysisRun, Contact, PainPointRecord, Response
from survey.results.filters import FilterError, ResponseFilter
from survey.text import escape_like


def ids(flt: ResponseFilter) -> set[int]:
    return set(db.session.scalars(flt.apply(sa.select(Response.id))))


def parse(survey, **args) -> ResponseFilter:
    return ResponseFilter.from_args(survey, MultiDict(args))


@pytest.fixture
def answers(make_survey, make_response):
    survey = make_survey("nps")
    other = make_survey("nps")
    pro = Contact(email="pro@example.com", name="Pat", attributes={"plan": "pro", "seats": 5})
    db.session.add(pro)
    db.session.commit()
    day = dt.datetime(2024, 3, 10, 12)
    rows = {
        "early": make_response(survey, score=9, comment="Great speed", channel="email",
                               created_at=day - dt.timedelta(days=9), meta={"region": "north"}),
        "mid": make_response(survey, score=3, comment="100% awful_service, call centre", channel="link",
                             created_at=day, meta={"plan": "pro"}, sentiment="negative", theme="service"),
        "late": make_response(survey, score=7, comment=None, channel="widget",
                              created_at=day + dt.timedelta(days=5, hours=11), contact_id=pro.id),
        "last_minute": make_response(survey, score=0, comment="RUDE agent", channel="import",
                                     created_at=dt.datetime(2024, 3, 15, 23, 59, 59), sentiment="negative",
                                     theme="care", meta={"plan": "basic"}),
        "other_survey": make_response(other, score=9, comment="Great", channel="email", created_at=day),
    }
    return survey, {name: row.id for name, row in rows.items()}


def test_no_arguments_selects_the_whole_survey_only(answers):
    survey, row = answers
    flt = parse(survey)
    assert flt.is_empty and flt.to_args() == {}
    assert ids(flt) == {row["early"], row["mid"], row["late"], row["last_minute"]}


def test_date_range_is_inclusive_of_both_days(answers):
    survey, row = answers
    assert ids(parse(survey, start="2024-03-10", end="2024-03-15")) == {row["mid"], row["late"], row["last_minute"]}
    assert ids(parse(survey, end="2024-03-01")) == {row["early"]}
    assert ids(parse(survey, start="2024-03-16")) == set()


@pytest.mark.parametrize("args, expected", [
    ({"channel": "widget"}, {"late"}),
    ({"band": "negative"}, {"mid", "last_minute"}),
    ({"band": "neutral"}, {"late"}),
    ({"band": "positive"}, {"early"}),
    ({"sentiment": "negative"}, {"mid", "last_minute"}),
    ({"theme": "care"}, {"last_minute"}),
    ({"q": "rude"}, {"last_minute"}),
    ({"q": "100%"}, {"mid"}),
    ({"q": "call_centre"}, set()),  # "_" is literal: it does not match the space in "call centre"
    ({"q": "awful_s"}, {"mid"}),
    ({"q": "%"}, {"mid"}),
    ({"attr.plan": "pro"}, {"mid", "late"}),  # meta on one, the contact's attributes on the other
    ({"attr.seats": "5"}, {"late"}),  # a number in a contact's attributes matches its text
    ({"attr.region": "north"}, {"early"}),
    ({"attr.plan": "pro", "channel": "link"}, {"mid"}),
    ({"attr.plan": "enterprise"}, set()),
    ({"channel": "", "q": "  ", "attr.plan": ""}, {"early", "mid", "late", "last_minute"}),  # empty form fields
])
def test_each_filter_selects_its_answers(answers, args, expected):
    survey, row = answers
    assert ids(parse(survey, **args)) == {row[name] for name in expected}


def test_pain_point_selects_the_answers_it_was_built_from(answers):
    survey, row = answers
    run = AnalysisRun(survey_id=survey.id, model_version="test")
    point = PainPointRecord(run=run, survey_id=survey.id, rank=1, label="Rude agents", theme="care", count=2,
                      share=0.5, impact=1.0, responses=[db.session.get(Response, row["mid"]),
                                                         db.session.get(Response, row["last_minute"])])
    db.session.add(run)
    db.session.commit()
    flt = parse(survey, pain=str(point.id))
    assert ids(flt) == {row["mid"], row["last_minute"]}
    assert ids(parse(survey, pain=str(point.id), channel="import")) == {row["last_minute"]}
    assert flt.to_args() == {"pain": str(point.id)}


@pytest.mark.parametrize("args, field, words", [
    ({"start": "2024-13-01"}, "start", "YYYY-MM-DD"),
    ({"end": "10/03/2024"}, "end", "YYYY-MM-DD"),
    ({"start": "2024-3-1"}, "start", "YYYY-MM-DD"),
    ({"start": "2024-03-10", "end": "2024-03-01"}, "start", "after the end (To) date"),
    ({"channel": "fax"}, "channel", "link, email, widget, import"),
    ({"band": "promoter"}, "band", "negative, neutral, positive"),
    ({"sentiment": "angry"}, "sentiment", "negative, neutral, positive"),
    ({"theme": "price"}, "theme", "service, care, other"),
    ({"pain": "abc"}, "pain", "not a pain point number"),
    ({"pain": "999"}, "pain", "no pain point 999"),
    ({"q": "x" * 201}, "q", "longer than 200"),
    ({"attr.pl an": "pro"}, "attr.pl an", "letters, digits"),
    ({"attr.": "pro"}, "attr.", "letters, digits"),
    ({"attr.plan": "p" * 201}, "attr.plan", "longer than 200"),
    ({f"attr.k{i}": "v" for i in range(11)}, "attr", "at most 10"),
])
def test_bad_arguments_say_what_is_wrong_and_where(answers, args, field, words):
    survey, _ = answers
    with pytest.raises(FilterError) as caught:
        parse(survey, **args)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_a_pain_point_of_another_survey_is_refused(answers, make_survey):
    survey, _ = answers
    other = make_survey("csat")
    run = AnalysisRun(survey_id=other.id, model_version="test")
    point = PainPointRecord(run=run, survey_id=other.id, rank=1, label="x", theme="care", count=0, share=0, impact=0)
    db.session.add(run)
    db.session.commit()
    with pytest.raises(FilterError, match="no pain point"):
        parse(survey, pain=str(point.id))


def test_to_args_round_trips(answers):
    survey, _ = answers
    args = {"start": "2024-03-01", "end": "2024-03-31", "channel": "email", "band": "negative",
            "sentiment": "negative", "theme": "service", "q": "call back", "attr.plan": "pro", "attr.region": "north"}
    flt = parse(survey, **args)
    assert flt.to_args() == args
    assert parse(survey, **flt.to_args()) == flt
    assert flt.without("attr.plan").to_args() == {k: v for k, v in args.items() if k != "attr.plan"}
    assert "channel" not in flt.without("channel").to_args()


def test_previous_period_has_the_same_length_and_keeps_the_other_filters(answers):
    survey, _ = answers
    flt = parse(survey, start="2024-03-10", end="2024-03-16", channel="email")
    before = flt.previous_period()
    assert (before.start, before.end, before.channel) == (dt.date(2024, 3, 3), dt.date(2024, 3, 9), "email")
    open_ended = parse(survey, start="2024-03-10").previous_period(today=dt.date(2024, 3, 19))
    assert (open_ended.start, open_ended.end) == (dt.date(2024, 2, 29), dt.date(2024, 3, 9))
    with pytest.raises(FilterError, match=r"start \(From\) date"):
        parse(survey).previous_period()


def test_escape_like_escapes_wildcards_and_the_escape_character():
    assert escape_like(r"50%_off\now") == r"50\%\_off\\now"


def test_dates_outside_the_supported_years_and_control_characters_are_400s(client, make_survey):
    from tests.dashboard_support import login

    survey = make_survey("nps")
    login(client, "analyst")
    for args in ("end=9999-12-31", "start=0002-01-01", "start=1899-12-31", "q=a%00b", "attr.plan=x%0Ay"):
        page = client.get(f"/surveys/{survey.public_key}/results?{args}")
        assert page.status_code == 400, args


def test_a_filter_given_twice_is_a_400_naming_it_on_the_pages_and_the_export(client, make_survey):
    """Only the first value was used: channel=email&channel=link showed the e-mail answers alone."""
    from tests.dashboard_support import login

    survey = make_survey("nps")
    login(client, "analyst")
    for path in ("results", "comments", "export.csv"):
        for args, name in (("channel=email&channel=link", "channel"), ("attr.plan=a&attr.plan=b", "attr.plan")):
            page = client.get(f"/surveys/{survey.public_key}/{path}?{args}")
            assert page.status_code == 400, (path, args)
            assert f"&#39;{name}&#39; is given 2 times" in page.get_data(as_text=True), (path, args)
        assert client.get(f"/surveys/{survey.public_key}/{path}?channel=email&page=1").status_code == 200, path


def test_the_text_search_ignores_case_beyond_a_to_z(make_survey, make_response):
    """On SQLite "ÉCOLE" did not find "école": its LIKE and lower() fold A–Z only. The same
    answers are found on PostgreSQL (this test runs on whichever database the suite uses)."""
    survey = make_survey("nps")
    texts = {"fr": "L'école a fermé la ligne", "fr upper": "L'ÉCOLE A FERMÉ LA LIGNE", "no accent": "ecole fermee",
             "ru": "Очень ДОЛГО ждали", "de": "Straße gesperrt, Techniker kam nicht"}
    made = {key: make_response(survey, score=3, comment=text).id for key, text in texts.items()}
    found = lambda q: {key for key, rid in made.items() if rid in ids(parse(survey, q=q))}  # noqa: E731
    assert found("ÉCOLE") == found("école") == found("École") == {"fr", "fr upper"}
    assert found("долго") == found("ДОЛГО") == {"ru"}
    assert found("STRASSE") == set()  # lower-casing, not folding: "ß" is not "ss"
    assert found("STRAßE") == {"de"}


class _FakePostgres:
    """A DBAPI connection that answers note_icu_lower's one question."""

    def __init__(self, has_icu: bool, ctype: str):
        self.answer, self.rolled_back = (has_icu, ctype), False

    def cursor(self):
        outer = self

        class Cursor:
            def execute(self, sql):
                assert "pg_collation" in sql and "lc_ctype" in sql

            def fetchone(self):
                return outer.answer

            def close(self):
                pass

        return Cursor()

    def rollback(self):
        self.rolled_back = True


@pytest.mark.parametrize("has_icu, ctype, warned", [(True, "C", False), (False, "C", True),
                                                    (False, "en_US.UTF-8", False)])
def test_postgresql_lowers_every_letter_under_icu_whatever_its_locale(app, caplog, has_icu, ctype, warned):
    """A database made with the C locale lowers A–Z only: "ÉCOLE" stayed "École" and missed "école".
    Under the ICU root collation lower() knows every letter, as SQLite's Python function does.
    (The two searches above run on PostgreSQL too when the suite does.)"""
    from sqlalchemy.dialects import postgresql

    from survey.db import note_icu_lower, unicode_lower

    dialect = postgresql.dialect()
    connection = _FakePostgres(has_icu, ctype)
    note_icu_lower(dialect, app.logger, connection, None)
    sql = str(sa.select(unicode_lower(Response.comment)).compile(dialect=dialect))
    if has_icu:
        assert 'lower((responses.comment) COLLATE "und-x-icu")' in sql
    else:
        assert "lower(responses.comment)" in sql and "COLLATE" not in sql
    assert connection.rolled_back  # no transaction left open on the connection
    assert ("ignore the case of A-Z only" in caplog.text) is warned


def test_the_contact_search_ignores_case_beyond_a_to_z(app, make_survey):
    from survey.admin.contacts import contact_page

    db.session.add_all([Contact(email="emile@example.com", name="Émile Zola"),
                        Contact(email="anna@example.com", name="ÅSA Lind")])
    db.session.commit()
    assert [c.name for c in contact_page("émile", 1)[0]] == ["Émile Zola"]
    assert [c.name for c in contact_page("åsa", 1)[0]] == ["ÅSA Lind"]
