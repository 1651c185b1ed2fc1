"""The digest e-mail as received, rendered in headless Chromium on a desktop mail pane and on a phone."""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.sync_api import expect

from survey.alerts.digest import queue_digests
from survey.invites.delivery import deliver
from tests.alerts_support import AFTER_THE_WEEK, MONDAY, digest_week, owner, site  # noqa: F401
from tests.conftest import REPO
from tests.invites_support import html_part, mailbox, smtp_server  # noqa: F401

pytestmark = pytest.mark.browser
SCREENSHOTS = REPO / "survey" / "static" / "screenshots"


def test_the_received_digest_reads_well_on_a_phone(browser, digest_week, smtp_server, mailbox, tmp_path):
    queue_digests(MONDAY, now=AFTER_THE_WEEK)
    assert deliver().sent == 1
    [message] = mailbox.messages()
    for width, name in ((600, "digest-email.png"), (360, "digest-email-phone.png")):
        context = browser.new_context(viewport={"width": width, "height": 700}, java_script_enabled=False)
        page = context.new_page()
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.set_content(html_part(message))
        assert page.get_by_role("heading", name="Broadband NPS").is_visible()
        assert page.get_by_text("-100 points from the week before").is_visible()
        assert page.get_by_text("Slow delivery").is_visible()
        assert page.get_by_text("11 low scores waiting for a follow-up").is_visible()
        for link in ("See the results", "Follow-up inbox", "Stop the weekly digest"):
            box = page.get_by_role("link", name=link).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('h1')).fontSize)")
        assert size >= 20  # the survey's name reads at a glance
        assert requests == []  # nothing fetched: no images, fonts or scripts
        page.screenshot(path=str(tmp_path / name), full_page=True)
        context.close()
    if os.environ.get("RAPPORT_UPDATE_SCREENSHOTS"):
        for name in ("digest-email.png", "digest-email-phone.png"):
            shutil.copyfile(tmp_path / name, SCREENSHOTS / name)


def test_the_alert_reads_well_on_a_phone(browser, site, owner, make_survey, make_response, smtp_server, mailbox,
                                         tmp_path):
    from survey.alerts.low_scores import queue_alerts

    survey = make_survey("nps", name="Broadband NPS", owner_id=owner.id)
    make_response(survey, score=0, comment="Cancelling tomorrow. Third outage this week and nobody calls back.",
                  channel="email")
    make_response(survey, score=4, comment="x" * 400, channel="widget")  # one long word: must wrap, not scroll
    make_response(survey, score=6, channel="link")
    queue_alerts()
    assert deliver().sent == 1
    [message] = mailbox.messages()
    context = browser.new_context(viewport={"width": 360, "height": 700}, java_script_enabled=False)
    page = context.new_page()
    page.set_content(html_part(message))
    assert page.get_by_role("heading", name="3 low scores on Broadband NPS").is_visible()
    assert page.get_by_role("link", name="Follow up").count() == 3
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(tmp_path / "alert-email-phone.png"), full_page=True)
    context.close()
    if os.environ.get("RAPPORT_UPDATE_SCREENSHOTS"):
        shutil.copyfile(tmp_path / "alert-email-phone.png", SCREENSHOTS / "alert-email-phone.png")


def test_a_person_turns_the_digest_off_on_the_account_page_from_a_phone(live_server, browser, site, owner):
    from survey.alerts.models import MailPreference
    from survey.db import db
    from tests.dashboard_support import PASSWORD

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/login")
    page.get_by_label("E-mail address").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/account")
    digest = page.get_by_label("Weekly digest")
    assert digest.is_checked() and page.get_by_label("Low-score alerts").is_checked()
    digest.uncheck()
    page.get_by_role("button", name="Save e-mail settings").click()
    expect(page.get_by_text("Your e-mail settings are saved.")).to_be_visible()
    assert not page.get_by_label("Weekly digest").is_checked()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path="/tmp/alerts-account-phone.png", full_page=True)
    context.close()
    db.session.expire_all()
    preference = db.session.get(MailPreference, owner.id)
    assert (preference.low_score_alerts, preference.weekly_digest) == (True, False)
