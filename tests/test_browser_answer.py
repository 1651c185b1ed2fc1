"""A customer answers in real headless Chromium, with the mouse and with the keyboard."""

import pytest
from playwright.sync_api import expect
import sqlalchemy as sa

from survey.db import db
from survey.models import Response

pytestmark = pytest.mark.browser


def stored():
    db.session.expire_all()
    return db.session.scalars(sa.select(Response)).all()


def test_answer_with_mouse_on_a_phone(live_server, browser, make_survey, tmp_path):
    survey = make_survey("nps", subject="Acme Broadband", followup_negative="What went wrong?")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/s/{survey.public_key}?meta_plan=pro")
    assert page.get_by_role("heading", name="How likely are you to recommend Acme Broadband").is_visible()
    box = page.locator("label.option").first.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 44  # tap targets
    page.locator("label.option").nth(3).click()
    assert page.locator("#followup-prompt").inner_text() == "What went wrong?"
    page.get_by_label("What went wrong?").fill("Engineer never came <b>twice</b>")
    page.screenshot(path=str(tmp_path / "answer.png"))
    page.get_by_role("button", name="Send").click()
    page.wait_for_url("**/thanks")
    assert "Thank you" in page.get_by_role("status").inner_text()
    [row] = stored()
    assert (row.score, row.comment, row.channel, row.meta) == (3, "Engineer never came <b>twice</b>", "link", {"plan": "pro"})
    context.close()


def test_answer_with_keyboard_only(live_server, page, make_survey):
    survey = make_survey("csat")
    page.goto(f"{live_server.url}/s/{survey.public_key}")
    page.keyboard.press("Tab")  # focus lands on the radio group
    focused = page.evaluate("document.activeElement.name")
    assert focused == "score"
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.value") in ("4", "3")
    chosen = page.evaluate("document.activeElement.value")
    page.keyboard.press("Tab")
    page.keyboard.type("typed with the keyboard")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/thanks")
    [row] = stored()
    assert row.score == int(chosen) and row.comment == "typed with the keyboard"


def test_validation_error_is_shown_next_to_the_scale(live_server, page, make_survey):
    survey = make_survey("ces")
    page.goto(f"{live_server.url}/s/{survey.public_key}")
    page.locator("#comment").fill("forgot the score")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_have_text("Please choose a score.")  # the refused post's page
    assert page.locator("#comment").input_value() == "forgot the score"
    assert stored() == []
