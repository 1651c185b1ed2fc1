"""Migration e7b2f0c4a913: the confirmations the correction form stored for the label an analyst
left as it was while correcting the other go out of force; real confirmations and corrections stay.

Runs on the suite's database (SQLite, or PostgreSQL with RAPPORT_TEST_DATABASE_URL).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory

from survey.db import MIGRATIONS_DIR, db
from survey.labelling.operations import labels_in_force
from survey.labels import corrected_fields, corrections_for_training
from survey.models import LabelCorrection, utcnow
from tests.dashboard_support import make_user
from tests.results_support import label

PATH = next(Path(MIGRATIONS_DIR, "versions").glob("e7b2f0c4a913_*.py"))


def migration():
    spec = importlib.util.spec_from_file_location("implied_confirmations", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_follows_the_codeframe_examples_migration():
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    assert ScriptDirectory.from_config(config).get_revision("e7b2f0c4a913").down_revision == "d5a2c8e4f6b1"


def test_a_confirmation_saved_beside_a_correction_of_the_other_label_goes_out_of_force(app, make_survey,
                                                                                        make_response):
    survey = make_survey("nps")
    analyst, other_analyst = make_user("analyst"), make_user("analyst", email="second@example.com")
    corrected, agreed, later, by_two, old_style = (
        make_response(survey, score=2, comment=f"comment {i}") for i in range(5))
    for response in (corrected, agreed, later, by_two, old_style):
        label(response, "negative", "service")
    saved = utcnow() - dt.timedelta(days=3)

    def stored(response, field, value, confirmed, user, at):
        db.session.add(LabelCorrection(response_id=response.id, field=field, value=value, confirmed=confirmed,
                                       user_id=user.id if user else None, created_at=at))
        db.session.flush()

    # As the old form saved them: the changed sentiment, then the theme left as it was, "confirmed".
    stored(corrected, "sentiment", "neutral", False, analyst, saved)
    stored(corrected, "theme", "service", True, analyst, saved + dt.timedelta(microseconds=300))
    # Both left as they were and saved: the analyst agreed with both (kept).
    stored(agreed, "sentiment", "negative", True, analyst, saved)
    stored(agreed, "theme", "service", True, analyst, saved)
    # A confirmation saved an hour after the correction: a second look of its own (kept).
    stored(later, "theme", "care", False, analyst, saved)
    stored(later, "sentiment", "negative", True, analyst, saved + dt.timedelta(hours=1))
    # Another analyst's confirmation in the same second: their own judgement (kept).
    stored(by_two, "sentiment", "positive", False, analyst, saved)
    stored(by_two, "theme", "service", True, other_analyst, saved)
    # A former user's save (user_id SET NULL on both rows) is still one save.
    stored(old_style, "theme", "care", False, None, saved)
    stored(old_style, "sentiment", "negative", True, None, saved)
    db.session.commit()
    assert labels_in_force() == 10

    module = migration()
    ids = module.implied_confirmations(db.session.connection())
    module.retract(db.session.connection(), ids)
    db.session.commit()
    db.session.expire_all()

    rows = {(c.response_id, c.field): c for c in db.session.scalars(sa.select(LabelCorrection))}
    retracted = {key for key, c in rows.items() if c.superseded_at is not None}
    assert retracted == {(corrected.id, "theme"), (old_style.id, "sentiment")}
    assert all(rows[key].superseded_at == rows[key].created_at for key in retracted)  # kept, as history
    # Not counted, not trained on; the field is the model's again (a later run may relabel it).
    assert labels_in_force() == 8
    assert ("comment 0", "theme", "service") not in corrections_for_training()
    assert ("comment 0", "sentiment", "neutral") in corrections_for_training()
    assert corrected_fields([corrected.id]) == {corrected.id: {"sentiment"}}
    # Run again, nothing more to do.
    assert module.implied_confirmations(db.session.connection()) == []

    module.restore(db.session.connection())
    db.session.commit()
    assert labels_in_force() == 10
