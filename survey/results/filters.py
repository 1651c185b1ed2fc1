"""Which answers a results page, an export or an API call is about.

A ``ResponseFilter`` is parsed once from query arguments, validated, and then
applied to any select over ``Response`` (the metric, the chart counts, the
comment list, the CSV export, the API), so every part of a page agrees on
the same answers. ``to_args()`` turns it back into query arguments for links.

Query arguments (all optional; an empty value is the same as leaving it out):

=================  ==========================================================
``start``/``end``  dates ``YYYY-MM-DD`` (UTC), both inclusive
``channel``        ``link``, ``email``, ``widget`` or ``import``
``band``           score band: ``negative``, ``neutral`` or ``positive``
``sentiment``      ``negative``, ``neutral`` or ``positive`` (label in force)
``theme``          ``service``, ``care`` or ``other`` (label in force)
``pain``           a pain point's id: the answers it was built from
``q``              text the comment contains (case-insensitive)
``attr.KEY``       the answer's meta field KEY, or its contact's attribute
                   KEY, equals the value (``attr.plan=pro``); repeatable
=================  ==========================================================

Bad values raise ``FilterError`` carrying the argument's name; views answer
it with ``error_response(400, str(exc), field=exc.field)``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
import sqlalchemy.orm

from analysis.labels import SENTIMENTS, THEMES
from survey.db import db, unicode_lower
from survey.kinds import BANDS
from survey.text import escape_like
from survey.models import CHANNELS, Contact, PainPointRecord, Response, Survey, pain_point_responses

ATTR_PREFIX = "attr."
#: The query arguments this filter reads (besides ``attr.KEY``).
FILTER_NAMES = ("start", "end", "channel", "band", "sentiment", "theme", "pain", "q")
MAX_SEARCH_LENGTH = 200
MAX_ATTR_FILTERS = 10
MAX_ATTR_VALUE_LENGTH = 200
# Same rule as the meta field names answers are stored with (survey.requestinfo.clean_meta).
_ATTR_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


class FilterError(ValueError):
    """A query argument that cannot be used as a filter; ``field`` names it."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ResponseFilter:
    """A validated set of conditions on one survey's answers."""

    survey: Survey
    start: dt.date | None = None
    end: dt.date | None = None
    channel: str | None = None
    band: str | None = None
    sentiment: str | None = None
    theme: str | None = None
    pain_point: int | None = None
    q: str | None = None
    attrs: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    # ------------------------------------------------------------------ parsing

    @classmethod
    def from_args(cls, survey: Survey, args: Mapping[str, str]) -> "ResponseFilter":
        """Parse and validate query arguments; unknown argument names are left to the caller."""

        for name, value in args.items():
            # No database stores NUL, and no filter needs a control character.
            if _CONTROL_CHARACTERS.search(name) or _CONTROL_CHARACTERS.search(value):
                raise FilterError(f"{name[:40]!r} contains a control character (such as NUL or a line break)",
                                  name[:40])
        getlist = getattr(args, "getlist", None)
        for name in dict.fromkeys(args) if getlist else ():
            # Only the first value would be used: "channel=email&channel=link" would show e-mail answers alone,
            # as if that were both.
            if (name in FILTER_NAMES or name.startswith(ATTR_PREFIX)) and len(getlist(name)) > 1:
                raise FilterError(f"{name[:40]!r} is given {len(getlist(name))} times; each filter takes one value "
                                  "(filters combine with AND)", name[:40])

        def text(name: str) -> str | None:
            value = args.get(name)
            if value is None:
                return None
            value = value.strip()
            return value or None

        start = _parse_date(text("start"), "start")
        end = _parse_date(text("end"), "end")
        if start and end and start > end:
            raise FilterError(f"the {DATE_NAMES['start']} date {start.isoformat()} is after "
                              f"the {DATE_NAMES['end']} date {end.isoformat()}", "start")
        q = text("q")
        if q is not None and len(q) > MAX_SEARCH_LENGTH:
            raise FilterError(f"the search text is longer than {MAX_SEARCH_LENGTH} characters", "q")
        pain_point = _parse_pain_point(survey, text("pain"))
        return cls(
            survey=survey,
            start=start,
            end=end,
            channel=_choice(text("channel"), CHANNELS, "channel"),
            band=_choice(text("band"), BANDS, "band"),
            sentiment=_choice(text("sentiment"), SENTIMENTS, "sentiment"),
            theme=_choice(text("theme"), THEMES, "theme"),
            pain_point=pain_point,
            q=q,
            attrs=_parse_attrs(args),
        )

    # ------------------------------------------------------------------ using

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        """The WHERE conditions, the survey first; all on ``Response`` columns."""
        spec = self.survey.spec
        where: list[sa.ColumnElement[bool]] = [Response.survey_id == self.survey.id]
        if self.start:
            where.append(Response.created_at >= _midnight(self.start))
        if self.end:
            where.append(Response.created_at < _midnight(self.end + dt.timedelta(days=1)))
        if self.channel:
            where.append(Response.channel == self.channel)
        if self.band == "negative":
            where.append(Response.score <= spec.negative_max)
        elif self.band == "neutral":
            where.append(Response.score.between(spec.negative_max + 1, spec.positive_min - 1))
        elif self.band == "positive":
            where.append(Response.score >= spec.positive_min)
        if self.sentiment:
            where.append(Response.sentiment == self.sentiment)
        if self.theme:
            where.append(Response.theme == self.theme)
        if self.pain_point is not None:
            members = sa.select(pain_point_responses.c.response_id).where(
                pain_point_responses.c.pain_point_id == self.pain_point
            )
            where.append(Response.id.in_(members))
        if self.q:
            # Every letter's case, not only A–Z ("ÉCOLE" finds "école"), on SQLite as on PostgreSQL.
            where.append(unicode_lower(Response.comment).like(f"%{escape_like(self.q.lower())}%", escape="\\"))
        for key, value in self.attrs:
            # JSON path expressions render as JSON_EXTRACT on SQLite and ->> on PostgreSQL.
            # An alias, so the subquery stays whole when the outer query joins contacts too.
            contact = sa.orm.aliased(Contact)
            contact_has = sa.exists().where(
                contact.id == Response.contact_id, contact.attributes[key].as_string() == value
            )
            where.append(sa.or_(Response.meta[key].as_string() == value, contact_has))
        return where

    def apply(self, select: sa.Select) -> sa.Select:
        """``select`` restricted to this survey's answers that pass every filter."""
        return select.where(*self.conditions())

    def to_args(self) -> dict[str, str]:
        """Query arguments that parse back to this filter (only the ones in use)."""
        args: dict[str, str] = {}
        if self.start:
            args["start"] = self.start.isoformat()
        if self.end:
            args["end"] = self.end.isoformat()
        for name in ("channel", "band", "sentiment", "theme", "q"):
            value = getattr(self, name)
            if value:
                args[name] = value
        if self.pain_point is not None:
            args["pain"] = str(self.pain_point)
        for key, value in self.attrs:
            args[ATTR_PREFIX + key] = value
        return args

    @property
    def is_empty(self) -> bool:
        return not self.to_args()

    def without(self, name: str) -> "ResponseFilter":
        """This filter less one argument (``"channel"``, ``"pain"``, ``"attr.plan"``…)."""
        if name.startswith(ATTR_PREFIX):
            key = name[len(ATTR_PREFIX):]
            return replace(self, attrs=tuple(item for item in self.attrs if item[0] != key))
        if name == "pain":
            return replace(self, pain_point=None)
        if name in ("start", "end", "channel", "band", "sentiment", "theme", "q"):
            return replace(self, **{name: None})
        raise KeyError(name)

    def with_period(self, start: dt.date | None, end: dt.date | None) -> "ResponseFilter":
        return replace(self, start=start, end=end)

    def period_end(self, today: dt.date | None = None) -> dt.date:
        """The last day of the period: the end given, else today (UTC), but never before the start
        (a start in the future is a one-day period, not one that ends before it begins)."""
        end = self.end or today or dt.datetime.now(dt.timezone.utc).date()
        return max(end, self.start) if self.start and not self.end else end

    def previous_period(self, today: dt.date | None = None) -> "ResponseFilter":
        """The same filter over the period of the same length just before this one.

        An open end is :meth:`period_end`. Without a start there is no length to repeat, so that
        raises ``FilterError``: give the period first (the results page compares the last 30 days then).
        """
        if self.start is None:
            raise FilterError(f"a period to compare needs a {DATE_NAMES['start']} date", "start")
        end = self.period_end(today)
        days = (end - self.start).days + 1
        return replace(self, start=self.start - dt.timedelta(days=days), end=self.start - dt.timedelta(days=1))


# ---------------------------------------------------------------------- helpers

FIRST_YEAR, LAST_YEAR = 1900, 2999
#: A date parameter as messages name it: the API's name, then the dashboard form's label.
DATE_NAMES = {"start": "start (From)", "end": "end (To)"}
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _parse_date(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"the {DATE_NAMES[name]} date {value[:40]!r} is not a date like 2024-03-31 (YYYY-MM-DD)",
                          name) from None
    # Bounded so that the day after `end` and the period before `start` stay
    # inside the calendar (Python's dates end at year 9999).
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise FilterError(f"the {DATE_NAMES[name]} date must be between the years {FIRST_YEAR} and {LAST_YEAR}", name)
    return day


def _choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise FilterError(f"{name} {value[:40]!r} is not one of {', '.join(allowed)}", name)
    return value


def _parse_pain_point(survey: Survey, value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 18:
        raise FilterError(f"pain point {value[:40]!r} is not a pain point number", "pain")
    point = db.session.get(PainPointRecord, int(value))
    # A run over all surveys has pain points with no survey of their own.
    if point is None or point.survey_id not in (None, survey.id):
        raise FilterError(f"there is no pain point {value} for this survey; it may be from an older analysis",
                          "pain")
    from survey.codeframe.operations import as_edited_now  # the codeframe package reads the results package

    # A point hidden (or removed) from the codeframe since the run is not shown anywhere: neither are its comments.
    if not as_edited_now(survey, [point]):
        raise FilterError(f"pain point {value} is hidden in this survey's codeframe; show it again on the "
                          "codeframe page to see its comments", "pain")
    return point.id


def _parse_attrs(args: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    attrs: dict[str, str] = {}
    for name in args:
        if not name.startswith(ATTR_PREFIX):
            continue
        key = name[len(ATTR_PREFIX):]
        if not key or len(key) > 64 or not set(key) <= _ATTR_KEY_CHARS:
            raise FilterError(f"attribute name {key[:64]!r} must be letters, digits, '-' or '_' (at most 64)", name)
        value = (args.get(name) or "").strip()
        if not value:
            continue
        if len(value) > MAX_ATTR_VALUE_LENGTH:
            raise FilterError(f"the value for {key!r} is longer than {MAX_ATTR_VALUE_LENGTH} characters", name)
        attrs[key] = value
    if len(attrs) > MAX_ATTR_FILTERS:
        raise FilterError(f"at most {MAX_ATTR_FILTERS} attribute filters can be combined", "attr")
    return tuple(sorted(attrs.items()))
