"""``flask codeframe``: import, export, list and copy a survey's codeframe.

* ``flask codeframe import FILE.csv --survey KEY``: columns ``name``, ``example``
  and/or ``keywords`` (``;``-separated), optional ``theme`` and ``hidden``; one
  row per example. Every bad line is reported with its number and nothing is
  imported; re-importing the same file changes nothing.
* ``flask codeframe export --survey KEY [--out FILE]``: the same format.
* ``flask codeframe list --survey KEY [--json]``.
* ``flask codeframe copy --survey KEY --to KEY``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from survey.cli import find_survey, written_aside
from survey.codeframe import operations as ops


@click.group("codeframe", cls=AppGroup)
def codeframe_cli() -> None:
    """A survey's codeframe: the named pain points every new comment is sorted into."""


@codeframe_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--survey", "key", required=True, metavar="KEY", help="Public key of the survey.")
def import_command(file: Path, key: str) -> None:
    """Add a file's pain points, keywords and examples to a survey's codeframe."""
    survey = find_survey(key)
    try:
        outcome = ops.import_file(survey, ops.read_bounded(file), source=file.name)
    except ops.BadLines as exc:
        for problem in exc.problems:
            click.echo(f"{file}: {problem}", err=True)
        raise click.ClickException(str(exc)) from None
    except ops.CodeframeError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    click.echo(ops.outcome_text(survey, outcome, file.name))


@codeframe_cli.command("export")
@click.option("--survey", "key", required=True, metavar="KEY", help="Public key of the survey.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
def export_command(key: str, out_file: Path | None) -> None:
    """Print the codeframe in the import format (it round-trips, so it can live in version control)."""
    survey = find_survey(key)
    if not ops.has_codeframe(survey.id):
        raise click.ClickException(f"survey {survey.public_key} has no codeframe yet "
                                   "(`flask codeframe import FILE.csv --survey KEY` starts one)")
    if out_file is not None and not out_file.parent.is_dir():
        raise click.UsageError(f"--out: folder {out_file.parent} does not exist")
    rows = list(ops.export_rows(survey))
    if out_file is None:
        ops.write_csv(rows, sys.stdout)
        return
    with written_aside(out_file) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        ops.write_csv(rows, fh)
    click.echo(f"Wrote {len(rows)} row(s) to {out_file}", err=True)


@codeframe_cli.command("list")
@click.option("--survey", "key", required=True, metavar="KEY", help="Public key of the survey.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(key: str, as_json: bool) -> None:
    """The codeframe's pain points with their theme, keywords and example counts."""
    survey = find_survey(key)
    points = ops.points_of(survey)
    items = [{"name": p.name, "theme": p.theme, "keywords": list(p.keywords), "hidden": p.hidden,
              "examples": len(p.in_force("example")), "excluded": len(p.in_force("excluded"))} for p in points]
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    if not items:
        click.echo(f"Survey {survey.public_key} has no codeframe yet.")
        return
    width = max(len(i["name"]) for i in items)
    click.echo(f"{'name':{width}}  theme    examples  keywords")
    for item in items:
        hidden = "  (hidden)" if item["hidden"] else ""
        click.echo(f"{item['name']:{width}}  {item['theme']:7}  {item['examples']:8}  "
                   f"{'; '.join(item['keywords'])}{hidden}")


@codeframe_cli.command("copy")
@click.option("--survey", "key", required=True, metavar="KEY", help="Public key of the survey to copy from.")
@click.option("--to", "target_key", required=True, metavar="KEY", help="Public key of the survey to copy to.")
def copy_command(key: str, target_key: str) -> None:
    """Give another survey this survey's codeframe (merged into what it has)."""
    source, target = find_survey(key), find_survey(target_key)
    try:
        outcome = ops.copy_codeframe(source, target)
    except ops.CodeframeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Copied to {target.public_key}: {outcome.points_added} new pain point(s), "
               f"{outcome.examples_added} new example(s).")
