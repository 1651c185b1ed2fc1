"""Every migration on SQLite runs with foreign keys off (survey/migrations/env.py).

Batch mode recreates a SQLite table and drops the old one; with foreign keys
on, that drop cascades and empties every table referring to it. These tests
add a revision of their own to a copy of the migrations and run the real
`flask db upgrade` (in this process) on a database holding answers, labels and pain points.
"""

import shutil

import pytest
import sqlalchemy as sa

from survey import create_app
from survey.db import MIGRATIONS_DIR, db
from tests.conftest import TEST_DB_URL, flask_db
from tests.test_response_indexes import seed

pytestmark = pytest.mark.skipif(bool(TEST_DB_URL), reason="SQLite's batch mode only; PostgreSQL alters in place")

TABLES = ("surveys", "responses", "response_labels", "label_corrections", "pain_point_responses")
REVISION = '''
from alembic import op
import sqlalchemy as sa

revision = "f00dfeed0001"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade():
{body}


def downgrade():
    pass
'''


class Site:
    """A SQLite database migrated with a copy of Rapport's migrations, to which a test adds a revision."""

    def __init__(self, root):
        self.url = f"sqlite:///{root / 'rapport.db'}"
        self.migrations = root / "migrations"
        shutil.copytree(MIGRATIONS_DIR, self.migrations, ignore=shutil.ignore_patterns("__pycache__"))
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": self.url, "MAIL_SERVER": None})

    def upgrade(self):
        """`flask db upgrade --directory` the copy; the click result (exit_code, output)."""
        try:
            return flask_db(self.app, "upgrade", "--directory", str(self.migrations))
        finally:
            with self.app.app_context():
                db.engine.dispose()

    def add_revision(self, body: str) -> None:
        head = self.query(lambda conn: conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar())
        (self.migrations / "versions" / "f00dfeed0001_test.py").write_text(REVISION.format(head=head, body=body))

    def query(self, read):
        app = create_app({"SQLALCHEMY_DATABASE_URI": self.url, "MAIL_SERVER": None})
        with app.app_context():
            try:
                with db.engine.connect() as conn:
                    return read(conn)
            finally:
                db.engine.dispose()

    def counts(self) -> dict[str, int]:
        return self.query(lambda conn: {table: conn.execute(sa.select(sa.func.count()).select_from(sa.table(table)))
                                        .scalar() for table in TABLES})


@pytest.fixture
def site(tmp_path, monkeypatch):
    """Migrated to the head, with answers and every kind of row that refers to them."""
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    site = Site(tmp_path)
    done = site.upgrade()
    assert done.exit_code == 0, (done.output, done.exception)
    app = create_app({"SQLALCHEMY_DATABASE_URI": site.url, "MAIL_SERVER": None})
    with app.app_context():
        seed()
        db.session.remove()
        db.engine.dispose()
    return site


def test_a_table_recreate_keeps_every_row_that_refers_to_the_table(site):
    before = site.counts()
    assert before == {"surveys": 1, "responses": 7, "response_labels": 3, "label_corrections": 1,
                      "pain_point_responses": 2}
    # responses refer to surveys ON DELETE CASCADE, and the recreate drops the old surveys table.
    site.add_revision('    with op.batch_alter_table("surveys", recreate="always") as batch_op:\n'
                      '        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))')
    done = site.upgrade()
    assert done.exit_code == 0, (done.output, done.exception)
    assert site.counts() == before
    assert "note" in {column["name"] for column in site.query(lambda conn: sa.inspect(conn).get_columns("surveys"))}
    # The app's own connections still enforce them.
    assert site.query(lambda conn: conn.exec_driver_sql("PRAGMA foreign_keys").scalar()) == 1


def test_a_revision_that_leaves_a_dangling_reference_is_refused_and_not_recorded(site):
    before = site.counts()
    site.add_revision('    op.execute("UPDATE responses SET survey_id = 987654 WHERE id = (SELECT min(id) FROM responses)")')
    done = site.upgrade()
    assert done.exit_code != 0
    assert "revision f00dfeed0001 left rows referring to rows that do not exist" in done.stderr
    assert "'responses'" in done.stderr and "'surveys'" in done.stderr
    assert site.counts() == before
    assert site.query(lambda conn: conn.exec_driver_sql("PRAGMA foreign_key_check").all()) == []  # rolled back
    assert site.query(lambda conn: conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()) \
        != "f00dfeed0001"
