"""A run's codeframe step: sort the negative comments into the survey's own pain points, propose new ones.

Called by :func:`survey.insights.service.find_insights` for a survey that has
a codeframe. Reads the codeframe (examples, confirmed and excluded comments,
keywords, dismissed proposals), asks :mod:`analysis.codeframe` to sort
(pure ML), runs discovery (:func:`analysis.painpoints.analyse_pain_points`)
on the clauses that fit nothing, and returns typed pain points. Writes nothing.

Each pain point also gets its trend: its share of the survey's comments per
week or month with a Wilson interval, and whether the latest period moved
significantly from the one before (:func:`survey.metrics.share_change`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from analysis.codeframe import CodeframeSorter
from analysis.labels import theme_order
from analysis.painpoints import (RANKED_BY_SCORE, RANKED_BY_SIZE, NegativeClause, PainPoint, ScoreTotals,
                                 analyse_pain_points)
from survey.codeframe import operations as ops
from survey.db import db
from survey.insights import queries
from survey.metrics import share, share_change
from survey.models import Response

#: A proposal is the same as a dismissed one when this share of its members were the dismissed one's ...
DISMISSED_OVERLAP = 0.5
#: ... or it has the same name.


@dataclass
class CodeframeFindings:
    """What the codeframe step found in one survey."""

    points: list[PainPoint]          # the codeframe's visible pain points, ranked
    proposals: list[PainPoint]       # discovered groups among what fits nothing, not dismissed
    negative_comments: int
    covered_comments: int
    ranked_by: str
    dismissed: int = 0               # proposals left out because an analyst dismissed one like them
    probabilities: dict[str, dict[int, float]] = field(default_factory=dict)


def judgements(points) -> tuple[list[tuple[str, str]], dict[str, list[str]], dict[str, set[int]], dict[str, set[int]]]:
    """What the analysts' codeframe teaches the sort: ``(examples as (text, point name), keywords,
    confirmed response ids, excluded response ids)``, each by point name. Only judgements in force:
    one of a comment the customer has rewritten since judged its earlier text."""
    examples, keywords, confirmed, excluded = [], {}, defaultdict(set), defaultdict(set)
    for point in points:
        keywords[point.name] = list(point.keywords)
        for example in point.in_force("example"):
            examples.append((example.text, point.name))
            if example.response_id is not None:
                confirmed[point.name].add(example.response_id)
        for example in point.in_force("excluded"):
            if example.response_id is not None:
                excluded[point.name].add(example.response_id)
    return examples, keywords, confirmed, excluded


def sort_survey(survey_id: int, clauses: Sequence[NegativeClause], background: list[str], total_comments: int,
                scores: ScoreTotals, comments: dict[int, str] | None = None) -> CodeframeFindings:
    """Sort the comments behind ``clauses`` into the survey's codeframe and propose pain points from the rest.

    Whole comments are sorted (``comments``: each one's text, all clauses; its negative clauses
    joined when absent): a complaint's other clauses often say what it is about.
    """
    from analysis.painpoints import pain_point_impact  # one impact formula for discovered and codeframe pain points

    points = [p for p in _codeframe(survey_id)]
    examples, keywords, confirmed, excluded = judgements(points)
    clauses_of: dict[int, list[NegativeClause]] = defaultdict(list)
    for clause in clauses:
        clauses_of[clause.response_id].append(clause)
    comments = comments or {}
    texts = {rid: comments.get(rid) or " ".join(c.text for c in own) for rid, own in clauses_of.items()}
    # The clause that stands for a comment in quotes: its most negative one.
    quoted = {rid: max(own, key=lambda c: c.negativity) for rid, own in clauses_of.items()}
    sorter = CodeframeSorter.fit(examples, keywords, unlabelled=list(texts.values()), background=background)
    members: dict[str, dict[int, NegativeClause]] = defaultdict(dict)
    best: dict[str, dict[int, float]] = defaultdict(dict)
    unsorted = []
    for rid, assignments in zip(texts, sorter.assign(list(texts.values()))):
        kept = [a for a in assignments if rid not in excluded[a.name]]
        for a in kept:
            members[a.name][rid] = quoted[rid]
            best[a.name][rid] = a.probability
        if not kept and not any(rid in ids for ids in confirmed.values()):
            unsorted.extend(clauses_of[rid])
    for name, ids in confirmed.items():  # an analyst's word outranks the sort
        for rid in ids:
            if rid in quoted:
                members[name].setdefault(rid, quoted[rid])
                best[name][rid] = 1.0
    ranked_by = RANKED_BY_SCORE if scores.n else RANKED_BY_SIZE
    found = []
    hidden_members: set[int] = set()
    for point in points:
        group = members.get(point.name, {})
        if point.hidden:
            hidden_members.update(group)
            continue
        count = len(group)
        share_ = count / total_comments if total_comments else 0.0
        if scores.n:
            score_impact, impact = pain_point_impact({rid: c.score for rid, c in group.items()}, share_, scores)
        else:
            negativity = sum(c.negativity for c in group.values()) / count if count else 0.0
            score_impact, impact = None, share_ * 100 * negativity
        quotes = [group[rid].text for rid in sorted(group, key=lambda r: (-best[point.name][r], r))[:3]]
        found.append(PainPoint(rank=0, label=point.name, theme=point.theme, count=count, share=share_,
                               score_impact=score_impact, impact=impact, response_ids=sorted(group),
                               quotes=quotes, terms=list(point.keywords)))
    found.sort(key=lambda p: (-p.impact, -p.count, theme_order(p.theme), p.label))
    for rank, point in enumerate(found, start=1):
        point.rank = rank
    covered = {rid for p in found for rid in p.response_ids}
    discovered = analyse_pain_points(unsorted, total_comments, scores, background=background)
    proposals, dismissed = _not_dismissed(survey_id, discovered.points, {p.name.casefold() for p in points})
    for rank, proposal in enumerate(proposals, start=len(found) + 1):  # proposals follow the codeframe
        proposal.rank = rank
    return CodeframeFindings(found, proposals, len(clauses_of),
                             len(covered | hidden_members), ranked_by, dismissed, dict(best))


def _codeframe(survey_id: int):
    from survey.codeframe.models import CodeframePoint

    return db.session.scalars(sa.select(CodeframePoint).where(CodeframePoint.survey_id == survey_id)
                              .order_by(CodeframePoint.name))


def _not_dismissed(survey_id: int, proposals: list[PainPoint], names: set[str]) -> tuple[list[PainPoint], int]:
    """Proposals not like a dismissed one (same name, or mostly its members) nor named like a codeframe point."""
    dismissed = ops.dismissed_of(survey_id)
    kept, left_out = [], 0
    for proposal in proposals:
        members = set(proposal.response_ids)
        same = proposal.label.casefold() in names or any(
            proposal.label.casefold() == d.label.casefold()
            or (members and len(members & set(d.response_ids)) >= DISMISSED_OVERLAP * len(members))
            for d in dismissed)
        if same:
            left_out += 1
        else:
            kept.append(proposal)
    return kept, left_out


# --------------------------------------------------------------------------- #
# Trends
# --------------------------------------------------------------------------- #
def comment_periods(survey_id: int, since: dt.datetime | None, grain: str) -> dict[int, dt.date]:
    """The period (week or month start) of every comment in scope, by response id."""
    from survey.results.queries import period_start

    rows = db.session.execute(queries.scoped(
        sa.select(Response.id, Response.created_at).where(Response.comment.is_not(None)), [survey_id], since)
        .execution_options(yield_per=queries.STREAM_ROWS))  # streamed: a million rows at once took 300 MB
    starts: dict[dt.date, dt.date] = {}  # one date object per period, not one per comment
    periods = {}
    for rid, created in rows:
        day = created.date()
        start = starts.get(day)
        if start is None:
            start = starts[day] = period_start(day, grain)
        periods[rid] = start
    return periods


def trend(response_ids: Sequence[int], periods: dict[int, dt.date], confidence: float = 0.95) -> dict:
    """A pain point's share of the comments per period, and the latest period's change from the one before."""
    totals: dict[dt.date, int] = defaultdict(int)
    for day in periods.values():
        totals[day] += 1
    counts: dict[dt.date, int] = defaultdict(int)
    for rid in response_ids:
        if rid in periods:
            counts[periods[rid]] += 1
    series = []
    for start in sorted(totals):
        result = share(counts[start], totals[start], confidence)
        series.append({"period_start": start.isoformat(), "count": result.count, "n": result.n,
                       "share": _round(result.share), "ci_low": _round(result.ci_low),
                       "ci_high": _round(result.ci_high)})
    change = None
    if len(series) >= 2:
        before, after = series[-2], series[-1]
        result = share_change((before["count"], before["n"]), (after["count"], after["n"]), confidence)
        change = {"from": before["period_start"], "to": after["period_start"],
                  "difference": _round(result.difference), "ci_low": _round(result.ci_low),
                  "ci_high": _round(result.ci_high), "p_value": _round(result.p_value),
                  "significant": result.significant,
                  "direction": ("up" if result.difference > 0 else "down") if result.significant else "steady"}
    return {"periods": series, "latest_change": change, "confidence": confidence}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
