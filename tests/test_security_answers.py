"""Attacks on answers: taking over an invitation's answer, keys of other surveys, edits after the
window, telling a trapped answer from a real one (issue 18, findings 1, 5, 8 and 9)."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.invites.models import Invitation
from survey.models import Response
from survey.operations import Answer
from survey.widget.operations import add_origins, record_widget_answer
from tests.conftest import TEST_DB_URL
from tests.invites_support import add_contacts, mailbox, score_links, smtp_server  # noqa: F401  (fixtures)
from tests.test_invites_email import click, send
from tests.widget_support import HUMAN_MS, PARTNER, answers, error_of, patch_answer, post_answer


@pytest.fixture
def survey(make_survey):
    survey = make_survey("nps")
    add_origins(survey, [PARTNER])
    return survey


def widget_answer_with_key(survey, key: str, score: int = 0):
    """What a POST with this submission_key stores (the widget API's own write), and its edit token."""
    return record_widget_answer(survey, Answer(score=score, comment=None, channel="widget", submission_key=key))


def test_a_client_chosen_key_cannot_take_over_an_invitations_answer(smtp_server, mailbox, client, survey):
    add_contacts(1)
    send(survey)
    invitation = db.session.scalar(sa.select(Invitation))
    # The attacker stores an answer under the key the invitation's answer used to have, before the click.
    # (Through the widget's own write: over HTTP the key needs 16 characters, i.e. invitation ids from 10,000.)
    planted, token = widget_answer_with_key(survey, f"invitation-{invitation.id}")
    assert click(client, score_links(mailbox.messages()[0])[9]).get_json()["recorded"] is True
    rows = {row.channel: row for row in answers()}
    assert set(rows) == {"widget", "email"}  # the customer's click made its own answer
    assert rows["email"].score == 9 and rows["email"].invitation_id == invitation.id
    assert rows["email"].submission_key is None and rows["widget"].score == 0
    # The attacker's edit token reaches only the attacker's own row.
    patched = patch_answer(client, survey, planted.public_id, {"edit_token": token, "comment": "hijacked"})
    assert patched.status_code == 200
    db.session.expire_all()
    assert db.session.get(Response, rows["email"].id).comment is None


def test_a_key_planted_on_another_survey_does_not_break_the_invitations_clicks(
        smtp_server, mailbox, client, survey, make_survey):
    other = make_survey("nps")
    add_contacts(1)
    send(survey)
    invitation = db.session.scalar(sa.select(Invitation))
    widget_answer_with_key(other, f"invitation-{invitation.id}")
    reply = click(client, score_links(mailbox.messages()[0])[7])
    assert reply.status_code == 200 and reply.get_json()["recorded"] is True
    assert [(a.survey_id, a.score) for a in answers()] == [(other.id, 0), (survey.id, 7)]


def test_the_database_keeps_server_and_client_keys_apart(smtp_server, mailbox, survey):
    add_contacts(1)
    send(survey)
    invitation = db.session.scalar(sa.select(Invitation))
    db.session.add(Response(survey_id=survey.id, score=3, channel="email", invitation_id=invitation.id,
                            submission_key="k" * 32, meta={}))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_submission_key_of_another_surveys_answer_gets_409_not_500(client, survey, make_survey):
    other = make_survey("csat")
    key = uuid.uuid4().hex
    assert client.post(f"/s/{other.public_key}", data={"score": 4, "submission_key": key}).status_code == 303
    page = client.post(f"/s/{survey.public_key}", data={"score": 9, "submission_key": key})
    assert page.status_code == 409 and "could not be changed" in page.get_data(as_text=True)
    # The widget API says the same in JSON, whichever channel used the key first.
    taken = post_answer(client, survey, {"score": 1, "elapsed_ms": HUMAN_MS, "submission_key": key})
    assert taken.status_code == 409 and error_of(taken)["field"] == "submission_key"
    assert [(a.survey_id, a.score) for a in answers()] == [(other.id, 4)]


def test_one_edit_window_for_every_channel(app, smtp_server, mailbox, client, survey):
    key = uuid.uuid4().hex
    assert client.post(f"/s/{survey.public_key}", data={"score": 3, "submission_key": key}).status_code == 303
    assert client.post(f"/s/{survey.public_key}", data={"score": 4, "submission_key": key}).status_code == 303
    add_contacts(1)
    send(survey)
    link = score_links(mailbox.messages()[0])[5]
    assert click(client, link).get_json()["recorded"] is True
    widget = post_answer(client, survey, {"score": 6, "elapsed_ms": HUMAN_MS}).get_json()
    for row in answers():
        row.created_at -= dt.timedelta(days=400)
    db.session.commit()
    late = client.post(f"/s/{survey.public_key}", data={"score": 10, "submission_key": key})
    assert late.status_code == 409 and "can no longer be changed" in late.get_data(as_text=True)
    from tests.invites_support import local_path

    assert client.get(local_path(link)).status_code == 410
    late_patch = patch_answer(client, survey, widget["id"], {"edit_token": widget["edit_token"], "score": 9})
    assert late_patch.status_code == 409
    assert sorted((a.channel, a.score) for a in answers()) == [("email", 5), ("link", 4), ("widget", 6)]


def test_a_trapped_answer_looks_like_a_real_one_to_its_sender(client, survey):
    real = post_answer(client, survey, {"score": 4, "elapsed_ms": HUMAN_MS})
    trapped = post_answer(client, survey, {"score": 4, "elapsed_ms": 10})
    assert (real.status_code, trapped.status_code) == (201, 201)
    real_body, trapped_body = real.get_json(), trapped.get_json()
    assert real_body.keys() == trapped_body.keys()
    for body in (real_body, trapped_body):
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", body["id"]) and len(body["edit_token"]) == 43
    assert not real_body["id"].isdigit()  # no row number to compare with
    for body in (real_body, trapped_body):
        edit = patch_answer(client, survey, body["id"], {"edit_token": body["edit_token"], "comment": "late"})
        assert edit.status_code == 200 and edit.get_json() == {"id": body["id"], "score": 4, "comment": "late"}
        wrong = patch_answer(client, survey, body["id"], {"edit_token": "x" * 43, "comment": "no"})
        assert wrong.status_code == 403 and error_of(wrong)["field"] == "edit_token"
    assert [(a.score, a.comment) for a in answers()] == [(4, "late")]


def test_the_key_migration_clears_invitation_keys_and_gives_widget_answers_public_ids(tmp_path, monkeypatch):
    """2bcae5ee70ee on a database with answers: down to the old keys and back, nothing lost."""
    from tests.test_response_indexes import migrated_site, reset_database, seed

    def keys() -> list[tuple]:
        db.session.remove()
        with db.engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("responses")}
            public = "public_id IS NOT NULL" if "public_id" in columns else "0 = 1"
            return [tuple(row) for row in conn.execute(sa.text(
                f"SELECT id, channel, submission_key, invitation_id, {public} FROM responses ORDER BY id"))]

    app, flask_db = migrated_site(tmp_path, monkeypatch)
    with app.app_context():
        import survey.models_all  # noqa: F401

        try:
            if TEST_DB_URL:
                reset_database()
            flask_db("upgrade")
            seed()
            survey_id = db.session.scalar(sa.select(Response.survey_id))
            db.session.add(Response(survey_id=survey_id, score=3, channel="widget", submission_key="w" * 32,
                                    public_id="p" * 22, meta={}))
            db.session.commit()
            at_head = keys()
            email = [row for row in at_head if row[1] == "email"]
            assert len(email) == 2 and all(row[2] is None for row in email)
            flask_db("downgrade", "e5b1c07d9a22")
            assert [row[2] for row in keys() if row[1] == "email"] == [f"invitation-{row[3]}" for row in email]
            flask_db("upgrade")
            assert [row[:4] for row in keys()] == [row[:4] for row in at_head]
            assert [row[4] for row in keys() if row[1] == "widget"] == [True]  # widget answers get a public id
            with pytest.raises(sa.exc.IntegrityError):
                with db.engine.begin() as conn:
                    conn.execute(sa.text("UPDATE responses SET submission_key = 'x' WHERE invitation_id IS NOT NULL"))
        finally:
            if TEST_DB_URL:  # leave the shared test database as the app fixture expects it
                reset_database()
                db.metadata.create_all(db.engine)
            db.session.remove()
            db.engine.dispose()
