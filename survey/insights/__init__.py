"""Insights: runs the ``analysis`` ML on the site's answers and reports what it finds.

* :mod:`~survey.insights.service` -- label new comments, find pain points,
  write the report, record the run (the only module here that commits);
* :mod:`~survey.insights.queries` -- what the service reads from the database;
* :mod:`~survey.insights.findings` -- the typed results a run passes along;
* :mod:`~survey.insights.report` / :mod:`~survey.insights.charts` -- the report
  folder and the charts it shares with the dashboard;
* :mod:`~survey.insights.cli` -- ``flask analyze`` and its subcommands.

Imports go one way: ``survey.insights`` uses ``analysis`` and the core of
``survey``; ``analysis`` never imports ``survey``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: "Flask") -> None:
    from survey.insights.cli import analyze_cli

    app.cli.add_command(analyze_cli)
