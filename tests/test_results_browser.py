"""An analyst in real headless Chromium: signs in, reads a survey's results, filters, corrects a label.

Also photographs the demo's results page and a pain-point drill-down, after a
real ``flask analyze``. ``RAPPORT_UPDATE_SCREENSHOTS=1`` copies them to
survey/static/screenshots/ for the README (training a model first if none is
found); otherwise they are only checked and left in the test's folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect
import sqlalchemy as sa

from survey.db import db
from survey.models import LabelCorrection, PainPointRecord, Response, Survey
from tests.dashboard_support import PASSWORD, make_user
from tests.results_support import add_run, label

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent.parent / "survey" / "static" / "screenshots"


def sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/surveys")


def test_analyst_filters_the_results_and_corrects_a_label(live_server, browser, make_survey, make_response):
    survey = make_survey("csat", name="Support CSAT")
    by_email = make_response(survey, score=1, comment="The refund never arrived", channel="email",
                             meta={"plan": "pro"})
    make_response(survey, score=5, comment="Lovely agent, sorted in minutes", channel="widget", meta={"plan": "basic"})
    label(by_email, "negative", "other")
    add_run(survey, [("refund never arrived", "service", [by_email])])
    analyst = make_user("analyst", email="ana@example.com")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url, analyst.email)
    page.get_by_role("link", name="Support CSAT").first.click()
    # wait_for_load_state() returned at once (the list being left was loaded) and page.url was still /surveys
    page.wait_for_url(re.compile(r".*/surveys/[^/?]+(/results)?$"))
    if "/results" not in page.url:  # the survey's own page first, then its results
        page.get_by_role("link", name="Results").click()
    page.wait_for_url("**/results")
    assert page.get_by_role("heading", name="Support CSAT").is_visible()
    assert "n = 2" in page.locator(".stat.metric").inner_text()

    page.get_by_label("Channel").select_option("email")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**channel=email**")
    assert "n = 1" in page.locator(".stat.metric").inner_text()
    assert page.get_by_role("article").get_by_text("The refund never arrived", exact=True).is_visible()
    assert page.get_by_text("Lovely agent").count() == 0
    assert page.locator(".chip").inner_text().startswith("channel: e-mail")
    # Every chart is drawn for the same filter (and loads).
    for img in page.locator("img.chart-img").all():
        assert "channel=email" in img.get_attribute("src")
        assert img.evaluate("i => i.complete && i.naturalWidth > 0")

    comment = page.locator(f"#r{by_email.id}")
    comment.get_by_text("Correct labels").click()
    comment.get_by_label("Theme").select_option("service")
    comment.get_by_role("button", name="Save").click()
    # Saved in place by dashboard.js: no reload, the label shows the correction at once.
    expect(comment.get_by_role("status")).to_have_text("Saved.")
    assert "✎ corrected" in comment.locator(".label.theme-service").inner_text()
    assert "channel=email" in page.url and "#" not in page.url

    db.session.expire_all()
    # the changed theme is a correction; the sentiment left as it was stays the model's (Save changes)
    (correction,) = db.session.scalars(sa.select(LabelCorrection))
    assert (correction.response_id, correction.field, correction.value, correction.user_id, correction.confirmed) == \
        (by_email.id, "theme", "service", analyst.id, False)
    assert "confirmed" not in comment.locator('.label[data-field="sentiment"]').inner_text()
    # Confirm both makes it the analyst's too
    comment.get_by_role("button", name="Confirm both").click()
    page.wait_for_function("id => document.querySelector(`#${id} .correction-status`).textContent === 'Confirmed.'",
                           arg=f"r{by_email.id}")
    assert "✓ confirmed" in comment.locator('.label[data-field="sentiment"]').inner_text()
    db.session.expire_all()
    assert db.session.scalar(sa.select(LabelCorrection).where(LabelCorrection.field == "sentiment")).confirmed
    assert db.session.get(Response, by_email.id).theme == "service"
    page.reload()
    assert "corrected" in page.locator(f"#r{by_email.id} .label.theme-service").inner_text()

    # The drill-down from the pain point, with the filter kept.
    page.get_by_role("link", name="Overview").click()
    page.get_by_role("link", name="refund never arrived").click()
    expect(page.get_by_role("heading", name="refund never arrived")).to_be_visible()
    assert "pain=" in page.url and "channel=email" in page.url
    context.close()


def test_corrections_work_without_javascript(live_server, browser, make_survey, make_response):
    survey = make_survey("nps")
    response = make_response(survey, score=2, comment="Nobody called back")
    label(response, "neutral", "other")
    analyst = make_user("analyst", email="nojs@example.com")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server.url, analyst.email)
    page.goto(f"{live_server.url}/surveys/{survey.public_key}/comments?band=negative")
    comment = page.locator(f"#r{response.id}")
    comment.get_by_text("Correct labels").click()
    comment.get_by_label("Sentiment").select_option("negative")
    comment.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/comments?band=negative#r{response.id}")
    assert "Saved your sentiment: answer" in page.locator(".flashes").inner_text()
    assert "corrected" in page.locator(f"#r{response.id} .label.sentiment-negative").inner_text()
    db.session.expire_all()
    assert db.session.get(Response, response.id).sentiment == "negative"
    # without JavaScript the pressed button still says which: Confirm both confirms the theme too
    comment.get_by_text("Correct labels").click()
    comment.get_by_role("button", name="Confirm both").click()
    # The address is the one already shown (the first save's redirect): wait_for_url returned at once.
    expect(page.locator(".flashes")).to_contain_text("Confirmed: answer")
    assert "✓ confirmed" in page.locator(f"#r{response.id} .label.theme-other").inner_text()
    context.close()


@pytest.mark.slow
def test_screenshots_of_the_demo_after_a_real_analysis(app, runner, live_server, browser, tmp_path):
    from survey.demo import seed_demo

    seed_demo("http://127.0.0.1")
    result = runner.invoke(args=["analyze"])
    if result.exit_code != 0 and "train" in result.output:
        if not os.environ.get("RAPPORT_UPDATE_SCREENSHOTS"):
            pytest.skip("no trained model to analyse the demo with (`flask analyze train` makes one)")
        trained = runner.invoke(args=["analyze", "train"])
        assert trained.exit_code == 0, trained.output
        result = runner.invoke(args=["analyze"])
    assert result.exit_code == 0, result.output
    survey = db.session.scalar(sa.select(Survey).where(Survey.kind == "nps"))
    point = db.session.scalar(sa.select(PainPointRecord).where(PainPointRecord.survey_id == survey.id).order_by(PainPointRecord.rank))
    assert point is not None, "the analysis found no pain point in the demo NPS survey"
    analyst = make_user("analyst", email="analyst@example.com")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url, analyst.email)
    shots = {}
    for name, url in [("results", f"/surveys/{survey.public_key}/results"),
                      ("painpoint", f"/surveys/{survey.public_key}/comments?pain={point.id}")]:
        page.goto(live_server.url + url)
        page.wait_for_load_state("networkidle")
        # Nothing overflows a 1280-pixel window, and every chart drew.
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, name
        for img in page.locator("img.chart-img").all():
            assert img.evaluate("i => i.complete && i.naturalWidth > 0"), img.get_attribute("src")
        if name == "painpoint":  # show the correction form of the first comment too
            page.locator("details.correct").first.evaluate("details => { details.open = true }")
        shots[name] = tmp_path / f"{name}.png"
        page.screenshot(path=str(shots[name]), full_page=True)
    context.close()
    if os.environ.get("RAPPORT_UPDATE_SCREENSHOTS"):
        for name, path in shots.items():
            shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
