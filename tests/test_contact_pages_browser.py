"""An admin works the contact list in real headless Chromium: search, add, edit attributes,
unsubscribe, clear a bounce, and forget a contact through its confirmation page (and the browser's
confirm dialogs the buttons raise); the list is checked for sideways scrolling at 390 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
import sqlalchemy as sa

from survey.db import db
from survey.invites.contacts import ContactRow
from survey.invites.operations import import_contacts
from survey.models import Contact, utcnow
from tests.dashboard_support import PASSWORD, make_user

pytestmark = pytest.mark.browser


def contact(email: str) -> Contact | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Contact).where(Contact.email == email))


def test_an_admin_searches_adds_edits_unsubscribes_unbounces_and_forgets(live_server, browser):
    import_contacts([ContactRow(line=2, email="ana.lima@example.com", name="Ana Lima", attributes={"plan": "pro"}),
                     ContactRow(line=3, email="ben.okafor@example.com", name="Ben Okafor", attributes={"plan": "basic"})])
    ben = contact("ben.okafor@example.com")
    ben.bounced_at = utcnow()
    db.session.commit()
    admin = make_user("admin", email="lee@example.com")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    dialogs = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    url = live_server.url
    page.goto(f"{url}/contacts")
    page.get_by_label("E-mail address").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/contacts")

    # Search: by part of a name, case-insensitively.
    page.get_by_label("Search contacts").fill("OKAF")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.table tbody tr")
    expect(rows).to_have_count(1)  # waits for the results page, not the one being left
    assert "ben.okafor@example.com" in rows.first.inner_text()
    assert "1 contact matching" in page.content()

    # Clear Ben's bounce from the list (after the browser's confirm dialog).
    rows.first.get_by_role("button", name=re.compile("Clear bounce")).click()
    page.wait_for_selector("text=Cleared the bounce of ben.okafor@example.com")
    assert dialogs[-1].startswith("Clear the bounce of ben.okafor@example.com?")  # typed: isolated
    assert contact("ben.okafor@example.com").bounced_at is None
    assert "OKAF" in page.get_by_label("Search contacts").input_value()  # the search is kept

    # Add a contact, then edit its attributes.
    page.get_by_role("link", name="Add a contact").click()
    page.get_by_label("E-mail address").fill("Chloe.Martin@Example.com")
    page.get_by_role("textbox", name="Name").fill("Chloé Martin")
    page.get_by_role("textbox", name="Attributes").fill("plan: business\nregion: west")
    page.get_by_role("button", name="Add contact").click()
    page.wait_for_selector("text=Added chloe.martin@example.com")
    assert contact("chloe.martin@example.com").attributes == {"plan": "business", "region": "west"}
    page.get_by_role("textbox", name="Attributes").fill("plan: pro\nregion west")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=line 2")  # a bad line is explained and nothing is saved
    assert contact("chloe.martin@example.com").attributes == {"plan": "business", "region": "west"}
    page.get_by_role("textbox", name="Attributes").fill("plan: pro\nregion: north")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Saved.")
    assert contact("chloe.martin@example.com").attributes == {"plan": "pro", "region": "north"}

    # Unsubscribe, after the confirm dialog.
    page.get_by_role("button", name="Unsubscribe").click()
    page.wait_for_selector("text=Unsubscribed chloe.martin@example.com")
    assert dialogs[-1].startswith("Unsubscribe chloe.martin@example.com?")
    assert contact("chloe.martin@example.com").unsubscribed_at is not None
    assert page.get_by_role("button", name="Unsubscribe").count() == 0

    # Forget: the confirmation page says what goes, and wants the address typed.
    page.get_by_role("link", name="Forget…").click()
    expect(page.get_by_role("heading", name="Erased for good")).to_be_visible()
    page.get_by_label("Type the address to confirm").fill("someone.else@example.com")
    page.get_by_role("button", name="Forget chloe.martin@example.com").click()
    page.wait_for_selector("text=That is not chloe.martin@example.com")
    assert contact("chloe.martin@example.com") is not None
    page.get_by_label("Type the address to confirm").fill("CHLOE.MARTIN@example.com ")
    page.get_by_role("button", name="Forget chloe.martin@example.com").click()
    page.wait_for_url(f"{url}/contacts")
    page.wait_for_selector("text=Forgot chloe.martin@example.com")
    assert contact("chloe.martin@example.com") is None
    assert "chloe.martin@example.com" not in page.locator("table.table").inner_text()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                storage_state=context.storage_state())
    small = phone.new_page()
    for path in ("/contacts", f"/contacts/{contact('ana.lima@example.com').id}"):
        small.goto(f"{url}{path}")
        assert small.evaluate("document.documentElement.scrollWidth") <= 390, path
    phone.close()
    assert not problems, problems
    context.close()
