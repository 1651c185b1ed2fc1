"""The admin's pages on a phone (390 × 844) in headless Chromium: nothing cut off, every control big enough to tap."""

from __future__ import annotations

import pytest

from survey.auth.operations import create_api_token
from survey.invites.contacts import ContactRow
from survey.invites.operations import import_contacts, send_campaign
from tests.dashboard_support import make_user
from tests.test_dashboard_phone import PHONE, problems_on
from tests.test_results_browser import sign_in

pytestmark = pytest.mark.browser


def test_users_contacts_tokens_and_campaigns_fit_a_phone(live_server, browser, app, make_survey, tmp_path):
    admin = make_user("admin", email="admin@example.com")
    create_api_token(admin, "Nightly export to the data warehouse", 90)
    survey = make_survey("nps", name="Broadband NPS")
    make_survey("ces", name="Account changes CES, after a home move")  # the inbox's survey choice is this wide
    make_user("analyst", email="a.very.long.address.for.an.analyst@northwind-broadband.example")
    import_contacts([ContactRow(line=n, email=f"customer{n}@example.com", name=f"Customer {n}",
                                attributes={"plan": "business", "region": "north"}) for n in range(2, 5)])
    send_campaign(survey, base_url=live_server.url, name="Spring check-in")
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server.url, "admin@example.com")
    problems = []
    for path in ("/users", "/contacts", "/tokens", "/account", f"/surveys/{survey.public_key}", "/follow-up"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(tmp_path / f"phone{path.split('/')[1]}.png"), full_page=True)
        problems += problems_on(page, path)
        # A table that scrolled sideways hid the Change, Deactivate and Revoke buttons, and a campaign's
        # response rate, past the screen's edge.
        for button in page.locator("main table button, main table td:last-child").all():
            box = button.bounding_box()
            if box and box["x"] + box["width"] > PHONE["width"]:
                problems.append(f"{path}: {button.inner_text()!r} ends at {box['x'] + box['width']:.0f} px")
    context.close()
    assert not problems, "\n".join(problems)
