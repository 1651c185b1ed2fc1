"""responses' partial indexes (migration 5d0b7e3c9a14).

invitation_id, (survey_id, external_id) and contact_id are NULL for most
answers, so their indexes hold only the rows where the column is not NULL:
an answer's insert writes none of them. The unique ones still refuse a
duplicate, the look-ups on these columns still use them, and the migration
keeps every row (on SQLite its table recreate must not cascade to the
responses' labels, corrections and pain point links).
"""

import datetime as dt
import re
import uuid

import pytest
import sqlalchemy as sa

from survey import create_app
from survey.db import db, normalise_url
from survey.importer import FeedbackRow
from survey.models import Response
from survey.operations import Answer, import_feedback, insert_response
from tests.conftest import TEST_DB_URL
from tests.conftest import flask_db as run_flask_db

BEFORE = "a2e127aea5f0"
# Response columns added or rewritten by revisions after this test's own (2bcae5ee70ee: its own test).
LATER = {"public_id", "submission_key"}
PARTIAL = {"uq_responses_invitation_id": "invitation_id", "uq_responses_survey_external_id": "external_id",
           "ix_responses_contact_id": "contact_id"}


def an_answer(**fields) -> Answer:
    """A link answer with a fresh submission_key; an invitation's answer (``invitation_id``) has none."""
    key = None if fields.get("invitation_id") is not None else uuid.uuid4().hex
    return Answer(**{"score": 9, "comment": None, "channel": "link", "submission_key": key, **fields})


def invite(survey, *emails: str):
    """Queue a campaign to these new contacts; their invitations, in order."""
    from survey.invites.contacts import ContactRow
    from survey.invites.models import Invitation
    from survey.invites.operations import import_contacts, send_campaign

    import_contacts([ContactRow(line=n, email=email) for n, email in enumerate(emails, start=2)])
    campaign = send_campaign(survey, base_url="https://surveys.example.com").campaign
    return list(db.session.scalars(sa.select(Invitation).where(Invitation.campaign_id == campaign.id)
                                   .order_by(Invitation.id)))


def index_definitions(connection: sa.Connection) -> set[tuple]:
    """Every index of every table but alembic_version, as the database itself describes it."""
    if connection.dialect.name == "postgresql":
        return set(connection.exec_driver_sql(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename <> 'alembic_version'").all())
    found = set()
    tables = connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('alembic_version', 'sqlite_sequence')")
    for (table,) in tables.all():
        for _, name, unique, origin, partial in connection.exec_driver_sql(f'PRAGMA index_list("{table}")').all():
            columns = tuple(row[2] for row in connection.exec_driver_sql(f'PRAGMA index_info("{name}")').all())
            sql = connection.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).scalar()
            found.add((table, name if origin == "c" else f"({origin})", unique, partial, columns,
                       sql and " ".join(sql.replace('"', "").split())))
    return found


def test_null_keys_never_conflict_and_duplicates_are_still_refused(app, make_survey):
    survey, other = make_survey("nps"), make_survey("nps")
    for _ in range(3):
        assert insert_response(survey, an_answer()).created  # no invitation, external id or contact
    assert import_feedback(survey, [FeedbackRow(line=n, text=f"no id {n}", score=5) for n in (2, 3)]) == (2, 0)
    assert import_feedback(survey, [FeedbackRow(line=2, text="imported", score=3, external_id="row-1")]) == (1, 0)
    assert import_feedback(other, [FeedbackRow(line=2, text="imported", score=3, external_id="row-1")]) == (1, 0)
    assert import_feedback(survey, [FeedbackRow(line=2, text="again", score=3, external_id="row-1")]) == (0, 1)
    db.session.add(Response(survey_id=survey.id, score=1, channel="import", external_id="row-1", meta={}))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()

    first, second = invite(survey, "ana@example.com", "bo@example.com")
    assert insert_response(survey, an_answer(channel="email", invitation_id=first.id,
                                             contact_id=first.contact_id)).created
    assert insert_response(survey, an_answer(channel="email", invitation_id=first.id)) is None  # one per invitation
    db.session.add(Response(survey_id=survey.id, score=1, channel="email", invitation_id=first.id, meta={}))
    with pytest.raises(sa.exc.IntegrityError):  # enforced by the database, not only by the insert
        db.session.commit()
    db.session.rollback()
    assert insert_response(survey, an_answer(channel="email", invitation_id=second.id,
                                             contact_id=first.contact_id)).created  # contact_id is not unique
    counts = db.session.execute(sa.select(sa.func.count(Response.invitation_id), sa.func.count(Response.contact_id),
                                          sa.func.count(Response.external_id), sa.func.count())).one()
    assert tuple(counts) == (2, 2, 2, 9)


def test_the_lookups_on_these_columns_use_the_partial_indexes(app, make_survey):
    from survey.invites.models import Invitation

    survey = make_survey("nps")
    [invitation] = invite(survey, "ana@example.com")
    insert_response(survey, an_answer(channel="email", invitation_id=invitation.id, contact_id=invitation.contact_id))
    import_feedback(survey, [FeedbackRow(line=n, text=f"imported {n}", score=3, external_id=f"row-{n}")
                             for n in range(2, 40)])
    by_invitation = sa.select(Response.id).where(Response.invitation_id == invitation.id)
    by_external_id = sa.select(Response.external_id).where(Response.survey_id == survey.id,
                                                           Response.external_id.in_(["row-2", "row-3", "x"]))
    by_contact = sa.select(Response.id).where(Response.contact_id == invitation.contact_id)
    forget = sa.select(Response.id).where(sa.or_(Response.contact_id == invitation.contact_id,
                                                 Response.invitation_id.in_([invitation.id])))
    expected = {"invitation": (by_invitation, ["uq_responses_invitation_id"]),
                "external id": (by_external_id, ["uq_responses_survey_external_id"]),
                "contact": (by_contact, ["ix_responses_contact_id"]),
                "forget": (forget, ["ix_responses_contact_id", "uq_responses_invitation_id"])}
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # A tiny table: only ask whether the index is usable. The survey's own indexes would
            # serve survey_id = … as well, so they go for this transaction (rolled back below).
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("DROP INDEX ix_responses_survey_created, ix_responses_survey_commented")
        for what, (query, indexes) in expected.items():
            sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
            plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql
                                                                           if conn.dialect.name == "sqlite"
                                                                           else "EXPLAIN " + sql))
            assert all(index in plan for index in indexes), (what, plan)
            assert "SCAN responses" not in plan and "Seq Scan" not in plan, (what, plan)
        conn.rollback()
    if db.engine.dialect.name != "sqlite":
        return
    # What import_feedback and Invitation.response really send, with their bound parameters.
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FROM responses" in statement:
            statements.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", capture)
    try:
        import_feedback(survey, [FeedbackRow(line=2, text="again", score=3, external_id="row-2")])
        db.session.expire_all()
        assert db.session.get(Invitation, invitation.id).response is not None
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", capture)
    assert len(statements) == 2, statements
    with db.engine.connect() as conn:
        plans = [" | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
                 for statement, parameters in statements]
    assert "INDEX uq_responses_survey_external_id (survey_id=? AND external_id=?)" in plans[0], plans
    assert "INDEX uq_responses_invitation_id (invitation_id=?)" in plans[1], plans


def migrated_site(tmp_path, monkeypatch):
    """An app on a database of its own (SQLite file, or the PostgreSQL test database) and ``flask_db(*args)``,
    which runs ``flask db ARGS`` on it, the command an operator runs (in this process: tests.conftest.flask_db)."""
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    url = normalise_url(TEST_DB_URL) if TEST_DB_URL else f"sqlite:///{tmp_path / 'rapport.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "MAIL_SERVER": None})

    def flask_db(*args: str) -> None:
        done = run_flask_db(app, *args)
        assert done.exit_code == 0, (done.output, done.exception)

    return app, flask_db


def reset_database() -> None:
    """Every table gone, alembic_version too (inside the app context of ``migrated_site``)."""
    db.session.remove()
    with db.engine.begin() as conn:
        if TEST_DB_URL:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        else:
            db.metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    db.engine.dispose()


def test_migration_keeps_every_row_and_builds_the_indexes_the_models_describe(tmp_path, monkeypatch):
    """Upgrade and downgrade with rows in every table that refers to responses; after the upgrade every
    index (partial WHERE included, which `flask db check` does not compare) is the one create_all makes."""
    app, flask_db = migrated_site(tmp_path, monkeypatch)
    with app.app_context():
        import survey.models_all  # noqa: F401

        reset = reset_database

        shape: dict[str, set[str]] = {}  # the tables and columns BEFORE has (later revisions add some)

        def rows() -> dict[str, list[tuple]]:
            """Every row, of the tables and columns BEFORE has (the first call is made there)."""
            db.session.remove()
            with db.engine.connect() as conn:
                inspector = sa.inspect(conn)
                if not shape:
                    shape.update({table.name: {column["name"] for column in inspector.get_columns(table.name)}
                                  for table in db.metadata.sorted_tables if inspector.has_table(table.name)})
                tables = {}
                for table in db.metadata.sorted_tables:
                    if table.name in shape:
                        columns = [column for column in table.c
                                   if column.name in shape[table.name] and column.name not in LATER]
                        tables[table.name] = sorted(map(tuple, conn.execute(sa.select(*columns))), key=repr)
                return tables

        def indexes() -> set[tuple]:
            with db.engine.connect() as conn:
                return index_definitions(conn)

        try:
            if TEST_DB_URL:
                reset()
            # Seeded by today's code at the head, then taken down to BEFORE: the rows as they were there.
            flask_db("upgrade")
            seed()
            flask_db("downgrade", BEFORE)
            before = rows()
            assert {name: len(before[name]) for name in ("responses", "response_labels", "label_corrections",
                                                         "pain_point_responses")} == {
                "responses": 7, "response_labels": 3, "label_corrections": 1, "pain_point_responses": 2}
            old_indexes = indexes()
            flask_db("upgrade")
            assert rows() == before
            migrated = indexes()
            for name, column in PARTIAL.items():
                [definition] = [index for index in migrated if index[1] == name]
                assert re.search(rf"WHERE \(?{column} IS NOT NULL\)?$", definition[-1]), definition
            if not TEST_DB_URL:  # SQLite: only submission_key's unique constraint is left as an autoindex
                assert [index[4] for index in migrated if index[0] == "responses" and index[1] == "(u)"] == [
                    ("submission_key",)]
            flask_db("check")
            flask_db("downgrade", BEFORE)
            assert rows() == before
            if TEST_DB_URL:
                assert indexes() == old_indexes
            else:  # the recreated table lists its columns' constraints in another order: same indexes
                assert {index[:5] for index in indexes()} == {index[:5] for index in old_indexes}
            flask_db("upgrade")
            assert rows() == before and indexes() == migrated
            reset()
            db.metadata.create_all(db.engine)
            assert indexes() == migrated
        finally:
            if TEST_DB_URL:  # leave the shared test database as the app fixture expects it
                reset()
                db.metadata.create_all(db.engine)
            db.session.remove()
            db.engine.dispose()


def seed() -> None:
    """Answers of every kind, and rows in each table that refers to responses (ON DELETE CASCADE)."""
    from survey.models import AnalysisRun, LabelCorrection, PainPointRecord, ResponseLabel
    from survey.operations import create_survey

    survey = create_survey("nps", "Migration survey", "Acme")
    first, second = invite(survey, "ana@example.com", "bo@example.com")
    for invitation in (first, second):
        insert_response(survey, an_answer(channel="email", comment="By e-mail", invitation_id=invitation.id,
                                          contact_id=invitation.contact_id))
    insert_response(survey, an_answer(comment="On the link"))
    insert_response(survey, an_answer(submission_key=None))
    import_feedback(survey, [FeedbackRow(line=n, text=f"imported {n}", score=n, external_id=f"row-{n}",
                                         created_at=dt.datetime(2026, 1, n)) for n in (2, 3)]
                    + [FeedbackRow(line=4, text="no id", score=1, created_at=dt.datetime(2026, 1, 4))])
    answers = list(db.session.scalars(sa.select(Response).where(Response.comment.is_not(None)).order_by(Response.id)))
    for response in answers[:3]:
        db.session.add(ResponseLabel(response_id=response.id, model_version="m1", sentiment="positive",
                                     sentiment_proba=0.9, sentiment_probs={"positive": 0.9}, theme="care",
                                     theme_proba=0.8, theme_probs={"care": 0.8}))
    db.session.add(LabelCorrection(response_id=answers[0].id, field="theme", value="service"))
    run = AnalysisRun(survey_id=survey.id, model_version="m1")
    db.session.add(PainPointRecord(run=run, survey_id=survey.id, rank=1, label="slow", theme="care", count=2, share=0.5,
                             impact=1.0, responses=answers[:2]))
    db.session.commit()
