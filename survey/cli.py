"""Command-line glue: ``flask survey``, ``flask response`` and ``flask demo``.

Commands parse options, call ``survey.operations`` and print. Errors go to
stderr with a non-zero exit (click's ClickException / UsageError).

Habits every group keeps: groups are singular nouns (``survey``, ``response``,
``contact``, ``invite``, ``user``, ``token``; the old plural names still work),
input files are positional arguments, a survey is ``--survey KEY``, and
commands whose output a script may read take ``--json``.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup, ScriptInfo

from survey.db import db
from survey.kinds import KINDS
from survey.lookups import survey_by_key
from survey.models import Response, Survey
from survey.operations import OperationError, create_survey, import_feedback, set_survey_open

survey_cli = AppGroup("survey", help="Create and list surveys.")
responses_cli = AppGroup("response", help="Import past feedback as answers.")

def survey_option(help: str, required: bool = False):  # noqa: A002 - click's own word
    """``--survey KEY``, the same everywhere (``help`` differs per command)."""
    return click.option("--survey", "key", metavar="KEY", required=required, help=help)


#: ``--json``: the command's result as JSON on stdout instead of sentences.
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def add_group(app: Flask, group: click.Group, *old_names: str) -> None:
    """Register a command group, and under each old name a hidden alias with the same commands."""
    app.cli.add_command(group)
    for old in old_names:
        app.cli.add_command(AppGroup(old, commands=group.commands, hidden=True,
                                     help=f"Old name of `flask {group.name}`; it still works."))


def explain_database_errors(app: Flask) -> None:
    """Every command of ``app`` (``db`` included): a database it cannot open, or one whose schema is
    not the code's, ends in one line saying so and what to do, with exit status 1, not a traceback.

    A failure the database's state does not explain (a bug) keeps its traceback. ``db`` commands are
    only checked for reaching the database: their job is to change the schema.
    """
    for command in app.cli.commands.values():
        if not getattr(command, "explains_database_errors", False):
            command.invoke = _explaining(command.invoke, check_schema=command.name != "db")
            command.explains_database_errors = True


#: PostgreSQL's SQLSTATE for a statement that gave up waiting for a lock (``lock_timeout``).
LOCK_NOT_AVAILABLE = "55P03"


def _explaining(invoke, check_schema: bool):
    from survey.health import database_problem

    @functools.wraps(invoke)
    def invoke_explained(ctx: click.Context):
        try:
            return invoke(ctx)
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            info = ctx.find_object(ScriptInfo)
            if info is None:
                raise
            app = info.load_app()
            if getattr(getattr(exc, "orig", None), "sqlstate", None) == LOCK_NOT_AVAILABLE:
                raise click.ClickException(
                    f"a statement waited longer than POSTGRES_LOCK_TIMEOUT_MS "
                    f"({app.config.get('POSTGRES_LOCK_TIMEOUT_MS')} ms) for a lock another session holds, and its "
                    "transaction was rolled back. Run it again when that session is done, or with "
                    "RAPPORT_POSTGRES_LOCK_TIMEOUT_MS=null to wait for it") from None
            with app.app_context():  # the command's own context has closed by now
                problem = database_problem(check_schema=check_schema)
            if problem is None:
                raise
            raise click.ClickException(problem) from None

    return invoke_explained


def find_survey(key: str) -> Survey:
    """The survey with this public key, or a clear error and exit status 1."""
    survey = survey_by_key(key)
    if survey is None:
        raise click.ClickException(f"no survey has the key {key!r}; `flask survey list` shows them")
    return survey


def stop_on_signals() -> Callable[[], bool]:
    """SIGTERM and Ctrl-C ask the running command to finish what it has in hand and leave.

    Returns the question the command's loop asks ("stop now?"). The handlers that were there
    come back when the command ends, so a worker command run inside another program (a test
    runner, a shell embedding the app) does not leave that program deaf to Ctrl-C.
    """
    stop = {"now": False}

    def request_stop(signum, frame):
        stop["now"] = True

    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    click.get_current_context().call_on_close(restore)
    return lambda: stop["now"]


@contextlib.contextmanager
def written_aside(target: Path) -> Iterator[Path]:
    """A temporary file next to ``target``, renamed onto it only if the block succeeds (Ctrl-C included):
    a command's output file is whole or as it was, never half-written."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(target, exc) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        # the block's own errors (its input unreadable) are the block's to explain; a write has no file name
        if exc.errno not in CANNOT_WRITE or exc.filename not in (None, str(tmp)):
            raise
        raise _cannot_write(target, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


#: Why writing a file can fail that the person can fix (the folder's rights, a full disk, a read-only mount).
CANNOT_WRITE = {errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ENOENT, errno.EISDIR,
                errno.EFBIG}


def _cannot_write(target: Path, exc: OSError) -> click.ClickException:
    return click.ClickException(f"cannot write {target}: {exc.strerror or exc}; "
                                + ("it is unchanged" if target.exists() else "nothing was written"))


def report_bad_lines(file: Path, problems: list, skip_bad: bool, shown: int = 50, as_json: bool = False) -> None:
    """Print a file's bad lines to stderr; unless ``skip_bad``, stop: a file with errors loads nothing.

    With ``as_json`` a refused file also prints ``{"imported": 0, "bad_lines": [...]}`` on stdout.
    """
    for problem in problems[:shown]:
        click.echo(f"{file}: {problem}", err=True)
    if len(problems) > shown:
        click.echo(f"{file}: … and {len(problems) - shown} more bad lines", err=True)
    if problems and not skip_bad:
        if as_json:
            click.echo(json.dumps({"file": str(file), "imported": 0, "bad_lines": problems_json(problems)}, indent=2))
        raise click.ClickException(
            f"{len(problems)} bad line(s); nothing was imported. Fix them, or pass --skip-bad to load the rest."
        )


def report_header_only(file: Path, parsed) -> None:
    """A notice on stderr for a file with a header and no rows; the exit status stays 0 (kept for cron)."""
    from survey.importer import header_only_notice

    notice = header_only_notice(str(file), parsed)
    if notice:
        click.echo(notice, err=True)


def problems_json(problems: list) -> list[dict]:
    return [{"line": problem.line, "message": problem.message} for problem in problems]


def survey_scores(survey_id: int) -> list[int]:
    return list(db.session.scalars(
        sa.select(Response.score).where(Response.survey_id == survey_id, Response.score.is_not(None))
    ))


@survey_cli.command("create")
@click.option("--kind", required=True, type=click.Choice(list(KINDS)), help="nps (0–10), csat (1–5) or ces (1–7).")
@click.option("--name", required=True, help="The survey's name, as analysts see it.")
@click.option("--subject", default=None,
              help="What the question asks about, e.g. 'Acme Broadband' → 'How likely are you to recommend "
                   "Acme Broadband to a friend or colleague?'. Default: 'us'.")
@click.option("--closed", is_flag=True, help="Create it closed (it takes no answers until opened).")
def create_command(kind: str, name: str, subject: str | None, closed: bool) -> None:
    """Create a survey and print its public key alone on stdout."""
    try:
        survey = create_survey(kind, name, subject, is_open=not closed)
    except OperationError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(survey.public_key)


@survey_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def list_command(as_json: bool) -> None:
    """Show each survey's key, kind, name, state (open, closed, or full at its cap), answers and current score."""
    from survey.display import TOO_FEW, enough, score_text
    from survey.metrics import metric_for
    from survey.schedule import state

    minimum = current_app.config["MIN_ANSWERS"]
    rows, shown = [], []
    for survey in db.session.scalars(sa.select(Survey).order_by(Survey.id)):
        scores = survey_scores(survey.id)
        answers = db.session.scalar(sa.select(sa.func.count()).where(Response.survey_id == survey.id))
        result = metric_for(survey.kind, scores)
        rows.append({
            "key": survey.public_key, "kind": survey.kind, "name": survey.name,
            "open": survey.is_open, "state": state(survey, answers), "responses": answers,
            "score": None if result.score is None else round(result.score, 1),
            "ci_low": None if result.ci_low is None else round(result.ci_low, 1),
            "ci_high": None if result.ci_high is None else round(result.ci_high, 1),
            "method": result.method,
        })
        # The table writes a score the way the dashboard does, and not at all below MIN_ANSWERS.
        shown.append(score_text(result.score, survey.kind) if enough(result.n, minimum) or result.n == 0
                     else TOO_FEW)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No surveys yet. Create one with `flask survey create --kind nps --name NAME`.")
        return
    header = ("KEY", "KIND", "NAME", "STATE", "ANSWERS", "SCORE")
    table = [header] + [
        (r["key"], r["kind"], r["name"], r["state"], str(r["responses"]), score)
        for r, score in zip(rows, shown)
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


@survey_cli.command("close")
@click.argument("key")
def close_command(key: str) -> None:
    """Close a survey: its page and widget stop taking answers."""
    set_survey_open(find_survey(key), False)
    click.echo(f"closed {key}")


@survey_cli.command("open")
@click.argument("key")
def open_command(key: str) -> None:
    """Re-open a closed survey."""
    set_survey_open(find_survey(key), True)
    click.echo(f"opened {key}")


@survey_cli.command("schedule")
@click.argument("key")
@click.option("--closes-at", metavar="DATE", help="Stop taking answers at this moment: 2026-12-31 (after that "
                                                  "day, UTC), '2026-12-31 18:00' (UTC) or 2026-12-31T18:00+01:00.")
@click.option("--no-close-date", is_flag=True, help="Remove the close date.")
@click.option("--max-responses", type=int, metavar="N", help="Stop taking new answers once the survey has N.")
@click.option("--no-cap", is_flag=True, help="Remove the response cap.")
def schedule_command(key: str, closes_at: str | None, no_close_date: bool, max_responses: int | None,
                     no_cap: bool) -> None:
    """Show or set when a survey closes by itself: a close date and a response cap."""
    from survey.display import when_text
    from survey.schedule import parse_close_date, set_schedule, state

    survey = find_survey(key)
    if closes_at and no_close_date:
        raise click.UsageError("--closes-at and --no-close-date contradict each other; pass one")
    if max_responses is not None and no_cap:
        raise click.UsageError("--max-responses and --no-cap contradict each other; pass one")
    if closes_at or no_close_date or max_responses is not None or no_cap:
        try:
            when = None if no_close_date else parse_close_date(closes_at) if closes_at else survey.closes_at
            cap = None if no_cap else max_responses if max_responses is not None else survey.max_responses
            set_schedule(survey, closes_at=when, max_responses=cap)
        except OperationError as exc:
            raise click.UsageError(str(exc)) from None
    answers = db.session.scalar(sa.select(sa.func.count()).where(Response.survey_id == survey.id))
    close_date = when_text(survey.closes_at) if survey.closes_at else "none"
    cap = f"{answers} of at most {survey.max_responses}" if survey.max_responses else f"{answers} (no cap)"
    click.echo(f"{key}: {state(survey, answers)}; close date: {close_date}; answers: {cap}")


@responses_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@survey_option("Public key of the survey the answers belong to.", required=True)
@click.option("--text-col", required=True, help="Column holding the free-text comment.")
@click.option("--score-col", help="Column holding the score (may be blank on some lines).")
@click.option("--date-col", help="Column holding when the answer was given.")
@click.option("--date-format", help="strptime format of --date-col, e.g. '%d/%m/%Y %H:%M', or iso8601 "
                                    "(2024-01-05T10:00:00+01:00, …Z). Default: the known format most dates fit.")
@click.option("--id-col", help="Column with the source's own id: re-importing the file then adds nothing twice.")
@click.option("--skip-bad", is_flag=True, help="Load the good lines even if some lines are bad.")
@json_option
def import_command(file: Path, key: str, text_col: str, score_col: str | None, date_col: str | None,
                   date_format: str | None, id_col: str | None, skip_bad: bool, as_json: bool) -> None:
    """Load historical feedback from a CSV file (UTF-8) in one transaction."""
    from survey.importer import ImportError_, open_csv_text, parse_feedback_csv

    survey = find_survey(key)
    if date_format and not date_col:
        raise click.UsageError("--date-format needs --date-col")
    try:
        parsed = parse_feedback_csv(
            open_csv_text(file.read_bytes()), text_col=text_col, scale=(survey.spec.low, survey.spec.high),
            score_col=score_col, date_col=date_col, date_format=date_format, id_col=id_col,
        )
    except ImportError_ as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    report_bad_lines(file, parsed.problems, skip_bad, as_json=as_json)
    report_header_only(file, parsed)
    try:
        added, existing = import_feedback(survey, parsed.rows)
    except OperationError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    if as_json:
        click.echo(json.dumps({"file": str(file), "survey": survey.public_key, "imported": added,
                               "already_there": existing, "bad_lines": problems_json(parsed.problems),
                               "date_format": parsed.date_format}, indent=2))
        return
    note = f" (dates read as {parsed.date_format})" if parsed.date_format else ""
    click.echo(f"imported {added} answer(s) into {survey.public_key}; {existing} were already there; "
               f"{len(parsed.problems)} bad line(s) skipped{note}")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to serve on.")
@click.option("--no-serve", is_flag=True, help="Set up and seed only; do not start the server.")
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Upgrade the database, seed demo surveys with answers (once), print their URLs and serve."""
    from flask import current_app
    from flask_migrate import upgrade

    from survey.demo import analyse_demo, seed_demo, seed_demo_admin, seed_demo_invitations

    if not current_app.config.get("MAIL_SERVER") and not current_app.config.get("MAIL_TRANSPORT"):
        # The demo writes its invitations as .eml files; a real site chooses this explicitly.
        current_app.config["MAIL_TRANSPORT"] = "file"
    if not no_serve:
        _check_port_free(host, port)  # before seeding, so the URLs printed are the ones served
    upgrade()
    base_url = f"http://{host}:{port}"
    lines = seed_demo(base_url=base_url) + analyse_demo() + seed_demo_admin(base_url) + seed_demo_invitations(base_url)
    click.echo("\n".join(lines))
    if not no_serve:
        from werkzeug.serving import run_simple

        # Flask ignores app.run() inside its own CLI, so serve directly.
        click.echo("Press Ctrl+C to stop.")
        run_simple(host, port, current_app._get_current_object(), threaded=True)


def _check_port_free(host: str, port: int) -> None:
    """A clear message instead of a traceback when the port is taken (another demo, another app)."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot serve on {host}:{port}: {exc.strerror or exc}. Pick another port: "
                f"`bash .ci/demo --port {port + 1}` (or `flask demo --port {port + 1}`); the database is "
                f"set up either way.") from None


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Write a consistent copy of the live SQLite database to PATH while the site keeps running.

    To restore: stop the site, copy PATH over the database file (default
    instance/rapport.db), delete any rapport.db-wal and rapport.db-shm beside
    it, start the site.
    """
    from flask import current_app

    from survey.backup import BackupError, backup_sqlite, sqlite_path

    try:
        pages = backup_sqlite(sqlite_path(current_app.config["SQLALCHEMY_DATABASE_URI"]), path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backed up {pages} pages to {path}")


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_command)
    add_group(app, survey_cli, "surveys")
    add_group(app, responses_cli, "responses")
    app.cli.add_command(demo_command)


def main() -> None:
    """``rapport`` console script: the same commands as ``flask --app survey``."""
    from survey import create_app

    cli = FlaskGroup(create_app=create_app, add_version_option=False, help="Rapport: surveys and feedback insights.")
    click.version_option(package_name="rapport", prog_name="Rapport", message="%(prog)s %(version)s")(cli)
    cli()
