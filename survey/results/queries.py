"""What the results pages show, aggregated in SQL so 100k answers stay fast.

Scores are counted per value (and per day for the trend) in the database and
only the counts come back; ``survey.metrics`` then works on those counts.
Comments are read one page at a time.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from analysis.labels import SENTIMENTS, THEMES
from survey.db import db
from survey.labels import IN_FORCE
from survey.metrics import ChangeResult, MetricResult, change, metric_for
from survey.models import (AnalysisRun, Contact, LabelCorrection, PainPointRecord, Response,
                           ResponseLabel, Survey, User, pain_point_responses)
from survey.results.filters import ResponseFilter

COMPARE_DAYS = 30  # with no date range, the change compares the last 30 days with the 30 before
GRAINS = ("week", "month")


class day_of(FunctionElement):
    """The calendar day of a timestamp, on every backend (SQLite has no DATE type to cast to)."""

    type = sa.Date()
    inherit_cache = True
    name = "day_of"


@compiles(day_of)
def _day_of_default(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(day_of, "sqlite")
def _day_of_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)})"


# ---------------------------------------------------------------------- metric


def score_counts(flt: ResponseFilter) -> dict[int, int]:
    """How many answers gave each score (answers with no score are left out)."""
    query = flt.apply(sa.select(Response.score, sa.func.count()).where(Response.score.is_not(None)))
    return {score: count for score, count in db.session.execute(query.group_by(Response.score))}


def expand(counts: dict[int, int]) -> Iterator[int]:
    """The scores back from their counts, for the ``survey.metrics`` functions."""
    return itertools.chain.from_iterable(itertools.repeat(score, n) for score, n in sorted(counts.items()))


def metric_from_counts(survey: Survey, counts: dict[int, int]) -> MetricResult:
    return metric_for(survey.kind, expand(counts))


def headline(flt: ResponseFilter) -> MetricResult:
    return metric_from_counts(flt.survey, score_counts(flt))


@dataclass(frozen=True)
class Comparison:
    """The metric in a period against the period of the same length before it."""

    current: ResponseFilter
    previous: ResponseFilter
    result: ChangeResult
    default_window: bool  # True: no date range was chosen, so the last COMPARE_DAYS days

    @property
    def days(self) -> int:
        return (self.current.end - self.current.start).days + 1


def comparison(flt: ResponseFilter, today: dt.date) -> Comparison:
    """Change of the metric against the previous period, with its two-sample test."""
    default_window = flt.start is None
    if default_window:
        end = flt.end or today
        current = flt.with_period(end - dt.timedelta(days=COMPARE_DAYS - 1), end)
    else:
        current = flt.with_period(flt.start, flt.period_end(today))
    previous = current.previous_period(today)
    result = change(flt.survey.kind, expand(score_counts(previous)), expand(score_counts(current)))
    return Comparison(current, previous, result, default_window)


def band_counts(survey: Survey, counts: dict[int, int]) -> dict[str, int]:
    bands = {"negative": 0, "neutral": 0, "positive": 0}
    for score, n in counts.items():
        bands[survey.spec.band(score)] += n
    return bands


# ---------------------------------------------------------------------- trend


def pick_grain(first: dt.date, last: dt.date) -> str:
    """Weeks for up to half a year, months beyond: about 6 to 26 points either way."""
    return "week" if (last - first).days <= 183 else "month"


def trend_grain(flt: ResponseFilter, grain: str | None = None) -> str:
    """``grain`` if given, else the one that suits the span of the filtered answers."""
    if grain:
        return grain
    first, last = db.session.execute(flt.apply(sa.select(sa.func.min(Response.created_at),
                                                          sa.func.max(Response.created_at)))).one()
    if first is None:
        return "week"
    return pick_grain(first.date(), last.date())


def period_start(day: dt.date, grain: str) -> dt.date:
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday
    return day.replace(day=1)


def trend(flt: ResponseFilter, grain: str | None = None) -> tuple[str, list[tuple[dt.date, MetricResult]]]:
    """The metric per week or month (``grain``; None picks one from the span), oldest first.

    Periods without answers are left out rather than drawn as zero.
    """
    day = day_of(Response.created_at)
    query = flt.apply(
        sa.select(day, Response.score, sa.func.count()).where(Response.score.is_not(None))
    ).group_by(day, Response.score)
    rows = [(_as_date(d), score, n) for d, score, n in db.session.execute(query)]
    if not rows:
        return grain or "week", []
    grain = grain or pick_grain(min(r[0] for r in rows), max(r[0] for r in rows))
    buckets: dict[dt.date, Counter] = {}
    for d, score, n in rows:
        buckets.setdefault(period_start(d, grain), Counter())[score] += n
    kind = flt.survey.kind
    return grain, [(start, metric_for(kind, expand(counts))) for start, counts in sorted(buckets.items())]


def _as_date(value) -> dt.date:
    # SQLite's date() gives text; the Date type parses it on most drivers but not all.
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


# ---------------------------------------------------------------------- labels


def sentiment_by_theme(flt: ResponseFilter) -> dict[str, dict[str, int]]:
    """Labelled comments counted per theme and sentiment (labels in force)."""
    query = flt.apply(
        sa.select(Response.theme, Response.sentiment, sa.func.count())
        .where(Response.theme.is_not(None), Response.sentiment.is_not(None))
    ).group_by(Response.theme, Response.sentiment)
    counts = {theme: {sentiment: 0 for sentiment in SENTIMENTS} for theme in THEMES}
    for theme, sentiment, n in db.session.execute(query):
        counts[theme][sentiment] = n
    return counts


def answer_count(flt: ResponseFilter) -> int:
    """How many answers pass the filter (comments are counted by ``comments``)."""
    return db.session.scalar(flt.apply(sa.select(sa.func.count()).select_from(Response)))


# ---------------------------------------------------------------------- pain points


def latest_run(survey: Survey) -> AnalysisRun | None:
    """The newest finished analysis that covered this survey (alone, or all surveys at once).

    A run of all surveys covers every survey in its ``summary["survey_ids"]``,
    also those it found no pain point in (so the page says "found none", not
    "no analysis has run").
    """
    own_points = sa.exists().where(PainPointRecord.run_id == AnalysisRun.id, PainPointRecord.survey_id == survey.id)
    runs = db.session.scalars(
        sa.select(AnalysisRun)
        .where(AnalysisRun.finished_at.is_not(None),
               sa.or_(AnalysisRun.survey_id == survey.id, AnalysisRun.survey_id.is_(None)))
        .order_by(AnalysisRun.finished_at.desc(), AnalysisRun.id.desc())
        .limit(20)
    )
    for run in runs:
        if run.survey_id == survey.id or survey.id in (run.summary or {}).get("survey_ids", ()):
            return run
    return db.session.scalar(  # older runs of all surveys, recorded before survey_ids
        sa.select(AnalysisRun).where(AnalysisRun.finished_at.is_not(None), AnalysisRun.survey_id.is_(None), own_points)
        .order_by(AnalysisRun.finished_at.desc(), AnalysisRun.id.desc()).limit(1))


@dataclass(frozen=True)
class Coverage:
    """How much of a survey's negative comments the run's pain points hold (``None`` for runs before it was stored)."""

    negative: int   # comments with a negative remark
    in_points: int  # of those, in at least one pain point (a codeframe's own points, when it has one)
    codeframe: bool
    hidden_points: bool = False  # the codeframe hides some points: their comments are counted in, not listed

    @property
    def other(self) -> int:
        return self.negative - self.in_points

    @property
    def share(self) -> float:
        return self.in_points / self.negative if self.negative else 0.0


def coverage(run: AnalysisRun | None, survey: Survey) -> Coverage | None:
    found = ((run.summary or {}).get("coverage") or {}).get(survey.public_key) if run else None
    if not found:
        return None
    from survey.codeframe.operations import points_of  # the codeframe package reads this module

    codeframe = bool(found.get("codeframe"))
    return Coverage(found["negative_comments"], found["pain_point_comments"], codeframe,
                    codeframe and any(point.hidden for point in points_of(survey)))


def comment_count(survey: Survey) -> int:
    """Answers of the survey with a comment (all of them, whatever the page's filters)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Response)
                             .where(Response.survey_id == survey.id, Response.comment.is_not(None))) or 0


@dataclass(frozen=True)
class PainPointRow:
    point: PainPointRecord
    matching: int  # its answers that pass the page's filters
    name: str = ""  # the name it goes by now (an analyst may have renamed it since the run)
    merged_since: tuple[str, ...] = ()  # codeframe points merged into it since the run (recounted by the next)
    rank: int = 0  # its place among the points shown now (1, 2, …): hidden and merged-away points leave no gap


def pain_points(flt: ResponseFilter, run: AnalysisRun | None) -> list[PainPointRow]:
    """The run's pain points for this survey, in rank order, each with its answers under the filter.

    As the codeframe stands now (``survey.codeframe.operations.as_edited_now``): renamed, hidden and
    merged pain points show so at once, not at the next run.
    """
    from survey.codeframe.operations import as_edited_now  # the codeframe package reads this module

    if run is None:
        return []
    points = list(db.session.scalars(
        sa.select(PainPointRecord)
        .where(PainPointRecord.run_id == run.id, sa.or_(PainPointRecord.survey_id == flt.survey.id, PainPointRecord.survey_id.is_(None)))
        .order_by(PainPointRecord.rank, PainPointRecord.id)
    ))
    if not points:
        return []
    # The drill-down filter would restrict to one pain point: count each without it.
    base = flt.without("pain")
    query = base.apply(
        sa.select(pain_point_responses.c.pain_point_id, sa.func.count())
        .join(Response, Response.id == pain_point_responses.c.response_id)
        .where(pain_point_responses.c.pain_point_id.in_([p.id for p in points]))
    ).group_by(pain_point_responses.c.pain_point_id)
    matching = dict(db.session.execute(query).all())
    return [PainPointRow(point, matching.get(point.id, 0), name, tuple(merged), rank)
            for rank, (point, name, merged) in enumerate(as_edited_now(flt.survey, points), start=1)]


# ---------------------------------------------------------------------- comments


@dataclass(frozen=True)
class Correction:
    value: str
    by: str | None  # the analyst's e-mail; None once their account is gone
    at: dt.datetime
    confirmed: bool = False  # the analyst chose the model's own label


@dataclass(frozen=True)
class CommentRow:
    response: Response
    contact: Contact | None
    corrections: dict[str, Correction]  # field -> the correction in force
    sentiment_proba: float | None
    theme_proba: float | None

    @property
    def corrected(self) -> frozenset[str]:
        return frozenset(self.corrections)

    @property
    def attributes(self) -> list[tuple[str, object, bool]]:
        """``(name, value, from_contact)`` for each attribute, each name once (see ``answer_attributes``)."""
        meta = self.response.meta or {}
        contact = self.contact.attributes if self.contact else None
        return [(key, value, key not in meta) for key, value in answer_attributes(meta, contact)]

    @property
    def band(self) -> str | None:
        return None if self.response.score is None else self.response.survey.spec.band(self.response.score)


@dataclass(frozen=True)
class CommentPage:
    rows: list[CommentRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page + 1


def comments(flt: ResponseFilter, page: int = 1, per_page: int = 25) -> CommentPage:
    """One page of comments, newest first, with their corrections and the model's confidence."""
    where = [*flt.conditions(), Response.comment.is_not(None)]
    total = db.session.scalar(sa.select(sa.func.count()).select_from(Response).where(*where))
    results = db.session.execute(
        sa.select(Response, Contact)
        .outerjoin(Contact, Contact.id == Response.contact_id)
        .where(*where)
        .order_by(Response.created_at.desc(), Response.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    ids = [response.id for response, _ in results]
    corrections = latest_corrections(ids)
    probas = model_confidence(ids)
    rows = [
        CommentRow(response, contact, corrections.get(response.id, {}), *probas.get(response.id, (None, None)))
        for response, contact in results
    ]
    return CommentPage(rows, total, page, per_page)


def latest_corrections(response_ids: list[int]) -> dict[int, dict[str, Correction]]:
    """The newest correction of each field of these responses, with who made it and when."""
    if not response_ids:
        return {}
    rows = db.session.execute(
        sa.select(LabelCorrection.response_id, LabelCorrection.field, LabelCorrection.value, User.email,
                  LabelCorrection.created_at, LabelCorrection.confirmed)
        .outerjoin(User, User.id == LabelCorrection.user_id)
        .where(LabelCorrection.response_id.in_(response_ids), IN_FORCE)
        .order_by(LabelCorrection.id)
    )
    found: dict[int, dict[str, Correction]] = {}
    for response_id, field, value, email, at, confirmed in rows:
        found.setdefault(response_id, {})[field] = Correction(value, email, at, confirmed)  # later ids win
    return found


def model_confidence(response_ids: list[int]) -> dict[int, tuple[float, float]]:
    """``(sentiment_proba, theme_proba)`` of the model labels in force, per response."""
    if not response_ids:
        return {}
    rows = db.session.execute(
        sa.select(ResponseLabel.response_id, ResponseLabel.sentiment_proba, ResponseLabel.theme_proba)
        .join(Response, (Response.id == ResponseLabel.response_id)
              & (Response.label_version == ResponseLabel.model_version))
        .where(ResponseLabel.response_id.in_(response_ids))
    )
    return {response_id: (s, t) for response_id, s, t in rows}


# ---------------------------------------------------------------------- filter choices


#: An attribute with more distinct values than this (an id, an e-mail, a city) is filtered by
#: typing, with the commonest values as suggestions; fewer get a drop-down.
DROPDOWN_MAX_VALUES = 12


@dataclass(frozen=True)
class AttributeChoice:
    values: list[str]  # the commonest values, sorted
    many: bool  # more distinct values than a drop-down should hold


def attribute_choices(survey: Survey, sample: int = 2000, max_values: int = 25) -> dict[str, AttributeChoice]:
    """Attribute names and their commonest values among the latest answers, for the filter bar.

    A sample keeps this cheap at any size; any other value still works typed in (or in the URL).
    """
    recent = db.session.execute(
        sa.select(Response.meta, Contact.attributes)
        .outerjoin(Contact, Contact.id == Response.contact_id)
        .where(Response.survey_id == survey.id)
        .order_by(Response.created_at.desc()).limit(sample)
    )
    seen: dict[str, Counter] = {}
    for meta, attributes in recent:
        # The filter matches the answer's meta or its contact's attribute: offer both, each pair once.
        pairs = {(key, str(value)) for source in (meta, attributes) if isinstance(source, dict)
                 for key, value in source.items()
                 if isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value).strip()}
        for key, value in pairs:
            seen.setdefault(key, Counter())[value] += 1
    return {key: AttributeChoice(sorted(value for value, _ in counter.most_common(max_values)),
                                 len(counter) > DROPDOWN_MAX_VALUES)
            for key, counter in sorted(seen.items())}


def answer_attributes(meta: object, attributes: object) -> list[tuple[str, object]]:
    """An answer's attributes, each name once: its own meta first, then its contact's.

    An e-mailed answer stores the contact's attributes as its meta, so both hold the
    same pairs; the meta is what was true when the person answered.
    """
    merged: dict[str, object] = {}
    for source in (meta, attributes):
        if isinstance(source, dict):
            for key, value in source.items():
                merged.setdefault(key, value)
    return list(merged.items())
