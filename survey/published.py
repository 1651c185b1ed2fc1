"""The surveys customers answer, read from the database at most every few seconds per process.

Every answer (page, form, widget) needs its survey's wording, scale, open
flag and allowed origins. They change rarely and read the same for every
customer, so each web process keeps a read-only snapshot per survey for
``SURVEY_CACHE_SECONDS`` instead of asking the database on every request.
The dashboard, the API and the commands keep reading the database directly.

A change made through this process (closing a survey, editing it, listing
an origin) clears its snapshots when the transaction commits; other
processes and hosts see it within ``SURVEY_CACHE_SECONDS``. Answers are
stored under the survey's id, which never changes, so a stale snapshot
can at worst accept an answer a few seconds after the survey was closed.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, abort, current_app
from sqlalchemy.orm import Session

from survey.db import db
from survey.lookups import SURVEY_BY_KEY
from survey.models import Survey, SurveyOrigin

EXTENSION = "rapport.published"
MAX_SURVEYS = 2000  # snapshots per process; past this the cache starts over


@dataclass(frozen=True)
class Published:
    """A survey as its answer endpoints see it: a detached, read-only ``Survey`` and its origins."""

    survey: Survey
    origins: frozenset[str]
    loaded_at: float


class PublishedSurveys:
    """Snapshots by public key, each kept for ``ttl`` seconds; safe to share between threads."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._snapshots: dict[str, Published] = {}
        self._lock = threading.Lock()

    def get(self, public_key: str) -> Published | None:
        snapshot = self._snapshots.get(public_key)
        now = time.monotonic()
        if snapshot is not None and now - snapshot.loaded_at < self.ttl:
            return snapshot
        snapshot = _load(public_key, now)
        if snapshot is not None and self.ttl > 0:
            with self._lock:
                if len(self._snapshots) >= MAX_SURVEYS:
                    self._snapshots.clear()
                self._snapshots[public_key] = snapshot
        return snapshot

    def clear(self) -> None:
        with self._lock:
            self._snapshots.clear()


def _load(public_key: str, now: float) -> Published | None:
    # Its own short session: the snapshot leaves it detached, so no commit of the
    # request's session expires it and every thread may read it.
    with Session(db.engine) as session:
        survey = session.scalar(SURVEY_BY_KEY, {"public_key": public_key})
        if survey is None:
            return None
        origins = frozenset(session.scalars(_origins_of, {"survey_id": survey.id}))
    return Published(survey, origins, now)


NO_SURVEY = "There is no survey at this address. Please check the link you were given."
_origins_of = sa.select(SurveyOrigin.origin).where(SurveyOrigin.survey_id == sa.bindparam("survey_id"))


def published_or_404(public_key: str) -> Published:
    """The survey at ``public_key`` for its answer endpoints, or a 404 a customer understands."""
    snapshot = current_app.extensions[EXTENSION].get(public_key)
    if snapshot is None:
        abort(404, description=NO_SURVEY)
    return snapshot


def _note_survey_changes(session: Session, _flush_context) -> None:
    if any(isinstance(obj, (Survey, SurveyOrigin)) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info["rapport.surveys_changed"] = True


def _clear_after_commit(session: Session) -> None:
    if session.info.pop("rapport.surveys_changed", False):
        for cache in _caches:
            cache.clear()


def _forget_on_rollback(session: Session) -> None:
    session.info.pop("rapport.surveys_changed", None)


# Every app's cache, so a commit through one clears them all (tests run several apps in one process).
_caches: weakref.WeakSet[PublishedSurveys] = weakref.WeakSet()


def init_app(app: Flask) -> None:
    cache = PublishedSurveys(float(app.config["SURVEY_CACHE_SECONDS"]))
    app.extensions[EXTENSION] = cache
    _caches.add(cache)
    if not sa.event.contains(Session, "after_flush", _note_survey_changes):
        sa.event.listen(Session, "after_flush", _note_survey_changes)
        sa.event.listen(Session, "after_commit", _clear_after_commit)
        sa.event.listen(Session, "after_rollback", _forget_on_rollback)
