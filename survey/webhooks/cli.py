"""``flask webhook deliver [--loop]``: the webhook worker on its own (the e-mail worker runs it too)."""

from __future__ import annotations

import json
import signal

import click
from flask.cli import AppGroup

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
    stop = {"now": False}

    def request_stop(signum, frame):
        stop["now"] = True  # finish the request in hand (its result recorded), then leave

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)

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
        worker.deliver_forever(interval=interval, should_stop=lambda: stop["now"], on_report=show)
        return
    report = worker.deliver_due(should_stop=lambda: stop["now"])
    show(report)
    if report.failed:
        raise SystemExit(1)
