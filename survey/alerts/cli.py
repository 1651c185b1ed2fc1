"""``flask digest send``: queue a week's digest (and deliver it), for sites that run cron rather than the worker loop."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from survey.alerts.digest import due_week, parse_week, queue_digests, week_name
from survey.cli import find_survey, survey_option
from survey.invites import delivery
from survey.invites.mailer import MailNotConfigured
from survey.models import utcnow
from survey.operations import OperationError

digest_cli = AppGroup("digest", help="The weekly digest e-mail to survey owners.")


@digest_cli.command("send")
@survey_option("Only this survey's digest (default: every survey).")
@click.option("--week", metavar="YYYY-Www", help="The ISO week, e.g. 2026-W49 (default: the last one due).")
@click.option("--queue-only", is_flag=True, help="Queue the e-mails; leave sending to `flask invite deliver`.")
def send_command(key: str | None, week: str | None, queue_only: bool) -> None:
    """Queue a finished week's digest to each survey's owners who have not had it, then deliver.

    Safe to run again, also at the same time as the worker: nobody gets one
    week's digest of one survey twice.
    """
    now = utcnow()
    try:
        monday = parse_week(week) if week else due_week(now)
    except OperationError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from None
    survey = find_survey(key) if key else None
    try:
        report = queue_digests(monday, survey, now)
    except OperationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"digest {report.week}: queued {report.queued} e-mail(s) for {report.surveys} survey(s); "
               f"already sent {report.already}; nothing to report {report.quiet}; "
               f"nobody to send to {report.nobody}")
    if report.failed:
        click.echo(f"could not queue the digest of survey(s) {', '.join(report.failed)}: see the log above", err=True)
    if queue_only or not report.queued:
        if report.failed:
            raise SystemExit(1)
        return
    try:
        transport = delivery.transport_for(current_app.config, current_app.instance_path)
    except MailNotConfigured as exc:
        raise click.ClickException(f"the digest is queued but cannot be sent: {exc}. It goes out with the "
                                   "next `flask invite deliver` once mail is set up.") from None
    sent = delivery.deliver(transport=transport)
    click.echo(f"delivered: sent {sent.sent}, retry later {sent.retried}, failed {sent.failed}, "
               f"uncertain {sent.uncertain}")
    if sent.failed or sent.uncertain or report.failed:
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(digest_cli)
