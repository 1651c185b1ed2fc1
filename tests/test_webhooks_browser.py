"""An admin adds a webhook in real headless Chromium, copies its secret, sends a test event and
sees an answer's delivery; the pages are looked at on a desktop and on a 390 px phone."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from survey.operations import Answer, record_response
from survey.webhooks.worker import deliver_due
from tests.dashboard_support import PASSWORD, make_user
from tests.webhooks_support import Receiver, readme_verify

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(app_config):
    app_config.update(WEBHOOK_ALLOW_LOCAL_TARGETS=True, WEBHOOK_TIMEOUT_SECONDS=2)
    return app_config


def test_an_admin_adds_tests_and_watches_a_webhook(app, live_server, browser, make_survey, tmp_path):
    survey = make_survey("nps", name="Broadband NPS")
    admin = make_user("admin", email="lee@example.com")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    survey_url = f"{live_server.url}/surveys/{survey.public_key}"
    page.goto(survey_url)
    page.get_by_label("E-mail address").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(survey_url)
    assert "No webhooks yet." in page.inner_text("body")

    with Receiver() as receiver:
        page.get_by_role("link", name="Add a webhook").click()
        page.get_by_label("Endpoint address").fill("http://hooks.example.com/rapport")
        page.get_by_role("button", name="Add webhook").click()
        expect(page.locator("#url-error")).to_contain_text("must start with https://")
        page.get_by_label("Endpoint address").fill(receiver.url)
        page.get_by_role("button", name="Add webhook").click()
        secret = page.get_by_role("textbox", name="Signing secret").input_value()
        assert secret.startswith("whsec_")
        expect(page.locator("body")).to_contain_text("shown only this once")
        page.screenshot(path=str(tmp_path / "secret.png"), full_page=True)
        page.get_by_role("link", name="Done").click()

        page.get_by_role("button", name="Send a test event").click()
        page.wait_for_selector("text=Test event delivered: HTTP 200")
        assert json.loads(receiver.received[0].body)["type"] == "ping"
        assert readme_verify()(secret, receiver.received[0].headers["Rapport-Signature"], receiver.received[0].body)

        receiver.plan = [500]
        record_response(survey, Answer(score=2, comment="Line drops every evening", channel="email"))
        deliver_due()
        page.reload()
        rows = page.locator("tbody tr")
        assert rows.count() == 2 and "retrying" in rows.first.inner_text() and "HTTP 500" in rows.first.inner_text()
        page.screenshot(path=str(tmp_path / "endpoint.png"), full_page=True)

        page.goto(survey_url)
        panel = page.locator("section", has=page.locator("#webhooks-title"))
        assert "enabled" in panel.inner_text() and "HTTP 500" in panel.inner_text()
        page.screenshot(path=str(tmp_path / "survey.png"), full_page=True)

        phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                    has_touch=True, storage_state=context.storage_state())
        small = phone.new_page()
        small.goto(survey_url)
        small.screenshot(path=str(tmp_path / "survey-phone.png"), full_page=True)
        assert small.evaluate("document.documentElement.scrollWidth") <= 390  # nothing cut or scrolled sideways
        small.get_by_role("link", name=re.compile("127.0.0.1")).click()
        small.wait_for_selector("#deliveries-title")
        small.screenshot(path=str(tmp_path / "endpoint-phone.png"), full_page=True)
        assert small.evaluate("document.documentElement.scrollWidth") <= 390
        phone.close()

        page.get_by_role("link", name=re.compile("127.0.0.1")).click()
        page.get_by_role("link", name="Delete").click()
        page.get_by_role("button", name="Delete webhook").click()
        page.wait_for_url(re.compile(r".*/surveys/[^/]+$"))
        assert "Webhook endpoint deleted" in page.inner_text("body") and "No webhooks yet." in page.inner_text("body")
    assert not problems, problems
    context.close()
