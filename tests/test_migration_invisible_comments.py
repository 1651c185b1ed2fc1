"""Migration c3f7a9e1d4b2: comments of invisible characters only, stored before the rule, become none.

Runs on the suite's database (SQLite, or PostgreSQL with RAPPORT_TEST_DATABASE_URL).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from alembic.config import Config

from survey.db import MIGRATIONS_DIR, db
from survey.labels import correct_labels
from survey.models import LabelCorrection, Response, ResponseLabel
from tests.dashboard_support import make_user
from tests.results_support import label

PATH = next(Path(MIGRATIONS_DIR, "versions").glob("c3f7a9e1d4b2_*.py"))


def migration():
    spec = importlib.util.spec_from_file_location("invisible_comments", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_follows_the_superseded_labels_migration():
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    script = ScriptDirectory.from_config(config)
    assert script.get_revision("c3f7a9e1d4b2").down_revision == "b8d4f1a2c963"


def test_invisible_comments_become_none_and_lose_their_labels(app, make_survey, make_response):
    survey = make_survey("nps")
    # Stored as they were before textrules.comment_text: written past today's rule, straight to the table.
    texts = {"zero-width": "\u200b\u200b", "marks": " \u200e\u200f ", "joiner and soft hyphen": "\u2060\u00ad\n",
             "visible after a mark": "\u200bgood", "plain": "Slow engineer", "only spaces": "   "}
    made = {}
    for name, text in texts.items():
        response = make_response(survey, score=4, comment="placeholder")
        db.session.execute(sa.update(Response).where(Response.id == response.id).values(comment=text))
        made[name] = response.id
    scoreless = make_response(survey, score=None, comment="placeholder")
    db.session.execute(sa.update(Response).where(Response.id == scoreless.id).values(comment="\u200b"))
    db.session.commit()
    db.session.expire_all()
    labelled = db.session.get(Response, made["zero-width"])
    label(labelled, "negative", "service")
    label(db.session.get(Response, made["plain"]), "negative", "service")
    correct_labels(labelled, {"theme": "care"}, make_user("analyst"))

    cleared, left = migration().clear_invisible_comments(db.session.connection())
    db.session.commit()
    db.session.expire_all()

    invisible = {made[n] for n in ("zero-width", "marks", "joiner and soft hyphen", "only spaces")}
    assert set(cleared) == invisible and left == [scoreless.id]
    for response_id in invisible:
        response = db.session.get(Response, response_id)
        assert response.comment is None and response.sentiment is None and response.theme is None
        assert response.score == 4  # the answer itself stays
    assert db.session.get(Response, made["visible after a mark"]).comment == "\u200bgood"
    plain = db.session.get(Response, made["plain"])
    assert plain.comment == "Slow engineer" and plain.sentiment == "negative"
    assert db.session.get(Response, scoreless.id).comment == "\u200b"
    # The model's labels of the invisible text go; the analyst's stays as history, no longer in force.
    assert not db.session.scalars(sa.select(ResponseLabel).where(ResponseLabel.response_id == labelled.id)).all()
    correction = db.session.scalars(sa.select(LabelCorrection).where(LabelCorrection.response_id == labelled.id)).one()
    assert correction.superseded_at is not None
    # Run again, nothing more to do.
    assert migration().clear_invisible_comments(db.session.connection()) == ([], [scoreless.id])
