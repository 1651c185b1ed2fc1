"""``flask contact …`` and ``flask invite …``: parse options, call the operations, print.

Errors go to stderr with exit status 1 (click.ClickException) or 2 for a
wrong option (click.UsageError).

Why one module over 400 lines: it is only option parsing and printing for the
two command groups an operator reads together (``flask contact``, ``flask
invite``); every command body is a few lines around one service call.
"""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import os
import re
import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from survey.cli import add_group, find_survey, json_option, problems_json, stop_on_signals, survey_option
from survey.db import db
from survey.invites import delivery, operations, scheduling
from survey.invites.models import INVITATION_STATUSES, OUTBOX_STATES, Campaign, Invitation, OutboxMessage
from survey.invites.mailer import MailNotConfigured
from survey.operations import OperationError

contacts_cli = AppGroup("contact", help="Import, unsubscribe, unbounce and forget the people surveys are sent to.")
invite_cli = AppGroup("invite", help="Send survey invitations by e-mail, deliver them, remind, report.")

EX_TEMPFAIL = 75  # sysexits.h: a temporary failure, the caller should try again
DURATION = re.compile(r"^\s*(\d+)\s*([wdhm])\s*$")
UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_duration(value: str) -> dt.timedelta:
    """``3d``, ``12h``, ``2w``, ``90m`` -> timedelta; click.BadParameter otherwise."""
    match = DURATION.match(value or "")
    if not match:
        raise click.BadParameter(f"{value!r} is not a duration like 3d, 12h, 2w or 90m")
    return dt.timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


class Duration(click.ParamType):
    """A click type, so a bad value is reported with the option's name (``--after``)."""

    name = "DURATION"

    def convert(self, value, param, ctx):
        if isinstance(value, dt.timedelta):
            return value
        try:
            return parse_duration(value)
        except click.BadParameter as exc:
            self.fail(exc.message, param, ctx)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


# -- contacts ----------------------------------------------------------------


@contacts_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Load the good lines even if some lines are bad.")
@json_option
def import_command(file: Path, skip_bad: bool, as_json: bool) -> None:
    """Add or update contacts from a CSV file (UTF-8) with an 'email' column.

    A 'name' column is optional; every other column is kept as an attribute
    for segments (--where plan=pro). Addresses that differ only in case are
    one contact. A file with bad lines imports nothing unless --skip-bad.
    """
    from survey.cli import report_bad_lines, report_header_only
    from survey.importer import ImportError_, open_csv_text
    from survey.invites.contacts import parse_contacts_csv

    config = current_app.config
    try:
        parsed = parse_contacts_csv(open_csv_text(file.read_bytes()), max_attributes=config["META_MAX_FIELDS"],
                                    max_value=config["META_MAX_VALUE_LENGTH"])
    except ImportError_ as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    report_bad_lines(file, parsed.problems, skip_bad, as_json=as_json)
    report_header_only(file, parsed)
    try:
        result = operations.import_contacts(parsed.rows)
    except OperationError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    if as_json:
        click.echo(json.dumps({"file": str(file), "added": result.added, "updated": result.updated,
                               "merged": parsed.merged, "bad_lines": problems_json(parsed.problems)}, indent=2))
        return
    click.echo(f"imported {file}: {result.added} new contact(s), {result.updated} updated, "
               f"{parsed.merged} duplicate line(s) merged, {len(parsed.problems)} bad line(s) skipped")


@contacts_cli.command("unsubscribe")
@click.argument("email")
def unsubscribe_command(email: str) -> None:
    """Suppress an address for every future survey (e.g. after a mailto: unsubscribe)."""
    contact = operations.find_contact(email)
    if contact is None:
        raise click.ClickException(f"no contact has the address {email!r}")
    changed = operations.unsubscribe_contact(contact)
    click.echo(f"unsubscribed {contact.email}" if changed else f"{contact.email} was already unsubscribed")


@contacts_cli.command("unbounce")
@click.argument("email")
def unbounce_command(email: str) -> None:
    """Clear an address's bounced mark, so campaigns invite it again (after the address was fixed,
    or when the bounce was a mistake). An unsubscribed address stays unsubscribed."""
    contact = operations.find_contact(email)
    if contact is None:
        raise click.ClickException(f"no contact has the address {email!r}")
    if not operations.clear_bounce(contact):
        click.echo(f"{contact.email} is not marked bounced; nothing changed")
    elif contact.unsubscribed_at is not None:
        click.echo(f"cleared the bounce of {contact.email}; it stays unsubscribed, so campaigns still skip it")
    else:
        click.echo(f"cleared the bounce of {contact.email}; campaigns invite it again, as often as the throttle allows")


@contacts_cli.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def forget_command(email: str, yes: bool) -> None:
    """Erase a person: contact data, link tokens, queued and sent e-mails, and the link
    from their answers (the answers stay, anonymised, for the metrics)."""
    if not yes:
        click.confirm(f"Erase {email} for good?", abort=True)
    try:
        done = operations.forget_contact(email)
    except OperationError as exc:
        raise _fail(exc) from None
    click.echo(f"forgot {done.email}: {done.answers_anonymised} answer(s) anonymised, "
               f"{done.invitations_anonymised} invitation(s) and their links erased, "
               f"{done.messages_deleted} e-mail(s) deleted ({done.files_deleted} .eml file(s))")


# -- invitations -------------------------------------------------------------


@invite_cli.command("send")
@survey_option("Public key of the survey to invite to.")
@click.option("--resume", "resume_id", type=int, metavar="CAMPAIGN",
              help="Finish queueing a campaign that was interrupted (its contacts not yet accounted for).")
@click.option("--where", "conditions", multiple=True, metavar="ATTR=VALUE[,VALUE]",
              help="Only contacts whose attribute has one of these values; repeat to narrow (AND).")
@click.option("--name", help="The campaign's name (default: survey name and time).")
@click.option("--expiry-days", type=click.IntRange(min=1), help="Days the links work (default INVITATION_EXPIRY_DAYS).")
@click.option("--base-url", help="Public address of this site for the links (default PUBLIC_BASE_URL).")
@click.option("--sender", help="From: address, e.g. 'Acme Support <support@acme.example>' (default MAIL_DEFAULT_SENDER).")
def send_command(key: str | None, resume_id: int | None, conditions: tuple[str, ...], name: str | None,
                 expiry_days: int | None, base_url: str | None, sender: str | None) -> None:
    """Queue an invitation e-mail to every contact of the segment; `flask invite deliver` sends them."""
    if resume_id is not None:
        if key or conditions or name or expiry_days or base_url or sender:
            raise click.UsageError("--resume takes the campaign's own survey, segment and settings; give it alone")
        try:
            result = operations.queue_campaign(_campaign(resume_id))
        except OperationError as exc:
            raise _fail(exc) from None
        _say_queued(result)
        return
    if not key:
        raise click.UsageError("say which survey: --survey KEY (or --resume CAMPAIGN)")
    survey = find_survey(key)
    base_url = base_url or current_app.config.get("PUBLIC_BASE_URL")
    if not base_url:
        raise click.UsageError("the e-mail links need this site's public address: set PUBLIC_BASE_URL "
                               "(RAPPORT_PUBLIC_BASE_URL) or pass --base-url https://surveys.example.com")
    try:
        segment = operations.parse_segment(conditions)
        result = operations.send_campaign(survey, base_url=base_url, segment=segment, name=name,
                                          expiry_days=expiry_days, sender=sender)
    except OperationError as exc:
        raise _fail(exc) from None
    _say_queued(result)


def _say_queued(result: operations.CampaignResult) -> None:
    click.echo(f"campaign {result.campaign.id} ({operations.describe_segment(result.campaign.segment or {})}): "
               f"{result.queued} invitation(s) queued; skipped {result.skipped}: "
               f"{result.unsubscribed} unsubscribed, {result.bounced} bounced, "
               f"{result.throttled} surveyed within {result.campaign.throttle_days} days")


def _say_scheduled(report: scheduling.SchedulerReport) -> None:
    for result in report.queued:
        _say_queued(result)
    for campaign_id, why in report.refused:
        click.echo(f"campaign {campaign_id} was due but not sent: {why}", err=True)
    if report.reminded:
        click.echo(f"{report.reminded} reminder(s) queued")


def _check_bounce_address() -> str | None:
    """MAIL_BOUNCE_ADDRESS, refused with a message if it cannot carry a tag."""
    from survey.invites.bounces import split_bounce_address

    bounce_address = current_app.config.get("MAIL_BOUNCE_ADDRESS")
    if bounce_address:
        try:
            split_bounce_address(bounce_address)
        except ValueError as exc:
            raise _fail(exc) from None
    return bounce_address or None


@invite_cli.command("deliver")
@click.option("--loop", is_flag=True, help="Keep running: deliver, wait --interval seconds, repeat (stop with Ctrl-C or SIGTERM).")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between passes with --loop.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Messages per SMTP connection (default MAIL_BATCH_SIZE).")
@click.option("--json", "as_json", is_flag=True,
              help="Print each pass's counts as one line of JSON (with --loop: one line per pass that did something).")
def deliver_command(loop: bool, interval: float, batch_size: int | None, as_json: bool) -> None:
    """Send the queued e-mails over SMTP (MAIL_SERVER), or into instance/outbox/*.eml with MAIL_TRANSPORT=file."""
    should_stop = stop_on_signals()  # finish the batch in hand (its results recorded), then leave
    _check_bounce_address()
    try:
        transport = delivery.transport_for(current_app.config, current_app.instance_path)
    except MailNotConfigured as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"delivering to {transport.describe()}", err=True)

    def show(report: delivery.DeliveryReport) -> None:
        if as_json:
            click.echo(json.dumps({"sent": report.sent, "retried": report.retried, "failed": report.failed,
                                   "uncertain": report.uncertain, "deferred": report.deferred,
                                   "recovered": report.recovered, "errors": report.errors[:20]}))
            return
        for error in report.errors[:20]:
            click.echo(error, err=True)
        click.echo(f"sent {report.sent}, retry later {report.retried}, failed {report.failed}, "
                   f"uncertain {report.uncertain}"
                   + (f", held back by a domain's rate limit {report.deferred}" if report.deferred else "")
                   + (f", settled {report.recovered} left by a stopped worker" if report.recovered else ""))

    if loop:
        delivery.deliver_forever(interval=interval, batch_size=batch_size, should_stop=should_stop,
                                 on_report=show, **worker_passes(should_stop))
        return
    _say_scheduled(scheduling.run_due())
    worker_passes(should_stop)["before_pass"]()
    report = delivery.deliver(batch_size=batch_size, should_stop=should_stop, transport=transport)
    show(report)
    if report.failed or report.uncertain:
        raise SystemExit(1)


def worker_passes(should_stop) -> dict:
    """What the mail worker does around each delivery pass besides e-mail to customers."""
    from survey.alerts.worker import queue_owner_mail  # low-score alerts and digests due go out in the same pass
    from survey.webhooks.worker import run_alongside_mail  # and the surveys' webhooks, a bounded pass each time

    return {"before_pass": queue_owner_mail, "after_pass": lambda: run_alongside_mail(should_stop)}


@invite_cli.command("remind")
@click.option("--after", "after", required=True, type=Duration(),
              help="Remind those who have not answered this long after the e-mail, e.g. 3d.")
@survey_option("Only this survey's campaigns.")
@click.option("--campaign", "campaign_id", type=int, help="Only this campaign.")
def remind_command(after: dt.timedelta, key: str | None, campaign_id: int | None) -> None:
    """Queue one reminder to each invitation not answered after --after (never a second one)."""
    delay = after
    survey = find_survey(key) if key else None
    campaign = _campaign(campaign_id) if campaign_id else None
    result = operations.queue_reminders(after=delay, survey=survey, campaign=campaign)
    click.echo(f"{result.reminded} reminder(s) queued; not yet due {result.not_due}; skipped "
               f"{result.unsubscribed} unsubscribed or bounced, {result.expired} expired"
               + (f", {result.closed} of closed surveys" if result.closed else ""))


def _campaign(campaign_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise click.ClickException(f"there is no campaign {campaign_id}; `flask invite status` lists them")
    return campaign


@invite_cli.command("status")
@click.option("--campaign", "campaign_id", type=int, help="One campaign.")
@survey_option("This survey's campaigns.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status_command(campaign_id: int | None, key: str | None, as_json: bool) -> None:
    """Per campaign: invited, sent, failed, answered, response rate, skipped."""
    query = sa.select(Campaign).order_by(Campaign.id)
    if campaign_id:
        query = query.where(Campaign.id == _campaign(campaign_id).id)
    if key:
        query = query.where(Campaign.survey_id == find_survey(key).id)
    stats = [operations.campaign_stats(c) for c in db.session.scalars(query)]
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    if not stats:
        click.echo("No campaigns yet. Start one with `flask invite send --survey KEY`.")
        return
    for s in stats:
        rate = "–" if s["response_rate"] is None else f"{s['response_rate']:.1%}"
        if s["state"] in ("scheduled", "cancelled", "refused"):
            when = f" for {s['send_at']} UTC" if s["state"] == "scheduled" else ""
            click.echo(f"campaign {s['campaign']} {s['name']!r} (survey {s['survey']}): {s['state']}{when}")
            if s["state"] == "scheduled":
                continue
        click.echo(f"campaign {s['campaign']} {s['name']!r} (survey {s['survey']}, {s['segment']}): "
                   f"invited {s['invited']}, queued {s['queued']}, sent {s['sent']}, failed {s['failed']}, "
                   f"answered {s['answered']} ({rate}), expired {s['expired']}, reminded {s['reminded']}; "
                   f"skipped {s['skipped_unsubscribed']} unsubscribed, {s['skipped_bounced']} bounced, "
                   f"{s['skipped_throttled']} throttled")
        if s["delivery"]:
            click.echo(f"  {s['delivery']['summary']}")


@invite_cli.command("list")
@click.option("--campaign", "campaign_id", type=int, required=True, help="The campaign.")
@click.option("--status", type=click.Choice(INVITATION_STATUSES), help="Only invitations in this state.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(campaign_id: int, status: str | None, as_json: bool) -> None:
    """Each invitation of a campaign: address, state, and when it was sent and answered."""
    campaign = _campaign(campaign_id)
    query = sa.select(Invitation).where(Invitation.campaign_id == campaign.id).order_by(Invitation.id)
    if status:
        query = query.where(Invitation.status_is(status))
    rows = [{
        "email": i.contact.email if i.contact else None, "status": i.status, "reason": i.skip_reason,
        "sent_at": i.sent_at and i.sent_at.isoformat(timespec="seconds"),
        "answered_at": i.answered_at and i.answered_at.isoformat(timespec="seconds"),
        "expires_at": i.expires_at.isoformat(timespec="seconds"), "error": i.last_error,
    } for i in db.session.scalars(query)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        extra = row["reason"] or row["error"] or ""
        click.echo(f"{row['email'] or '(forgotten)'}\t{row['status']}\t{row['sent_at'] or '-'}\t"
                   f"{row['answered_at'] or '-'}\t{extra}".rstrip())


@invite_cli.command("outbox")
@click.option("--state", type=click.Choice(OUTBOX_STATES), help="Only messages in this state.")
@json_option
def outbox_command(state: str | None, as_json: bool) -> None:
    """Count outbox messages by state, and list the ones that need a person (uncertain, failed)."""
    counts = dict(db.session.execute(
        sa.select(OutboxMessage.state, sa.func.count()).group_by(OutboxMessage.state)).all())
    shown = (state,) if state else ("uncertain", "failed")
    messages = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.state.in_(shown)).order_by(OutboxMessage.id).limit(200))
    if as_json:
        click.echo(json.dumps({
            "counts": {s: counts.get(s, 0) for s in OUTBOX_STATES},
            "messages": [{"id": m.id, "state": m.state, "recipient": m.recipient, "message_id": m.message_id,
                          "last_error": m.last_error} for m in messages]}, indent=2))
        return
    click.echo(", ".join(f"{s} {counts.get(s, 0)}" for s in OUTBOX_STATES))
    for message in messages:
        click.echo(f"{message.id}\t{message.state}\t{message.recipient}\t{message.message_id}\t"
                   f"{message.last_error or ''}".rstrip())


@invite_cli.command("resolve")
@click.argument("message_ids", nargs=-1, type=int, required=True, metavar="MESSAGE_ID...")
@click.option("--sent", "verdict", flag_value="sent", help="The mail server's log shows they were accepted.")
@click.option("--resend", "verdict", flag_value="resend", help="They were not accepted: send them again.")
def resolve_command(message_ids: tuple[int, ...], verdict: str | None) -> None:
    """Settle 'uncertain' messages (see `flask invite outbox`): a crashed worker leaves up to a batch of them.

    Every MESSAGE_ID must be uncertain, or nothing changes.
    """
    if verdict is None:
        raise click.UsageError("say --sent or --resend")
    messages = []
    for message_id in dict.fromkeys(message_ids):
        message = db.session.get(OutboxMessage, message_id)
        if message is None:
            raise click.ClickException(f"there is no outbox message {message_id}; nothing was changed")
        if message.state != "uncertain":
            raise click.ClickException(f"message {message_id} is {message.state}, not uncertain; "
                                       "nothing was changed")
        messages.append(message)
    for message in messages:
        delivery.resolve_uncertain(message, delivered=verdict == "sent")
        click.echo(f"message {message.id}: " + ("marked sent" if verdict == "sent" else "queued again"))


@invite_cli.command("bounces")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--maildir", "maildirs", multiple=True, type=click.Path(path_type=Path), metavar="PATH",
              help="Read a maildir: the messages in new/ and the unseen ones in cur/; each one read is "
                   "flagged seen (moved to cur/ with the S flag), so the next run skips it. Repeatable.")
def bounces_command(files: tuple[Path, ...], maildirs: tuple[Path, ...]) -> None:
    """Read bounce e-mails (delivery status notifications) and mark hard-bounced contacts.

    Each FILE is one message; with no FILE and no --maildir one message is
    read from standard input, so a mail server can pipe to it. A hard bounce
    (5.x.x) marks its contact bounced, as a refusal during sending does;
    soft bounces and other mail are reported and change nothing. Reading the
    same bounce twice changes nothing the second time. Exits 1 if an input
    could not be read (the others are still processed), 75 (EX_TEMPFAIL, so
    a mail server retries) if the database failed.
    """
    from survey.invites.bounces import parse_bounce

    bounce_address = _check_bounce_address()
    counts = {"hard": 0, "soft": 0, "ignored": 0}
    marked = 0
    errors: list[str] = []

    def process(label: str, raw: bytes, envelope: list[str] | None = None) -> None:
        nonlocal marked
        parsed = parse_bounce(raw, bounce_address=bounce_address, envelope_recipients=envelope or ())
        try:
            outcome = operations.record_bounce(parsed)
        except sa.exc.DBAPIError as exc:
            db.session.rollback()
            # EX_TEMPFAIL: a mail server piping to us keeps the message and tries again later.
            click.echo(f"{label}: the database failed, nothing recorded; try again later: {exc.orig}", err=True)
            raise SystemExit(EX_TEMPFAIL) from None
        counts[outcome.kind] += 1
        marked += outcome.marked
        click.echo(f"{label}: {outcome.summary}")

    def read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except OSError as exc:
            errors.append(f"cannot read {path}: {exc.strerror or exc}")
            return None

    for path in files:
        if path.is_dir():
            errors.append(f"{path} is a folder; for a maildir use --maildir {path}")
            continue
        raw = read(path)
        if raw is not None:
            process(str(path), raw)
    for folder in maildirs:
        try:
            unseen = _maildir_unseen(folder)
        except (OSError, mailbox.Error) as exc:
            errors.append(f"cannot read the maildir {folder}: {getattr(exc, 'strerror', None) or exc}")
            continue
        if unseen is None:
            errors.append(f"{folder} is not a maildir (it needs new/ and cur/ folders)")
            continue
        box, keys = unseen
        for key in keys:
            try:
                raw = box.get_bytes(key)
            except (OSError, KeyError) as exc:
                errors.append(f"cannot read message {key} of {folder}: {getattr(exc, 'strerror', None) or exc}")
                continue
            process(f"{folder}/{key}", raw)
            try:
                _maildir_mark_seen(box, key)
            except (OSError, KeyError) as exc:
                errors.append(f"cannot flag message {key} of {folder} seen: {getattr(exc, 'strerror', None) or exc}")
    if not files and not maildirs:
        envelope = [os.environ[name] for name in ("ORIGINAL_RECIPIENT", "RECIPIENT") if os.environ.get(name)]
        process("<stdin>", sys.stdin.buffer.read(), envelope)
    total = sum(counts.values())
    click.echo(f"{total} message(s): {counts['hard']} hard bounce(s), {marked} contact(s) newly marked bounced; "
               f"{counts['soft']} soft bounce(s) and {counts['ignored']} other message(s) ignored")
    for error in errors:
        click.echo(error, err=True)
    if errors:
        raise click.ClickException(f"{len(errors)} input(s) could not be read")


def _maildir_unseen(folder: Path) -> tuple[mailbox.Maildir, list[str]] | None:
    """The maildir and the keys of its messages not yet flagged seen (None if ``folder`` is not a maildir)."""
    if not (folder / "new").is_dir() or not (folder / "cur").is_dir():
        return None
    box = mailbox.Maildir(folder, factory=None, create=False)
    return box, [key for key in sorted(box.keys()) if "S" not in box.get_message(key).get_flags()]


def _maildir_mark_seen(box: mailbox.Maildir, key: str) -> None:
    """Move a processed message to cur/ with the seen flag (the maildir way to say "read")."""
    message = box.get_message(key)
    message.set_subdir("cur")
    message.add_flag("S")
    box[key] = message


def init_app(app: Flask) -> None:
    add_group(app, contacts_cli, "contacts")
    app.cli.add_command(invite_cli)
