"""Command-line glue: ``flask survey``, ``flask responses`` and ``flask demo``.

Commands parse options, call ``survey.operations`` and print. Errors go to
stderr with a non-zero exit (click's ClickException / UsageError).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup, FlaskGroup

from survey.db import db
from survey.kinds import KINDS
from survey.models import Response, Survey
from survey.operations import OperationError, create_survey, import_feedback, set_survey_open

survey_cli = AppGroup("survey", help="Create and list surveys.")
responses_cli = AppGroup("responses", help="Import past feedback as answers.")


def find_survey(key: str) -> Survey:
    """The survey with this public key, or a clear error and exit status 1."""
    survey = db.session.scalar(sa.select(Survey).where(Survey.public_key == key))
    if survey is None:
        raise click.ClickException(f"no survey has the key {key!r}; `flask survey list` shows them")
    return survey


def report_bad_lines(file: Path, problems: list, skip_bad: bool, shown: int = 50) -> None:
    """Print a file's bad lines to stderr; unless ``skip_bad``, stop: a file with errors loads nothing."""
    for problem in problems[:shown]:
        click.echo(f"{file}: {problem}", err=True)
    if len(problems) > shown:
        click.echo(f"{file}: … and {len(problems) - shown} more bad lines", err=True)
    if problems and not skip_bad:
        raise click.ClickException(
            f"{len(problems)} bad line(s); nothing was imported. Fix them, or pass --skip-bad to load the rest."
        )


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
    """Show each survey's key, kind, name, number of answers and current score."""
    from survey.metrics import metric_for

    rows = []
    for survey in db.session.scalars(sa.select(Survey).order_by(Survey.id)):
        scores = survey_scores(survey.id)
        answers = db.session.scalar(sa.select(sa.func.count()).where(Response.survey_id == survey.id))
        result = metric_for(survey.kind, scores)
        rows.append({
            "key": survey.public_key, "kind": survey.kind, "name": survey.name,
            "open": survey.is_open, "responses": answers,
            "score": None if result.score is None else round(result.score, 1),
        })
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No surveys yet. Create one with `flask survey create --kind nps --name NAME`.")
        return
    header = ("KEY", "KIND", "NAME", "OPEN", "ANSWERS", "SCORE")
    table = [header] + [
        (r["key"], r["kind"], r["name"], "yes" if r["open"] else "no", str(r["responses"]),
         "–" if r["score"] is None else f"{r['score']:g}")
        for r in rows
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


@responses_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--survey", "key", required=True, help="Public key of the survey the answers belong to.")
@click.option("--text-col", required=True, help="Column holding the free-text comment.")
@click.option("--score-col", help="Column holding the score (may be blank on some lines).")
@click.option("--date-col", help="Column holding when the answer was given.")
@click.option("--date-format", help="strptime format of --date-col, e.g. '%d/%m/%Y %H:%M'. "
                                    "Default: the one known format that fits every date.")
@click.option("--id-col", help="Column with the source's own id: re-importing the file then adds nothing twice.")
@click.option("--skip-bad", is_flag=True, help="Load the good lines even if some lines are bad.")
def import_command(file: Path, key: str, text_col: str, score_col: str | None, date_col: str | None,
                   date_format: str | None, id_col: str | None, skip_bad: bool) -> None:
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
    report_bad_lines(file, parsed.problems, skip_bad)
    added, existing = import_feedback(survey, parsed.rows)
    note = f" (dates read as {parsed.date_format})" if parsed.date_format else ""
    click.echo(f"imported {added} answer(s) into {survey.public_key}; {existing} were already there; "
               f"{len(parsed.problems)} bad line(s) skipped{note}")


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=5000, show_default=True, help="Port to serve on.")
@click.option("--no-serve", is_flag=True, help="Set up and seed only; do not start the server.")
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Upgrade the database, seed demo surveys with answers (once), print their URLs and serve."""
    from flask import current_app
    from flask_migrate import upgrade

    from survey.demo import analyse_demo, seed_demo, seed_demo_admin, seed_demo_invitations

    upgrade()
    base_url = f"http://{host}:{port}"
    lines = seed_demo(base_url=base_url) + analyse_demo() + seed_demo_admin(base_url) + seed_demo_invitations(base_url)
    click.echo("\n".join(lines))
    if not no_serve:
        from werkzeug.serving import run_simple

        # Flask ignores app.run() inside its own CLI, so serve directly.
        click.echo("Press Ctrl+C to stop.")
        run_simple(host, port, current_app._get_current_object(), threaded=True)


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
    app.cli.add_command(survey_cli)
    app.cli.add_command(responses_cli)
    app.cli.add_command(demo_command)


def main() -> None:
    """``rapport`` console script: the same commands as ``flask --app survey``."""
    from survey import create_app

    FlaskGroup(create_app=create_app, help="Rapport: surveys and feedback insights.")()
