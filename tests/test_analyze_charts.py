"""survey.insights.charts: inline-safe, accessible, deterministic SVG."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from survey.insights import charts
from survey.metrics import metric_for

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def assert_inline_safe(svg: str) -> ET.Element:
    root = parse(svg)
    assert root.get("role") == "img"
    title, desc = root[0], root[1]
    assert title.tag == f"{SVG}title" and title.text
    assert desc.tag == f"{SVG}desc" and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    for el in root.iter():
        assert el.tag not in (f"{SVG}script", f"{SVG}style", f"{SVG}foreignObject"), el.tag
        assert "style" not in el.attrib, el.attrib  # the CSP would drop inline styles
        assert not any(name.lower().startswith("on") for name in el.attrib), el.attrib
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0
    return root


def texts(root: ET.Element) -> str:
    return " ".join(el.text or "" for el in root.iter(f"{SVG}text"))


def trend(kind="nps"):
    weeks = {"nps": [[0, 9, 10, 10], [3, 9], [], [10, 10, 10, 7, 2]],
             "csat": [[1, 5, 5, 4], [2, 4], [], [5, 5, 3, 4, 1]]}[kind]
    return [(dt.date(2024, 1, 1) + dt.timedelta(weeks=w), metric_for(kind, scores))
            for w, scores in enumerate(weeks)]


def test_score_distribution_counts_each_score_and_colours_by_band():
    svg = charts.score_distribution_svg("nps", [0, 0, 6, 7, 9, 10, 10, None])
    root = assert_inline_safe(svg)
    desc = root[1].text
    assert "7 answers" in desc and "score 0: 2" in desc and "score 10: 2" in desc and "score 8: 0" in desc
    fills = {el.get("fill") for el in root.iter(f"{SVG}path")}
    assert set(charts.BAND_COLOURS.values()) <= fills
    assert "detractors" in texts(root) and "promoters" in texts(root)


def test_score_outside_the_scale_is_an_error():
    with pytest.raises(ValueError, match="outside the CSAT scale 1–5"):
        charts.score_distribution_svg("csat", [0])
    with pytest.raises(KeyError):
        charts.score_distribution_svg("stars", [1])


def test_metric_trend_skips_empty_periods_and_describes_the_interval():
    root = assert_inline_safe(charts.metric_trend_svg("nps", trend()))
    desc = root[1].text
    assert desc.startswith("3 periods.")
    assert "2024-01-15" not in desc  # the empty period
    assert "95% CI" in desc and "n=5" in desc


def test_empty_charts_say_so():
    assert "No answers yet" in texts(parse(charts.metric_trend_svg("ces", [])))
    assert "No pain points found" in texts(parse(charts.pain_points_svg([])))
    assert "No labelled comments yet" in texts(parse(charts.sentiment_by_theme_svg({})))
    assert "No scored answers yet" in texts(parse(charts.score_distribution_svg("csat", [None])))


def test_sentiment_by_theme_orders_themes_and_reports_counts():
    root = assert_inline_safe(charts.sentiment_by_theme_svg(
        {"other": {"neutral": 2}, "service": {"negative": 5, "positive": 1}, "care": {"positive": 3}}))
    assert root[1].text == ("service: 5 negative, 0 neutral, 1 positive; care: 0 negative, 0 neutral, 3 positive; "
                            "other: 0 negative, 2 neutral, 0 positive")


def test_pain_point_labels_are_text_never_markup_or_mathtext():
    hostile = '<script>alert(1)</script> "$\\frac{1}{0}$" & </svg>'
    svg = charts.pain_points_svg([{"label": hostile, "impact": 2.5, "theme": "care", "count": 4},
                                  {"label": "on hold for hours", "impact": 1.0, "theme": "service"}])
    root = assert_inline_safe(svg)
    assert "<script" not in svg and "</svg>" not in svg[:-10]
    assert "&lt;script&gt;" in svg
    assert hostile in root[1].text
    assert "on hold for hours" in texts(root)


def test_pain_points_chart_shows_the_top_points_only():
    points = [{"label": f"point {i}", "impact": 20 - i, "count": 3} for i in range(20)]
    root = assert_inline_safe(charts.pain_points_svg(points))
    shown = texts(root)
    assert f"point {charts.PAIN_POINTS_SHOWN - 1}" in shown and f"point {charts.PAIN_POINTS_SHOWN}" not in shown
    assert f"({20 - charts.PAIN_POINTS_SHOWN} more not shown.)" in root[1].text


def test_charts_are_deterministic_and_their_ids_do_not_clash_on_one_page():
    first = charts.metric_trend_svg("csat", trend("csat"))
    assert first == charts.metric_trend_svg("csat", trend("csat"))
    page = [first, charts.score_distribution_svg("csat", [1, 5, 5]), charts.pain_points_svg([])]
    ids = [el.get("id") for svg in page for el in parse(svg).iter() if el.get("id")]
    assert len(ids) == len(set(ids))
    # every internal reference points at an id of the same chart
    for svg in page:
        root = parse(svg)
        own = {el.get("id") for el in root.iter()}
        for el in root.iter():
            for name, value in el.attrib.items():
                if name.endswith("href"):
                    assert value[1:] in own
                elif "url(#" in value:
                    assert value[len("url(#"):-1] in own


# A 390 px phone shows a chart about 330 px wide (the page's and the panel's padding taken off).
PHONE_CHART_WIDTH = 330
READABLE_PX = charts.READABLE_PX


def smallest_text_on_a_phone(svg: str) -> float:
    """The smallest text of ``svg`` in screen px, shown PHONE_CHART_WIDTH wide (its viewBox scaled to fit)."""
    root = parse(svg)
    width = float(root.get("viewBox").split()[2])
    sizes = [float(el.get("font-size").removesuffix("px")) for el in root.iter(f"{SVG}text")]
    assert sizes, "no text in the chart"
    return min(sizes) * min(1.0, PHONE_CHART_WIDTH / width)


PHONE_CHARTS = {
    "distribution": lambda narrow: charts.score_distribution_svg("nps", [0, 3, 6, 7, 8, 9, 10, 10], narrow=narrow),
    "trend": lambda narrow: charts.metric_trend_svg("nps", trend(), narrow=narrow),
    "course": lambda narrow: charts.campaign_course_svg(
        [(dt.date(2024, 5, 1) + dt.timedelta(days=d), 40 - d, 10 + d) for d in range(9)], narrow=narrow),
    "themes": lambda narrow: charts.sentiment_by_theme_svg(
        {"service": {"negative": 60, "positive": 49}, "care": {"negative": 4, "neutral": 2, "positive": 9}},
        narrow=narrow),
    "pain points": lambda narrow: charts.pain_points_svg(
        [{"label": "engineer missed the appointment window and nobody called to rebook it", "impact": 12.5,
          "theme": "service", "count": 1200},
         {"label": "rude on the phone", "impact": 3.1, "theme": "care", "count": 4, "count_of": "matching"}],
        narrow=narrow),
}


@pytest.mark.parametrize("name", PHONE_CHARTS)
def test_the_narrow_chart_keeps_its_text_readable_on_a_phone(name):
    """The 576 px chart scaled to a phone's width wrote its ticks and legends at 5–6 px."""
    wide, narrow = PHONE_CHARTS[name](False), PHONE_CHARTS[name](True)
    assert smallest_text_on_a_phone(wide) < READABLE_PX  # why the narrow one exists
    assert smallest_text_on_a_phone(narrow) >= READABLE_PX, name
    root = assert_inline_safe(narrow)
    assert root.get("class") == "chart chart-narrow" and parse(wide).get("class") == "chart chart-wide"
    # The same chart: same title and description (what a screen reader hears), same data drawn.
    assert parse(wide)[1].text == root[1].text
    # A page may hold both: their ids do not clash.
    ids = [el.get("id") for svg in (wide, narrow) for el in parse(svg).iter() if el.get("id")]
    assert len(ids) == len(set(ids))


def test_both_sizes_are_one_chart_drawn_twice():
    both = charts.both_sizes(charts.sentiment_by_theme_svg, {"care": {"negative": 3}})
    assert both.count("<svg") == 2 and "chart-wide" in both and "chart-narrow" in both
