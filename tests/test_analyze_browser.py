"""report.html in headless Chromium: it renders, and hostile comments run nothing and load nothing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.analyze_support import NPS_ANSWERS, add_answers, analysis_app, read_report, tiny_model  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("analysis_app")]

PAYLOADS = [
    '<script>alert("script")</script> on hold for two hours',
    '<img src=x onerror=alert("img")> on hold for two hours again',
    '"><svg onload=alert("svg")> nobody kept me informed',
    "</textarea><iframe src=javascript:alert('frame')> nobody kept me informed at all",
    "<link rel=stylesheet href=http://127.0.0.1:9/x.css> the engineer never turned up",
    "{{ 7 * 7 }} {% raw %} the engineer never turned up again",
]


def test_report_renders_and_hostile_comments_stay_text(runner, make_survey, make_response, tmp_path, page):
    survey, _ = add_answers(make_survey, make_response,
                            NPS_ANSWERS + [(1, text) for text in PAYLOADS])
    out = tmp_path / "report"
    result = runner.invoke(args=["analyze", "--survey", survey.public_key, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = read_report(out)

    dialogs, requests, errors = [], [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto((out / "report.html").as_uri())
    page.wait_for_load_state("load")

    assert dialogs == []
    assert [url for url in requests if not url.startswith("file://")] == []
    assert page.locator("script, iframe, img, link[rel=stylesheet]").count() == 0
    assert page.locator("h1").inner_text().startswith("Feedback report:")
    charts = page.locator("svg.chart")
    assert charts.count() == 4 and page.locator("svg.chart:visible").count() == 4  # each chart once
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100
    assert charts.nth(0).get_attribute("role") == "img"
    # the comments are shown as the text they are, quotes included
    body = page.locator("body").inner_text()
    hostile = [q for p in report["pain_points"] for q in p["quotes"] if "<" in q or "{{" in q]
    assert hostile, "some payloads are quoted in the pain points"
    for quote in hostile:
        assert quote in body
    assert len(page.locator("table").nth(1).locator("tbody > tr").all()) == len(report["pain_points"])
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

    # On a phone the same charts, drawn narrow, keep their text readable (at least 11 px).
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.locator("svg.chart:visible").count() == 4 == page.locator("svg.chart-narrow:visible").count()
    smallest = page.evaluate("""() => [...document.querySelectorAll("svg.chart")].map(svg =>
        Math.min(...[...svg.querySelectorAll("text")].map(t => t.getBoundingClientRect().height)))""")
    # A text box is a little taller than its font size; 11 px type has a box of about 13 px.
    assert min(smallest) >= 12.5, smallest
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "report-phone.png"), full_page=True)
    assert errors == []


# The smallest chart text as shown (its font size times the chart's scale) and the biggest, per visible chart.
SHOWN_TEXT = """() => [...document.querySelectorAll("svg.chart")].filter(svg => svg.getBoundingClientRect().width > 0)
    .map(svg => {
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        const sizes = [...svg.querySelectorAll("text")].map(t => scale * parseFloat(getComputedStyle(t).fontSize));
        return [svg.classList.contains("chart-narrow") ? "narrow" : "wide", Math.min(...sizes), Math.max(...sizes)];
    })"""


@pytest.mark.parametrize("width", [390, 640, 700, 832, 833, 860, 1000, 1024, 1280])
def test_chart_text_is_never_shown_under_11_px(runner, make_survey, make_response, tmp_path, page, width):
    # Where a chart is shown narrower than drawn its type shrinks (a wide drawing's 9 px legend in a ~480 px
    # column was 7.5 px), and wider, it grows: at every width its text, as shown, is 11 to 20 px.
    survey, _ = add_answers(make_survey, make_response, NPS_ANSWERS)
    out = tmp_path / "report"
    assert runner.invoke(args=["analyze", "--survey", survey.public_key, "--out", str(out)]).exit_code == 0
    page.set_viewport_size({"width": width, "height": 900})
    page.goto((out / "report.html").as_uri())
    shown = page.evaluate(SHOWN_TEXT)
    assert len(shown) == 4, shown
    assert {size for size, _, _ in shown} == {"narrow"}  # one drawing for every width, inlined once
    assert min(smallest for _, smallest, _ in shown) >= 11, shown
    assert max(biggest for _, _, biggest in shown) <= 20, shown
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(tmp_path / f"report-{width}.png"), full_page=True)
    if os.environ.get("RAPPORT_REPORT_SHOTS"):
        shutil.copyfile(tmp_path / f"report-{width}.png",
                        Path(os.environ["RAPPORT_REPORT_SHOTS"]) / f"report-{width}.png")
