"""PostgreSQL connections cut while idle are replaced unseen; one cut while busy costs one 503.

Connections are cut the way a database restart or a firewall cuts them:
``pg_terminate_backend`` on every other session of the test database.
"""

import pytest
import sqlalchemy as sa

from survey.db import db
from tests.conftest import TEST_DB_URL

pytestmark = pytest.mark.skipif(not TEST_DB_URL, reason="PostgreSQL's connection pool (runs in the PostgreSQL run)")


def cut_every_other_connection() -> int:
    with sa.create_engine(db.engine.url).connect() as conn:
        cut = conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    return cut


def answer(client, key):
    return client.post(f"/s/{key}", data={"score": "4"})


def test_a_connection_cut_while_idle_is_replaced_before_use(app, client, make_survey):
    key = make_survey("csat").public_key
    db.session.remove()
    assert answer(client, key).status_code == 303
    assert cut_every_other_connection() >= 1
    # Nothing has been idle for DATABASE_PING_AFTER_IDLE_SECONDS yet: age the pooled connections.
    for record in list(db.engine.pool._pool.queue):
        record.info["rapport.idle_since"] -= 3600
    assert answer(client, key).status_code == 303


def test_a_connection_cut_while_busy_fails_one_request_clearly_then_recovers(app, client, make_survey):
    key = make_survey("csat").public_key
    db.session.remove()
    assert answer(client, key).status_code == 303
    assert cut_every_other_connection() >= 1
    failed = answer(client, key)
    assert failed.status_code == 503
    assert "Retry-After" in failed.headers
    assert answer(client, key).status_code == 303, "the pool reconnects after the failure"
