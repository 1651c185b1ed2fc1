"""survey.prepared: the answer and rate-count writes that bypass SQLAlchemy's per-execution work.

They must behave as ``Connection.execute`` would: values converted by the
column types, one commit, SQLAlchemy's exceptions with nothing stored, and on
SQLite the writer's turn given back; a count that need not be durable must
not leave its connection without the flush the answers after it need.
"""

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.models import Response
from survey.operations import Answer, insert_response
from survey.ratelimit import RateLimitCounter, hit
from tests.conftest import TEST_DB_URL


def an_answer(**fields) -> Answer:
    values = dict(score=4, comment="  Quick and kind  ", channel="link", meta={"plan": "pro", "seat": "12"},
                  ua_family="Firefox", submission_key=uuid.uuid4().hex)
    if fields.get("invitation_id") is not None:
        values["submission_key"] = None  # an invitation's answer is keyed by its invitation
    values.update(fields)
    return Answer(**values)


def stored(submission_key: str) -> Response:
    db.session.expire_all()
    return db.session.scalar(sa.select(Response).where(Response.submission_key == submission_key))


def test_an_answer_is_stored_with_its_types_converted_and_committed(app, make_survey):
    survey = make_survey("csat")
    answer = an_answer()
    recorded = insert_response(survey, answer)
    assert recorded.created and recorded.id > 0
    # Read through a connection of its own: the row is committed, not pending anywhere.
    with sa.create_engine(db.engine.url).connect() as other:
        row = other.execute(sa.select(Response.__table__).where(Response.id == recorded.id)).one()
    assert (row.score, row.comment, row.channel, row.meta) == (4, "Quick and kind", "link", {"plan": "pro", "seat": "12"})
    assert isinstance(row.created_at, dt.datetime) and row.created_at == recorded.created_at
    response = stored(answer.submission_key)
    assert response.id == recorded.id and response.survey_id == survey.id


def test_the_same_key_again_stores_nothing_and_returns_none(app, make_survey):
    survey = make_survey("csat")
    answer = an_answer()
    first = insert_response(survey, answer)
    assert insert_response(survey, an_answer(score=1, submission_key=answer.submission_key)) is None
    assert stored(answer.submission_key).id == first.id
    assert stored(answer.submission_key).score == 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 1


def test_a_refused_write_raises_sqlalchemys_error_stores_nothing_and_frees_the_connection(app, make_survey):
    survey = make_survey("csat")
    with pytest.raises(sa.exc.IntegrityError):
        insert_response(survey, an_answer(invitation_id=999_999))  # no such invitation: the foreign key refuses
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 0
    # The connection went back to the pool clean: the next writes (answers and counts) go through.
    for _ in range(3):
        assert insert_response(survey, an_answer()).created
    assert hit("prepared-test", limit=5, window_seconds=60).allowed
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Response)) == 3


def test_a_column_with_a_python_default_left_out_is_refused_not_stored_as_null(app, make_survey):
    from survey.operations import _RESPONSE_COLUMNS, _insert_statement
    from survey.prepared import PreparedWrite

    without_created_at = PreparedWrite(_insert_statement, [c for c in _RESPONSE_COLUMNS if c != "created_at"])
    with pytest.raises(TypeError, match="created_at"):
        without_created_at.run({"survey_id": make_survey("csat").id, "score": 3, "channel": "link"})


def test_counts_add_up_in_one_row_per_window(app):
    results = [hit("prepared-count", limit=3, window_seconds=3600, now=1_800_000_000) for _ in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    counter = db.session.scalar(sa.select(RateLimitCounter).where(RateLimitCounter.key == "prepared-count"))
    assert counter.count == 5


@pytest.mark.skipif(bool(TEST_DB_URL), reason="SQLite's synchronous setting")
@pytest.mark.parametrize("setting", ["FULL", "NORMAL"])
def test_an_answer_is_flushed_to_disk_after_its_turn_and_a_count_is_not(
        app_config, tmp_path, monkeypatch, make_survey, setting):
    """FULL: every answer's commit waits for the log's fdatasync, taken after the writer's turn is
    given back (so the next writer need not wait for the disk); a rate count waits for none."""
    import fcntl
    import os

    from survey import create_app

    app_config["SQLITE_SYNCHRONOUS"] = setting
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "instance-sync"))
    app = create_app(app_config)
    flushes, turn_free_while_flushing = [], []
    real_fdatasync = os.fdatasync

    def fdatasync(fd):
        flushes.append(os.readlink(f"/proc/self/fd/{fd}"))
        probe = os.open(lock_path, os.O_RDWR)
        try:  # another writer could take the turn now
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            turn_free_while_flushing.append(True)
        except BlockingIOError:
            turn_free_while_flushing.append(False)
        finally:
            os.close(probe)
        return real_fdatasync(fd)

    with app.app_context():
        db.create_all()
        database = db.engine.url.database
        lock_path = os.path.realpath(database) + "-writer.lock"
        survey = make_survey("csat")
        used = set()  # every connection these writes check out of the pool
        sa.event.listen(db.engine, "checkout", lambda dbapi_connection, *_: used.add(dbapi_connection))
        monkeypatch.setattr(os, "fdatasync", fdatasync)
        monkeypatch.setattr("survey.ratelimit.random.randrange", lambda n: 1)  # no clean-up of old counts now
        hit("prepared-sync", limit=5, window_seconds=60)
        count_flushes, flushes[:] = list(flushes), []
        insert_response(survey, an_answer())
        answer_flushes, flushes[:] = list(flushes), []
        hit("prepared-sync", limit=5, window_seconds=60)
        survey.question = "Changed through the ORM"
        db.session.commit()
        later_flushes = list(flushes)
        settings = {connection.execute("PRAGMA synchronous").fetchone()[0] for connection in used}
        flags = {connection.flush_after_commit for connection in used}
        db.engine.dispose()

    wal = os.path.realpath(database) + "-wal"
    assert count_flushes == []
    assert settings == {1}, "SQLite itself runs at NORMAL; FULL's flush is Rapport's own"
    if setting == "FULL":
        assert answer_flushes == [wal] and turn_free_while_flushing == [True, True]
        assert later_flushes == [wal], "the count after it did not flush; the ORM's commit did"
        assert flags == {True}, "no pooled connection is left without its flush"
    else:
        assert answer_flushes == [] and later_flushes == [] and flags == {False}


def test_writes_together_commit_at_the_end_and_on_sqlite_roll_back_together(app, make_survey):
    from survey.prepared import together

    survey = make_survey("csat")
    committed, answer = [], an_answer()
    with together() as writes:
        assert hit("prepared-together", limit=5, window_seconds=60, together=writes).allowed
        recorded = insert_response(survey, answer, together=writes)
        writes.after_commit(lambda: committed.append(stored_count()))
    assert committed == [1], "after_commit runs once the answer is committed"

    class Refused(Exception):
        pass

    with pytest.raises(Refused), together() as writes:
        hit("prepared-apart", limit=5, window_seconds=60, together=writes)
        insert_response(survey, an_answer(), together=writes)
        writes.after_commit(lambda: committed.append("never"))
        raise Refused
    assert committed == [1]
    keys = set(db.session.scalars(sa.select(RateLimitCounter.key)))
    assert "prepared-together" in keys
    if db.engine.dialect.name == "sqlite":  # one transaction: all or nothing
        assert stored_count() == 1 and "prepared-apart" not in keys
    else:  # PostgreSQL: each write committed as it ran, one round trip each
        assert stored_count() == 2 and "prepared-apart" in keys
    assert stored(answer.submission_key).id == recorded.id


def stored_count() -> int:
    with sa.create_engine(db.engine.url).connect() as other:  # committed rows only
        return other.execute(sa.select(sa.func.count()).select_from(Response)).scalar_one()


def test_a_failed_write_in_a_group_raises_sqlalchemys_error_and_stores_nothing_of_its_own(app, make_survey):
    from survey.prepared import together

    survey = make_survey("csat")
    with pytest.raises(sa.exc.IntegrityError), together() as writes:
        hit("prepared-failed", limit=5, window_seconds=60, together=writes)
        insert_response(survey, an_answer(invitation_id=999_999), together=writes)  # the foreign key refuses
    assert stored_count() == 0
    count = db.session.scalar(sa.select(RateLimitCounter).where(RateLimitCounter.key == "prepared-failed"))
    assert (count is None) == (db.engine.dialect.name == "sqlite")
    assert insert_response(survey, an_answer()).created  # the connection went back clean


@pytest.mark.skipif(bool(TEST_DB_URL), reason="SQLite's statement trace")
def test_a_widget_answer_and_its_rate_count_are_one_commit(app, client, make_survey):
    from survey.widget.operations import add_origins

    survey = make_survey("nps")
    add_origins(survey, ["https://shop.example"])
    app.config["WIDGET_RATE_LIMIT"] = "30/minute"
    statements = []
    sa.event.listen(db.engine, "checkout",
                    lambda dbapi_connection, *_: dbapi_connection.set_trace_callback(statements.append))
    db.engine.dispose()  # every connection from now on is traced
    got = client.post(f"/api/v1/surveys/{survey.public_key}/responses", headers={"Origin": "https://shop.example"},
                      json={"score": 9, "elapsed_ms": 5000, "submission_key": uuid.uuid4().hex})
    assert got.status_code == 201, got.get_json()
    writes = [line.split()[0].upper() + (" INTO " + line.split()[2] if line.upper().startswith("INSERT") else "")
              for line in statements if line.split()[0].upper() in ("BEGIN", "INSERT", "COMMIT", "UPDATE")]
    assert writes == ["BEGIN", "INSERT INTO rate_limit_counters", "INSERT INTO responses", "COMMIT"]
