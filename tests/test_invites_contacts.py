"""Contacts: the CSV parser (examples and properties), `flask contacts import`, `forget` and `unbounce`."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.db import db
from survey.importer import ImportError_
from survey.invites import operations
from survey.invites.contacts import normalise_email, parse_contacts_csv
from survey.invites.delivery import deliver
from survey.invites.models import Invitation, OutboxMessage
from survey.models import Contact, Response
from tests.invites_support import (  # noqa: F401  (fixtures)
    add_contacts, local_path, mailbox, score_links, smtp_server, write_contacts,
)


def parse(text: str, **kwargs):
    return parse_contacts_csv(io.StringIO(text, newline=""), **kwargs)


def to_csv(header, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def test_columns_become_attributes_and_duplicates_merge_case_insensitively():
    parsed = parse("E-mail,Full Name,Plan,Journey Stage\n"
                   "Ann@Example.COM,Ann  Smith,pro,\n"
                   "bob@example.com,Bob,free,onboarding\n"
                   "ann@example.com,,business,renewal\n")
    assert parsed.problems == [] and parsed.merged == 1
    ann, bob = parsed.rows
    assert (ann.line, ann.email, ann.name) == (2, "ann@example.com", "Ann Smith")
    assert ann.attributes == {"plan": "business", "journey_stage": "renewal"}  # later non-empty values win
    assert bob.attributes == {"plan": "free", "journey_stage": "onboarding"}


def test_every_bad_line_is_reported_with_its_line_number():
    parsed = parse('email,name\n'
                   'good@example.com,Good\n'
                   'not-an-address,X\n'
                   ',Nobody\n'
                   '"multi\nline@example.com",Split\n'
                   'x@example.com,X,extra\n'
                   f'long@example.com,{"n" * 201}\n'
                   'last@localhost,Local\n')
    assert [row.email for row in parsed.rows] == ["good@example.com"]
    problems = {p.line: p.message for p in parsed.problems}
    assert sorted(problems) == [3, 4, 5, 7, 8, 9]
    assert "'not-an-address' is not a valid e-mail address" in problems[3]
    assert problems[4] == "the e-mail address is empty"
    assert "more fields than the header" in problems[7]
    assert "longer than 200" in problems[8]
    assert "should have a period" in problems[9]


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("name,plan\nAnn,pro\n", "no 'email' column"),
    ("email,plan,Plan\nx@example.com,a,b\n", "appears twice"),
    ("email,plan/tier\nx@example.com,a\n", "cannot be an attribute name"),
])
def test_files_that_cannot_be_read_at_all_say_why(text, message):
    with pytest.raises(ImportError_, match=message):
        parse(text)


def test_names_and_values_lose_control_characters():
    parsed = parse(to_csv(["email", "name", "plan"], [["a@example.com", "Eve\x00\x07 Smith\u2028", " pro\r\n"]]))
    [row] = parsed.rows
    assert (row.name, row.attributes) == ("Eve Smith", {"plan": "pro"})


# -- properties ---------------------------------------------------------------

local_parts = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,15}", fullmatch=True).filter(
    lambda s: ".." not in s and not s.endswith("."))
domains = st.sampled_from(["example.com", "Example.org", "mail.example.net", "exämple.de"])
addresses = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)
cells = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
plans = st.sampled_from(["", "pro", "free", "Business"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.one_of(addresses, cells), cells, plans), max_size=25))
def test_every_line_is_a_contact_a_merge_or_a_problem(records):
    text = to_csv(["email", "name", "plan"], records)
    parsed = parse(text)
    assert len(parsed.rows) + parsed.merged + len(parsed.problems) == len(records)
    emails = [row.email for row in parsed.rows]
    assert len(emails) == len(set(emails))
    for row in parsed.rows:
        assert row.email == row.email.lower() == normalise_email(row.email)
        assert row.name is None or ("\n" not in row.name and "\r" not in row.name and row.name == row.name.strip())
    lines = [p.line for p in parsed.problems]
    physical_lines = len(text.splitlines())  # a quoted cell may span lines; numbers count physical ones
    assert lines == sorted(lines) and all(2 <= line <= physical_lines for line in lines)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(addresses, plans, st.booleans()), min_size=1, max_size=25))
def test_valid_addresses_round_trip_merged_by_case(records):
    rows = [[email.upper() if shout else email, plan] for email, plan, shout in records]
    parsed = parse(to_csv(["email", "plan"], rows))
    assert parsed.problems == []
    expected: dict[str, dict] = {}
    for email, plan, _ in records:
        attributes = expected.setdefault(normalise_email(email), {})
        if plan:
            attributes["plan"] = plan
    assert {row.email: row.attributes for row in parsed.rows} == expected
    assert parsed.merged == len(records) - len(expected)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_parsed_or_refused_as_a_whole(text):
    try:
        parsed = parse(text)
    except ImportError_:
        return
    assert all(row.email for row in parsed.rows)


# -- the command --------------------------------------------------------------


def contacts():
    db.session.expire_all()
    return {c.email: c for c in db.session.scalars(sa.select(Contact))}


def test_import_command_all_or_nothing_unless_skip_bad(runner, tmp_path):
    path = write_contacts(tmp_path / "c.csv", [["Ann@Example.com", "Ann", "pro", "north"],
                                               ["broken", "B", "free", "south"],
                                               ["cy@example.com", "Cy", "free", ""]])
    out = runner.invoke(args=["contacts", "import", str(path)])
    assert out.exit_code == 1
    assert "line 3: 'broken' is not a valid e-mail address" in out.output
    assert "nothing was imported" in out.output and contacts() == {}
    out = runner.invoke(args=["contacts", "import", str(path), "--skip-bad"])
    assert out.exit_code == 0, out.output
    assert "2 new contact(s), 0 updated" in out.output and "1 bad line(s) skipped" in out.output
    assert contacts()["ann@example.com"].attributes == {"plan": "pro", "region": "north"}
    # Re-importing merges into the same contacts, whatever the case of the address.
    again = write_contacts(tmp_path / "d.csv", [["ANN@example.com", "", "business", ""]])
    out = runner.invoke(args=["contacts", "import", str(again)])
    assert "0 new contact(s), 1 updated" in out.output
    ann = contacts()["ann@example.com"]
    assert (ann.name, ann.attributes) == ("Ann", {"plan": "business", "region": "north"})
    assert len(contacts()) == 2


def test_two_contact_imports_at_once_merge_instead_of_failing(runner, tmp_path, monkeypatch):
    """The import committing second had looked the addresses up before the first committed, took them
    for new and ended in an IntegrityError traceback (the e-mail is unique); it now looks again and merges."""
    from survey.invites import addressbook

    first = tmp_path / "first.csv"
    first.write_text("email,name\nann@example.com,Ann\n", encoding="utf-8")
    second = tmp_path / "second.csv"
    second.write_text("email,plan\nann@example.com,pro\nbob@example.com,free\n", encoding="utf-8")
    assert runner.invoke(args=["contacts", "import", str(first)]).exit_code == 0
    real_chunks, calls = addressbook.chunks, []

    def looked_up_before_the_first_committed(values):
        calls.append(1)
        return [] if len(calls) == 1 else real_chunks(values)

    monkeypatch.setattr(addressbook, "chunks", looked_up_before_the_first_committed)
    result = runner.invoke(args=["contacts", "import", str(second)])
    assert result.exit_code == 0, result.output
    assert "1 new contact(s), 1 updated" in result.output
    ann = contacts()["ann@example.com"]
    assert (ann.name, ann.attributes) == ("Ann", {"plan": "pro"}) and len(contacts()) == 2


def test_import_command_refuses_unreadable_files(runner, tmp_path):
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("email,name\nz@example.com,Zoë\n".encode("latin-1"))
    out = runner.invoke(args=["contacts", "import", str(latin)])
    assert out.exit_code == 1 and "not UTF-8" in out.output
    headerless = tmp_path / "h.csv"
    headerless.write_text("name\nAnn\n")
    out = runner.invoke(args=["contacts", "import", str(headerless)])
    assert out.exit_code == 1 and "no 'email' column" in out.output


def test_forget_erases_the_person_and_keeps_the_answer_anonymised(app, client, runner, make_survey):
    survey = make_survey("nps")
    add_contacts(2, plan="pro")
    result = operations.send_campaign(survey, base_url="https://surveys.example.com")
    deliver()  # no SMTP configured: .eml files under the instance folder
    outbox_dir = Path(app.instance_path) / "outbox"
    files = sorted(outbox_dir.glob("*/*.eml"))
    assert len(files) == 2
    import email
    from email import policy

    messages = {email.message_from_bytes(f.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec: f
                for f in files}
    message = email.message_from_bytes(messages["person0@example.com"].read_bytes(), policy=policy.default)
    link = local_path(score_links(message)[3])
    client.get(link)
    client.post(link.rsplit("/", 1)[0] + "/click", data={"score": 3})
    client.post(link.rsplit("/", 1)[0], data={"score": 3, "comment": "Slow install"})
    before = operations.campaign_stats(result.campaign)

    out = runner.invoke(args=["contacts", "forget", "PERSON0@example.com", "--yes"])
    assert out.exit_code == 0, out.output
    assert "1 answer(s) anonymised" in out.output and "1 .eml file(s)" in out.output
    assert "person0@example.com" not in contacts()
    [answer] = db.session.scalars(sa.select(Response)).all()
    assert (answer.score, answer.comment, answer.channel) == (3, "Slow install", "email")
    assert (answer.contact_id, answer.invitation_id, answer.submission_key, answer.meta) == (None, None, None, {})
    forgotten = db.session.scalar(sa.select(Invitation).where(Invitation.contact_id.is_(None)))
    assert (forgotten.token_hash, forgotten.reminder_token_hash) == (None, None)
    assert client.get(link).status_code == 404  # the links in the e-mail no longer work
    assert not messages["person0@example.com"].exists() and messages["person1@example.com"].exists()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 1
    after = operations.campaign_stats(result.campaign)
    assert (after["sent"], after["answered"]) == (before["sent"], before["answered"]) == (2, 1)

    out = runner.invoke(args=["contacts", "forget", "person0@example.com", "--yes"])
    assert out.exit_code == 1 and "no contact has the address" in out.output


def test_unsubscribe_command_for_mailto_requests(runner):
    add_contacts(1)
    out = runner.invoke(args=["contacts", "unsubscribe", "Person0@Example.com"])
    assert out.exit_code == 0 and "unsubscribed person0@example.com" in out.output
    assert contacts()["person0@example.com"].unsubscribed_at is not None
    out = runner.invoke(args=["contacts", "unsubscribe", "person0@example.com"])
    assert "already unsubscribed" in out.output
    assert runner.invoke(args=["contacts", "unsubscribe", "nobody@example.com"]).exit_code == 1


def test_the_demo_sends_its_invitations_into_the_offline_outbox_once(app):
    from survey.demo import DEMO_CONTACTS, seed_demo, seed_demo_invitations

    seed_demo("http://127.0.0.1:5000")
    lines = seed_demo_invitations("http://127.0.0.1:5000")
    assert lines and "outbox" in lines[0]
    files = list((Path(app.instance_path) / "outbox").glob("*/*.eml"))
    assert len(files) == len(DEMO_CONTACTS)
    assert b"http://127.0.0.1:5000/i/" in files[0].read_bytes()
    seed_demo_invitations("http://127.0.0.1:5000")
    assert len(list((Path(app.instance_path) / "outbox").glob("*/*.eml"))) == len(DEMO_CONTACTS)


# -- clearing a bounce --------------------------------------------------------


def mark(email: str, *, bounced: bool = True, unsubscribed: bool = False) -> Contact:
    contact = contacts()[email]
    now = dt.datetime.utcnow()
    contact.bounced_at = now if bounced else None
    contact.unsubscribed_at = now if unsubscribed else None
    db.session.commit()
    return contact


def test_clear_bounce_clears_only_the_bounce_and_says_whether_it_changed_anything(app):
    add_contacts(2)
    assert operations.clear_bounce(mark("person0@example.com")) is True
    assert contacts()["person0@example.com"].bounced_at is None
    assert operations.clear_bounce(contacts()["person0@example.com"]) is False  # nothing left to clear
    both = mark("person1@example.com", unsubscribed=True)
    assert operations.clear_bounce(both) is True
    person1 = contacts()["person1@example.com"]
    assert person1.bounced_at is None and person1.unsubscribed_at is not None  # stays unsubscribed


def test_unbounce_command(runner):
    add_contacts(2)
    mark("person0@example.com")
    out = runner.invoke(args=["contacts", "unbounce", "Person0@Example.com"])
    assert out.exit_code == 0, out.output
    assert "cleared the bounce of person0@example.com; campaigns invite it again, as often as the throttle allows" in out.output
    assert contacts()["person0@example.com"].bounced_at is None
    out = runner.invoke(args=["contacts", "unbounce", "person0@example.com"])
    assert out.exit_code == 0 and "is not marked bounced; nothing changed" in out.output
    mark("person1@example.com", unsubscribed=True)
    out = runner.invoke(args=["contacts", "unbounce", "person1@example.com"])
    assert out.exit_code == 0 and "stays unsubscribed, so campaigns still skip it" in out.output
    assert contacts()["person1@example.com"].unsubscribed_at is not None
    out = runner.invoke(args=["contacts", "unbounce", "nobody@example.com"])
    assert out.exit_code == 1 and "no contact has the address 'nobody@example.com'" in out.output


def test_a_cleared_contact_is_invited_by_the_next_campaign(smtp_server, mailbox, make_survey):
    survey = make_survey("nps", throttle_days=0)
    add_contacts(2)
    mailbox.refuse["person1@example.com"] = "550 5.1.1 No such user here"
    operations.send_campaign(survey, base_url="https://surveys.example.com")
    assert (deliver().sent, contacts()["person1@example.com"].bounced_at is not None) == (1, True)
    skipped = operations.send_campaign(survey, base_url="https://surveys.example.com")
    assert (skipped.queued, skipped.bounced, deliver().sent) == (1, 1, 1)

    del mailbox.refuse["person1@example.com"]  # the address was fixed
    assert operations.clear_bounce(contacts()["person1@example.com"])
    again = operations.send_campaign(survey, base_url="https://surveys.example.com")
    assert (again.queued, again.bounced) == (2, 0)
    assert deliver().sent == 2
    assert sum(r.recipients == ["person1@example.com"] for r in mailbox.received) == 1
