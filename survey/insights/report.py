"""The analysis report: a JSON-able dict, and the folder it is written to.

The insights service gathers the numbers (``survey.insights.findings``) and
calls :func:`build_report`; :func:`write_report` then writes, into one folder:

* ``report.json`` -- the dict itself (schema below);
* ``report.html`` -- rendered from that dict alone (Jinja2, autoescaped, charts
  inline as SVG, a Content-Security-Policy that allows no script and no
  network request), so it opens offline and can be re-rendered from the JSON;
* ``responses.csv`` -- one line per answer in scope, streamed from an iterable.

Comments are attacker-controlled: everything written is PII-masked
(:func:`analysis.text.mask_pii`), HTML is escaped by the template engine, and
CSV cells that a spreadsheet would run as a formula are neutralised
(:func:`survey.csvsafe.safe_cell`). Files are written aside and moved into
place, so a reader never sees half a report. No Flask here: it needs no app.

``report.json``::

    {"generated_at", "model_version", "scope": {"survey", "since"},
     "totals": {"responses", "comments", "labelled_now"},
     "metrics": {KEY: {"kind", "score", "n", "se", "ci_low", "ci_high", "confidence", "method"}},
     "surveys": [{"key", "name", "kind", "responses", "comments", "period", "impact_basis", "ranked_by",
                  "negative_comments", "pain_point_comments", "other_negative_comments", "coverage",
                  "score_counts": {score: n}, "trend": [{"period_start", "score", "n", ...}]}],
     "sentiment": {label: n}, "theme": {label: n}, "sentiment_by_theme": {theme: {sentiment: n}},
     "pain_points": [{"rank", "survey", "label", "theme", "count", "share", "score_impact",
                      "impact", "response_ids", "quotes", "terms",
                      "source": "discovered" | "codeframe" | "proposal", "proposal": bool,
                      "trend": {"periods": [{"period_start", "count", "n", "share", "ci_low", "ci_high"}],
                                "latest_change": {"from", "to", "difference", "ci_low", "ci_high", "p_value",
                                                  "significant", "direction"} | null, "confidence"}}]}

With a codeframe, ``label`` is the codeframe's name and ``response_ids`` the
comments sorted into it; proposals (``"proposal": true``) follow.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import operator
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from analysis.labels import SENTIMENTS, THEMES
from analysis.text import mask_pii
from survey.csvsafe import SPREADSHEET_BOM, safe_cell
from survey.display import (
    DEFAULT_MIN_ANSWERS, bdi, enough, interval_text, isolated, method_text, score_text, when_text,
)
from survey.insights import charts
from survey.insights.findings import SurveyPainPoint, SurveySummary
from survey.kinds import KINDS
from survey.metrics import MetricResult, metric_for

REPORT_FILES = ("report.html", "report.json", "responses.csv")
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
#: report.html lists at most this many answer ids per pain point: on a million comments a big
#: pain point has tens of thousands, which would make the page megabytes long (responses.csv has all).
MAX_LISTED_IDS = 500

#: Columns of responses.csv, in order. ``sentiment``/``theme`` are the labels in
#: force (an analyst's correction wins); the probabilities are the model's.
RESPONSE_COLUMNS = (
    "response_id", "survey", "external_id", "created_at", "channel", "score", "band",
    "sentiment", "sentiment_proba", "theme", "theme_proba",
    *(f"p_{label}" for label in SENTIMENTS), *(f"p_{label}" for label in THEMES),
    "corrected", "model_version", "pain_points", "comment",
)
_COMMENT_COLUMN = RESPONSE_COLUMNS.index("comment")


# --------------------------------------------------------------------------- #
# The report dict
# --------------------------------------------------------------------------- #
def build_report(
    *,
    surveys: list[SurveySummary],
    sentiment_by_theme: Mapping[str, Mapping[str, int]],
    pain_points: list[SurveyPainPoint],
    model_version: str,
    scope: dict,
    labelled_now: int,
    generated_at: dt.datetime,
) -> dict:
    """Everything the report says, as plain JSON-able data (see the module docstring)."""
    by_theme = {t: {s: int(sentiment_by_theme.get(t, {}).get(s, 0)) for s in SENTIMENTS}
                for t in [*THEMES, *sorted(set(sentiment_by_theme) - set(THEMES))]}
    sentiment = {s: sum(row[s] for row in by_theme.values()) for s in SENTIMENTS}
    theme = {t: sum(row.values()) for t, row in by_theme.items()}
    metrics, sections = {}, []
    for survey in surveys:
        metric = metric_for(survey.kind, survey.scores)
        metrics[survey.key] = _metric_dict(metric)
        sections.append({
            "key": survey.key, "name": survey.name, "kind": survey.kind,
            "responses": survey.responses, "comments": survey.comments,
            "period": survey.period,
            "impact_basis": "score" if metric.n else "size_negativity",
            "ranked_by": survey.ranked_by,
            "negative_comments": survey.negative_comments, "pain_point_comments": survey.pain_point_comments,
            "other_negative_comments": survey.negative_comments - survey.pain_point_comments,
            "coverage": round(survey.coverage, 4),
            "codeframe": survey.codeframe, "dismissed_proposals": survey.dismissed_proposals,
            "score_counts": {str(score): n for score, n in sorted(survey.score_counts.items())},
            "trend": [{"period_start": start.isoformat(), **_metric_dict(result)} for start, result in survey.trend],
        })
    cross_survey = len(surveys) > 1
    points = [pain_point_entry(found, rank, cross_survey) for rank, found in enumerate(pain_points, start=1)]
    return {
        "generated_at": generated_at.replace(microsecond=0).isoformat(),
        "model_version": model_version,
        "scope": dict(scope),
        "totals": {
            "responses": sum(s.responses for s in surveys),
            "comments": sum(s.comments for s in surveys),
            "labelled_now": labelled_now,
        },
        "metrics": metrics,
        "surveys": sections,
        "sentiment": sentiment,
        "theme": theme,
        "sentiment_by_theme": by_theme,
        "pain_points": points,
    }


def pain_point_entry(found: SurveyPainPoint, rank: int, cross_survey: bool) -> dict:
    """One ``pain_points`` entry: the pain point as it serialises itself, with its survey.

    Across several surveys ``rank`` is the place in the whole list and
    ``survey_rank`` the place within its own survey.
    """
    entry = {"survey": found.survey_key, **found.point.as_dict(), "source": found.source,
             "proposal": found.is_proposal, "trend": found.trend}
    entry["quotes"] = [mask_pii(q) for q in entry["quotes"]]
    if cross_survey:
        entry["survey_rank"], entry["rank"] = entry["rank"], rank
    return entry


def _metric_dict(result: MetricResult) -> dict:
    return {key: (round(value, 4) if isinstance(value, float) else value) for key, value in result.as_dict().items()}


def _metric_from_dict(data: Mapping) -> MetricResult:
    names = {f.name for f in dataclasses.fields(MetricResult)}
    return MetricResult(**{name: data.get(name) for name in names})


# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #
def render_html(report: Mapping) -> str:
    """report.html from the report dict: autoescaped, charts inline, no scripts.

    Each chart is inlined once, in its narrow drawing: a report is a file people mail and open
    anywhere, and that drawing reads both on a phone and, held to 28rem, on a desktop (see the
    template's CSS). The dashboard's pages carry both sizes (charts.both_sizes) instead.
    """
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup

    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["number"] = _number
    # Scores and intervals are written by the dashboard's one rule (survey.display).
    env.filters["score_text"] = score_text
    env.filters["interval_text"] = interval_text
    env.filters["method_text"] = method_text
    env.filters["bdi"] = bdi  # what people typed, isolated as on every page
    env.filters["isolated"] = isolated  # the same where no markup can be (the <title>)
    # report.json keeps ISO 8601 for scripts; the page writes a moment as every page does.
    env.filters["when_text"] = lambda iso: when_text(dt.datetime.fromisoformat(iso))
    env.globals["enough_answers"] = enough
    env.globals["min_answers"] = DEFAULT_MIN_ANSWERS
    env.globals["max_listed_ids"] = MAX_LISTED_IDS
    env.filters["percent"] = lambda value, digits=1: "–" if value is None else f"{value * 100:.{digits}f}%"
    sections = []
    for survey in report["surveys"]:
        scores = [int(score) for score, n in survey["score_counts"].items() for _ in range(n)]
        periods = [(dt.date.fromisoformat(p["period_start"]), _metric_from_dict(p)) for p in survey["trend"]]
        sections.append({
            **survey,
            "metric": report["metrics"][survey["key"]],
            # The SVG comes from survey.insights.charts, which escapes every text it draws.
            "distribution_svg": Markup(charts.score_distribution_svg(survey["kind"], scores, narrow=True)),
            "trend_svg": Markup(charts.metric_trend_svg(survey["kind"], periods, narrow=True)),
        })
    names = {s["key"]: s["name"] for s in report["surveys"]}
    chart_points = report["pain_points"]
    if len(names) > 1:  # the same complaint may come up in two surveys: say which bar is which
        chart_points = [{**p, "label": f"{p['label']} ({names[p['survey']]})"} for p in chart_points]
    return env.get_template("report.html").render(
        report=report,
        sections=sections,
        survey_names=names,
        sentiment_svg=Markup(charts.sentiment_by_theme_svg(report["sentiment_by_theme"], narrow=True)),
        pain_points_svg=Markup(charts.pain_points_svg(chart_points, narrow=True)),
        metric_names={code: kind.metric_name for code, kind in KINDS.items()},
    )


def _number(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def write_report(out_dir: Path, report: Mapping,
                 response_rows: Iterable[Mapping] | Callable[[IO[str]], int]) -> Path:
    """Write the three report files into ``out_dir`` (created if needed); return it.

    ``response_rows`` are responses.csv's rows, or a function that writes its lines to an open
    file (``survey.insights.response_lines``).

    All three are written to temporary names first and renamed into place only
    when every one is complete, so an existing report is never left half-replaced.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary: dict[str, Path] = {}
    try:
        for name in REPORT_FILES:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
            os.close(fd)
            temporary[name] = Path(tmp)
        if callable(response_rows):
            with open(temporary["responses.csv"], "w", encoding="utf-8", newline="") as fh:
                response_rows(fh)
        else:
            write_responses_csv(temporary["responses.csv"], response_rows)
        temporary["report.json"].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        temporary["report.html"].write_text(render_html(report), encoding="utf-8")
        for name, tmp in temporary.items():
            os.chmod(tmp, 0o644)
            os.replace(tmp, out_dir / name)
    finally:
        for tmp in temporary.values():
            tmp.unlink(missing_ok=True)
    return out_dir


def write_responses_csv(path: Path, rows: Iterable[Mapping]) -> int:
    """Stream ``rows`` (dicts keyed by :data:`RESPONSE_COLUMNS`) into a CSV; return the count.

    The comment is PII-masked and every text cell is made formula-safe.
    """
    with open(path, "w", encoding="utf-8", newline="") as fh:
        return write_response_lines(fh, response_line_blocks(rows))


#: Lines of responses.csv per block of :func:`response_line_blocks`.
LINE_BLOCK = 5000
_PAIN_POINTS_COLUMN = RESPONSE_COLUMNS.index("pain_points")
assert _COMMENT_COLUMN == _PAIN_POINTS_COLUMN + 1 == len(RESPONSE_COLUMNS) - 1  # the split below relies on it


class _Lines:
    """Where a ``csv.writer`` puts each line it makes, as one string (``csv.writer`` needs ``write``)."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.write = self.made.append


def response_line_blocks(rows: Iterable[Mapping], size: int = LINE_BLOCK) \
        -> Iterator[tuple[list[int], list[str], list[str], list[str]]]:
    """responses.csv lines of ``rows`` in blocks of ``size``, each line cut around its pain_points cell:
    ``(response ids, line starts, pain_points cells, line ends)``.

    A line is ``start + cell + end``: the cell can be filled in once the pain points are known
    (:func:`write_response_lines`), after the slow part, reading and formatting a million answers,
    ran in another process (``survey.insights.service``). ``csv.writer`` quotes each cell on its
    own, so the pieces joined are the line it would write for the whole row.
    """
    lines = _Lines()
    writer = csv.writer(lines)
    made = lines.made
    ids: list[int] = []
    starts: list[str] = []
    cells: list[str] = []
    ends: list[str] = []
    for row in rows:
        try:
            values = _VALUES_OF(row)  # a row with every column: one C call
        except KeyError:
            values = [row.get(column) for column in RESPONSE_COLUMNS]
        # _csv_cell with its commonest cases (numbers, None) inline: a million rows have 21 cells each
        first = [v if (kind := type(v)) is int else round(v, 4) if kind is float else "" if v is None
                 else _csv_cell(v) for v in values[:_PAIN_POINTS_COLUMN]]
        writer.writerow(first)
        starts.append(made.pop()[:-2] + ",")  # without its "\r\n"
        cells.append(_one_cell(writer, made, _csv_cell(values[_PAIN_POINTS_COLUMN])))
        comment = values[_COMMENT_COLUMN]
        ends.append("," + (_one_cell(writer, made, safe_cell(mask_pii(comment))) if comment else "") + "\r\n")
        ids.append(values[0])
        if len(ids) >= size:
            yield ids, starts, cells, ends
            ids, starts, cells, ends = [], [], [], []
    if ids:
        yield ids, starts, cells, ends


def _one_cell(writer, made: list[str], cell) -> str:
    """``cell`` as ``writer`` writes it in a line of several cells (alone, an empty one would be ``""``)."""
    if cell == "":
        return ""
    writer.writerow((cell,))
    return made.pop()[:-2]


def write_response_lines(fh: IO[str], blocks: Iterable[tuple[list[int], list[str], list[str], list[str]]],
                         pain_points: Mapping[int, list[str]] | None = None) -> int:
    """Write the header and the lines of :func:`response_line_blocks` to ``fh``; return the count.

    With ``pain_points`` (answer id -> names), those fill the pain_points cells instead of what the rows said.
    """
    lines = _Lines()
    writer = csv.writer(lines)
    writer.writerow(RESPONSE_COLUMNS)
    fh.write(SPREADSHEET_BOM + lines.made.pop())
    count = 0
    for ids, starts, cells, ends in blocks:
        if pain_points is not None:
            cells = [_one_cell(writer, lines.made, _csv_cell(names)) if (names := pain_points.get(i)) else ""
                     for i in ids]
        fh.write("".join([start + cell + end for start, cell, end in zip(starts, cells, ends)]))
        count += len(ids)
    return count


_VALUES_OF = operator.itemgetter(*RESPONSE_COLUMNS)


def _csv_cell(value):
    """A value as a formula-safe cell: floats to four decimals, lists joined with "; "."""
    kind = type(value)
    if kind is float:
        return round(value, 4)
    if kind is int or value is None:
        return "" if value is None else value
    if kind in (list, tuple, set):
        return safe_cell("; ".join(str(v) for v in value))
    return safe_cell(value)


def remove_partial(out_dir: Path) -> None:
    """Delete a report folder that was being created when something failed."""
    shutil.rmtree(out_dir, ignore_errors=True)
