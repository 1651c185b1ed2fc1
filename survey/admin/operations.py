"""Creating and editing surveys from the dashboard; each call commits once.

Blank wording takes the kind's standard wording (``survey.operations.create_survey``
fills it in on create; on edit a blank field keeps what was there). The
allowed widget origins are replaced as a set in the same transaction.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from survey.db import db
from survey.kinds import KINDS
from survey.models import Response, Survey, SurveyOrigin
from survey.operations import OperationError, create_survey

WORDING = ("question", "low_label", "high_label", "followup_negative", "followup_neutral",
           "followup_positive", "thank_you")


def answer_count(survey: Survey) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Response).where(Response.survey_id == survey.id))


def create_survey_from_settings(kind: str, settings: dict[str, Any], origins: list[str],
                                owner_id: int | None) -> Survey:
    """A new survey: the kind's standard wording wherever ``settings`` leaves it blank."""
    fields = {key: value for key, value in settings.items() if key not in ("name", "subject")}
    for key in WORDING:
        if not fields.get(key):
            fields.pop(key, None)
    fields["origins"] = [SurveyOrigin(origin=origin) for origin in origins]
    return create_survey(kind, settings["name"], settings.get("subject"), owner_id=owner_id, **fields)


def update_survey(survey: Survey, kind: str, settings: dict[str, Any], origins: list[str]) -> Survey:
    """Apply an edit; the kind may only change while the survey has no answers."""
    if kind not in KINDS:
        raise OperationError(f"unknown survey kind {kind!r}: choose one of {', '.join(KINDS)}")
    if kind != survey.kind and answer_count(survey):
        raise OperationError("a survey's kind cannot change once it has answers")
    name = (settings.get("name") or "").strip()
    if not name:
        raise OperationError("a survey needs a name")
    for key, value in settings.items():
        if key in WORDING and not value:
            continue  # blank keeps the current wording
        if key == "subject":
            value = value or "us"
        setattr(survey, key, value)
    if kind != survey.kind:
        _switch_kind(survey, kind)
    _replace_origins(survey, origins)
    db.session.commit()
    return survey


def _replace_origins(survey: Survey, origins: list[str]) -> None:
    wanted = set(origins)
    for row in list(survey.origins):
        if row.origin not in wanted:
            survey.origins.remove(row)
    have = {row.origin for row in survey.origins}
    for origin in origins:
        if origin not in have:
            survey.origins.append(SurveyOrigin(origin=origin))


def _switch_kind(survey: Survey, kind: str) -> None:
    """Change the scale; wording still standard for the old kind becomes the new kind's standard."""
    old, new = survey.spec, KINDS[kind]
    if survey.low_label == old.low_label:
        survey.low_label = new.low_label
    if survey.high_label == old.high_label:
        survey.high_label = new.high_label
    if survey.question.lower() == old.question.format(subject=survey.subject).lower():
        question = new.question.format(subject=survey.subject)
        survey.question = question[0].upper() + question[1:]
    survey.kind = kind
