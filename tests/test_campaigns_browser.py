"""The whole loop in real headless Chromium: an admin previews and sends a campaign on the dashboard,
the delivery worker hands it to a real SMTP server (aiosmtpd on 127.0.0.1), the customer clicks a
score in the received e-mail and comments, and the team follows the answer up to resolved.

``RAPPORT_SCREENSHOTS=1`` also writes the README pictures (survey/static/screenshots/campaign*.png).
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
from survey.demo import DEMO_CONTACTS
from survey.followup.models import FollowUp
from survey.invites.contacts import ContactRow
from survey.invites.delivery import deliver
from survey.invites.operations import import_contacts
from survey.invites.scheduling import run_due
from survey.models import Contact, Response, utcnow
from tests.dashboard_support import PASSWORD, make_user
from tests.invites_support import mailbox, score_links, smtp_server  # noqa: F401

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parent.parent / "survey" / "static" / "screenshots"


def demo_contacts() -> None:
    """The demo's five contacts; Ben's address bounced and Eva unsubscribed."""
    import_contacts([ContactRow(line=i, email=email, name=name, attributes=dict(attributes))
                     for i, (email, name, attributes) in enumerate(DEMO_CONTACTS, start=2)])
    contacts = {c.email: c for c in db.session.scalars(sa.select(Contact))}
    contacts["ben.okafor@example.com"].bounced_at = utcnow()
    contacts["eva.novak@example.com"].unsubscribed_at = utcnow()
    db.session.commit()


def watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_an_admin_sends_a_campaign_and_the_answer_from_the_email_is_followed_up(
        live_server, browser, smtp_server, mailbox, make_survey, tmp_path):
    make_survey("nps", name="Broadband NPS", subject="Northwind Broadband", email_subject="How likely would you recommend us, {name}?")
    make_survey("csat", name="Support CSAT")
    demo_contacts()
    admin = make_user("admin", email="lee@example.com")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = watch(page)
    url = live_server.url

    page.goto(f"{url}/campaigns")
    page.get_by_label("E-mail address").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/campaigns")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Survey").select_option(label="Broadband NPS")
    page.get_by_label("Campaign name").fill("Broadband check-in")
    page.get_by_label("Audience").fill("plan=pro,basic,business")
    page.get_by_label("Reminder after (days)").fill("3")
    page.get_by_role("button", name="Preview the audience").click()
    preview = page.locator("#preview")
    preview.wait_for()
    assert page.locator("#preview-invited").inner_text() == "3"
    assert page.locator("#preview-skipped").inner_text() == "2"
    assert "1 unsubscribed" in preview.inner_text() and "1 bounced" in preview.inner_text()
    page.screenshot(path=str(tmp_path / "campaign-new.png"), full_page=True)
    page.get_by_role("button", name="Send to 3 contacts").click()
    page.wait_for_url(re.compile(r".*/campaigns/\d+$"))
    assert "Queued 3 invitations; skipped 2" in page.content()

    # The delivery worker's pass: the scheduler's tick, then delivery through aiosmtpd.
    assert not run_due().anything
    assert deliver().sent == 3
    [message] = [m for m in mailbox.messages() if "ana.lima@example.com" in m["To"]]
    assert {m["To"].addresses[0].addr_spec for m in mailbox.messages()} == {
        "ana.lima@example.com", "chloe.martin@example.com", "dev.patel@example.com"}

    # Ana opens her e-mail's score link and adds a comment.
    customer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    answer = customer.new_page()
    answer.goto(score_links(message)[3])
    answer.locator("#click-status").filter(has_text="is saved").wait_for()
    answer.locator("#comment").fill("The router dropped twice this week and support never called back.")
    answer.get_by_role("button", name="Send").click()
    answer.wait_for_url("**/thanks")
    customer.close()

    page.reload()
    assert page.locator("#answered").inner_text() == "1" and page.locator("#sent").inner_text() == "3"
    assert "33.3% response rate" in page.content()
    # One chart, drawn twice (for a desktop and for a phone): the page's width shows one.
    assert page.locator("svg.chart").count() == 2 and page.locator("svg.chart:visible").count() == 1
    assert page.locator("svg.chart-wide").is_visible()
    shots = {"campaign": tmp_path / "campaign.png", "campaign-phone": tmp_path / "campaign-phone.png"}
    page.screenshot(path=str(shots["campaign"]), full_page=True)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                has_touch=True, storage_state=context.storage_state())
    small = phone.new_page()
    small.goto(page.url)
    assert small.evaluate("document.documentElement.scrollWidth") <= 390  # nothing scrolls sideways
    assert small.locator("svg.chart-narrow").is_visible() and not small.locator("svg.chart-wide").is_visible()
    small.screenshot(path=str(shots["campaign-phone"]), full_page=True)
    for path in ("/campaigns/new", "/campaigns"):
        small.goto(f"{url}{path}")
        assert small.evaluate("document.documentElement.scrollWidth") <= 390, path
        small.screenshot(path=str(tmp_path / f"phone{path.replace('/', '-')}.png"), full_page=True)
    phone.close()

    # The team follows the low score up.
    page.get_by_role("link", name="Follow-up", exact=True).click()
    item = page.locator("article.inbox-item").filter(has_text="router dropped twice")
    expect(item).to_contain_text("Ana Lima")
    item.get_by_role("link", name=re.compile("Follow up")).click()
    page.wait_for_url(re.compile(r".*/follow-up/\d+$"))
    page.get_by_label("Assigned to").select_option(label="lee@example.com")
    page.get_by_label("Follow-up state").select_option("contacted")
    page.get_by_label("Add an internal note").fill("Called Ana: new router on its way.")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Saved.")
    assert page.get_by_text("new router on its way").is_visible()
    page.get_by_label("Follow-up state").select_option("resolved")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Saved.")

    db.session.expire_all()
    [response] = db.session.scalars(sa.select(Response)).all()
    assert (response.score, response.channel, response.contact.email) == (3, "email", "ana.lima@example.com")
    follow_up = db.session.scalar(sa.select(FollowUp))
    assert (follow_up.state, follow_up.assignee.email, [n.text for n in follow_up.notes]) == (
        "resolved", "lee@example.com", ["Called Ana: new router on its way."])
    assert not problems, problems
    context.close()
    if os.environ.get("RAPPORT_SCREENSHOTS"):
        for name, path in shots.items():
            shutil.copy(path, SCREENSHOTS / f"{name}.png")
