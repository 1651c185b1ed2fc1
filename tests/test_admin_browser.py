"""An admin in real headless Chromium: signs in, creates a survey, copies its snippet, manages a token.

Also checks that no signed-in page of this feature trips the Content-Security-Policy
(everything runs from dashboard.js; no inline script or style is needed).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
import sqlalchemy as sa

from survey.db import db
from survey.invites.contacts import ContactRow
from survey.invites.operations import import_contacts, send_campaign
from survey.models import ApiToken, Survey, SurveyOrigin
from tests.dashboard_support import PASSWORD, make_user

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parent.parent / "survey" / "static" / "screenshots"


def test_admin_signs_in_creates_a_survey_copies_the_snippet_and_revokes_a_token(live_server, browser, app,
                                                                                 make_survey, make_response):
    admin = make_user("admin", email="admin@example.com")
    existing = make_survey("nps", name="Broadband NPS", subject="Northwind Broadband",
                           origins=[SurveyOrigin(origin="https://www.northwind.example")])
    for score in (10, 9, 9, 7, 3, 0, 10, 8):
        make_response(existing, score=score)
    import_contacts([ContactRow(line=n, email=f"customer{n}@example.com", attributes={"plan": plan})
                     for n, plan in enumerate(["pro", "pro", "basic", "business", "pro"], start=2)])
    send_campaign(existing, base_url=live_server.url, name="Spring check-in", segment={"plan": ["pro"]})
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    problems = []
    # Script errors and CSP violations fail the test (HTTP statuses, like the deliberate 422, are checked apart).
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(f"{live_server.url}/surveys")
    page.wait_for_url(re.compile(r".*/login\?next=(/|%2F)surveys$"))
    page.get_by_label("E-mail address").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/surveys")
    assert page.get_by_role("link", name="Broadband NPS").is_visible()

    page.get_by_role("link", name="New survey").click()
    page.get_by_label("Kind").select_option("csat")
    page.get_by_label("Name", exact=True).fill("Support CSAT")
    page.get_by_label("Subject", exact=True).fill("your support chat")
    page.get_by_label("Sites allowed to show the widget").fill("https://Shop.Example.com/\nnot a site")
    page.get_by_role("button", name="Create survey").click()
    expect(page.locator(".field.has-error .error")).to_contain_text("not an origin")
    page.get_by_label("Sites allowed to show the widget").fill("https://Shop.Example.com/")
    page.get_by_role("button", name="Create survey").click()
    # Not "**/surveys/*": the refused form's own address, /surveys/new, matched it before the redirect.
    page.wait_for_url(re.compile(r".*/surveys/(?!new$)[^/]+$"))
    survey = db.session.scalar(sa.select(Survey).where(Survey.name == "Support CSAT"))
    assert page.url.endswith(f"/surveys/{survey.public_key}")
    assert page.get_by_text("https://shop.example.com", exact=True).is_visible()

    copy = page.locator('button[data-copy="#widget-snippet"]')
    copy.click()
    page.wait_for_function("document.querySelector('button[data-copy=\"#widget-snippet\"]').textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == (f'<script src="{live_server.url}/widget.js" data-survey="{survey.public_key}" '
                      'async></script>')

    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url("**/tokens")  # else "Name" could be filled on the page being left
    page.get_by_label("Name").fill("nightly export")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").input_value()
    assert token.startswith("rpt_")
    page.once("dialog", lambda dialog: dialog.dismiss())  # "Revoke …?" → Cancel keeps it
    page.get_by_role("button", name="Revoke").click()
    assert db.session.scalar(sa.select(ApiToken.revoked_at)) is None
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_selector("text=is revoked")
    db.session.expire_all()
    assert db.session.scalar(sa.select(ApiToken.revoked_at)) is not None

    page.goto(f"{live_server.url}/surveys/{existing.public_key}")
    campaign = page.locator("tr", has_text="Spring check-in")
    assert campaign.locator("td").nth(2).inner_text() == "3"  # the three "pro" contacts were invited
    if os.environ.get("RAPPORT_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOTS / "survey-admin.png"), full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/login$"))
    assert page.get_by_text("You have signed out.").is_visible()
    assert not problems, problems
    context.close()
