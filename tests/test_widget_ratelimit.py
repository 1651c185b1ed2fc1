"""survey.ratelimit: shared fixed-window counters in the database, exact under concurrency."""

import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.ratelimit import (
    CLEANUP_ONE_IN, Rate, RateError, RateLimitCounter, client_key, delete_expired, hit, hit_rate, parse_rate,
)
from tests.conftest import TEST_SECRET_KEY

T0 = 1_800_000_000.0  # a window boundary for every window length used here


@pytest.mark.parametrize("text, rate", [
    ("30/minute", Rate(30, 60)), ("100 per hour", Rate(100, 3600)), ("5/10 seconds", Rate(5, 10)),
    ("1/day", Rate(1, 86400)), (" 7 / Minutes ", Rate(7, 60)), (None, None), ("", None),
])
def test_parse_rate(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["30", "thirty/minute", "30/fortnight", "0/minute", "5/0 seconds", "-1/hour"])
def test_parse_rate_refuses_what_it_cannot_read(text):
    with pytest.raises(RateError):
        parse_rate(text)


def test_counts_within_a_window_and_starts_again_in_the_next(app):
    results = [hit("k", 3, 60, now=T0 + i) for i in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert results[3].retry_after == 57 and results[4].retry_after == 56
    assert hit("k", 3, 60, now=T0 + 60).allowed  # a new window
    assert hit("other", 3, 60, now=T0 + 4).allowed  # keys are independent
    allowed, retry_after = hit("k", 3, 60, now=T0 + 61)  # unpacks like a pair (login throttling does)
    assert allowed and retry_after == 0


def test_retry_after_is_never_zero_when_refused(app):
    for _ in range(2):
        hit("edge", 1, 10, now=T0 + 9.999)
    assert hit("edge", 1, 10, now=T0 + 9.999) == (False, 1)


def test_no_limit_stores_nothing(app):
    assert hit_rate("k", None) == (True, 0)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RateLimitCounter)) == 0


def test_long_keys_are_hashed_to_fit(app):
    long_key = "widget:" + "x" * 500
    assert hit(long_key, 1, 60, now=T0).allowed
    assert not hit(long_key, 1, 60, now=T0).allowed
    assert hit(long_key[:-1] + "y", 1, 60, now=T0).allowed  # a different key has its own count
    stored = db.session.scalars(sa.select(RateLimitCounter.key)).all()
    assert all(len(key) <= 200 for key in stored) and len(set(stored)) == 2


def test_expired_windows_are_deleted(app, monkeypatch):
    hit("old", 5, 60, now=T0)
    hit("current", 5, 3600, now=T0)
    assert delete_expired(now=T0 + 61) == 1
    assert db.session.scalars(sa.select(RateLimitCounter.key)).all() == ["current"]
    # And opportunistically by the requests themselves.
    hit("old", 5, 60, now=T0)
    monkeypatch.setattr("survey.ratelimit.random.randrange", lambda n: 0 if n == CLEANUP_ONE_IN else 1)
    hit("current", 5, 3600, now=T0 + 120)
    assert db.session.scalars(sa.select(RateLimitCounter.key)).all() == ["current"]


def test_hit_leaves_the_callers_session_alone(app, make_survey):
    survey = make_survey("nps")
    survey.name = "renamed, not committed"
    hit("k", 5, 60)
    db.session.rollback()
    db.session.expire_all()
    assert survey.name != "renamed, not committed"


@pytest.mark.parametrize("address, key", [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # same /64: one client
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("", "unknown"),
])
def test_client_keys(app, address, key):
    assert client_key(address) == key


def test_concurrent_hits_from_threads_are_all_counted(app):
    def one(_):
        with app.app_context():
            return hit("burst", 25, 3600, now=T0).allowed

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(40)))
    assert results.count(True) == 25
    assert db.session.scalar(sa.select(RateLimitCounter.count).where(RateLimitCounter.key == "burst")) == 40


def _hammer(db_url: str, instance: str, n: int, queue) -> None:
    os.environ["RAPPORT_INSTANCE_PATH"] = instance
    from survey import create_app

    app = create_app({"SECRET_KEY": TEST_SECRET_KEY, "SQLALCHEMY_DATABASE_URI": db_url})
    with app.app_context():
        queue.put([hit("processes", 30, 3600, now=T0).allowed for _ in range(n)])


def test_several_processes_share_one_limit(app, tmp_path):
    """Four web processes on one database: together they allow exactly the limit."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    # fork: the children start at once with the modules already loaded; each opens its own engine.
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_hammer, args=(url, str(tmp_path / f"p{i}"), 20, queue)) for i in range(4)]
    for worker in workers:
        worker.start()
    allowed = []
    for _ in workers:
        allowed.extend(queue.get(timeout=60))
    for worker in workers:
        worker.join(30)
    assert allowed.count(True) == 30 and len(allowed) == 80
