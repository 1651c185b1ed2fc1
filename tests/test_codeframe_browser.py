"""An analyst edits the codeframe in headless Chromium, re-runs the analysis, and the edits hold."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from survey.codeframe import operations as ops
from survey.db import db
from tests.analyze_support import add_answers, analysis_app, read_report, tiny_model  # noqa: F401
from tests.dashboard_support import make_user
from tests.test_codeframe import ANSWERS, FIXTURE
from tests.test_results_browser import SCREENSHOTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("analysis_app")]


def analyze(runner, survey, out: Path) -> dict:
    result = runner.invoke(args=["analyze", "--survey", survey.public_key, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return read_report(out)


def point_panel(page, name: str):
    return page.locator(f'section.codeframe-point[data-point="{name}"]')


def test_rename_merge_and_move_a_comment_then_rerun(live_server, browser, runner, make_survey, make_response,
                                                    tmp_path):
    survey, responses = add_answers(make_survey, make_response, ANSWERS)
    assert runner.invoke(args=["codeframe", "import", str(FIXTURE), "--survey", survey.public_key]).exit_code == 0
    first = {p["label"]: p for p in analyze(runner, survey, tmp_path / "r1")["pain_points"]}
    moved = responses[0]
    assert moved.id in first["on hold for hours"]["response_ids"]
    analyst = make_user("analyst", email="ana@example.com")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url, analyst.email)
    page.goto(f"{live_server.url}/surveys/{survey.public_key}/codeframe")
    assert point_panel(page, "on hold for hours").locator("svg.sparkline").count() == 1
    page.screenshot(path=str(tmp_path / "codeframe.png"), full_page=True)

    hold = point_panel(page, "on hold for hours")
    hold.locator("input[name=name]").first.fill("long waits on the phone")
    hold.locator("button[data-action=rename]").click()
    expect(page.locator(".flashes")).to_contain_text("Renamed")

    crash = point_panel(page, "app keeps crashing")
    crash.locator("form:has(button[data-action=merge]) select").select_option(label="engineer did not turn up")
    crash.locator("button[data-action=merge]").click()
    expect(page.locator(".flashes")).to_contain_text("Merged")
    assert point_panel(page, "app keeps crashing").count() == 0

    row = point_panel(page, "long waits on the phone").locator(f'li[data-response="{moved.id}"]')
    row.locator("select").select_option(label="engineer did not turn up")
    row.locator("button[data-action=assign]").click()
    expect(page.locator(".flashes")).to_contain_text("now an example")
    context.close()

    db.session.expire_all()
    actions = [e.action for e in ops.edits_of(survey)]
    assert {"rename", "merge", "remove", "assign"} <= set(actions)
    again = {p["label"]: p for p in analyze(runner, survey, tmp_path / "r2")["pain_points"]}
    assert "on hold for hours" not in again and "app keeps crashing" not in again
    assert moved.id not in again["long waits on the phone"]["response_ids"]
    assert moved.id in again["engineer did not turn up"]["response_ids"]
    assert responses[5].id in again["engineer did not turn up"]["response_ids"]  # the merged app crash

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, live_server.url, analyst.email)
    page.goto(f"{live_server.url}/surveys/{survey.public_key}/codeframe")
    assert point_panel(page, "long waits on the phone").count() == 1
    shot = tmp_path / "codeframe-trends.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("RAPPORT_UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / "codeframe-trends.png").write_bytes(shot.read_bytes())
    page.close()
