"""Contacts one at a time in the dashboard: add, edit attributes, unsubscribe, forget (with its confirmation)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.followup.models import FollowUp, FollowUpNote
from survey.followup.operations import update_follow_up
from survey.invites.contacts import parse_attribute_lines
from survey.models import Contact, Response
from tests.dashboard_support import login


def contact_named(email: str) -> Contact | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Contact).where(Contact.email == email))


def test_parse_attribute_lines():
    assert parse_attribute_lines("plan: pro\n\nJourney Stage = onboarding\n") == {
        "plan": "pro", "journey_stage": "onboarding"}
    for text, message in (("plan pro", "line 1: write the attribute as name: value"),
                          ("plan: pro\nregion:", "line 2: 'region' has no value"),
                          ("e@mail: x", "cannot be an attribute name"),
                          ("email: x", "cannot be an attribute name"),
                          ("plan: a\nplan: b", "appears twice")):
        with pytest.raises(ValueError, match=message):
            parse_attribute_lines(text)
    with pytest.raises(ValueError, match="at most 2"):
        parse_attribute_lines("a: 1\nb: 2\nc: 3", max_attributes=2)


def test_an_admin_adds_and_edits_a_contact(client):
    login(client, "admin")
    assert 'href="/contacts/new"' in client.get("/contacts").get_data(as_text=True)
    added = client.post("/contacts/new", data={"email": " Ann@Example.COM ", "name": "Ann  Lee",
                                               "attributes": "plan: pro\nregion: north"})
    assert added.status_code == 302
    ann = contact_named("ann@example.com")
    assert (ann.name, ann.attributes) == ("Ann Lee", {"plan": "pro", "region": "north"})
    twice = client.post("/contacts/new", data={"email": "ann@example.com"})
    assert twice.status_code == 422 and "already a contact" in twice.get_data(as_text=True)
    bad = client.post("/contacts/new", data={"email": "not an address", "attributes": "plan"})
    assert bad.status_code == 422 and "not a valid e-mail address" in bad.get_data(as_text=True)

    page = client.get(f"/contacts/{ann.id}").get_data(as_text=True)
    assert "plan: pro\nregion: north" in page
    edited = client.post(f"/contacts/{ann.id}", data={"name": "Ann Lee", "attributes": "plan: business"})
    assert edited.status_code == 303
    assert contact_named("ann@example.com").attributes == {"plan": "business"}  # region removed
    refused = client.post(f"/contacts/{ann.id}", data={"name": "Ann", "attributes": "plan: \n"})
    assert refused.status_code == 422 and "has no value" in refused.get_data(as_text=True)
    assert contact_named("ann@example.com").name == "Ann Lee"
    assert client.get("/contacts/99999").status_code == 404


def test_unsubscribe_from_the_contact_page(client):
    login(client, "admin")
    contact = Contact(email="bo@example.com", attributes={})
    db.session.add(contact)
    db.session.commit()
    done = client.post(f"/contacts/{contact.id}/unsubscribe", follow_redirects=True)
    assert "Unsubscribed bo@example.com" in done.get_data(as_text=True)
    assert contact_named("bo@example.com").unsubscribed_at is not None
    again = client.post(f"/contacts/{contact.id}/unsubscribe", follow_redirects=True)
    assert "already unsubscribed" in again.get_data(as_text=True)


def test_a_bounced_contact_says_since_when_as_pages_write_it(client):
    login(client, "admin")
    db.session.add(Contact(email="cy@example.com", attributes={}, bounced_at=dt.datetime(2026, 12, 3, 8, 5)))
    db.session.commit()
    page = client.get("/contacts").get_data(as_text=True)
    assert 'title="since 3 Dec 2026, 08:05 UTC">bounced</span>' in page


def test_forget_says_what_goes_and_what_stays_and_needs_the_address(client, make_survey, make_response):
    admin = login(client, "admin")
    survey = make_survey("nps")
    contact = Contact(email="cy@example.com", name="Cy", attributes={"plan": "pro"})
    db.session.add(contact)
    db.session.commit()
    answer = make_response(survey, score=2, comment="Awful", contact_id=contact.id, meta={"order": "A-1"})
    update_follow_up(answer, admin, assignee_id=admin.id, state="contacted", note="Cy's phone is 555-0100")
    other = make_response(survey, score=1, comment="Bad too")
    update_follow_up(other, admin, assignee_id=None, state="open", note="someone else")

    page = client.get(f"/contacts/{contact.id}")
    assert "Awful" in page.get_data(as_text=True)  # their answers are listed
    confirm = client.get(f"/contacts/{contact.id}/forget").get_data(as_text=True)
    for words in ("Erased for good", "internal follow-up notes", "Stays, anonymised", "Their 1 answer"):
        assert words in confirm
    wrong = client.post(f"/contacts/{contact.id}/forget", data={"confirm_email": "someone@example.com"})
    assert wrong.status_code == 422 and "nothing was erased" in wrong.get_data(as_text=True)
    assert contact_named("cy@example.com") is not None

    done = client.post(f"/contacts/{contact.id}/forget", data={"confirm_email": "CY@example.com"},
                       follow_redirects=True)
    assert "Forgot cy@example.com: 1 answer anonymised" in done.get_data(as_text=True)
    assert contact_named("cy@example.com") is None
    db.session.expire_all()
    kept = db.session.get(Response, answer.id)
    assert (kept.score, kept.comment, kept.contact_id, kept.meta) == (2, "Awful", None, {})
    assert db.session.scalar(sa.select(FollowUp.state).where(FollowUp.response_id == answer.id)) == "contacted"
    assert list(db.session.scalars(sa.select(FollowUpNote.text))) == ["someone else"]
