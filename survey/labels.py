"""Labels on answers: what models said, what analysts corrected, and which is in force.

``flask analyze`` stores model labels through ``record_model_labels``; the
dashboard stores corrections through ``correct_label``. Both keep
``Response.sentiment`` / ``Response.theme`` (the labels in force) in step,
and a correction is never overwritten by a later model run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

import sqlalchemy as sa

from survey.db import db
from analysis.labels import SENTIMENTS, THEMES
from survey.models import LabelCorrection, Response, ResponseLabel, User, utcnow


@dataclass
class ModelLabels:
    """One response's labels from one model version (plain data; no ML imports here)."""

    response_id: int
    sentiment: str
    sentiment_proba: float
    sentiment_probs: dict[str, float]
    theme: str
    theme_proba: float
    theme_probs: dict[str, float]
    clauses: list[dict[str, Any]]


def unlabelled_query(model_version: str, survey_id: int | None = None, since: dt.datetime | None = None) -> sa.Select:
    """Responses with a comment that ``model_version`` has not labelled yet."""
    done = sa.select(ResponseLabel.id).where(
        ResponseLabel.response_id == Response.id, ResponseLabel.model_version == model_version
    )
    query = sa.select(Response).where(Response.comment.is_not(None), ~sa.exists(done))
    if survey_id is not None:
        query = query.where(Response.survey_id == survey_id)
    if since is not None:
        query = query.where(Response.created_at >= since)
    return query.order_by(Response.id)


def corrected_fields(response_ids: Iterable[int]) -> dict[int, set[str]]:
    """Which of these responses have an analyst's correction, and for which fields."""
    ids = list(response_ids)
    found: dict[int, set[str]] = {}
    for start in range(0, len(ids), 500):
        rows = db.session.execute(
            sa.select(LabelCorrection.response_id, LabelCorrection.field)
            .where(LabelCorrection.response_id.in_(ids[start:start + 500])).distinct()
        )
        for response_id, field in rows:
            found.setdefault(response_id, set()).add(field)
    return found


def record_model_labels(model_version: str, labels: list[ModelLabels]) -> int:
    """Store one batch of model labels and update the labels in force; commit once."""
    if not labels:
        return 0
    now = utcnow()
    db.session.execute(sa.insert(ResponseLabel), [
        {"response_id": item.response_id, "model_version": model_version, "sentiment": item.sentiment,
         "sentiment_proba": item.sentiment_proba, "sentiment_probs": item.sentiment_probs,
         "theme": item.theme, "theme_proba": item.theme_proba, "theme_probs": item.theme_probs,
         "clauses": item.clauses, "labelled_at": now}
        for item in labels
    ])
    corrected = corrected_fields(item.response_id for item in labels)
    updates = []
    for item in labels:
        fields = corrected.get(item.response_id, set())
        row = {"id": item.response_id, "label_version": model_version}
        if "sentiment" not in fields:
            row["sentiment"] = item.sentiment
        if "theme" not in fields:
            row["theme"] = item.theme
        updates.append(row)
    # Group by shape: executemany needs the same keys in every row.
    for keys in {tuple(sorted(row)) for row in updates}:
        db.session.execute(sa.update(Response), [row for row in updates if tuple(sorted(row)) == keys])
    db.session.commit()
    return len(labels)


class LabelError(ValueError):
    pass


def correct_labels(response: Response, changes: dict[str, str], user: User | None) -> list[LabelCorrection]:
    """An analyst's corrections, stored with who and when and put in force at once; one commit.

    Every field is checked before anything is stored, so a bad value stores nothing.
    """
    allowed = {"sentiment": SENTIMENTS, "theme": THEMES}
    for field, value in changes.items():
        if field not in allowed:
            raise LabelError(f"only sentiment and theme can be corrected, not {field!r}")
        if value not in allowed[field]:
            raise LabelError(f"{field} must be one of {', '.join(allowed[field])}")
    corrections = []
    for field, value in changes.items():
        corrections.append(LabelCorrection(response_id=response.id, field=field, value=value,
                                           user_id=user.id if user else None))
        setattr(response, field, value)
    db.session.add_all(corrections)
    db.session.commit()
    return corrections


def correct_label(response: Response, field: str, value: str, user: User | None) -> LabelCorrection:
    """One correction; see ``correct_labels``."""
    return correct_labels(response, {field: value}, user)[0]


def corrections_for_training() -> list[tuple[str, str, str]]:
    """``(comment, task, label)`` from each response's latest correction per field."""
    latest = (
        sa.select(LabelCorrection.response_id, LabelCorrection.field, sa.func.max(LabelCorrection.id).label("id"))
        .group_by(LabelCorrection.response_id, LabelCorrection.field).subquery()
    )
    rows = db.session.execute(
        sa.select(Response.comment, LabelCorrection.field, LabelCorrection.value)
        .join(latest, latest.c.id == LabelCorrection.id)
        .join(Response, Response.id == LabelCorrection.response_id)
        .where(Response.comment.is_not(None))
        .order_by(LabelCorrection.id)
    )
    return [(comment, field, value) for comment, field, value in rows]
