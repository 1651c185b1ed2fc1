"""Survey administration: list, create, edit (wording, origins, kind), the survey page, users and contacts."""

from __future__ import annotations

import html
import io
import re

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.models import Contact, Survey, SurveyOrigin, User
from survey.auth.sessions import session_payload
from tests.dashboard_support import login, make_user


def form_data(**overrides):
    data = {"kind": "nps", "name": "Support NPS", "subject": "Northwind Support", "question": "",
            "low_label": "", "high_label": "", "followup_enabled": "y", "followup_negative": "",
            "followup_neutral": "", "followup_positive": "", "thank_you": "", "origins": "",
            "throttle_days": "", "widget_cap_days": "90", "email_subject": "", "email_intro": "", "is_open": "y"}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_survey_list_shows_key_kind_answers_and_score(app, client, make_survey, make_response):
    nps = make_survey("nps", name="Broadband NPS")
    for score in (10, 10, 9, 3):
        make_response(nps, score=score)
    make_survey("ces", name="Closed CES", is_open=False)
    login(client, "analyst")
    page = client.get("/surveys").get_data(as_text=True)
    assert "Broadband NPS" in page and nps.public_key in page and "Closed CES" in page
    row = page[page.index("Broadband NPS"):page.index("Closed CES")]
    assert ">4<" in row and "too few answers" in row and "4 of 10 needed" in row  # MIN_ANSWERS is 10
    app.config["MIN_ANSWERS"] = 4
    page = client.get("/surveys").get_data(as_text=True)
    row = page[page.index("Broadband NPS"):page.index("Closed CES")]
    # NPS = 75 % promoters − 25 % detractors, written as on the results page, with its interval
    assert '<span class="score-number">+50</span>' in row and " to +" in row
    assert "New survey" not in page  # analysts do not create surveys


def test_an_empty_list_says_what_to_do(client):
    login(client, "admin")
    assert "Create the first survey" in client.get("/surveys").get_data(as_text=True)


def test_admin_creates_a_survey_with_standard_wording_and_origins(client):
    admin = login(client, "admin")
    response = client.post("/surveys/new", data=form_data(
        origins="https://Shop.Example.com/\n\nhttp://localhost:8080\nhttps://shop.example.com", throttle_days="30"))
    assert response.status_code == 302
    survey = db.session.scalar(sa.select(Survey).where(Survey.name == "Support NPS"))
    assert response.location == f"/surveys/{survey.public_key}"
    assert survey.question == "How likely are you to recommend Northwind Support to a friend or colleague?"
    assert survey.low_label == "Not at all likely" and survey.thank_you.startswith("Thank you")
    assert [row.origin for row in survey.origins] == ["http://localhost:8080", "https://shop.example.com"]
    assert survey.throttle_days == 30 and survey.widget_cap_days == 90 and survey.is_open
    assert survey.owner_id == admin.id


def test_the_new_survey_form_sent_twice_makes_one_survey(client):
    login(client, "admin")
    key = re.search(r'name="form_key" value="([^"]+)"', client.get("/surveys/new").get_data(as_text=True)).group(1)
    first = client.post("/surveys/new", data=form_data(form_key=key))
    assert first.status_code == 302
    # Back, then Create again (or a reload that re-posts): it made a second, identical survey.
    again = client.post("/surveys/new", data=form_data(form_key=key))
    assert again.status_code == 303 and again.location == first.location
    assert "That form was already sent" in client.get(again.location).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Survey)) == 1
    # A fresh form (a new key) is a new survey, even with the same name.
    other = re.search(r'name="form_key" value="([^"]+)"', client.get("/surveys/new").get_data(as_text=True)).group(1)
    assert other != key and client.post("/surveys/new", data=form_data(form_key=other)).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Survey)) == 2


def test_bad_survey_input_is_explained_and_nothing_is_stored(client):
    login(client, "admin")
    response = client.post("/surveys/new", data=form_data(
        name="", origins="https://ok.example.com\nftp://files.example.com\nhttps://x.example.com/path",
        widget_cap_days="-1", throttle_days="soon", kind="stars"))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "Give the survey a name" in text
    assert "ftp://files.example.com" in text and "without a path" in text
    assert "from 0 to 3650" in text
    assert "Not a valid choice" in text
    assert 'aria-invalid="true"' in text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Survey)) == 0


def test_admin_edits_wording_origins_and_state(client, make_survey):
    survey = make_survey("csat", name="Old name", origins=[SurveyOrigin(origin="https://gone.example.com")])
    login(client, "admin")
    page = client.get(f"/surveys/{survey.public_key}/edit").get_data(as_text=True)
    assert "Old name" in page and survey.question in page and "https://gone.example.com</textarea>" in page
    response = client.post(f"/surveys/{survey.public_key}/edit", data=form_data(
        kind="csat", name="New name", question="How did we do today?", followup_negative="What went wrong?",
        thank_you="Merci !", origins="https://a.example.com", is_open=None, keep_query_string="y",
        widget_cap_days="0"))
    assert response.status_code == 302
    db.session.refresh(survey)
    assert survey.name == "New name" and survey.question == "How did we do today?"
    assert survey.followup_negative == "What went wrong?" and survey.thank_you == "Merci !"
    assert survey.followup_neutral == "What is the main reason for your score?"  # blank keeps the wording
    assert not survey.is_open and survey.keep_query_string and survey.widget_cap_days == 0
    assert [row.origin for row in survey.origins] == ["https://a.example.com"]
    client.post(f"/surveys/{survey.public_key}/edit", data=form_data(kind="csat", name="New name",
                                                                    origins="https://b.example.com"))
    db.session.refresh(survey)
    assert [row.origin for row in survey.origins] == ["https://b.example.com"] and survey.is_open


def test_the_kind_changes_only_while_there_are_no_answers(client, make_survey, make_response):
    survey = make_survey("nps", subject="Acme")
    login(client, "admin")
    assert client.post(f"/surveys/{survey.public_key}/edit",
                       data=form_data(kind="ces", name=survey.name, subject="Acme", question=survey.question,
                                      low_label=survey.low_label, high_label=survey.high_label)).status_code == 302
    db.session.refresh(survey)
    assert survey.kind == "ces"
    assert survey.question == "Acme made it easy for me to handle my issue."
    assert survey.low_label == "Strongly disagree"
    make_response(survey, score=6)
    response = client.post(f"/surveys/{survey.public_key}/edit", data=form_data(kind="nps", name=survey.name))
    assert response.status_code == 422 and "can no longer change" in response.get_data(as_text=True)
    db.session.refresh(survey)
    assert survey.kind == "ces"


def test_survey_page_shows_link_snippets_and_campaigns(client, make_survey, app):
    from survey.invites.operations import send_campaign
    from survey.invites.operations import import_contacts
    from survey.invites.contacts import ContactRow

    app.config["PUBLIC_BASE_URL"] = "https://surveys.example.com"
    survey = make_survey("nps", name="Broadband <NPS>")
    import_contacts([ContactRow(line=2, email="ann@example.com", attributes={"plan": "pro"}),
                     ContactRow(line=3, email="bob@example.com", attributes={"plan": "basic"})])
    send_campaign(survey, base_url="https://surveys.example.com", name="Spring wave")
    login(client, "analyst")
    page = client.get(f"/surveys/{survey.public_key}").get_data(as_text=True)
    assert f'value="https://surveys.example.com/s/{survey.public_key}"' in page
    assert (f"&lt;script src=&#34;https://surveys.example.com/widget.js&#34; data-survey=&#34;{survey.public_key}"
            f"&#34; async&gt;&lt;/script&gt;") in page
    assert f"https://surveys.example.com/embed/{survey.public_key}" in page
    assert "Broadband &amp;lt;NPS&amp;gt; – feedback" in page  # escaped in the snippet, then in the page
    assert 'data-copy="#widget-snippet"' in page and 'data-copy="#embed-snippet"' in page
    assert "Spring wave" in page and "none yet" in page
    campaigns = page[page.index("Spring wave"):page.index("</tbody>", page.index("Spring wave"))]
    assert ">2<" in campaigns  # invited
    assert "waiting to deliver 2" in campaigns  # no worker has sent any yet
    assert "Edit" not in page[:page.index("Answers")]  # analysts cannot edit


def test_admin_creates_deactivates_and_changes_roles_of_users(client):
    admin = login(client, "admin")
    created = client.post("/users", data={"email": "New.Person@Example.com", "role": "analyst",
                                          "password": "a long first password"})
    assert created.status_code == 302
    person = db.session.scalar(sa.select(User).where(User.email == "new.person@example.com"))
    assert person.role == "analyst" and person.is_active
    page = client.get("/users").get_data(as_text=True)
    assert "new.person@example.com" in page and "Created the analyst account" in page
    assert client.post(f"/users/{person.id}/role", data={"role": "admin"}).status_code == 302
    db.session.refresh(person)
    assert person.role == "admin"
    assert client.post(f"/users/{person.id}/deactivate").status_code == 302
    db.session.refresh(person)
    assert not person.is_active
    assert client.post(f"/users/{person.id}/activate").status_code == 302
    db.session.refresh(person)
    assert person.is_active
    # Nobody locks themselves out from this page, even with another admin around: their own row
    # offers neither Deactivate nor a role change, and a forged request is refused.
    own_row = page[page.index(f"card-title\">{admin.email}"):]
    own_row = own_row[:own_row.index("</tr>")]
    assert "Deactivate" not in own_row and f"/users/{admin.id}/role" not in own_row
    assert "Sign out everywhere" in own_row and f"/users/{person.id}/deactivate" in page
    refused = client.post(f"/users/{admin.id}/deactivate", follow_redirects=True)
    assert "ask another admin" in refused.get_data(as_text=True)
    refused = client.post(f"/users/{admin.id}/role", data={"role": "analyst"}, follow_redirects=True)
    assert "ask another admin" in refused.get_data(as_text=True)
    db.session.refresh(admin)
    assert admin.is_active and admin.role == "admin"
    assert client.post("/users/9999/deactivate").status_code == 404
    assert client.post(f"/users/{person.id}/role", data={"role": "owner"}).status_code == 400


def test_user_form_explains_bad_input(client):
    login(client, "admin")
    make_user("analyst", email="taken@example.com")
    response = client.post("/users", data={"email": "taken@example.com", "role": "analyst", "password": "short"})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "already an account" in text and "at least 10 characters" in text
    response = client.post("/users", data={"email": "not an address", "role": "analyst",
                                           "password": "long enough password"})
    assert response.status_code == 422 and "not a valid e-mail address" in response.get_data(as_text=True)


def upload(client, content: bytes, skip_bad: bool = False, name: str = "contacts.csv"):
    data = {"file": (io.BytesIO(content), name)}
    if skip_bad:
        data["skip_bad"] = "y"
    return client.post("/contacts", data=data, content_type="multipart/form-data")


def test_contacts_upload_adds_updates_and_reports_bad_lines(client):
    login(client, "admin")
    good = b"email,name,Plan,Region\nAnn@Example.com,Ann,pro,north\nbob@example.com,,basic,south\n"
    response = upload(client, good)
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 2
    ann = db.session.scalar(sa.select(Contact).where(Contact.email == "ann@example.com"))
    assert ann.name == "Ann" and ann.attributes == {"plan": "pro", "region": "north"}
    page = client.get("/contacts").get_data(as_text=True)
    assert "2 new contacts" in page and "ann@example.com" in page and "<bdi>plan</bdi>: <bdi>pro</bdi>" in page
    bad = b"email,plan\nann@example.com,business\nnot-an-address,pro\n"
    refused = upload(client, bad)
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "1 bad line, so nothing was imported" in text and "line 3" in text
    # The refused field takes the focus, so a phone opens at the problems rather than the page's top.
    field = re.search(r'<input[^>]*id="contacts-file"[^>]*>', text).group(0)
    assert "autofocus" in field and 'aria-invalid="true"' in field
    db.session.refresh(ann)
    assert ann.attributes["plan"] == "pro"
    assert upload(client, bad, skip_bad=True).status_code == 302
    db.session.refresh(ann)
    assert ann.attributes["plan"] == "business"
    assert "1 updated" in client.get("/contacts").get_data(as_text=True)


def test_contacts_upload_refuses_what_is_not_a_utf8_csv(client):
    login(client, "admin")
    response = upload(client, "email\nzoë@example.com\n".encode("latin-1"))
    assert response.status_code == 422 and "not UTF-8" in response.get_data(as_text=True)
    response = upload(client, b"name,plan\nAnn,pro\n")
    assert response.status_code == 422 and "email" in response.get_data(as_text=True)
    response = client.post("/contacts", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file" in response.get_data(as_text=True)


def test_contacts_search_and_pages(client):
    from survey.invites.contacts import ContactRow
    from survey.invites.operations import import_contacts

    import_contacts([ContactRow(line=i, email=f"person{i:03}@example.com", name=f"Person {i}") for i in range(60)]
                    + [ContactRow(line=99, email="zed@other.example", name="Zed Zimmer")])
    login(client, "admin")
    first = client.get("/contacts").get_data(as_text=True)
    assert "Page 1 of 2" in first and "person000@example.com" in first and "zed@other.example" not in first
    assert "zed@other.example" in client.get("/contacts?page=2").get_data(as_text=True)
    found = client.get("/contacts?q=ZIMMER").get_data(as_text=True)
    assert "1 contact matching" in found and "zed@other.example" in found
    assert "No contact matches" in client.get("/contacts?q=100%25").get_data(as_text=True)


def test_clear_bounce_button_on_bounced_contacts_for_admins_only(app, client):
    import datetime as dt

    from survey.invites.contacts import ContactRow
    from survey.invites.operations import import_contacts

    import_contacts([ContactRow(line=2, email="ann@example.com"), ContactRow(line=3, email="bob@example.com"),
                     ContactRow(line=4, email="cy@example.com")])
    now = dt.datetime.utcnow()
    ann, bob, cy = db.session.scalars(sa.select(Contact).order_by(Contact.email)).all()
    ann.bounced_at = now
    bob.bounced_at = bob.unsubscribed_at = now
    db.session.commit()
    ids = (ann.id, bob.id, cy.id)

    analyst = app.test_client()
    login(analyst, "analyst")
    assert analyst.post(f"/contacts/{ids[0]}/unbounce").status_code == 403
    assert db.session.get(Contact, ids[0]).bounced_at is not None

    login(client, "admin")
    page = client.get("/contacts").get_data(as_text=True)
    assert page.count("Clear bounce<") == 2  # ann and bob; cy is not bounced
    assert f'action="/contacts/{ids[0]}/unbounce"' in page and f"/contacts/{ids[2]}/unbounce" not in page
    response = client.post(f"/contacts/{ids[0]}/unbounce", data={"q": "example", "page": "1"})
    assert response.status_code == 302 and response.location == "/contacts?q=example"
    db.session.expire_all()
    assert db.session.get(Contact, ids[0]).bounced_at is None
    assert "Cleared the bounce of ann@example.com: campaigns invite them again, as often as the survey throttle allows." in \
        client.get("/contacts").get_data(as_text=True)
    client.post(f"/contacts/{ids[1]}/unbounce")
    db.session.expire_all()
    bob = db.session.get(Contact, ids[1])
    assert bob.bounced_at is None and bob.unsubscribed_at is not None
    page = client.get("/contacts").get_data(as_text=True)
    assert "They stay unsubscribed, so campaigns still skip them." in page and "Clear bounce<" not in page
    client.post(f"/contacts/{ids[2]}/unbounce")
    assert "cy@example.com is not marked bounced; nothing changed." in client.get("/contacts").get_data(as_text=True)
    assert client.post("/contacts/999999/unbounce").status_code == 404


def test_clear_bounce_needs_the_pages_csrf_token(app, client):
    import datetime as dt
    import re

    from survey.invites.contacts import ContactRow
    from survey.invites.operations import import_contacts

    import_contacts([ContactRow(line=2, email="ann@example.com")])
    ann = db.session.scalar(sa.select(Contact))
    ann.bounced_at = dt.datetime.utcnow()
    db.session.commit()
    app.config["WTF_CSRF_ENABLED"] = True
    login(client, "admin")
    assert client.post(f"/contacts/{ann.id}/unbounce").status_code == 400
    db.session.expire_all()
    assert db.session.get(Contact, ann.id).bounced_at is not None
    page = client.get("/contacts").get_data(as_text=True)
    token = re.search(rf'action="/contacts/{ann.id}/unbounce".*?name="csrf_token" value="([^"]+)"', page, re.S)
    assert client.post(f"/contacts/{ann.id}/unbounce", data={"csrf_token": token.group(1)}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Contact, ann.id).bounced_at is None


def test_the_last_active_admin_always_remains(app):
    from survey.auth.operations import set_active, set_role
    from survey.operations import OperationError

    only = make_user("admin")
    analyst = make_user("analyst")
    with pytest.raises(OperationError, match="last active admin"):
        set_active(only, False)
    with pytest.raises(OperationError, match="last active admin"):
        set_role(only, "analyst")
    set_role(analyst, "admin")
    set_role(only, "analyst")  # now someone else is admin
    assert db.session.get(User, only.id).role == "analyst"


def _snippet_of(page: str) -> str:
    """The script snippet as the survey's page offers it for copying (the textarea's text)."""
    text = re.search(r'<textarea id="widget-snippet"[^>]*>([^<]*)</textarea>', page).group(1)
    return html.unescape(text)


def test_survey_page_frames_a_preview_holding_exactly_the_copied_snippet(client, make_survey):
    survey = make_survey("nps", name="Broadband NPS")  # no partner site allowed yet: the preview still works
    login(client, "analyst")
    page = client.get(f"/surveys/{survey.public_key}").get_data(as_text=True)
    preview_url = f"/surveys/{survey.public_key}/widget-preview"
    assert f'<iframe class="widget-preview" src="{preview_url}"' in page
    snippet = _snippet_of(page)
    preview = client.get(preview_url)
    assert preview.status_code == 200
    assert snippet in preview.get_data(as_text=True)  # what is previewed is what they paste
    # Only this site's own pages may frame it; every other page keeps refusing frames.
    assert preview.headers["Content-Security-Policy"].endswith("frame-ancestors 'self'")
    assert "script-src 'self';" in preview.headers["Content-Security-Policy"]
    assert preview.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert client.get(f"/surveys/{survey.public_key}").headers["X-Frame-Options"] == "DENY"


def test_widget_preview_needs_a_signed_in_user(client, make_survey):
    survey = make_survey("nps")
    response = client.get(f"/surveys/{survey.public_key}/widget-preview")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("setting, base_url, reason", [
    ("https://surveys.example.com", "http://localhost", "this site’s own address, https://surveys.example.com"),
    (None, "http://dashboard.internal", "this site has none set (PUBLIC_BASE_URL)"),
])
def test_no_preview_where_the_widget_would_refuse_the_dashboards_address(app, client, make_survey,
                                                                          setting, base_url, reason):
    """The widget lets in this site's own pages only at its own address (survey.widget.cors.own_origin);
    the preview says so rather than showing a widget whose answers would be refused."""
    app.config["PUBLIC_BASE_URL"] = setting
    survey = make_survey("nps")
    with client.session_transaction(base_url=base_url) as session:  # signed in at that address
        session.update(session_payload(make_user("analyst")))
    page = client.get(f"/surveys/{survey.public_key}", base_url=base_url).get_data(as_text=True)
    assert "widget-preview" not in page
    assert reason.replace("’", "'") in html.unescape(page).replace("’", "'")
    preview = client.get(f"/surveys/{survey.public_key}/widget-preview", base_url=base_url).get_data(as_text=True)
    assert "data-survey" not in preview and "No preview" in preview


def test_no_preview_of_a_closed_survey(client, make_survey):
    survey = make_survey("nps", is_open=False)
    login(client, "analyst")
    page = client.get(f"/surveys/{survey.public_key}").get_data(as_text=True)
    assert "widget-preview" not in page and "takes no answers now" in page
