"""Webhooks end to end against a real HTTP receiver on 127.0.0.1: signature, body, retries, give-up,
idempotency ids, crash recovery, changed answers, and surveys without webhooks left alone."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.models import Contact, Response, SurveyOrigin, utcnow
from survey.operations import Answer, record_response
from survey.webhooks.events import scan_all, signature_header
from survey.webhooks.models import WebhookDelivery, WebhookEndpoint
from survey.retries import backoff_seconds
from survey.webhooks.worker import claim, deliver_due
from tests.dashboard_support import api_token, bearer, login, make_user
from tests.test_public import form_fields
from tests.webhooks_support import app_config, readme_verify, receiver, secret_on  # noqa: F401 (fixtures)
from tests.widget_support import HUMAN_MS, PARTNER, patch_answer, post_answer
from tests.conftest import TEST_SECRET_KEY


@pytest.fixture
def admin(client):
    return login(client, "admin")


def add_endpoint(client, survey, url) -> tuple[WebhookEndpoint, str]:
    page = client.post(f"/surveys/{survey.public_key}/webhooks/new", data={"url": url})
    assert page.status_code == 201, page.get_data(as_text=True)
    endpoint = db.session.scalar(sa.select(WebhookEndpoint).where(WebhookEndpoint.survey_id == survey.id)
                                 .order_by(WebhookEndpoint.id.desc()).limit(1))
    return endpoint, secret_on(page.get_data(as_text=True))


def deliveries() -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)))


def answer_on_page(client, survey, score, comment=None):
    fields = form_fields(client.get(f"/s/{survey.public_key}").get_data(as_text=True))
    data = {"score": str(score), **fields, **({"comment": comment} if comment else {})}
    assert client.post(f"/s/{survey.public_key}", data=data).status_code == 303


def test_a_new_answer_is_posted_signed_in_the_read_apis_shape(app, client, admin, make_survey, receiver, caplog):
    survey = make_survey("nps", name="Support NPS")
    endpoint, secret = add_endpoint(client, survey, receiver.url)
    answer_on_page(app.test_client(), survey, 3, "Waited two weeks for a refund")
    caplog.set_level("DEBUG")
    report = deliver_due()
    assert (report.queued, report.delivered) == (1, 1)
    [got] = receiver.received
    assert got.path == "/hooks/rapport" and got.headers["Content-Type"] == "application/json"
    assert readme_verify()(secret, got.headers["Rapport-Signature"], got.body)
    assert not readme_verify()("whsec_wrong", got.headers["Rapport-Signature"], got.body)
    assert not readme_verify()(secret, got.headers["Rapport-Signature"], got.body + b" ")
    stale = int(time.time()) - 3600  # a replay an hour later
    assert not readme_verify()(secret, signature_header([secret], stale, got.body), got.body)
    body = json.loads(got.body)
    assert body["type"] == "answer.created" and got.headers["Rapport-Event-Type"] == "answer.created"
    assert body["id"] == got.headers["Rapport-Event-Id"] and got.headers["Rapport-Delivery-Attempt"] == "1"
    assert body["survey"] == {"key": survey.public_key, "kind": "nps", "name": "Support NPS"}
    stored = db.session.scalar(sa.select(Response))
    assert body["answer"]["public_id"] == stored.public_id
    # The answer as the read API shows it, plus its public id.
    [listed] = client.get(f"/api/v1/surveys/{survey.public_key}/responses",
                          headers=bearer(api_token(make_user("analyst")))).get_json()["data"]
    assert {key: value for key, value in body["answer"].items() if key != "public_id"} == listed
    assert listed["score"] == 3 and listed["comment"] == "Waited two weeks for a refund" and listed["channel"] == "link"
    [delivery] = deliveries()
    assert (delivery.state, delivery.attempts, delivery.last_status, delivery.body) == ("delivered", 1, 200, None)
    assert delivery.reply_excerpt == "thanks"
    assert secret not in caplog.text
    # Nothing new: the next pass sends nothing.
    assert deliver_due().handled == 0 and len(receiver.received) == 1


def test_a_comment_added_later_and_an_edit_each_send_an_update(app, client, admin, make_survey, receiver):
    survey = make_survey("csat", origins=[SurveyOrigin(origin=PARTNER)])
    endpoint, _ = add_endpoint(client, survey, receiver.url)
    widget = app.test_client()
    created = post_answer(widget, survey, {"score": 2, "elapsed_ms": HUMAN_MS}).get_json()
    deliver_due()
    assert patch_answer(widget, survey, created["id"], {"edit_token": created["edit_token"],
                                                        "comment": "Nobody called back"}).status_code == 200
    deliver_due()
    assert patch_answer(widget, survey, created["id"], {"edit_token": created["edit_token"],
                                                        "score": 4}).status_code == 200
    deliver_due()
    bodies = [json.loads(got.body) for got in receiver.received]
    assert [body["type"] for body in bodies] == ["answer.created", "answer.updated", "answer.updated"]
    assert [(b["answer"]["score"], b["answer"]["comment"]) for b in bodies] == [
        (2, None), (2, "Nobody called back"), (4, "Nobody called back")]
    assert len({body["id"] for body in bodies}) == 3
    assert all(body["answer"]["channel"] == "widget" for body in bodies)
    # A change of labels alone (an analysis run) touches updated_at but sends nothing.
    db.session.execute(sa.update(Response).values(sentiment="negative", updated_at=utcnow()))
    db.session.commit()
    assert deliver_due().handled == 0 and len(receiver.received) == 3


def test_answers_from_every_channel_are_sent_but_imports_are_not(app, client, admin, make_survey, receiver):
    survey = make_survey("nps")
    add_endpoint(client, survey, receiver.url)
    answer_on_page(app.test_client(), survey, 9)
    record_response(survey, Answer(score=6, comment=None, channel="email"))
    from survey.importer import FeedbackRow
    from survey.operations import import_feedback

    import_feedback(survey, [FeedbackRow(line=2, text="old ticket", score=5, created_at=None, external_id="t1")])
    deliver_due()
    assert sorted(json.loads(got.body)["answer"]["channel"] for got in receiver.received) == ["email", "link"]


def test_retries_after_a_500_and_a_timeout_then_succeeds_with_one_event_id(client, admin, make_survey, receiver):
    survey = make_survey("nps")
    _, secret = add_endpoint(client, survey, receiver.url)
    receiver.plan = [500, ("sleep", 2)]  # then 200
    record_response(survey, Answer(score=1, comment="cancelling tomorrow", channel="link"))
    started = time.monotonic()
    report = deliver_due()
    assert time.monotonic() - started < 6  # the 2 s sleep was cut at the 1 s timeout
    assert (report.retried, report.delivered, report.failed) == (2, 1, 0)
    assert len(receiver.received) == 3
    assert len({got.headers["Rapport-Event-Id"] for got in receiver.received}) == 1
    assert len({got.body for got in receiver.received}) == 1
    assert [got.headers["Rapport-Delivery-Attempt"] for got in receiver.received] == ["1", "2", "3"]
    assert all(readme_verify()(secret, got.headers["Rapport-Signature"], got.body) for got in receiver.received)
    [delivery] = deliveries()
    assert (delivery.state, delivery.attempts, delivery.last_error) == ("delivered", 3, None)
    assert "timed out" not in report.errors[0] and "HTTP 500" in report.errors[0]
    assert "no reply within 1 seconds" in report.errors[1]


def test_backoff_doubles_and_delivery_gives_up_after_the_limit(app, client, admin, make_survey, receiver):
    app.config.update(WEBHOOK_RETRY_BASE_SECONDS=30, WEBHOOK_MAX_ATTEMPTS=3)
    assert [backoff_seconds(n, app.config, "WEBHOOK") for n in (1, 2, 3, 8, 9)] == [30, 60, 120, 3600, 3600]
    survey = make_survey("nps")
    add_endpoint(client, survey, receiver.url)
    receiver.plan = [500, 503, 500, 500]
    record_response(survey, Answer(score=1, comment=None, channel="link"))
    waits = []
    for _ in range(3):
        deliver_due()
        [delivery] = deliveries()
        waits.append((delivery.next_attempt_at - delivery.last_attempt_at).total_seconds())
        delivery.next_attempt_at = utcnow() - dt.timedelta(seconds=1)  # time passes
        db.session.commit()
    [delivery] = deliveries()
    assert waits[:2] == [30, 60]
    assert (delivery.state, delivery.attempts) == ("failed", 3) and delivery.body is not None
    assert delivery.last_error.startswith("HTTP 500") and len(delivery.reply_excerpt) <= 300
    assert deliver_due().handled == 0 and len(receiver.received) == 3
    # The receiver is fixed: an admin sends it again, with the same event id and body.
    receiver.plan = []
    base = f"/surveys/{survey.public_key}/webhooks/{delivery.endpoint_id}"
    assert "Send again" in client.get(base).get_data(as_text=True)
    page = client.post(f"{base}/deliveries/{delivery.id}/resend", follow_redirects=True).get_data(as_text=True)
    assert "Sent again and delivered: HTTP 200" in page
    assert receiver.received[3].body == receiver.received[0].body
    assert receiver.received[3].headers["Rapport-Event-Id"] == receiver.received[0].headers["Rapport-Event-Id"]
    [delivery] = deliveries()
    assert (delivery.state, delivery.body) == ("delivered", None)
    again = client.post(f"{base}/deliveries/{delivery.id}/resend", follow_redirects=True).get_data(as_text=True)
    assert "Only a failed delivery can be sent again" in again and len(receiver.received) == 4
    assert client.post(f"{base}/deliveries/99999/resend").status_code == 404
    # Given up on by time too: an event older than WEBHOOK_GIVE_UP_SECONDS fails at its next failed try.
    app.config.update(WEBHOOK_MAX_ATTEMPTS=100, WEBHOOK_GIVE_UP_SECONDS=3600)
    receiver.plan = [500]
    record_response(survey, Answer(score=2, comment=None, channel="link"))
    scan_all()
    newest = deliveries()[-1]
    assert len(receiver.received) == 4
    newest.created_at = utcnow() - dt.timedelta(hours=2)
    db.session.commit()
    deliver_due()
    assert (deliveries()[-1].state, deliveries()[-1].attempts) == ("failed", 1)


def test_a_crash_between_claim_and_send_delivers_later_with_the_same_event_id(client, admin, make_survey, receiver):
    survey = make_survey("nps")
    add_endpoint(client, survey, receiver.url)
    record_response(survey, Answer(score=7, comment=None, channel="link"))
    assert scan_all() == 1
    token, ids = claim(20)  # a worker claims it, then dies before sending
    assert len(ids) == 1 and claim(20)[1] == []  # nobody else may take it meanwhile
    assert deliver_due().handled == 0 and receiver.received == []
    [delivery] = deliveries()
    assert delivery.claim_token == token and delivery.state == "queued"
    delivery.lease_until = utcnow() - dt.timedelta(seconds=1)  # its lease runs out
    db.session.commit()
    assert deliver_due().delivered == 1
    [got] = receiver.received
    assert got.headers["Rapport-Event-Id"] == delivery.event_id == json.loads(got.body)["id"]


def test_a_crash_before_the_cursor_commits_loses_nothing(app, client, admin, make_survey, receiver, monkeypatch):
    survey = make_survey("nps")
    endpoint, _ = add_endpoint(client, survey, receiver.url)
    record_response(survey, Answer(score=4, comment=None, channel="link"))
    import survey.webhooks.events as events

    def crash(*args, **kwargs):
        raise RuntimeError("killed mid-scan")

    monkeypatch.setattr(events, "event_body", crash)
    with pytest.raises(RuntimeError):
        scan_all()
    db.session.rollback()
    assert deliveries() == []
    monkeypatch.undo()
    assert deliver_due().delivered == 1 and len(receiver.received) == 1


def test_a_survey_without_webhooks_is_not_touched(app, client, admin, make_survey, receiver):
    hooked, plain = make_survey("nps"), make_survey("csat")
    add_endpoint(client, hooked, receiver.url)
    for score in (1, 2, 3):
        record_response(plain, Answer(score=score, comment="fine", channel="link"))
    answer_on_page(app.test_client(), plain, 5)
    assert deliver_due().handled == 0
    assert deliveries() == [] and receiver.received == []


def test_the_test_event_pause_enable_and_delete(app, client, admin, make_survey, receiver):
    survey = make_survey("nps")
    endpoint, secret = add_endpoint(client, survey, receiver.url)
    base = f"/surveys/{survey.public_key}/webhooks/{endpoint.id}"
    page = client.post(f"{base}/test", follow_redirects=True).get_data(as_text=True)
    assert "Test event delivered: HTTP 200" in page
    [ping] = receiver.received
    assert json.loads(ping.body)["type"] == "ping" and json.loads(ping.body)["answer"] is None
    assert readme_verify()(secret, ping.headers["Rapport-Signature"], ping.body)
    receiver.plan = [500]
    page = client.post(f"{base}/test", follow_redirects=True).get_data(as_text=True)
    assert "not delivered: HTTP 500" in page
    assert deliveries()[-1].state == "failed"  # a test gets one try
    # Paused: an answer meanwhile is never sent; one after enabling is.
    client.post(f"{base}/disable")
    record_response(survey, Answer(score=5, comment="while paused", channel="link"))
    assert deliver_due().handled == 0
    assert "Enable the endpoint" in client.post(f"{base}/test", follow_redirects=True).get_data(as_text=True)
    client.post(f"{base}/enable")
    time.sleep(0.01)
    record_response(survey, Answer(score=6, comment="after", channel="link"))
    deliver_due()
    assert [json.loads(got.body)["answer"]["comment"] for got in receiver.received[2:]] == ["after"]
    # The page shows the deliveries; delete asks first, then removes it and its history.
    page = client.get(base).get_data(as_text=True)
    assert "answer.created" in page and "failed" in page and "HTTP 500" in page
    assert "Delete this webhook?" in client.get(f"{base}/delete").get_data(as_text=True)
    endpoint_id = endpoint.id
    assert client.post(f"{base}/delete").status_code == 303
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint_id) is None and deliveries() == []


def test_rotating_the_secret_signs_with_both_for_a_while(client, admin, make_survey, receiver):
    survey = make_survey("nps")
    endpoint, old = add_endpoint(client, survey, receiver.url)
    page = client.post(f"/surveys/{survey.public_key}/webhooks/{endpoint.id}/rotate").get_data(as_text=True)
    new = secret_on(page)
    assert new != old and "shown only this once" in page
    record_response(survey, Answer(score=8, comment=None, channel="link"))
    deliver_due()
    [got] = receiver.received
    header = got.headers["Rapport-Signature"]
    assert header.count("v1=") == 2
    assert readme_verify()(new, header, got.body) and readme_verify()(old, header, got.body)
    # The secret is never shown again.
    assert new not in client.get(f"/surveys/{survey.public_key}/webhooks/{endpoint.id}").get_data(as_text=True)
    assert new not in client.get(f"/surveys/{survey.public_key}").get_data(as_text=True)


def test_the_e_mail_worker_sends_webhooks_too(app, client, admin, make_survey, receiver):
    from survey.invites.cli import worker_passes
    from survey.invites.delivery import deliver_forever

    survey = make_survey("nps")
    add_endpoint(client, survey, receiver.url)
    record_response(survey, Answer(score=10, comment=None, channel="email"))
    deadline = time.monotonic() + 10
    stop = lambda: receiver.arrived.is_set() or time.monotonic() > deadline  # noqa: E731
    deliver_forever(interval=0.1, should_stop=stop, **worker_passes(stop))
    assert len(receiver.received) == 1 and deliveries()[0].state == "delivered"


def test_flask_webhook_deliver_reports_its_pass(app, runner, client, admin, make_survey, receiver):
    survey = make_survey("nps")
    add_endpoint(client, survey, receiver.url)
    record_response(survey, Answer(score=10, comment=None, channel="email"))
    result = runner.invoke(args=["webhook", "deliver", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["delivered"] == 1
    receiver.plan = [500]
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 1
    record_response(survey, Answer(score=1, comment=None, channel="email"))
    result = runner.invoke(args=["webhook", "deliver"])
    assert result.exit_code == 1 and "failed 1" in result.output
    listed = json.loads(runner.invoke(args=["webhook", "list", "--survey", survey.public_key, "--json"]).output)
    assert [(row["delivered"], row["failed"], row["enabled"]) for row in listed] == [(1, 1, True)]
    assert listed[0]["last_error"].startswith("HTTP 500") and listed[0]["url"].endswith("/hooks/rapport")
    assert "waiting 0, failed 1" in runner.invoke(args=["webhook", "list"]).output
    assert runner.invoke(args=["webhook", "list", "--survey", "nope"]).exit_code == 1


def test_two_workers_at_once_send_each_event_once(app, client, admin, make_survey, receiver):
    """Both scan and claim at the same moment: row locks (PostgreSQL) or the single writer (SQLite)."""
    import threading

    surveys = [make_survey("nps"), make_survey("csat")]
    for survey in surveys:
        add_endpoint(client, survey, receiver.url)
        for score in range(1, 6):
            record_response(survey, Answer(score=score, comment=f"answer {score}", channel="link"))
    app.config["WEBHOOK_BATCH_SIZE"] = 2
    receiver.plan = [("sleep", 0.05)] * 10  # slow enough for the workers' passes to overlap
    start, errors = threading.Barrier(2), []

    def work():
        try:
            with app.app_context():
                start.wait()
                deliver_due()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not errors, errors
    ids = [got.headers["Rapport-Event-Id"] for got in receiver.received]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert [d.state for d in deliveries()] == ["delivered"] * 10


def test_a_quiet_endpoint_is_read_not_written_each_pass(app, client, admin, make_survey, receiver):
    survey = make_survey("nps")
    endpoint, _ = add_endpoint(client, survey, receiver.url)
    record_response(survey, Answer(score=9, comment=None, channel="link"))
    assert scan_all() == 1
    db.session.refresh(endpoint)
    cursor = endpoint.scanned_until
    assert scan_all() == 0  # the answer is still inside the overlap, but was sent already: no write
    db.session.refresh(endpoint)
    assert endpoint.scanned_until == cursor
    endpoint.scanned_until = cursor - dt.timedelta(seconds=app.config["WEBHOOK_SCAN_OVERLAP_SECONDS"])
    db.session.commit()
    assert scan_all() == 0  # an old cursor moves on, so the window read stays short
    db.session.refresh(endpoint)
    assert endpoint.scanned_until > cursor and len(deliveries()) == 1


def test_every_event_matches_the_openapi_documents_webhooks_section(app, client, admin, make_survey, receiver):
    jsonschema_rs = pytest.importorskip("jsonschema_rs")  # comes with schemathesis (the test extra)
    survey = make_survey("ces")
    endpoint, _ = add_endpoint(client, survey, receiver.url)
    client.post(f"/surveys/{survey.public_key}/webhooks/{endpoint.id}/test")
    contact = Contact(email="ann@example.com", name="Ann", attributes={"plan": "pro"})
    db.session.add(contact)
    db.session.commit()
    record_response(survey, Answer(score=2, comment="slow", channel="email", contact_id=contact.id,
                                   meta={"region": "north"}))
    deliver_due()
    document = client.get("/api/v1/openapi.json").get_json()
    schema = document["webhooks"]["answer"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.validator_for({**schema, "components": document["components"]})
    bodies = [json.loads(got.body) for got in receiver.received]
    assert [body["type"] for body in bodies] == ["ping", "answer.created"]
    assert bodies[1]["answer"]["contact"]["attributes"] == {"plan": "pro"}
    for body in bodies:
        validator.validate(body)
    assert not validator.is_valid({**bodies[1], "answer": {**bodies[1]["answer"], "public_id": None}})


def test_forgetting_a_contact_strips_them_from_events_not_yet_sent(app, client, admin, make_survey, receiver):
    from survey.invites.operations import forget_contact

    survey = make_survey("nps")
    add_endpoint(client, survey, receiver.url)
    contact = Contact(email="ann@example.com", name="Ann", attributes={"plan": "pro"})
    db.session.add(contact)
    db.session.commit()
    record_response(survey, Answer(score=2, comment="slow", channel="email", contact_id=contact.id,
                                   meta={"region": "north"}))
    receiver.plan = [500]
    deliver_due(max_batches=1)  # queued, tried once, waiting for its retry
    assert json.loads(receiver.received[0].body)["answer"]["contact"]["email"] == "ann@example.com"
    forget_contact("ann@example.com")
    deliver_due()
    retried = json.loads(receiver.received[1].body)
    assert retried["id"] == json.loads(receiver.received[0].body)["id"]
    assert retried["answer"]["contact"] is None and retried["answer"]["meta"] == {}
    assert retried["answer"]["comment"] == "slow" and "ann@example.com" not in receiver.received[1].body.decode()


def test_a_worker_killed_mid_request_leaves_the_event_to_be_sent_again(app, client, admin, make_survey, receiver):
    """A real SIGKILL while the receiver holds the request: the claim's lease runs out, another
    worker sends it, with the same event id and body (at least once)."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO

    survey = make_survey("nps")
    add_endpoint(client, survey, receiver.url)
    record_response(survey, Answer(score=0, comment="cancelling tomorrow", channel="email"))
    receiver.plan = [("sleep", 30)]
    env = dict(os.environ, RAPPORT_INSTANCE_PATH=app.instance_path,
               RAPPORT_SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], RAPPORT_SECRET_KEY=TEST_SECRET_KEY,
               RAPPORT_WEBHOOK_ALLOW_LOCAL_TARGETS="true", RAPPORT_WEBHOOK_TIMEOUT_SECONDS="60",
               RAPPORT_WEBHOOK_BATCH_SIZE="1")
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "survey", "webhook", "deliver"], cwd=REPO,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert receiver.arrived.wait(60), worker.communicate(timeout=5)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
    [delivery] = deliveries()
    assert delivery.state == "queued" and delivery.claim_token is not None and delivery.attempts == 0
    assert deliver_due().handled == 0  # its lease still holds: nobody sends it twice at once
    delivery.lease_until = utcnow() - dt.timedelta(seconds=1)  # the lease runs out
    db.session.commit()
    assert deliver_due().delivered == 1
    first, again = receiver.received
    assert first.headers["Rapport-Event-Id"] == again.headers["Rapport-Event-Id"] and first.body == again.body
    assert deliveries()[0].state == "delivered"


def test_a_worker_told_to_stop_hands_its_unsent_claims_back_at_once(client, admin, make_survey, receiver):
    from survey.webhooks.worker import WebhookReport, deliver_claimed

    survey = make_survey("nps")
    add_endpoint(client, survey, receiver.url)
    for score in (1, 2):
        record_response(survey, Answer(score=score, comment=None, channel="link"))
    scan_all()
    token, ids = claim(20)
    assert len(ids) == 2
    deliver_claimed(token, ids, WebhookReport(), should_stop=lambda: True)  # SIGTERM before the first request
    assert receiver.received == [] and all(d.claim_token is None for d in deliveries())
    assert deliver_due().delivered == 2  # no wait for a lease to run out
