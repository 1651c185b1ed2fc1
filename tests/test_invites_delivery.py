"""The outbox worker against a real SMTP server: outages, retries, crashes, races, the .eml fallback."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import os
import re
import signal
import subprocess
import sys
import threading
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.invites import operations
from survey.invites.delivery import claim_batch, deliver, deliver_batch
from survey.invites.mailer import EmlTransport, transport_for
from survey.invites.models import Invitation, OutboxMessage
from survey.models import Response
from tests.conftest import REPO, TEST_DB_URL, TEST_SECRET_KEY
from tests.invites_support import (  # noqa: F401  (fixtures)
    add_contacts, local_path, mailbox, score_links, smtp_server, wait_for,
)

BASE = "https://surveys.example.com"


def queue(make_survey, count: int, kind: str = "nps"):
    survey = make_survey(kind)
    add_contacts(count)
    return operations.send_campaign(survey, base_url=BASE)


def outbox(state: str | None = None) -> list[OutboxMessage]:
    db.session.expire_all()
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id)
    if state:
        query = query.where(OutboxMessage.state == state)
    return db.session.scalars(query).all()


def make_due() -> None:
    """Skip the backoff wait, as if its time had passed."""
    db.session.execute(sa.update(OutboxMessage).where(OutboxMessage.state == "queued")
                       .values(next_attempt_at=dt.datetime(2000, 1, 1)))
    db.session.commit()


def assert_each_arrived_once(mailbox, count: int) -> None:
    ids = mailbox.message_ids()
    assert len(ids) == count and len(set(ids)) == count
    assert sorted(ids) == sorted(m.message_id for m in outbox("sent"))
    recipients = [r for received in mailbox.received for r in received.recipients]
    assert len(recipients) == len(set(recipients)) == count


def test_server_stopped_mid_batch_the_rest_is_retried_and_each_arrives_once(app, smtp_server, mailbox, make_survey):
    app.config["MAIL_TIMEOUT"] = 5
    queue(make_survey, 10)

    async def crash_on_fourth(n):
        if n == 4:  # the server goes down in the middle of the fourth message
            threading.Thread(target=smtp_server.stop).start()
            await asyncio.sleep(60)

    mailbox.before_rcpt = crash_on_fourth
    first = deliver()
    assert (first.sent, first.retried, first.failed) == (3, 7, 0)
    assert len(mailbox.received) == 3
    retrying = outbox("queued")
    assert len(retrying) == 7
    tried = [m for m in retrying if m.attempts == 1]
    assert len(tried) == 1 and "closed the connection" in tried[0].last_error
    assert all(m.next_attempt_at > dt.datetime.utcnow() for m in retrying)  # backing off
    assert all(m.last_error.startswith("not tried: could not connect") for m in retrying if m.attempts == 0)

    assert deliver().sent == 0  # nothing is due yet
    mailbox.before_rcpt = None
    smtp_server.start()  # back, on the same port
    make_due()
    second = deliver()
    assert (second.sent, second.failed) == (7, 0)
    assert_each_arrived_once(mailbox, 10)
    assert all(m.raw is None for m in outbox())  # sent mail keeps no working links
    assert {i.state for i in db.session.scalars(sa.select(Invitation))} == {"sent"}


def test_temporary_refusals_back_off_then_fail_with_the_server_reply(app, smtp_server, mailbox, make_survey):
    app.config.update(MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_BASE_SECONDS=60)
    queue(make_survey, 1)

    async def busy(n):
        return "451 4.3.0 Mailbox busy, try again later"

    mailbox.before_rcpt = busy
    waits = []
    for attempt in (1, 2):
        before = dt.datetime.utcnow()
        assert deliver().retried == 1
        [message] = outbox()
        assert (message.state, message.attempts) == ("queued", attempt)
        waits.append(round((message.next_attempt_at - before).total_seconds() / 60))
        make_due()
    assert waits == [1, 2]  # exponential backoff
    assert deliver().failed == 1
    [message] = outbox()
    assert (message.state, message.attempts, message.raw) == ("failed", 3, None)
    assert message.last_error == "451 4.3.0 Mailbox busy, try again later"
    invitation = db.session.scalar(sa.select(Invitation))
    assert invitation.state == "failed" and "451" in invitation.last_error
    assert mailbox.received == []


def test_claims_take_at_most_a_batch_and_never_a_claimed_message(app, make_survey):
    queue(make_survey, 7)
    first, batch_one = claim_batch(3)
    second, batch_two = claim_batch(3)
    third, batch_three = claim_batch(3)
    assert [len(batch_one), len(batch_two), len(batch_three)] == [3, 3, 1]
    ids = [m.id for m in batch_one + batch_two + batch_three]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 7
    assert claim_batch(3)[1] == []


def test_a_taken_over_claim_is_never_sent_by_the_slow_worker(app, smtp_server, mailbox, make_survey):
    app.config["MAIL_CLAIM_SECONDS"] = 60
    queue(make_survey, 4)
    slow_claim, slow_batch = claim_batch(10)
    db.session.execute(sa.update(OutboxMessage).values(lease_until=dt.datetime(2000, 1, 1)))  # the slow one's lease ran out
    db.session.commit()
    fresh_claim, fresh_batch = claim_batch(10)
    assert len(slow_batch) == len(fresh_batch) == 4
    transport = transport_for(app.config, app.instance_path)
    late = deliver_batch(transport, slow_claim, slow_batch)
    transport.close()
    assert (late.sent, late.lost_claims) == (0, 4)
    assert mailbox.received == []  # it hung up before the final "." each time
    on_time = deliver_batch(transport, fresh_claim, fresh_batch)
    transport.close()
    assert on_time.sent == 4
    assert_each_arrived_once(mailbox, 4)


def test_no_reply_after_the_data_is_held_as_uncertain_not_resent(app, smtp_server, mailbox, make_survey, runner):
    app.config["MAIL_TIMEOUT"] = 2
    queue(make_survey, 3)

    async def lose_second_reply(n):
        if n == 2:  # the server has the message but its "250" never arrives
            await asyncio.sleep(10)

    mailbox.before_data_reply = lose_second_reply
    report = deliver()
    mailbox.before_data_reply = None
    assert (report.sent, report.uncertain) == (2, 1)
    [held] = outbox("uncertain")
    assert held.raw is not None and "may or may not have been delivered" in held.last_error
    make_due()
    assert deliver().sent == 0  # never sent again on its own
    listed = runner.invoke(args=["invite", "outbox"])
    assert "uncertain 1" in listed.output and held.message_id in listed.output
    done = runner.invoke(args=["invite", "resolve", str(held.id), "--sent"])
    assert done.exit_code == 0, done.output
    assert len(outbox("sent")) == 3
    assert_each_arrived_once(mailbox, 3)
    again = runner.invoke(args=["invite", "resolve", str(held.id), "--resend"])
    assert again.exit_code == 1 and "not uncertain" in again.output


def _worker(app, smtp_port: int, batch_size: int = 100) -> subprocess.Popen:
    env = dict(os.environ, RAPPORT_INSTANCE_PATH=app.instance_path,
               RAPPORT_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
               RAPPORT_SECRET_KEY=TEST_SECRET_KEY, RAPPORT_MAIL_SERVER="127.0.0.1", RAPPORT_MAIL_PORT=str(smtp_port),
               RAPPORT_MAIL_TIMEOUT="2", RAPPORT_MAIL_CLAIM_SECONDS="1", RAPPORT_MAIL_BATCH_SIZE=str(batch_size))
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "survey", "invite", "deliver"], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_worker_at(app, smtp_server, mailbox, hook: str, n: int, batch_size: int) -> None:
    """Start a worker process and SIGKILL it when the server reaches its n-th message (at ``hook``)."""
    reached = threading.Event()

    async def hang(count):
        if count == n:
            reached.set()
            await asyncio.sleep(30)

    setattr(mailbox, hook, hang)
    worker = _worker(app, smtp_server.port, batch_size)
    try:
        assert reached.wait(60), worker.communicate(timeout=5)
        worker.send_signal(signal.SIGKILL)  # a crash: no clean-up of any kind
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    mailbox.before_rcpt = mailbox.before_data_reply = None
    smtp_server.stop()
    smtp_server.start()  # drop the dead worker's half-open session
    wait_for(lambda: all(m.lease_until < dt.datetime.utcnow() for m in outbox() if m.lease_until), timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize("hook", ["before_rcpt", "before_data_reply"])
def test_worker_killed_mid_batch_only_that_batch_is_uncertain_and_nothing_arrives_twice(
        app, smtp_server, mailbox, make_survey, runner, hook):
    app.config.update(MAIL_CLAIM_SECONDS=1, MAIL_TIMEOUT=2)
    queue(make_survey, 8)
    # Batches of 3: the first is sent and recorded; the worker dies on the first message of the second.
    _kill_worker_at(app, smtp_server, mailbox, hook, n=4, batch_size=3)
    assert len(outbox("sent")) == 3 and len(outbox("sending")) == 3 and len(outbox("queued")) == 2
    in_flight = {m.id for m in outbox("sending")}
    report = deliver()
    # The batch in flight is held (the server may have some of it), the rest goes out.
    assert (report.recovered, report.sent, report.uncertain) == (3, 2, 0)
    assert {m.id for m in outbox("uncertain")} == in_flight
    make_due()
    assert deliver().sent == 0  # never sent again on its own
    ids = mailbox.message_ids()
    assert len(ids) == len(set(ids)) == (5 if hook == "before_rcpt" else 6)
    # The operator looks up each one in the server's log: arrived ones are marked sent, the others resent.
    held = outbox("uncertain")
    arrived = [str(m.id) for m in held if m.message_id in ids]
    missing = [str(m.id) for m in held if m.message_id not in ids]
    mixed = runner.invoke(args=["invite", "resolve", "--sent", *arrived, *missing, str(outbox("sent")[0].id)])
    assert mixed.exit_code == 1 and "nothing was changed" in mixed.output
    assert len(outbox("uncertain")) == 3
    for verdict, message_ids in (("--sent", arrived), ("--resend", missing)):
        if message_ids:
            settled = runner.invoke(args=["invite", "resolve", verdict, *message_ids])
            assert settled.exit_code == 0 and settled.output.count("message ") == len(message_ids), settled.output
    assert deliver().sent == (3 if hook == "before_rcpt" else 2)
    assert_each_arrived_once(mailbox, 8)


@pytest.mark.slow
@pytest.mark.parametrize("hook, n", [("before_data_reply", 5), ("before_data_reply", 6), ("before_rcpt", 6)])
def test_a_crash_anywhere_in_a_batch_never_causes_a_second_delivery(app, smtp_server, mailbox, make_survey, hook, n):
    """Killed after some, or all, of a batch was accepted but before the batch was recorded."""
    app.config.update(MAIL_CLAIM_SECONDS=1, MAIL_TIMEOUT=2)
    queue(make_survey, 10)
    _kill_worker_at(app, smtp_server, mailbox, hook, n=n, batch_size=4)
    accepted_before_restart = set(mailbox.message_ids())
    for _ in range(3):  # restart, retry everything that is due, again and again
        deliver()
        make_due()
    ids = mailbox.message_ids()
    assert len(ids) == len(set(ids)), "a message arrived twice"
    states = {m.message_id: m.state for m in outbox()}
    uncertain = {mid for mid, state in states.items() if state == "uncertain"}
    assert len(uncertain) == 4  # exactly the batch in flight: messages 5 to 8
    assert accepted_before_restart - set(ids) == set()
    assert all(state == "sent" for mid, state in states.items() if mid not in uncertain)
    assert set(ids) - uncertain == {mid for mid, state in states.items() if state == "sent"}


@pytest.mark.slow
def test_two_workers_racing_never_send_a_message_twice(app, smtp_server, mailbox, make_survey):
    if TEST_DB_URL is None:
        app.config["SQLITE_BUSY_TIMEOUT_MS"] = 20000
    queue(make_survey, 120)
    mailbox.delay = 0.004  # both workers are mid-batch at the same time
    start = threading.Barrier(2)
    reports = {}

    def work(name):
        with app.app_context():
            start.wait()
            reports[name] = deliver(batch_size=5)
            db.session.remove()

    threads = [threading.Thread(target=work, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert reports["a"].sent + reports["b"].sent == 120
    assert reports["a"].sent > 0 and reports["b"].sent > 0
    assert reports["a"].lost_claims == reports["b"].lost_claims == 0
    assert_each_arrived_once(mailbox, 120)


def test_without_smtp_mail_is_written_as_eml_files_under_the_instance(app, client, make_survey):
    assert not app.config["MAIL_SERVER"]
    queue(make_survey, 2, kind="csat")
    report = deliver()
    assert report.sent == 2
    files = sorted((Path(app.instance_path) / "outbox").glob("*/*.eml"))
    assert len(files) == 2 and files[0].parent.name == dt.date.today().isoformat()
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert files[0].name == EmlTransport.file_name(message["Message-ID"])
    links = score_links(message)
    client.get(local_path(links[4]))
    client.post(local_path(links[4]).rsplit("/", 1)[0] + "/click", data={"score": 4})
    assert [r.score for r in db.session.scalars(sa.select(Response))] == [4]


def test_eml_worker_stopped_after_claiming_is_settled_by_the_file(app, make_survey):
    app.config["MAIL_CLAIM_SECONDS"] = 0
    queue(make_survey, 2)
    transport = EmlTransport(Path(app.instance_path) / "outbox")
    written, lost = outbox()
    # One message got as far as its file, the other only to "sending": then the worker died.
    transport.send(written.envelope_from, written.recipient, written.raw)
    for message in (written, lost):
        message.state, message.lease_until = "sending", dt.datetime.utcnow() - dt.timedelta(seconds=1)
    db.session.commit()
    report = deliver()
    assert (report.recovered, report.sent, report.uncertain) == (2, 1, 0)
    assert {m.state for m in outbox()} == {"sent"}
    assert len(list((Path(app.instance_path) / "outbox").glob("*/*.eml"))) == 2


@pytest.mark.slow
def test_the_worker_loop_sends_new_mail_as_it_comes_and_stops_on_sigterm(app, smtp_server, mailbox, make_survey):
    queue(make_survey, 2)
    env = dict(os.environ, RAPPORT_INSTANCE_PATH=app.instance_path,
               RAPPORT_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
               RAPPORT_SECRET_KEY=TEST_SECRET_KEY, RAPPORT_MAIL_SERVER="127.0.0.1",
               RAPPORT_MAIL_PORT=str(smtp_server.port))
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "survey", "invite", "deliver", "--loop",
                               "--interval", "0.2"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(mailbox.received) == 2, timeout=60)
        survey = make_survey("csat", throttle_days=0)
        operations.send_campaign(survey, base_url=BASE)  # new mail while the worker waits
        wait_for(lambda: len(mailbox.received) == 4, timeout=30)
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    # One line per pass that sent something; the second campaign may join the first pass's
    # last claim or wait for the next pass, so only the total is fixed.
    assert sum(int(n) for n in re.findall(r"^sent (\d+),", out, re.M)) == 4, out
    ids = mailbox.message_ids()  # the same two people, invited to two surveys: four distinct messages
    assert len(ids) == len(set(ids)) == 4 and sorted(ids) == sorted(m.message_id for m in outbox("sent"))


def test_smtp_login_with_mail_username_and_a_refused_login_is_reported(app, mailbox, make_survey):
    from aiosmtpd.smtp import AuthResult

    from tests.invites_support import SMTPServer

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"rapport", b"s3cret"))

    server = SMTPServer(mailbox)
    server.controller_options = {"authenticator": authenticator, "auth_require_tls": False}
    server.start()
    try:
        server.configure(app)
        app.config.update(MAIL_USERNAME="rapport", MAIL_PASSWORD="wrong", MAIL_TIMEOUT=1)
        queue(make_survey, 2)
        refused = deliver()  # aiosmtpd stalls a failed login, so the client gives up: retried later
        assert (refused.sent, refused.retried) == (0, 2) and mailbox.received == []
        assert {m.state for m in outbox()} == {"queued"}
        app.config.update(MAIL_PASSWORD="s3cret", MAIL_TIMEOUT=10)
        make_due()
        assert deliver().sent == 2
        assert_each_arrived_once(mailbox, 2)
    finally:
        server.stop()
