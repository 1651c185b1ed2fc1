"""The delivery worker's extra step: queue due low-score alerts and digests before each delivery pass.

``flask invite deliver`` (one pass, for cron) and ``--loop`` both run it, so
what it queues goes out in the same pass. A failure here is logged and never
stops invitations from being delivered.
"""

from __future__ import annotations

import logging

from flask import current_app

from survey.alerts.digest import due_week, queue_due_digests, week_name
from survey.alerts.low_scores import queue_alerts
from survey.db import db
from survey.models import utcnow

log = logging.getLogger(__name__)


def queue_owner_mail() -> None:
    now = utcnow()
    try:
        report = queue_alerts(now)
        if report.mails:
            log.info("alerts: queued %s e-mail(s) about %s low score(s)", report.mails, report.answers)
    except Exception as exc:  # noqa: BLE001 - never let the alerts stop invitations from going out
        db.session.rollback()
        log.warning("alerts: not queued this pass: %s", exc)
    # The digest of a week needs checking until it is queued; then not again in this process.
    done = current_app.extensions.setdefault("rapport.digest_weeks_done", set())
    try:
        week = week_name(due_week(now))
        if week in done:
            return
        report = queue_due_digests(now)
    except Exception as exc:  # noqa: BLE001 - never let the digest stop invitations from going out
        db.session.rollback()
        log.warning("digest: not queued this pass: %s", exc)
        return
    if report is None:
        return  # no PUBLIC_BASE_URL yet: checked again next pass
    done.add(week)
    if report.queued:
        log.info("digest %s: queued %s e-mail(s) for %s survey(s)", week, report.queued, report.surveys)
    if report.failed:
        log.error("digest %s: not queued for survey(s) %s (see the errors above); once fixed, run "
                  "`flask digest send --week %s --survey KEY`", week, ", ".join(report.failed), week)
