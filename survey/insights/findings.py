"""What one analysis run finds, as typed objects: the service builds them, the report and the store read them.

A pain point keeps one shape from the grouping to the database: the
:class:`analysis.painpoints.PainPoint` that ``find_pain_points`` returns,
carried with the survey it was found in. ``report.json`` serialises it
(``PainPoint.as_dict``) and the run's records are stored from it; neither is
rebuilt from the other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from analysis.painpoints import PainPoint
from survey.metrics import MetricResult


@dataclass
class SurveySummary:
    """One survey's numbers in scope."""

    key: str
    name: str
    kind: str
    responses: int
    comments: int
    score_counts: dict[int, int]
    trend: list[tuple[dt.date, MetricResult]]  # the metric per period, oldest first
    period: str = "week"                         # "week" or "month": what one trend point covers
    negative_comments: int = 0                   # comments with a negative clause
    pain_point_comments: int = 0                 # of those, in at least one pain point
    ranked_by: str = ""                          # how its pain points are ranked (analysis.painpoints.RANKED_BY_*)
    codeframe: bool = False                      # pain points are the survey's codeframe (plus proposals)
    dismissed_proposals: int = 0                 # proposals left out as like one an analyst dismissed

    @property
    def coverage(self) -> float:
        """Share of the negative comments that some pain point holds."""
        return self.pain_point_comments / self.negative_comments if self.negative_comments else 0.0

    @property
    def scores(self) -> list[int]:
        return [score for score, n in sorted(self.score_counts.items()) for _ in range(n)]


@dataclass(frozen=True)
class SurveyPainPoint:
    """A pain point and the survey it was found in (``point.rank`` is its rank within that survey)."""

    survey_key: str
    survey_id: int | None
    point: PainPoint
    #: "discovered" (no codeframe), "codeframe" (one of the survey's own pain points)
    #: or "proposal" (discovered among the comments that fit no codeframe pain point).
    source: str = "discovered"
    #: Share of the survey's comments per period, and the latest change (survey.insights.codeframe.trend).
    trend: dict | None = None

    @property
    def is_proposal(self) -> bool:
        return self.source == "proposal"


@dataclass
class Findings:
    """Everything a run found in its scope, pain points ranked across the scope (report order)."""

    surveys: list[SurveySummary]
    pain_points: list[SurveyPainPoint]
    sentiment_by_theme: dict[str, dict[str, int]] = field(default_factory=dict)

