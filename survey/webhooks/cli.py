"""``flask webhook deliver [--loop]``: the webhook worker on its own (the e-mail worker runs it too);
``flask webhook list``: each endpoint's state and last problem, for operators."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from survey.cli import find_survey, json_option, stop_on_signals, survey_option
from survey.webhooks import worker

webhook_cli = AppGroup("webhook", help="Send the surveys' webhook events (new and changed answers).")


@webhook_cli.command("deliver")
@click.option("--loop", is_flag=True, help="Keep running: send, wait --interval seconds, repeat (stop with Ctrl-C "
                                          "or SIGTERM).")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between passes with --loop.")
@click.option("--json", "as_json", is_flag=True, help="Print each pass's counts as one line of JSON.")
def deliver_command(loop: bool, interval: float, as_json: bool) -> None:
    """Queue the events of new and changed answers, then POST every delivery that is due."""
    should_stop = stop_on_signals()  # finish the request in hand (its result recorded), then leave

    def show(report: worker.WebhookReport) -> None:
        if as_json:
            click.echo(json.dumps({"queued": report.queued, "delivered": report.delivered, "retried": report.retried,
                                   "failed": report.failed, "errors": report.errors[:20]}))
            return
        for error in report.errors[:20]:
            click.echo(error, err=True)
        click.echo(f"queued {report.queued}, delivered {report.delivered}, retry later {report.retried}, "
                   f"failed {report.failed}")

    if loop:
        worker.deliver_forever(interval=interval, should_stop=should_stop, on_report=show)
        return
    report = worker.deliver_due(should_stop=should_stop)
    show(report)
    if report.failed:
        raise SystemExit(1)


@webhook_cli.command("list")
@survey_option("Only this survey's endpoints.")
@json_option
def list_command(key: str | None, as_json: bool) -> None:
    """Each endpoint: its survey, address (without its query string), state and deliveries by state."""
    import sqlalchemy as sa

    from survey.db import db
    from survey.models import Survey
    from survey.webhooks.operations import endpoints_of, shown_url

    surveys = [find_survey(key)] if key else list(db.session.scalars(sa.select(Survey).order_by(Survey.id)))
    rows = []
    for survey in surveys:
        for item in endpoints_of(survey, recent=0):
            failure = item.last_failure
            rows.append({"id": item.endpoint.id, "survey": survey.public_key,
                         "url": shown_url(item.endpoint.url, full=False), "enabled": item.endpoint.enabled,
                         **item.counts, "last_error": failure.last_error if failure else None})
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no webhook endpoints")
    for row in rows:
        click.echo(f"{row['id']}  {row['survey']}  {row['url']}  {'enabled' if row['enabled'] else 'paused'}  "
                   f"delivered {row['delivered']}, waiting {row['queued']}, failed {row['failed']}"
                   + (f"  last problem: {row['last_error']}" if row["last_error"] else ""))
