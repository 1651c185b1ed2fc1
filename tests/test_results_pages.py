"""The results pages through HTTP: access, numbers, filters everywhere, pain points, comments, corrections, export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa
from markupsafe import escape

from survey.db import db
from analysis.labeller import CommentLabels
from survey.labels import corrections_for_training, record_model_labels
from survey.metrics import change, metric_for
from survey.models import LabelCorrection, Response, utcnow
from survey.display import change_text, score_text
from survey.results.present import p_value_text
from tests.conftest import extract_csrf
from tests.dashboard_support import login
from tests.results_support import add_run, label

NOW = utcnow()


def days_ago(n: float) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


def routes(key: str, response_id: int) -> list[tuple[str, str]]:
    return [
        ("GET", f"/surveys/{key}/results"),
        ("GET", f"/surveys/{key}/comments"),
        ("GET", f"/surveys/{key}/charts/distribution.svg"),
        ("GET", f"/surveys/{key}/charts/trend.svg"),
        ("GET", f"/surveys/{key}/charts/themes.svg"),
        ("GET", f"/surveys/{key}/charts/pain.svg"),
        ("GET", f"/surveys/{key}/export.csv"),
        ("POST", f"/surveys/{key}/responses/{response_id}/labels"),
    ]


@pytest.fixture
def survey(make_survey):
    return make_survey("nps", name="Broadband NPS")


def test_every_results_route_is_protected(app):
    endpoints = [name for name in app.view_functions if name.startswith("results.")]
    assert len(endpoints) == 7
    for name in endpoints:
        wanted = "admin" if name == "results.analyze_now" else "login"
        assert getattr(app.view_functions[name], "access", None) == wanted, name


def test_anonymous_people_are_sent_to_sign_in(client, survey, make_response):
    response = make_response(survey, score=3, comment="slow")
    for method, url in routes(survey.public_key, response.id):
        reply = client.open(url, method=method, data={"sentiment": "positive"})
        assert reply.status_code == 302, url
        assert reply.headers["Location"].startswith("/login"), url
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LabelCorrection)) == 0


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_analysts_and_admins_may_read_and_correct(client, survey, make_response, role):
    response = make_response(survey, score=3, comment="slow")
    login(client, role)
    for method, url in routes(survey.public_key, response.id):
        reply = client.open(url, method=method, data={"sentiment": "positive", "theme": ""})
        assert reply.status_code in (200, 303), (url, reply.status_code)
        assert reply.headers["Cache-Control"] == "no-store", url


def test_unknown_survey_is_404(client):
    login(client)
    missing = client.get("/surveys/nope/results")
    # The dashboard's wording, not the customer's "check the link you were given".
    assert missing.status_code == 404 and "There is no survey with that key." in missing.get_data(as_text=True)
    assert "check the link" not in missing.get_data(as_text=True)
    assert client.get("/surveys/nope/export.csv").status_code == 404


def results_of_two_periods(client, survey, make_response, before: list[int], after: list[int]) -> str:
    """The results page after ``before`` answers 35+ days ago and ``after`` in the last 30 days."""
    for i, score in enumerate(before):
        make_response(survey, score=score, created_at=days_ago(35 + i))
    for i, score in enumerate(after):
        make_response(survey, score=score, created_at=days_ago(1 + i))
    login(client)
    return client.get(f"/surveys/{survey.public_key}/results").get_data(as_text=True)


def test_headline_metric_interval_count_and_change(client, survey, make_response):
    before = [9, 10, 10, 9, 8, 3, 10, 9, 9, 10, 10, 9]
    after = [0, 3, 5, 6, 9, 2, 4, 10, 1, 6, 7, 3]
    html = results_of_two_periods(client, survey, make_response, before, after)
    everything = metric_for("nps", before + after)
    assert score_text(everything.score, "nps") in html
    assert f"95% CI {score_text(everything.ci_low, 'nps')} to {score_text(everything.ci_high, 'nps')}" in html
    assert 'data-method="mover-wilson"><summary>method</summary>MOVER interval from Wilson' in html
    assert "n = 24" in html
    expected = change("nps", before, after)
    assert expected.significant
    assert "Change vs previous 30 days" in html and escape(p_value_text(expected.p_value)) in html
    assert change_text(expected.difference, "nps") in html
    assert f'class="significant">a real change, not chance ({escape(p_value_text(expected.p_value))})<' in html
    assert "▲" in html or "▼" in html


def test_a_change_that_is_not_significant_gets_no_arrow(client, make_survey, make_response):
    survey = make_survey("csat", name="Support CSAT")
    before = [5, 4, 2, 5, 1, 4, 3, 5, 2, 4, 1, 5]  # 7 of 12 satisfied
    after = [5, 4, 5, 2, 4, 5, 1, 4, 3, 5, 2, 4]  # 8 of 12
    html = results_of_two_periods(client, survey, make_response, before, after)
    expected = change("csat", before, after)
    assert not expected.significant and expected.difference > 0
    change_box = html[html.index('class="stat change"'):html.index('class="stat bands"')]
    assert "no clear change" in change_box and "▲" not in change_box and 'class="stat-value up"' not in change_box
    assert change_text(expected.difference, "csat") == "+8 points" and "+8 points" in change_box
    assert f"95% CI {expected.ci_low:+.0f} to {expected.ci_high:+.0f} points" in change_box
    # In the words the codeframe screen uses for a pain point's trend (survey.display.verdict_text).
    assert f"within normal variation, may be chance ({p_value_text(expected.p_value)})" in change_box


def test_too_few_answers_are_not_shown_as_a_score(app, client, make_survey, make_response):
    survey = make_survey("csat", name="Tiny CSAT")
    make_response(survey, score=5, created_at=days_ago(2))
    login(client)
    html = client.get(f"/surveys/{survey.public_key}/results").get_data(as_text=True)
    headline = html[html.index('class="stat metric"'):html.index('class="stat change"')]
    # One answer of 5: not "100%" as if it were known, and an interval that is not the point [100, 100].
    assert "too few answers" in headline and "100%</span>" not in headline
    assert "n = 1: a score needs at least 10" in headline and "95% CI 21% to 100%" in headline
    assert 'data-method="wilson"><summary>method</summary>Wilson score interval' in headline
    # The trend is not drawn from one answer either; its data table still lists the week.
    assert "Too few answers for a trend." in html and "/charts/trend.svg" not in html
    trend_data = html[html.index("Score per week"):]
    assert "too few answers" in trend_data[:trend_data.index("</table>")]
    app.config["MIN_ANSWERS"] = 1
    html = client.get(f"/surveys/{survey.public_key}/results").get_data(as_text=True)
    assert '<span class="stat-value big">100%</span>' in html and "Too few answers for a trend." not in html


def test_change_over_a_chosen_period(client, survey, make_response):
    make_response(survey, score=9, created_at=dt.datetime(2024, 3, 5))
    make_response(survey, score=10, created_at=dt.datetime(2024, 3, 6))
    make_response(survey, score=9, created_at=dt.datetime(2024, 3, 12))
    make_response(survey, score=1, created_at=dt.datetime(2024, 3, 13))
    login(client)
    html = client.get(f"/surveys/{survey.public_key}/results?start=2024-03-10&end=2024-03-16").get_data(as_text=True)
    assert "Change vs previous 7 days" in html
    assert "3 Mar 2024 – 9 Mar 2024" in html
    assert "too few answers" in html and "each period needs 10" in html  # two answers a side
    assert "n = 2" in html


def test_a_start_date_after_today_compares_one_day_not_a_negative_period(client, survey, make_response):
    make_response(survey, score=9)
    login(client)
    html = client.get(f"/surveys/{survey.public_key}/results?start=2999-01-01").get_data(as_text=True)
    # It said "Change vs previous -354000 days" and "1 Jan 2999 – <today> vs <a later period>".
    assert "Change vs previous day" in html
    assert "1 Jan 2999 – 1 Jan 2999" in html and "vs 31 Dec 2998 – 31 Dec 2998" in html


def test_the_pain_chart_under_a_filter_says_its_counts_are_the_matches(client, survey, make_response):
    late = [make_response(survey, score=s, comment=f"engineer late again {s}", channel="link") for s in (1, 2, 3)]
    add_run(survey, [("late engineer", "service", late)])
    login(client)
    whole = client.get(f"/surveys/{survey.public_key}/charts/pain.svg").get_data(as_text=True)
    assert "late engineer: impact" in whole and ", 3 answers" in whole
    # Filtered to nothing, the bar (the analysis's impact) stayed full length labelled "0 answers".
    filtered = client.get(f"/surveys/{survey.public_key}/charts/pain.svg?channel=email").get_data(as_text=True)
    assert ", 0 matching" in filtered and "0 answers" not in filtered


def test_a_phone_gets_each_chart_drawn_narrow_under_the_same_filters(client, survey, make_response):
    make_response(survey, score=2, comment="slow", channel="email")
    login(client)
    html = client.get(f"/surveys/{survey.public_key}/results?channel=email").get_data(as_text=True)
    narrow = re.findall(r'<source media="\(max-width: 50rem\)" srcset="([^"]+)"', html)
    assert len(narrow) == 2  # distribution and themes (too few answers for a trend, no analysis for pain points)
    for src in narrow:
        src = src.replace("&amp;", "&")
        assert "size=narrow" in src and "channel=email" in src, src
        chart = client.get(src)
        assert chart.status_code == 200 and 'class="chart chart-narrow"' in chart.get_data(as_text=True)
    wide = client.get(f"/surveys/{survey.public_key}/charts/themes.svg").get_data(as_text=True)
    assert 'class="chart chart-wide"' in wide
    bad = client.get(f"/surveys/{survey.public_key}/charts/themes.svg?size=huge")
    assert bad.status_code == 400 and "must be wide or narrow" in bad.get_data(as_text=True)


def test_filters_apply_to_every_part_of_the_page(client, survey, make_response):
    email = make_response(survey, score=2, comment="e-mail answer about refunds", channel="email", meta={"plan": "pro"})
    make_response(survey, score=10, comment="widget answer, all good", channel="widget", meta={"plan": "pro"})
    label(email, "negative", "service")
    add_run(survey, [("refunds", "service", [email])])
    login(client)
    html = client.get(f"/surveys/{survey.public_key}/results?channel=email&attr.plan=pro").get_data(as_text=True)
    assert "n = 1" in html
    assert "e-mail answer about refunds" in html and "widget answer" not in html
    # Charts, export, tabs and the drill-down links all carry the same filters.
    for src in re.findall(r'(?:src|href)="(/surveys/[^"]+(?:charts|export|comments)[^"]*)"', html):
        assert "channel=email" in src and "attr.plan=pro" in src, src
    chart = client.get(f"/surveys/{survey.public_key}/charts/distribution.svg?channel=email")
    assert chart.mimetype == "image/svg+xml" and "1 answers. " in chart.get_data(as_text=True)
    assert chart.headers["Content-Security-Policy"].startswith("default-src 'none'")
    everything = client.get(f"/surveys/{survey.public_key}/charts/distribution.svg").get_data(as_text=True)
    assert "2 answers. " in everything
    assert 'selected>e-mail</option>' in html  # the form shows the filter in use
    assert "channel: <bdi>e-mail</bdi>" in html  # as a removable chip


@pytest.mark.parametrize("query, words", [
    ("start=2024-02-30", "not a date like"),
    ("channel=fax", "channel &#39;fax&#39; is not one of"),
    ("pain=12345", "no pain point 12345"),
    ("grain=day", "grain &#39;day&#39; must be week or month"),
])
def test_bad_filters_get_a_clear_400(client, survey, query, words):
    login(client)
    for path in ("results", "comments", "export.csv", "charts/trend.svg"):
        reply = client.get(f"/surveys/{survey.public_key}/{path}?{query}")
        if "grain" in query and path in ("comments", "export.csv"):
            assert reply.status_code == 200  # grain means nothing there
            continue
        assert reply.status_code == 400, path
        assert words in reply.get_data(as_text=True), path


def test_no_comments_at_all_is_not_told_as_no_comments_matching_filters(client, survey, make_response):
    make_response(survey, score=9)  # a score, no comment
    login(client)
    for path in ("results", "comments"):
        html = client.get(f"/surveys/{survey.public_key}/{path}").get_data(as_text=True)
        # It said "No comments match these filters." with no filter set.
        assert "No comments yet: no answer to this survey has a comment." in html, path
        assert "No comments match these filters." not in html, path
        filtered = client.get(f"/surveys/{survey.public_key}/{path}?channel=email").get_data(as_text=True)
        assert "No comments match these filters." in filtered, path


def test_a_filter_error_page_links_to_the_page_without_that_filter(client, survey):
    login(client)
    for path in ("results", "comments"):
        reply = client.get(f"/surveys/{survey.public_key}/{path}?start=2024-03-10&end=2024-03-01&channel=email&page=2")
        assert reply.status_code == 400
        html = reply.get_data(as_text=True)
        assert "the start (From) date 2024-03-10 is after the end (To) date 2024-03-01" in html
        # It was a dead end: no header, no link, only the browser's Back button.
        link = re.search(r'<a class="button" href="([^"]+)">Show the page without this filter</a>', html)
        assert link, html
        href = link.group(1).replace("&amp;", "&")
        assert href == f"/surveys/{survey.public_key}/{path}?end=2024-03-01&channel=email"
        assert client.get(href).status_code == 200
    reply = client.get(f"/surveys/{survey.public_key}/results?channel=fax", headers={"Accept": "application/json"})
    assert reply.status_code == 400 and reply.get_json()["error"]["field"] == "channel"


def test_pain_points_are_ranked_and_drill_down_to_their_comments(client, survey, make_response):
    slow = [make_response(survey, score=s, comment=f"waited {s} weeks for the engineer") for s in (1, 2, 3)]
    rude = make_response(survey, score=0, comment="agent was rude to me")
    make_response(survey, score=10, comment="lovely")
    old_run, _ = add_run(survey, [("an older finding", "care", [rude])], finished=days_ago(10))
    run, (first, second) = add_run(survey, [("waiting for the engineer", "service", slow), ("rude agent", "care", [rude])])
    login(client)
    html = client.get(f"/surveys/{survey.public_key}/results").get_data(as_text=True)
    assert html.index("waiting for the engineer") < html.index("rude agent")
    assert "an older finding" not in html
    # What the order and the two numbers mean is written out, not left to header tooltips.
    assert "Ranked by impact: how much the mean score would rise" in " ".join(html.split())
    # The order is by the impact's lower bound, so the shown impacts need not fall: the hint says why.
    assert "the order uses its lower bound" in " ".join(html.split())
    assert ">Score gap</th>" in html and 'data-label="Score gap">-2.50<' in html
    link = f'/surveys/{survey.public_key}/comments?pain={first.id}'
    assert f'href="{link}"' in html
    drill = client.get(link).get_data(as_text=True)
    assert "Pain point #1" in drill and "Comments behind this pain point" in drill
    assert all(f"waited {s} weeks" in drill for s in (1, 2, 3))
    assert "agent was rude" not in drill.split("Comments behind")[1] and "lovely" not in drill
    assert "1–3 of 3" in drill
    # The drill-down names the two numbers as the table it came from does.
    assert "<dt>Score gap</dt><dd>-2.50</dd>" in drill and "Score impact" not in drill
    # A filter narrows the drill-down too.
    narrowed = client.get(link + "&q=2+weeks").get_data(as_text=True)
    assert "1–1 of 1" in narrowed


def test_a_filter_that_matches_nothing_says_so_and_not_that_no_answers_came(client, survey, make_response):
    for score in (2, 6, 9):
        make_response(survey, score=score, comment="the engineer was kind")
    login(client)
    key = survey.public_key
    html = " ".join(client.get(f"/surveys/{key}/results?q=zzzz").get_data(as_text=True).split())
    assert "no answers match these filters" in html and "no answers yet" not in html
    for name, note in (("distribution", "No scored answers"), ("trend", "No answers"),
                       ("themes", "No labelled comments")):
        svg = client.get(f"/surveys/{key}/charts/{name}.svg?q=zzzz").get_data(as_text=True)
        assert f"{note} match these filters" in svg and f"{note} yet" not in svg, name


def test_no_analysis_yet_says_how_to_get_one(client, survey, make_response):
    make_response(survey, score=5, comment="meh")
    login(client)
    html = client.get(f"/surveys/{survey.public_key}/results").get_data(as_text=True)
    assert "No analysis has run for this survey yet" in html and "flask analyze" in html
    assert "The comment →" in html and "All 1 comments" not in html  # it said "All 1 comments →"
    make_response(survey, score=6, comment="fine")
    assert "All 2 comments →" in client.get(f"/surveys/{survey.public_key}/results").get_data(as_text=True)


def test_comments_are_newest_first_paginated_and_searchable(client, survey, make_response):
    for i in range(30):
        make_response(survey, score=i % 11, comment=f"comment number {i:02d}" + (" 100% fine" if i == 7 else ""),
                      created_at=days_ago(30 - i))
    make_response(survey, score=5)  # no comment: not listed
    login(client)
    first = client.get(f"/surveys/{survey.public_key}/comments").get_data(as_text=True)
    numbers = re.findall(r"comment number (\d\d)", first)
    assert numbers == [f"{i:02d}" for i in range(29, 4, -1)]
    assert "1–25 of 30" in first and "Page 1 of 2" in first
    second = client.get(f"/surveys/{survey.public_key}/comments?page=2").get_data(as_text=True)
    assert re.findall(r"comment number (\d\d)", second) == ["04", "03", "02", "01", "00"]
    found = client.get(f"/surveys/{survey.public_key}/comments?q=100%25").get_data(as_text=True)
    assert re.findall(r"comment number (\d\d)", found) == ["07"]
    assert client.get(f"/surveys/{survey.public_key}/comments?page=x").status_code == 400
    beyond = client.get(f"/surveys/{survey.public_key}/comments?page=9").get_data(as_text=True)
    assert "There is no page 9" in beyond


def test_a_correction_is_stored_with_who_and_when_and_outlives_the_next_analysis(client, survey, make_response):
    response = make_response(survey, score=2, comment="They never called me back")
    label(response, "neutral", "other")
    analyst = login(client)
    back = f"/surveys/{survey.public_key}/comments?channel=link"
    reply = client.post(f"/surveys/{survey.public_key}/responses/{response.id}/labels",
                        data={"sentiment": "negative", "theme": "service", "next": back})
    assert reply.status_code == 303 and reply.headers["Location"] == f"{back}#r{response.id}"
    corrections = db.session.scalars(sa.select(LabelCorrection).order_by(LabelCorrection.field)).all()
    assert [(c.field, c.value, c.user_id) for c in corrections] == [
        ("sentiment", "negative", analyst.id), ("theme", "service", analyst.id)]
    assert all(abs((c.created_at - utcnow()).total_seconds()) < 60 for c in corrections)
    page = client.get(back).get_data(as_text=True)
    assert "Saved your sentiment and theme: answer #" in page and "✎ corrected" in page
    assert f"corrected by {analyst.email}" in page  # typed: isolated in the tooltip

    # A later model run labels it again: the corrections stay in force.
    record_model_labels("model-2", [(response.id, CommentLabels("positive", 0.9, {}, "care", 0.9, {}, []))])
    db.session.commit()
    db.session.refresh(response)
    assert (response.sentiment, response.theme, response.label_version) == ("negative", "service", "model-2")
    assert set(corrections_for_training()) == {
        ("They never called me back", "sentiment", "negative"), ("They never called me back", "theme", "service")}


def test_a_correction_confirms_the_other_label_only_when_the_analyst_says_so(client, survey, make_response):
    # The form shows both labels: correcting the theme used to store the sentiment left as it was as
    # confirmed too, an own label for the next retrain that nobody had looked at. Now only what the
    # analyst changed is stored, unless they press "Confirm both".
    from survey.labelling.operations import labels_in_force
    from survey.labels import corrections_for_training

    response = make_response(survey, score=2, comment="slow")
    other = make_response(survey, score=3, comment="slower still")
    label(response, "negative", "other")
    label(other, "negative", "other")
    login(client)
    reply = client.post(f"/surveys/{survey.public_key}/responses/{response.id}/labels",
                        data={"sentiment": "negative", "theme": "service"}, follow_redirects=True)
    assert f"Saved your theme: answer #{response.id} is now negative · service." in reply.get_data(as_text=True)
    assert [(c.field, c.value, c.confirmed) for c in db.session.scalars(sa.select(LabelCorrection))] == [
        ("theme", "service", False)]
    assert labels_in_force() == 1 and corrections_for_training() == [("slow", "theme", "service")]
    reply = client.post(f"/surveys/{survey.public_key}/responses/{response.id}/labels",
                        data={"sentiment": "negative", "theme": "service"}, follow_redirects=True)
    assert "Nothing changed" in reply.get_data(as_text=True)
    assert labels_in_force() == 1

    # "Confirm both" is the deliberate act: the changed label a correction, the kept one confirmed.
    reply = client.post(f"/surveys/{survey.public_key}/responses/{other.id}/labels",
                        data={"sentiment": "negative", "theme": "care", "confirm": "both"}, follow_redirects=True)
    assert (f"Saved your theme and confirmed its sentiment: answer #{other.id} is now negative · care."
            in reply.get_data(as_text=True))
    assert sorted((c.field, c.value, c.confirmed) for c in db.session.scalars(
        sa.select(LabelCorrection).where(LabelCorrection.response_id == other.id))) == [
        ("sentiment", "negative", True), ("theme", "care", False)]
    assert labels_in_force() == 3
    # The page offers both, and says which does what.
    page = " ".join(client.get(f"/surveys/{survey.public_key}/comments").get_data(as_text=True).split())
    assert ('<button type="submit" class="button small secondary" name="confirm" value="both" '
            f'aria-describedby="ch-{response.id}">Confirm both</button>') in page
    assert "Save changes keeps only what you changed; Confirm both also marks the other label right." in page
    # Any other value of the button is refused, storing nothing.
    reply = client.post(f"/surveys/{survey.public_key}/responses/{response.id}/labels",
                        data={"sentiment": "positive", "theme": "service", "confirm": "all"})
    assert reply.status_code == 400 and "confirm is &#39;both&#39;" in reply.get_data(as_text=True)
    assert labels_in_force() == 3


def test_a_correction_by_script_gets_json(client, survey, make_response):
    response = make_response(survey, score=2, comment="slow")
    login(client)
    reply = client.post(f"/surveys/{survey.public_key}/responses/{response.id}/labels",
                        data={"sentiment": "negative", "theme": ""}, headers={"Accept": "application/json"})
    assert reply.status_code == 200
    assert reply.get_json() == {"id": response.id, "sentiment": "negative", "theme": None, "changed": ["sentiment"],
                                "confirmed": []}


@pytest.mark.parametrize("data, status, words", [
    ({"sentiment": "furious"}, 400, "Sentiment must be one of"),
    ({"theme": "price"}, 400, "Theme must be one of"),
    ({"sentiment": "negative", "next": "https://evil.example/"}, 400, "must be on this site"),
    ({"sentiment": "negative", "next": "//evil.example/"}, 400, "must be on this site"),
])
def test_bad_corrections_are_refused_and_store_nothing(client, survey, make_response, data, status, words):
    response = make_response(survey, score=2, comment="slow")
    login(client)
    reply = client.post(f"/surveys/{survey.public_key}/responses/{response.id}/labels", data=data)
    assert reply.status_code == status and words in reply.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LabelCorrection)) == 0


def test_corrections_only_for_commented_answers_of_this_survey(client, survey, make_survey, make_response):
    other = make_response(make_survey("csat"), score=2, comment="elsewhere")
    silent = make_response(survey, score=2)
    login(client)
    assert client.post(f"/surveys/{survey.public_key}/responses/{other.id}/labels",
                       data={"sentiment": "negative"}).status_code == 404
    assert client.post(f"/surveys/{survey.public_key}/responses/999999/labels",
                       data={"sentiment": "negative"}).status_code == 404
    reply = client.post(f"/surveys/{survey.public_key}/responses/{silent.id}/labels", data={"sentiment": "negative"})
    assert reply.status_code == 400 and "no comment" in reply.get_data(as_text=True)


@pytest.fixture
def csrf_on(app_config):
    app_config["WTF_CSRF_ENABLED"] = True


def test_corrections_need_the_form_token(csrf_on, client, survey, make_response):
    response = make_response(survey, score=2, comment="slow")
    login(client)
    url = f"/surveys/{survey.public_key}/responses/{response.id}/labels"
    assert client.post(url, data={"sentiment": "negative"}).status_code == 400
    token = extract_csrf(client.get(f"/surveys/{survey.public_key}/comments").get_data(as_text=True))
    assert client.post(url, data={"sentiment": "negative", "csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Response, response.id).sentiment == "negative"


def test_signed_in_pages_carry_a_strict_content_security_policy(client, survey):
    login(client)
    reply = client.get(f"/surveys/{survey.public_key}/results")
    policy = reply.headers["Content-Security-Policy"]
    script = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "unsafe-inline" not in script and "frame-ancestors 'none'" in policy
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in reply.get_data(as_text=True) and " style=" not in reply.get_data(as_text=True)


def test_export_is_the_filtered_answers_as_safe_csv(client, survey, make_response):
    a = make_response(survey, score=1, comment="=HYPERLINK(\"http://evil\")", channel="email", meta={"plan": "@pro"})
    make_response(survey, score=9, comment="fine", channel="widget")
    label(a, "negative", "service")
    login(client)
    reply = client.get(f"/surveys/{survey.public_key}/export.csv?channel=email")
    assert reply.status_code == 200 and reply.mimetype == "text/csv" and reply.is_streamed
    assert re.fullmatch(r'attachment; filename="rapport-broadband-nps-\d{8}-\d{4}\.csv"',
                        reply.headers["Content-Disposition"])
    body = reply.get_data().decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(body)))
    assert row["id"] == str(a.id) and row["comment"] == "'=HYPERLINK(\"http://evil\")" and row["meta.plan"] == "'@pro"
    assert (row["sentiment"], row["theme"], row["sentiment_proba"], row["band"]) == ("negative", "service", "0.8", "negative")
    assert reply.get_data().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel


def test_filter_form_and_chart_tables_offer_every_label(client, survey, make_response):
    """The label vocabulary reaches the templates (analysis.labels), not a list written in them."""
    from analysis.labels import SENTIMENTS, THEMES

    response = make_response(survey, score=2, comment="slow")
    label(response, "negative", "service")
    login(client)
    page = client.get(f"/surveys/{survey.public_key}/results").get_data(as_text=True)
    for value in (*SENTIMENTS, *THEMES):
        assert f'<option value="{value}"' in page, value
    for sentiment in SENTIMENTS:
        assert f'<th scope="col" class="num">{sentiment}</th>' in page, sentiment


def test_a_proposals_comments_say_it_is_a_proposal(client, survey, make_response):
    """Results list a codeframe's proposals after its pain points; their drill-down read as an agreed pain point."""
    from survey.codeframe.operations import add_point

    comments = [make_response(survey, score=1, comment=f"price went up {i}") for i in range(3)]
    add_point(survey, "missed visits", "service")
    _, (proposal,) = add_run(survey, [("price rises", "other", comments)])
    proposal.source = "proposal"
    db.session.commit()
    login(client)
    for page in ("results", f"comments?pain={proposal.id}"):
        html = " ".join(client.get(f"/surveys/{survey.public_key}/{page}").get_data(as_text=True).split())
        assert "a proposal, not yet in the" in html.lower(), page
