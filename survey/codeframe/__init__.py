"""Codeframe: a survey's own named pain points, which every analysis run sorts new comments into.

* :mod:`~survey.codeframe.models` -- the tables;
* :mod:`~survey.codeframe.operations` -- every change (commits, records who and when);
* :mod:`~survey.codeframe.cli` -- ``flask codeframe import/export/list/copy``;
* :mod:`~survey.codeframe.routes` -- the dashboard screen where analysts edit it.

The sorting itself is pure ML (:mod:`analysis.codeframe`); the insights
service (:mod:`survey.insights.codeframe`) runs it during ``flask analyze``.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("codeframe", __name__)

from survey.codeframe import routes  # noqa: E402,F401


def init_app(app: Flask) -> None:
    from survey.codeframe.cli import codeframe_cli

    app.register_blueprint(bp)
    app.cli.add_command(codeframe_cli)
