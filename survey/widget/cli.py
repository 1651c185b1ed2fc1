"""``flask survey origins KEY add|remove|list [ORIGIN…]``: the sites allowed to show a survey's widget."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from survey.cli import find_survey
from survey.operations import OperationError
from survey.widget.operations import add_origins, list_origins, normalise_origin, remove_origins

_KEY = "survey.widget.key"


# Survey keys may begin with "-" (they are URL-safe base64): read such a key as KEY, not as an option.
@click.group("origins", cls=AppGroup, context_settings={"ignore_unknown_options": True})
@click.argument("key")
@click.pass_context
def origins_cli(ctx: click.Context, key: str) -> None:
    """Which web sites may embed the widget of survey KEY.

    An origin is scheme://host[:port] exactly as browsers send it, e.g.
    https://www.example.com or http://localhost:8080. A survey with no
    origins accepts widget answers from nowhere.
    """
    ctx.meta[_KEY] = key


@origins_cli.command("add")
@click.argument("origins", nargs=-1, required=True)
@click.pass_context
def add_command(ctx: click.Context, origins: tuple[str, ...]) -> None:
    """Allow one or more origins (all or none are added)."""
    survey = find_survey(ctx.meta[_KEY])
    try:
        added = set(add_origins(survey, list(origins)))
        wanted = list(dict.fromkeys(normalise_origin(text) for text in origins))
    except OperationError as exc:
        raise click.UsageError(str(exc)) from None
    for origin in wanted:
        click.echo(f"added {origin}" if origin in added else f"{origin} was already allowed")


@origins_cli.command("remove")
@click.argument("origins", nargs=-1, required=True)
@click.pass_context
def remove_command(ctx: click.Context, origins: tuple[str, ...]) -> None:
    """Stop allowing one or more origins (all or none are removed)."""
    survey = find_survey(ctx.meta[_KEY])
    try:
        removed = remove_origins(survey, list(origins))
    except OperationError as exc:
        raise click.ClickException(str(exc)) from None
    for origin in removed:
        click.echo(f"removed {origin}")
    if not list_origins(survey):
        click.echo(f"{survey.public_key} now accepts widget answers from no site", err=True)


@origins_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def list_command(ctx: click.Context, as_json: bool) -> None:
    """Print the allowed origins, one per line."""
    survey = find_survey(ctx.meta[_KEY])
    origins = list_origins(survey)
    if as_json:
        click.echo(json.dumps(origins))
        return
    if not origins:
        click.echo(f"no origins: the widget of {survey.public_key} is accepted on no site yet; "
                   f"add one with `flask survey origins {survey.public_key} add https://www.example.com`", err=True)
    for origin in origins:
        click.echo(origin)
