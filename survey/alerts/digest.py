"""The weekly digest: one e-mail per survey and owner about the last complete ISO week (Monday to Sunday).

It holds the score with its interval for the week, its change from the week
before with the dashboard's two-sample test (``survey.results.queries.
comparison``), the pain points of the latest analysis whose share of the
week's comments grew most (``survey.metrics.share_change``), and the
follow-ups still waiting (open or contacted: how many, and the oldest).

Due from ``DIGEST_WEEKDAY`` (0 = Monday) at ``DIGEST_HOUR`` (UTC) after the
week ends; the worker queues the most recent due week on each pass, and
``flask digest send`` any finished week. A survey with no answer in the week
and no follow-up waiting gets no digest that week. Exactly once: each
(survey, week, person) is unique in ``owner_mails`` and a survey's digests
are queued in one commit with their outbox rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from survey.alerts.mail import build_mail, outbox_message, recipients, site_links
from survey.alerts.models import OwnerMail
from survey.db import db
from survey.followup.models import FollowUp
from survey.followup.queries import needs_follow_up
from survey.invites.campaigns import Links
from survey.display import isolated
from survey.invites.contacts import clean_text
from survey.metrics import ChangeResult, MetricResult, share_change
from survey.codeframe.operations import as_edited_now
from survey.models import AnalysisRun, PainPointRecord, Response, Survey, pain_point_responses, utcnow
from survey.operations import OperationError
from survey.results.filters import ResponseFilter
from survey.results.queries import comparison, headline, latest_run

log = logging.getLogger(__name__)
WEEK = re.compile(r"^(\d{4})-W(\d{2})$", re.IGNORECASE)
GROWN_SHOWN = 3


def parse_week(text: str) -> dt.date:
    """``2026-W49`` -> the Monday it starts; OperationError for anything else."""
    match = WEEK.match((text or "").strip())
    if not match:
        raise OperationError(f"{text!r} is not a week like 2026-W49 (ISO year, W, week number)")
    try:
        return dt.date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError:
        raise OperationError(f"{text!r} is not a week: {match.group(1)} has no week {match.group(2)}") from None


def week_name(monday: dt.date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def due_week(now: dt.datetime) -> dt.date:
    """Monday of the most recent week whose digest is due at ``now`` (its send time has passed)."""
    config = current_app.config
    weekday, hour = config["DIGEST_WEEKDAY"], config["DIGEST_HOUR"]
    if not (isinstance(weekday, int) and 0 <= weekday <= 6 and isinstance(hour, int) and 0 <= hour <= 23):
        raise OperationError(f"DIGEST_WEEKDAY must be 0 (Monday) to 6 and DIGEST_HOUR 0 to 23, not "
                             f"{weekday!r} and {hour!r}")
    this_monday = now.date() - dt.timedelta(days=now.weekday())
    send_at = dt.datetime.combine(this_monday + dt.timedelta(days=weekday), dt.time(hour))
    # Before this week's send time the last digest due is the one sent last week.
    return this_monday - dt.timedelta(weeks=1 if now >= send_at else 2)


@dataclass
class GrownPoint:
    label: str
    this_week: int
    last_week: int
    change: ChangeResult


@dataclass
class Digest:
    survey: Survey
    monday: dt.date
    metric: MetricResult
    change: ChangeResult
    run: AnalysisRun | None
    grown: list[GrownPoint] = field(default_factory=list)
    run_before_week: bool = False  # the analysis ended before the week: its comments are not grouped yet
    points_in_run: int = 0
    waiting: int = 0
    oldest_waiting: Response | None = None

    @property
    def sunday(self) -> dt.date:
        return self.monday + dt.timedelta(days=6)

    @property
    def is_empty(self) -> bool:
        return self.metric.n == 0 and self.waiting == 0 and self.change.before_n == 0


def _window(monday: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(monday, dt.time())
    return start, start + dt.timedelta(days=7)


def build_digest(survey: Survey, monday: dt.date) -> Digest:
    """What the survey's digest says about the week starting ``monday``."""
    sunday = monday + dt.timedelta(days=6)
    week = ResponseFilter(survey, start=monday, end=sunday)
    compared = comparison(week, today=sunday)
    run = latest_run(survey)
    digest = Digest(survey=survey, monday=monday, metric=headline(week), change=compared.result, run=run)
    if run is not None:
        _pain_growth(digest, run)
    _waiting(digest)
    return digest


def _comment_ids_in(survey: Survey, monday: dt.date) -> sa.Select:
    start, end = _window(monday)
    return sa.select(Response.id).where(Response.survey_id == survey.id, Response.comment.is_not(None),
                                        Response.created_at >= start, Response.created_at < end)


def _pain_growth(digest: Digest, run: AnalysisRun) -> None:
    """The run's pain points whose share of the week's comments grew most from the week before."""
    survey, monday = digest.survey, digest.monday
    points = list(db.session.scalars(
        sa.select(PainPointRecord).where(
            PainPointRecord.run_id == run.id, PainPointRecord.source != "proposal",
            sa.or_(PainPointRecord.survey_id == survey.id, PainPointRecord.survey_id.is_(None)))
        .order_by(PainPointRecord.rank)))
    # Under the names they have now: a codeframe point renamed, hidden or merged since the run shows so.
    points = as_edited_now(survey, points)
    digest.points_in_run = len(points)
    digest.run_before_week = run.finished_at is not None and run.finished_at < _window(monday)[0]
    if not points:
        return
    weeks = {"this": monday, "last": monday - dt.timedelta(weeks=1)}
    totals, members = {}, {}
    for name, start in weeks.items():
        ids = _comment_ids_in(survey, start)
        totals[name] = db.session.scalar(sa.select(sa.func.count()).select_from(ids.subquery())) or 0
        members[name] = dict(db.session.execute(
            sa.select(pain_point_responses.c.pain_point_id, sa.func.count())
            .where(pain_point_responses.c.pain_point_id.in_([p.id for p, _, _ in points]),
                   pain_point_responses.c.response_id.in_(ids))
            .group_by(pain_point_responses.c.pain_point_id)).all())
    grown = []
    for point, name, _ in points:
        this, last = members["this"].get(point.id, 0), members["last"].get(point.id, 0)
        result = share_change((last, totals["last"]), (this, totals["this"]))
        if this and result.difference is not None and result.difference > 0:
            grown.append(GrownPoint(name, this, last, result))
    grown.sort(key=lambda p: (-p.change.difference, -p.this_week, p.label))
    digest.grown = grown[:GROWN_SHOWN]


def _waiting(digest: Digest) -> None:
    waiting = (sa.select(Response).join(Survey, Survey.id == Response.survey_id)
               .outerjoin(FollowUp, FollowUp.response_id == Response.id)
               .where(Response.survey_id == digest.survey.id, needs_follow_up(),
                      sa.func.coalesce(FollowUp.state, "open") != "resolved"))
    digest.waiting = db.session.scalar(sa.select(sa.func.count()).select_from(waiting.subquery())) or 0
    digest.oldest_waiting = db.session.scalars(
        waiting.order_by(Response.created_at, Response.id).limit(1)).first()


@dataclass
class DigestReport:
    week: str
    queued: int = 0  # e-mails
    surveys: int = 0
    already: int = 0  # (survey, person) pairs that had this week's digest before
    quiet: int = 0  # surveys with nothing to report
    nobody: int = 0  # surveys whose owners all turned the digest off (or have none)
    failed: list[str] = field(default_factory=list)  # keys of surveys that could not be queued (logged)


def queue_digests(monday: dt.date, survey: Survey | None = None, now: dt.datetime | None = None) -> DigestReport:
    """Queue the week's digest of ``survey`` (or of every survey) to each owner who has not had it yet."""
    now = now or utcnow()
    if _window(monday)[1] > now:
        last_day = monday + dt.timedelta(days=6)
        raise OperationError(f"the week {week_name(monday)} has not ended yet (its last day is Sunday "
                             f"{last_day.day} {last_day:%B %Y}, UTC)")
    links = site_links()
    if links is None:
        raise OperationError("the digest links back to this site: set PUBLIC_BASE_URL (RAPPORT_PUBLIC_BASE_URL), "
                             "e.g. https://surveys.example.com")
    report = DigestReport(week=week_name(monday))
    surveys = [survey] if survey is not None else list(db.session.scalars(sa.select(Survey).order_by(Survey.id)))
    for one in surveys:
        try:
            _queue_survey(one, monday, links, now, report)
        except sa.exc.IntegrityError:
            db.session.rollback()  # another worker queued it at the same moment: it is sent once, by that one
            report.already += 1
        except (sa.exc.OperationalError, sa.exc.InterfaceError):
            raise  # the database itself is away: the caller retries the whole week
        except Exception:  # noqa: BLE001 - one survey's problem must not hold back the others' digests
            db.session.rollback()
            report.failed.append(one.public_key)
            log.exception("digest %s: survey %s could not be queued", report.week, one.public_key)
    return report


def _queue_survey(survey: Survey, monday: dt.date, links: Links, now: dt.datetime, report: DigestReport) -> None:
    week = week_name(monday)
    had = set(db.session.scalars(sa.select(OwnerMail.user_id).where(
        OwnerMail.kind == "digest", OwnerMail.survey_id == survey.id, OwnerMail.week == week)))
    people = [user for user in recipients(survey, "digest") if user.id not in had]
    report.already += len(had)
    if not people:
        report.nobody += not had
        return
    digest = build_digest(survey, monday)
    if digest.is_empty:
        report.quiet += 1
        return
    subject = f"{isolated(clean_text(survey.name) or survey.public_key)}: your week {week} in brief"
    for user in people:
        built = build_mail(user, "digest", subject, "weekly_digest", links, now, digest=digest, week=week,
                           metric_kind=survey.kind, min_answers=current_app.config["MIN_ANSWERS"],
                           results_url=links.build("results.survey_results", public_key=survey.public_key),
                           inbox_url=links.build("followup.inbox_page", survey=survey.public_key),
                           oldest_url=(links.build("followup.answer_page", response_id=digest.oldest_waiting.id)
                                       if digest.oldest_waiting else None))
        message = outbox_message("digest", built, now)
        db.session.flush()
        db.session.add(OwnerMail(kind="digest", survey_id=survey.id, user_id=user.id, week=week,
                                 outbox_message_id=message.id, created_at=now))
    db.session.commit()
    report.surveys += 1
    report.queued += len(people)


def queue_due_digests(now: dt.datetime | None = None) -> DigestReport | None:
    """The worker's part: queue the most recent due week's digests (None while PUBLIC_BASE_URL is unset)."""
    now = now or utcnow()
    if site_links() is None:
        return None
    return queue_digests(due_week(now), now=now)
