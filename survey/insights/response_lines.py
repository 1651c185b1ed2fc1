"""responses.csv's lines, made by a second process while this one finds the pain points (``--workers``).

Reading, masking and formatting every answer of a million takes about as long
as the grouping; only one cell of each line, its pain points, needs the
grouping's result. So with ``flask analyze --workers N`` a forked child
(:func:`survey.insights.workers.in_child`) reads the answers as soon as their
labels are stored and writes their lines, cut around that cell
(:func:`survey.insights.report.response_line_blocks`), into an unnamed
temporary file in compressed blocks; once the pain points are known this
process fills the cells in as it copies the lines into the report
(:func:`survey.insights.report.write_response_lines`). The file is the same
byte for byte as when written in one go (``tests/test_analyze_batches.py``).

The child only reads; the report files still appear whole or not at all
(:func:`survey.insights.report.write_report`); the unnamed file vanishes with
its last holder, even if the run is killed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import pickle
import tempfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO

from flask import Flask, current_app

from survey.db import db
from survey.insights import queries
from survey.insights.findings import SurveyPainPoint
from survey.insights.phases import PhaseLog
from survey.insights.report import response_line_blocks, write_response_lines

#: ``finish(pain points)``: a function writing responses.csv's lines to an open text file.
Finish = Callable[[list[SurveyPainPoint]], Callable[[IO[str]], int]]


@contextlib.contextmanager
def response_lines(survey_ids: list[int], since: dt.datetime | None, version: str, *, aside: bool,
                   phases: list[dict]) -> Iterator[Finish]:
    """Yields ``finish``; with ``aside``, the lines are being made in a child process from the start.

    ``finish(pain_points)`` waits for the child (its phase is appended to ``phases``) and gives
    the function that writes the lines with their pain points. Without ``aside`` that function
    reads and formats the answers itself, then.
    """
    from survey.insights.workers import in_child

    if not aside:
        def here(pain_points):
            rows = queries.response_rows(survey_ids, since, version, pain_points)
            return lambda fh: write_response_lines(fh, response_line_blocks(rows))

        yield here
        return
    db.session.commit()  # the child must find no transaction of this process's open on the connection it copies
    app = current_app._get_current_object()
    with tempfile.TemporaryFile() as spool, \
            in_child(_make_lines, app, survey_ids, since, version, spool) as made:
        def finish(pain_points):
            phases.extend(made())  # ChildFailed with the child's error
            spool.seek(0)
            names = queries.pain_point_names(pain_points)
            return lambda fh: write_response_lines(fh, _blocks(spool), names)

        yield finish


def _make_lines(app: Flask, survey_ids: list[int], since: dt.datetime | None, version: str,
                spool: IO[bytes]) -> list[dict]:
    """In the child: every answer's line, cut around its pain points cell, into ``spool``; its phase."""
    phases = PhaseLog()
    with phases.phase("responses.csv lines (second process)"), app.app_context():
        db.engine.dispose(close=False)  # connections of its own: the parent's stay the parent's
        rows = queries.response_rows(survey_ids, since, version, [])
        for ids, starts, _, ends in response_line_blocks(rows):
            pickle.dump(zlib.compress(pickle.dumps((ids, starts, ends), pickle.HIGHEST_PROTOCOL), 1), spool)
        spool.flush()
    return phases.phases


def _blocks(spool: IO[bytes]) -> Iterator[tuple[list[int], list[str], list[str], list[str]]]:
    while True:
        try:
            ids, starts, ends = pickle.loads(zlib.decompress(pickle.load(spool)))
        except EOFError:
            return
        yield ids, starts, [""] * len(ids), ends
