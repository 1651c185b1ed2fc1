"""An admin in real headless Chromium starts an analysis of the demo survey and reads its pain points and report.

The analysis runs in its background thread with the shipped model, the page
shows its progress and reloads itself when it ends. The report it wrote is then
read on a phone (390 px: nothing overflows, no chart is cropped) and on a
desktop. ``RAPPORT_UPDATE_SCREENSHOTS=1`` copies the pictures to
survey/static/screenshots/ for the README.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect
import sqlalchemy as sa

from survey.db import db
from survey.models import AnalysisJob, AnalysisRun, Survey
from tests.dashboard_support import make_user
from tests.test_results_browser import SCREENSHOTS, sign_in

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def test_admin_analyses_now_and_the_report_reads_on_a_phone(live_server, browser, tmp_path):
    from survey.demo import seed_demo

    seed_demo("http://127.0.0.1")
    survey = db.session.scalar(sa.select(Survey).where(Survey.kind == "nps"))
    admin = make_user("admin", email="boss@example.com")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/surveys/{survey.public_key}/results")
    panel = page.locator("section[aria-labelledby=pain-title]")
    assert "No analysis has run for this survey yet" in panel.inner_text()

    page.get_by_role("button", name="Analyze now").click()
    # The page being left is /results too: wait_for_url("**/results") returned before the reply came.
    expect(page.locator(".flashes")).to_contain_text("Analysis started")
    # dashboard.js polls the job and reloads the page when it has finished.
    page.wait_for_selector(".pain-table", timeout=120_000)
    assert "Last analysis" in panel.inner_text()
    assert page.get_by_role("button", name="Analyze now").is_visible()
    db.session.expire_all()
    job = db.session.scalar(sa.select(AnalysisJob))
    assert job.status == "done" and job.requested_by_id == admin.id and job.total >= 300
    rows = panel.locator(".pain-table tbody tr")
    assert rows.count() >= 5
    shots = {"dashboard-painpoints": tmp_path / "dashboard-painpoints.png"}
    panel.screenshot(path=str(shots["dashboard-painpoints"]))
    context.close()

    report = Path(db.session.get(AnalysisRun, job.run_id).report_dir) / "report.html"
    for name, viewport in [("report-phone", PHONE), ("report", {"width": 1280, "height": 900})]:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(report.as_uri())
        width = viewport["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        # Each chart is in the file once, and shown at every width.
        assert page.locator("svg.chart:visible").count() == page.locator("svg.chart").count() > 0
        for chart in page.locator("svg.chart:visible").all():
            box = chart.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (name, box)
        heading = page.get_by_role("heading", name="Pain points")
        assert heading.is_visible()
        if name == "report-phone":  # the phone picture shows the pain points, the desktop one the whole report
            heading.scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, -16)")
        shots[name] = tmp_path / f"{name}.png"
        page.screenshot(path=str(shots[name]), full_page=name == "report")
        context.close()
    if os.environ.get("RAPPORT_UPDATE_SCREENSHOTS"):
        for name, path in shots.items():
            shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
