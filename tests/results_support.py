"""Helpers for the results tests: model labels and pain points written the way ``flask analyze`` stores them.

    from tests.results_support import add_run, label

    label(response, "negative", "service")              # a model label, through survey.labels
    label_all([(r1, "negative", "service"), (r2, "positive", "care")])  # many in one batch
    run, [point] = add_run(survey, [("Slow refunds", "service", [r1, r2])])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from survey.db import db
from analysis.labeller import CommentLabels
from survey.labels import record_model_labels
from survey.models import AnalysisRun, PainPointRecord, Response, utcnow

MODEL = "test-model"


def label(response: Response, sentiment: str, theme: str, version: str = MODEL,
          sentiment_proba: float = 0.8, theme_proba: float = 0.7) -> None:
    """Store one model label for ``response`` and put it in force (unless corrected)."""
    label_all([(response, sentiment, theme)], version, sentiment_proba, theme_proba)


def label_all(labelled: Sequence[tuple[Response, str, str]], version: str = MODEL,
              sentiment_proba: float = 0.8, theme_proba: float = 0.7) -> None:
    """:func:`label` for each ``(response, sentiment, theme)``: one batch, one commit, as ``flask analyze``
    stores them (a commit per answer made the 400-answer demo's set-up take seconds)."""
    record_model_labels(version, [(response.id, CommentLabels(
        sentiment, sentiment_proba, {sentiment: sentiment_proba}, theme, theme_proba, {theme: theme_proba}, []))
        for response, sentiment, theme in labelled])
    db.session.commit()
    for response, _, _ in labelled:
        db.session.refresh(response)


def add_run(survey, points: Sequence[tuple[str, str, Sequence[Response]]], finished: dt.datetime | None = None,
            quotes: Sequence[str] | None = None) -> tuple[AnalysisRun, list[PainPointRecord]]:
    """A finished analysis run of ``survey`` with pain points ``(label, theme, responses)``, ranked in order."""
    run = AnalysisRun(survey_id=survey.id, model_version=MODEL, finished_at=finished or utcnow())
    commented = max(1, sum(len(responses) for _, _, responses in points))
    made = []
    for rank, (name, theme, responses) in enumerate(points, start=1):
        made.append(PainPointRecord(
            run=run, survey_id=survey.id, rank=rank, label=name, theme=theme, count=len(responses),
            share=len(responses) / commented, score_impact=-2.5 / rank, impact=10.0 / rank,
            quotes=list(quotes) if quotes is not None else [r.comment for r in responses[:3] if r.comment],
            responses=list(responses)))
    db.session.add(run)
    db.session.commit()
    return run, made
