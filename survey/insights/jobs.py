"""Analyses started from the dashboard: one at a time, in the background, with their progress on record.

:func:`start_analysis` records an :class:`~survey.models.AnalysisJob` and runs
:func:`survey.insights.service.run_analysis` in a thread of the web process;
the thread writes its progress to the job row, which every web process can
read (:func:`job_status`). Only one job runs at a time, on every web host: the
row's ``running`` flag has a unique constraint. ``flask analyze`` holds the same
place (:func:`run_held`), so a nightly run and Analyze now never overlap and the
dashboard shows a command-line run's progress too. A job whose process died stops
blocking others once it has not reported for :data:`STALE_AFTER`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

import sqlalchemy as sa
from flask import current_app

from survey.db import db
from survey.display import counted, when_text
from survey.models import AnalysisJob, Survey, User, utcnow

if TYPE_CHECKING:
    from survey.insights.service import AnalysisOutcome

#: A running job silent for this long is taken for dead (its process stopped): see :func:`is_stale`.
STALE_AFTER = dt.timedelta(minutes=10)
#: Progress is written at most this often (seconds), so a big run does not hammer the database.
REPORT_EVERY = 1.0
#: A job inside one long step (a retraining's model fit) says it is alive this often, well inside STALE_AFTER.
ALIVE_EVERY = STALE_AFTER / 5


class AnalysisBusy(Exception):
    """Another analysis is running; ``job`` is it."""

    def __init__(self, job: AnalysisJob):
        super().__init__(f"an analysis is already running (started {when_text(job.started_at)})")
        self.job = job


class Reporting(Protocol):
    """A background job on record: an analysis (AnalysisJob) or a retraining (TrainingRun)."""

    running: bool | None
    updated_at: dt.datetime


def is_stale(job: Reporting, now: dt.datetime | None = None) -> bool:
    """The one rule for a background job (an analysis, a retraining) whose process died: it still says
    running but has reported no progress (``updated_at``, written at least each step, or each
    ALIVE_EVERY while a step runs) for longer than STALE_AFTER. How long it has run counts for
    nothing: a big live run keeps reporting."""
    return bool(job.running) and (now or utcnow()) - job.updated_at > STALE_AFTER


def stale_rule_text() -> str:
    """:func:`is_stale` in words, for the messages that tell a person when a dead job stops blocking."""
    return f"one whose process died is let go {int(STALE_AFTER.total_seconds() // 60)} minutes after its last progress"


def running_job() -> AnalysisJob | None:
    return db.session.scalar(sa.select(AnalysisJob).where(AnalysisJob.running.is_(True)))


def latest_job(survey: Survey) -> AnalysisJob | None:
    """The newest job that covered ``survey`` (its own, or one of all surveys).

    A job whose process died is recorded as failed first: the page would otherwise show it
    running, and hide Analyze now, for ever.
    """
    _retire_stale()
    return db.session.scalar(
        sa.select(AnalysisJob)
        .where(sa.or_(AnalysisJob.survey_id == survey.id, AnalysisJob.survey_id.is_(None)))
        .order_by(AnalysisJob.started_at.desc(), AnalysisJob.id.desc()).limit(1))


def start_analysis(survey: Survey | None, user: User | None, *, background: bool = True) -> AnalysisJob:
    """Record a job and run it (in a thread unless ``background`` is False); AnalysisBusy if one runs."""
    job = _claim(survey, user)
    if background:
        app = current_app._get_current_object()
        threading.Thread(target=_run_in_app, args=(app, job.id), name=f"analysis-job-{job.id}", daemon=True).start()
    else:
        run_job(job.id)
    return job


def run_held(survey: Survey | None, run: Callable[[Callable], "AnalysisOutcome"],
             also: Callable | None = None) -> "AnalysisOutcome":
    """``run(progress)`` (``flask analyze``) holding the one place a dashboard job takes.

    AnalysisBusy if an analysis runs already. The run's progress goes to its job row (and to
    ``also``, the command's own progress bar); however it ends, Ctrl-C included, the job records it
    and the exception goes on to the caller.
    """
    return _run_claimed(_claim(survey, None).id, run, also)


def _claim(survey: Survey | None, user: User | None) -> AnalysisJob:
    """The new running job of ``survey`` (None: all surveys), or AnalysisBusy."""
    _retire_stale()
    job = AnalysisJob(survey_id=survey.id if survey else None, requested_by_id=user.id if user else None,
                      running=True, status="running", step="starting")
    db.session.add(job)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        busy = running_job()
        if busy is None:  # it finished in between: the caller may simply try again
            raise AnalysisBusy(AnalysisJob(started_at=utcnow())) from None
        raise AnalysisBusy(busy) from None
    return job


def _retire_stale() -> None:
    stale = running_job()
    if stale is not None and is_stale(stale):
        _finish(stale, "failed", "stopped reporting progress (its process ended); start it again")
        db.session.commit()


def _run_in_app(app, job_id: int) -> None:
    with app.app_context():
        run_job(job_id)


def run_job(job_id: int) -> None:
    """Run the job's analysis, recording its progress and how it ended; never raises."""
    from survey.insights.service import AnalysisError, run_analysis

    job = db.session.get(AnalysisJob, job_id)
    survey = db.session.get(Survey, job.survey_id) if job.survey_id else None
    try:
        _run_claimed(job_id, lambda progress: run_analysis(survey, None, None, None, progress=progress))
    except AnalysisError:
        pass  # its reason is on the job
    except Exception:  # noqa: BLE001 - a background job must record every way it ends
        current_app.logger.exception("analysis job %s failed", job_id)


def _run_claimed(job_id: int, run: Callable[[Callable], "AnalysisOutcome"],
                 also: Callable | None = None) -> "AnalysisOutcome":
    """``run(progress)`` for the claimed job ``job_id``, which records how it ended."""
    from survey.insights.service import AnalysisError, NothingToAnalyse

    try:
        outcome = run(_progress_of(job_id, also))
    except BaseException as exc:
        db.session.rollback()
        why = (str(exc) if isinstance(exc, AnalysisError) else "interrupted" if isinstance(exc, KeyboardInterrupt)
               else f"unexpected error: {type(exc).__name__}")
        # No comment yet (the nightly run on a new site) is no failure for the dashboard to report.
        _finish(db.session.get(AnalysisJob, job_id), "nothing" if isinstance(exc, NothingToAnalyse) else "failed",
                why)
        db.session.commit()
        raise
    _record_done(job_id, outcome)
    return outcome


def _record_done(job_id: int, outcome: "AnalysisOutcome") -> None:
    job = db.session.get(AnalysisJob, job_id)
    job.run_id = outcome.run.id
    points = len(outcome.report["pain_points"])
    _finish(job, "done", f"{outcome.report['totals']['comments']} comments, {counted(points, 'pain point')}")
    db.session.commit()


def _finish(job: AnalysisJob, status: str, message: str) -> None:
    job.status, job.message, job.running = status, message[:1000], None
    job.finished_at = job.updated_at = utcnow()
    if status == "done":
        job.step, job.done = "finished", job.total


class _JobProgress:
    """The ``Progress`` the service reports to: writes done/total to the job row, at most once a second."""

    def __init__(self, job_id: int, total: int):
        self.job_id, self.total, self.done, self._written = job_id, total, 0, 0.0

    def update(self, n: int) -> None:
        self.done += n
        if time.monotonic() - self._written >= REPORT_EVERY or self.done >= self.total:
            self.write("labelling comments")

    def write(self, step: str) -> None:
        db.session.execute(sa.update(AnalysisJob).where(AnalysisJob.id == self.job_id)
                           .values(step=step, done=self.done, total=self.total, updated_at=utcnow()))
        db.session.commit()
        self._written = time.monotonic()


class _Both:
    """Progress told to the job row and to the command's own bar."""

    def __init__(self, *trackers):
        self.trackers = trackers

    def update(self, n: int) -> None:
        for tracker in self.trackers:
            tracker.update(n)


def _progress_of(job_id: int, also: Callable | None = None):
    @contextlib.contextmanager
    def progress(total: int, label: str) -> Iterator[_JobProgress | _Both]:
        tracker = _JobProgress(job_id, total)
        tracker.write("labelling comments")
        with also(total, label) if also else contextlib.nullcontext() as shown:
            yield _Both(tracker, shown) if also else tracker
        tracker.done = total
        tracker.write("grouping pain points and writing the report")

    return progress


def job_status(job: AnalysisJob | None) -> dict:
    """What the dashboard shows of a job, as JSON-able data."""
    if job is None:
        return {"status": "none"}
    return {"id": job.id, "status": job.status, "step": job.step, "done": job.done, "total": job.total,
            "message": job.message, "started_at": _iso(job.started_at), "finished_at": _iso(job.finished_at)}


def _iso(when: dt.datetime | None) -> str | None:
    return when.replace(microsecond=0).isoformat() + "Z" if when else None
