"""Webhooks tried as an attacker and as a careless admin: SSRF targets, redirects, huge and slow
replies, another survey's endpoint ids, analysts, and bad addresses with clear form errors."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.operations import Answer, record_response
from survey.webhooks.models import WebhookDelivery, WebhookEndpoint
from survey.webhooks.targets import TargetRefused, check_url, post
from survey.webhooks.worker import deliver_due
from tests.dashboard_support import login
from tests.test_webhooks import add_endpoint, deliveries
from tests.webhooks_support import app_config, receiver  # noqa: F401 (fixtures)


@pytest.mark.parametrize("url,message", [
    ("", "Enter the address"),
    ("hooks.example.com/rapport", "starting with https://"),
    ("ftp://hooks.example.com/", "starting with https://"),
    ("http://hooks.example.com/rapport", "must start with https://"),
    ("https://user:secret@hooks.example.com/", "Leave user names and passwords out"),
    ("https://hooks.example.com/a b", "spaces"),
    ("https://hooks.example.com:99999/", "port"),
    ("https://hooks.example.com/#frag", "fragment"),
    ("https://169.254.169.254/latest/meta-data/", "private, loopback or link-local"),
    ("https://[::ffff:169.254.169.254]/", "private, loopback or link-local"),
    ("https://2852039166/", "private, loopback or link-local"),  # 169.254.169.254 as one number
    ("https://10.1.2.3/", "private, loopback or link-local"),
    ("https://127.0.0.1/", "private, loopback or link-local"),
    ("https://localhost/", "private, loopback or link-local"),
    ("https://0.0.0.0/", "private, loopback or link-local"),
    ("https://no-such-host.invalid/", "cannot be found"),
    ("https://" + "a" * 2000 + ".example.com/", "at most 2000 characters"),
])
def test_bad_addresses_get_a_clear_form_error_and_store_nothing(app, client, make_survey, url, message):
    app.config["WEBHOOK_ALLOW_LOCAL_TARGETS"] = False
    survey = make_survey("nps")
    login(client, "admin")
    page = client.post(f"/surveys/{survey.public_key}/webhooks/new", data={"url": url})
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert 'id="url-error"' in text and message in text.replace("&#39;", "'"), text[text.find("url-error"):][:300]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_local_targets_need_the_setting_and_http_only_to_loopback(app):
    with pytest.raises(TargetRefused):
        check_url("http://127.0.0.1:8080/x", allow_local=False)
    assert check_url(" http://127.0.0.1:8080/x ", allow_local=True) == "http://127.0.0.1:8080/x"
    assert check_url("https://10.0.0.1/x", allow_local=True) == "https://10.0.0.1/x"
    with pytest.raises(TargetRefused, match="must start with https"):
        check_url("http://10.0.0.1/x", allow_local=True)


def test_an_address_that_turns_private_is_refused_at_the_try_without_a_request(app, client, make_survey, receiver):
    survey = make_survey("nps")
    login(client, "admin")
    add_endpoint(client, survey, receiver.url)
    app.config["WEBHOOK_ALLOW_LOCAL_TARGETS"] = False  # as for a name re-pointed at 127.0.0.1 after it was added
    record_response(survey, Answer(score=3, comment=None, channel="link"))
    report = deliver_due(max_batches=1)
    assert report.retried == 1 and receiver.received == []
    assert "refused" in deliveries()[0].last_error


def test_redirects_are_not_followed(app, client, make_survey, receiver):
    survey = make_survey("nps")
    login(client, "admin")
    add_endpoint(client, survey, receiver.url)
    receiver.plan = [("redirect", "http://169.254.169.254/latest/meta-data/")]
    record_response(survey, Answer(score=3, comment=None, channel="link"))
    deliver_due(max_batches=1)
    assert len(receiver.received) == 1
    [delivery] = deliveries()
    assert delivery.last_status == 302 and "not followed" in delivery.last_error and delivery.state == "queued"


def test_a_huge_reply_is_read_only_to_its_first_bytes_and_a_dripping_one_is_cut_at_the_timeout(app, receiver):
    receiver.plan = ["huge", "drip"]
    started = time.monotonic()
    reply = post(receiver.url, b"{}", {}, timeout=1, allow_local=True)
    assert reply.delivered and reply.status == 200 and reply.excerpt == "x" * 300
    assert time.monotonic() - started < 1
    started = time.monotonic()
    reply = post(receiver.url, b"{}", {}, timeout=1, allow_local=True)
    elapsed = time.monotonic() - started
    assert not reply.delivered and "within 1 seconds" in reply.error, reply
    assert elapsed < 2, elapsed


def test_nothing_listens_is_a_retried_failure_not_a_crash(app):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reply = post(f"http://127.0.0.1:{port}/", b"{}", {}, timeout=1, allow_local=True)
    assert reply.status is None and reply.error.startswith("could not connect")


def test_another_surveys_endpoint_ids_are_404(app, client, make_survey, receiver):
    mine, theirs = make_survey("nps"), make_survey("csat")
    login(client, "admin")
    endpoint, _ = add_endpoint(client, theirs, receiver.url)
    endpoint_id = endpoint.id
    receiver.plan = [500]
    client.post(f"/surveys/{theirs.public_key}/webhooks/{endpoint_id}/test")  # a failed ping to send again
    delivery_id = deliveries()[0].id
    mine_endpoint, _ = add_endpoint(client, mine, receiver.url)
    # Another endpoint's delivery through this survey's own endpoint: 404 too.
    assert client.post(f"/surveys/{mine.public_key}/webhooks/{mine_endpoint.id}/deliveries/{delivery_id}/resend"
                       ).status_code == 404
    for method, suffix in (("GET", ""), ("POST", "/test"), ("POST", "/disable"), ("POST", "/enable"),
                           ("POST", "/rotate"), ("GET", "/delete"), ("POST", "/delete"),
                           ("POST", f"/deliveries/{delivery_id}/resend")):
        response = client.open(f"/surveys/{mine.public_key}/webhooks/{endpoint_id}{suffix}", method=method)
        assert response.status_code == 404, (method, suffix)
    db.session.expire_all()
    still = db.session.get(WebhookEndpoint, endpoint_id)
    assert still is not None and still.enabled and still.secret_rotated_at is None and len(receiver.received) == 1
    assert deliveries()[0].state == "failed"


def test_analysts_see_endpoints_and_deliveries_but_change_nothing(app, client, make_survey, receiver):
    survey = make_survey("nps")
    login(client, "admin")
    endpoint, secret = add_endpoint(client, survey, receiver.url + "?token=abc123")
    record_response(survey, Answer(score=3, comment=None, channel="link"))
    deliver_due()
    analyst = app.test_client()
    login(analyst, "analyst")
    base = f"/surveys/{survey.public_key}/webhooks/{endpoint.id}"
    survey_page = analyst.get(f"/surveys/{survey.public_key}").get_data(as_text=True)
    assert "Webhooks" in survey_page and "Add a webhook" not in survey_page
    assert "abc123" not in survey_page  # a token in the query string is for admins' eyes only
    page = analyst.get(base)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "answer.created" in text and "delivered" in text
    assert "Rotate secret" not in text and "Send a test event" not in text and secret not in text
    for method, suffix in (("POST", "/test"), ("POST", "/disable"), ("POST", "/rotate"), ("POST", "/delete")):
        assert analyst.open(base + suffix, method=method).status_code == 403
    assert analyst.post(f"/surveys/{survey.public_key}/webhooks/new", data={"url": receiver.url}).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 1


def test_the_same_address_twice_and_too_many_endpoints_are_refused(app, client, make_survey, receiver):
    survey = make_survey("nps")
    login(client, "admin")
    add_endpoint(client, survey, receiver.url)
    page = client.post(f"/surveys/{survey.public_key}/webhooks/new", data={"url": receiver.url})
    assert page.status_code == 422 and "already sends to that address" in page.get_data(as_text=True)
    for n in range(9):
        add_endpoint(client, survey, f"{receiver.url}/{n}")
    page = client.post(f"/surveys/{survey.public_key}/webhooks/new", data={"url": receiver.url + "/10"})
    assert page.status_code == 422 and "at most 10" in page.get_data(as_text=True)


def test_secrets_and_bodies_never_reach_the_logs(app, client, make_survey, receiver, caplog):
    caplog.set_level("DEBUG")
    survey = make_survey("nps")
    login(client, "admin")
    endpoint, secret = add_endpoint(client, survey, receiver.url)
    receiver.plan = [500]
    record_response(survey, Answer(score=3, comment="private words", channel="link"))
    deliver_due()
    client.post(f"/surveys/{survey.public_key}/webhooks/{endpoint.id}/rotate")
    assert secret not in caplog.text and "private words" not in caplog.text
    assert json.loads(receiver.received[0].body)["answer"]["comment"] == "private words"
    assert all(d.body is None for d in deliveries())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 1
