"""An analyst closes the loop in real headless Chromium: finds a low score in the follow-up inbox,
assigns it, notes it and resolves it; the inbox is looked at on a desktop and on a 390 px phone.

``RAPPORT_SCREENSHOTS=1`` also writes the README pictures (survey/static/screenshots/followup-*.png).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect
import sqlalchemy as sa

from survey.db import db
from survey.followup.models import FollowUp
from survey.models import Contact, utcnow
from tests.dashboard_support import PASSWORD, make_user

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parent.parent / "survey" / "static" / "screenshots"
ANSWERS = [  # hours ago, score, comment, contact's name and attributes
    (30, 2, "Waited three weeks for the router, nobody called back.", "Sam Ortiz", {"plan": "basic", "region": "west"}),
    (20, 9, "Quick install, friendly engineer.", None, None),
    (8, 5, "Price went up again without a word.", "Ana Lima", {"plan": "pro", "region": "north"}),
    (3, 0, "Line drops every evening. Cancelling tomorrow.", "Dana Reyes", {"plan": "business", "region": "south"}),
]


def seed(make_survey, make_response):
    survey = make_survey("nps", name="Broadband NPS", subject="Northwind Broadband")
    now = utcnow()
    for number, (hours, score, comment, name, attributes) in enumerate(ANSWERS):
        contact = None
        if name:
            contact = Contact(email=f"{name.split()[0].lower()}@example.com", name=name, attributes=attributes)
            db.session.add(contact)
            db.session.flush()
        make_response(survey, score=score, comment=comment, channel="email",
                      contact_id=contact.id if contact else None, created_at=now - dt.timedelta(hours=hours))
    return survey


def sign_in(page, url: str, email: str) -> None:
    page.goto(f"{url}/follow-up")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/follow-up")


def test_an_analyst_assigns_notes_and_resolves_a_low_score(live_server, browser, make_survey, make_response, tmp_path):
    seed(make_survey, make_response)
    analyst = make_user("analyst", email="alex@example.com")
    make_user("admin", email="lee@example.com")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    sign_in(page, live_server.url, analyst.email)
    items = page.locator("article.inbox-item")
    assert items.count() == 3  # the 9 is a promoter: not in the inbox
    assert "Cancelling tomorrow" in items.first.inner_text()  # newest first
    assert "business" in items.first.inner_text() and "Dana Reyes" in items.first.inner_text()

    items.first.get_by_role("link", name=re.compile("Follow up")).click()
    page.wait_for_url(re.compile(r".*/follow-up/\d+$"))
    page.get_by_label("Assigned to").select_option(label="lee@example.com")
    page.get_by_label("Follow-up state").select_option("contacted")
    page.get_by_label("Add an internal note").fill("Called Dana: engineer booked for Thursday, 1 month free.")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Saved.")
    assert page.get_by_text("engineer booked for Thursday").is_visible()
    assert page.get_by_text("to lee@example.com by alex@example.com").is_visible()

    page.get_by_role("link", name="Needs follow-up").click()
    page.wait_for_url(f"{live_server.url}/follow-up")
    first = page.locator("article.inbox-item").first
    assert "lee@example.com" in first.inner_text() and "followed up after" in first.inner_text()
    shots = {"followup-inbox": tmp_path / "followup-inbox.png", "followup-inbox-phone": tmp_path / "followup-phone.png"}
    page.screenshot(path=str(shots["followup-inbox"]), full_page=True)

    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                has_touch=True, storage_state=context.storage_state())
    small = phone.new_page()
    small.goto(f"{live_server.url}/follow-up")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390  # nothing cut or scrolled sideways
    small.screenshot(path=str(shots["followup-inbox-phone"]), full_page=True)
    phone.close()

    first.get_by_role("link", name=re.compile("Follow up")).click()
    page.get_by_label("Follow-up state").select_option("resolved")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Saved.")
    page.get_by_role("link", name="Needs follow-up").click()
    # expect() retries until the new page is in: a bare count() can read the page being left
    expect(page.locator("article.inbox-item")).to_have_count(2)
    expect(page.locator(".comment-list")).not_to_contain_text("Cancelling tomorrow")
    page.get_by_label("Show").select_option("resolved")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".comment-list")).to_contain_text("Cancelling tomorrow")

    db.session.expire_all()
    follow_up = db.session.scalar(sa.select(FollowUp))
    assert (follow_up.state, follow_up.state_by_id, follow_up.assignee.email) == ("resolved", analyst.id,
                                                                                  "lee@example.com")
    assert not problems, problems
    context.close()
    if os.environ.get("RAPPORT_SCREENSHOTS"):
        for name, path in shots.items():
            shutil.copy(path, SCREENSHOTS / f"{name}.png")
