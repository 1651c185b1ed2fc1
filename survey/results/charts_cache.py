"""The results charts and a campaign's course (``survey.insights.charts``), remembered by their data.

Drawing a chart with matplotlib takes a good part of a second whatever the
number of answers; the data behind it is a handful of counts. The same counts
give the same SVG, so recent ones are kept per process: a page seen again, or
by a colleague, is served without drawing.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from survey.insights import charts
from survey.metrics import MetricResult
from survey.results.queries import expand

CACHED = 128


def distribution(kind: str, counts: dict[int, int], narrow: bool = False, filtered: bool = False) -> str:
    return _distribution(kind, tuple(sorted(counts.items())), narrow, filtered)


@lru_cache(maxsize=CACHED)
def _distribution(kind: str, counts: tuple[tuple[int, int], ...], narrow: bool, filtered: bool) -> str:
    return charts.score_distribution_svg(kind, list(expand(dict(counts))), narrow=narrow, filtered=filtered)


def trend(kind: str, periods: list[tuple[dt.date, MetricResult]], narrow: bool = False, filtered: bool = False) -> str:
    # MetricResult is a frozen dataclass, so the list's items can key the cache.
    return _trend(kind, tuple(periods), narrow, filtered)


@lru_cache(maxsize=CACHED)
def _trend(kind: str, periods: tuple[tuple[dt.date, MetricResult], ...], narrow: bool, filtered: bool) -> str:
    return charts.metric_trend_svg(kind, list(periods), narrow=narrow, filtered=filtered)


def themes(counts: dict[str, dict[str, int]], narrow: bool = False, filtered: bool = False) -> str:
    return _themes(tuple((theme, tuple(by.items())) for theme, by in counts.items()), narrow, filtered)


@lru_cache(maxsize=CACHED)
def _themes(counts: tuple, narrow: bool, filtered: bool) -> str:
    return charts.sentiment_by_theme_svg({theme: dict(by) for theme, by in counts}, narrow=narrow, filtered=filtered)


def pain_points(points: list[dict], narrow: bool = False) -> str:
    return _pain_points(tuple(tuple(sorted(p.items())) for p in points), narrow)


@lru_cache(maxsize=CACHED)
def _pain_points(points: tuple, narrow: bool) -> str:
    return charts.pain_points_svg([dict(p) for p in points], narrow=narrow)


def course(days: list[tuple[dt.date, int, int]]) -> str:
    """A campaign's sent and answered per day, in both sizes (its page inlines both): the page is
    looked at again and again while answers come in, and the counts change far less often."""
    return _course(tuple(days))


@lru_cache(maxsize=CACHED)
def _course(days: tuple[tuple[dt.date, int, int], ...]) -> str:
    return charts.both_sizes(charts.campaign_course_svg, list(days))
