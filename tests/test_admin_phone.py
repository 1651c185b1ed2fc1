"""The admin's pages on a phone (390 × 844) in headless Chromium: nothing cut off, every control big enough to tap."""

from __future__ import annotations

import pytest

from survey.invites.contacts import ContactRow
from survey.invites.operations import import_contacts
from tests.dashboard_support import make_user
from tests.test_dashboard_phone import PHONE, problems_on
from tests.test_results_browser import sign_in

pytestmark = pytest.mark.browser


def test_users_and_contacts_fit_a_phone(live_server, browser, app, tmp_path):
    make_user("admin", email="admin@example.com")
    make_user("analyst", email="a.very.long.address.for.an.analyst@northwind-broadband.example")
    import_contacts([ContactRow(line=n, email=f"customer{n}@example.com", name=f"Customer {n}",
                                attributes={"plan": "business", "region": "north"}) for n in range(2, 5)])
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server.url, "admin@example.com")
    problems = []
    for path in ("/users", "/contacts", "/tokens", "/account"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(tmp_path / f"phone{path.replace('/', '-')}.png"), full_page=True)
        problems += problems_on(page, path)
        # A table that scrolls sideways hid the Change, Deactivate and Edit buttons past the screen's edge.
        for button in page.locator("main table button, main table a.button").all():
            box = button.bounding_box()
            if box and box["x"] + box["width"] > PHONE["width"]:
                problems.append(f"{path}: {button.inner_text()!r} ends at {box['x'] + box['width']:.0f} px")
    context.close()
    assert not problems, "\n".join(problems)
