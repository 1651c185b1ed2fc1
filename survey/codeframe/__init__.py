"""Codeframe: a survey's own named pain points, which every analysis run sorts new comments into.

* :mod:`~survey.codeframe.models` -- the tables;
* :mod:`~survey.codeframe.operations` -- every change (commits, records who and when);
* :mod:`~survey.codeframe.cli` -- ``flask codeframe import/export/list/copy``.

The sorting itself is pure ML (:mod:`analysis.codeframe`); the insights
service (:mod:`survey.insights.codeframe`) runs it during ``flask analyze``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: "Flask") -> None:
    from survey.codeframe.cli import codeframe_cli

    app.cli.add_command(codeframe_cli)
