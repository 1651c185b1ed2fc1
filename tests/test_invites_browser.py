"""The received e-mail in headless Chromium: how it looks, a real click, and a script-running scanner."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.invites import operations
from survey.invites.delivery import deliver
from survey.invites.models import Invitation
from survey.models import Response
from tests.conftest import REPO
from tests.invites_support import add_contacts, html_part, mailbox, score_links, smtp_server  # noqa: F401

pytestmark = pytest.mark.browser
SCREENSHOT = REPO / "survey" / "static" / "screenshots" / "email.png"


def stored():
    db.session.expire_all()
    return db.session.scalars(sa.select(Response).order_by(Response.id)).all()


def received_email(mailbox, make_survey, base_url: str, **survey_fields):
    survey = make_survey("nps", subject="Northwind Broadband", **survey_fields)
    add_contacts(1)
    operations.send_campaign(survey, base_url=base_url, sender="Northwind Care <care@northwind.example>")
    assert deliver().sent == 1
    [message] = mailbox.messages()
    return message


def test_the_received_html_email_renders_as_a_clean_one_row_scale(browser, smtp_server, mailbox, make_survey,
                                                                  tmp_path):
    message = received_email(
        mailbox, make_survey, "https://surveys.example.com",
        email_subject="{name}, a quick question about your broadband",
        email_intro="Thanks for choosing Northwind. We would love to know how we are doing: "
                    "it takes one click.",
    )
    for width, name in ((600, "email.png"), (360, "email-phone.png")):
        context = browser.new_context(viewport={"width": width, "height": 640}, java_script_enabled=False)
        page = context.new_page()
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.set_content(html_part(message))
        buttons = page.get_by_role("link").filter(has_text=re.compile(r"^\d+$"))
        assert buttons.count() == 11
        boxes = [buttons.nth(i).bounding_box() for i in range(11)]
        assert len({round(box["y"]) for box in boxes}) == 1  # one row, even on a phone
        assert all(box["width"] >= 24 and box["height"] >= 40 for box in boxes)
        assert boxes[-1]["x"] + boxes[-1]["width"] <= width
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        assert page.get_by_text("0 = Not at all likely").is_visible()
        assert page.get_by_text("Hello Person 0,").is_visible()
        assert requests == []  # nothing fetched: no images, fonts or scripts to load
        page.screenshot(path=str(tmp_path / name), full_page=True)
        context.close()
    if os.environ.get("RAPPORT_UPDATE_SCREENSHOTS"):
        shutil.copyfile(tmp_path / "email.png", SCREENSHOT)


def test_a_click_in_the_email_records_the_score_and_the_page_takes_a_comment(
        browser, live_server, smtp_server, mailbox, make_survey, tmp_path):
    message = received_email(mailbox, make_survey, live_server.url)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    inbox = context.new_page()
    inbox.set_content(html_part(message))
    with context.expect_page() as opened:
        inbox.get_by_role("link", name="8", exact=True).click()
    page = opened.value
    page.wait_for_load_state()
    status = page.locator("#click-status")
    status.filter(has_text="is saved").wait_for()
    assert "your score of 8 is saved" in status.inner_text()
    assert page.locator("input[name=score][value='8']").is_checked()
    assert [(r.score, r.channel) for r in stored()] == [(8, "email")]
    page.screenshot(path=str(tmp_path / "followup.png"))
    page.locator("#comment").fill("Fast fibre, friendly engineer")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url("**/thanks")
    assert "Change your answer" in page.content()
    [answer] = stored()
    assert (answer.score, answer.comment) == (8, "Fast fibre, friendly engineer")
    context.close()


def test_a_scanner_that_runs_scripts_on_every_link_records_nothing(app, browser, live_server, smtp_server, mailbox,
                                                                   make_survey):
    message = received_email(mailbox, make_survey, live_server.url)
    links = score_links(message)
    context = browser.new_context()
    for score in range(11):  # a sandbox browser opening each link in turn and letting its scripts run
        page = context.new_page()
        with page.expect_response(lambda r: r.url.endswith("/click")):
            page.goto(links[score])
        page.close()
    assert stored() == []
    # Later (past the burst window), the person clicks.
    invitation = db.session.scalar(sa.select(Invitation))
    invitation.last_click_at -= dt.timedelta(seconds=app.config["INVITE_CLICK_BURST_SECONDS"])
    invitation.scan_suspected_at -= dt.timedelta(seconds=app.config["INVITE_CLICK_BURST_SECONDS"])
    db.session.commit()
    page = context.new_page()
    page.goto(links[9])
    page.locator("#click-status").filter(has_text="is saved").wait_for()
    assert [r.score for r in stored()] == [9]
    context.close()


def test_screenshot_in_the_readme_exists():
    assert SCREENSHOT.exists() and SCREENSHOT.stat().st_size > 10_000
    assert "survey/static/screenshots/email.png" in (REPO / "README.md").read_text()
    assert Path(SCREENSHOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
