"""``flask analyze``: parse the options, call the insights service, print what it did.

* ``flask analyze [--survey KEY] [--since DATE] [--out DIR] [--model VERSION]``
  labels every comment the current model has not labelled yet, recomputes the
  pain points from the stored clause labels of *all* comments in scope, writes
  the report folder and records the run for the dashboard
  (:func:`survey.insights.service.run_analysis`).
* ``flask analyze classify`` / ``evaluate`` / ``train``: label a CSV file,
  score the model against a labelled CSV, train a new model version.

No SQL and no orchestration here: the service does the work and raises
``AnalysisError`` with a message, which becomes a click error.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup, with_appcontext

from analysis.labels import LABELS, TASKS
from survey.cli import find_survey, written_aside
from survey.insights import jobs, service
from survey.importer import (HEAD_BYTES, ImportError_, first_line_not_utf8, not_utf8, refuse_twice,
                             refuse_unless_text, sniff_delimiter, unreadable_csv)
from survey.insights.service import BATCH_SIZE, AnalysisError, NothingToAnalyse
from survey.kinds import KINDS

#: Show a progress bar when at least this many comments are to be labelled.
PROGRESS_FROM = 2000


# --------------------------------------------------------------------------- #
# flask analyze
# --------------------------------------------------------------------------- #
@click.group("analyze", cls=AppGroup, invoke_without_command=True)
@click.option("--survey", "key", metavar="KEY", help="Public key of one survey (default: every survey).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Only answers given on or after this day (YYYY-MM-DD, UTC).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the report (default: <instance>/reports/<survey or all>-<time>/).")
@click.option("--model", "model_version", metavar="VERSION",
              help="Use this model version instead of the newest (see `flask analyze train`).")
@click.option("--batch-size", default=BATCH_SIZE, show_default=True, type=click.IntRange(1, 100_000),
              help="Comments labelled and stored per transaction.")
@click.option("--workers", default=0, show_default=True, type=click.IntRange(0, 16),
              help="Child processes that run the model while this one stores labels (1 suits a 2-core machine); "
                   "with any, a second process also writes responses.csv while the pain points are found.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary as JSON (the report's figures, its folder, time and memory per phase).")
@click.pass_context
@with_appcontext
def analyze_cli(ctx: click.Context, key: str | None, since: dt.datetime | None, out_dir: Path | None,
                model_version: str | None, batch_size: int, workers: int, as_json: bool) -> None:
    """Label new comments, find pain points and write a report.

    Incremental: comments already labelled by this model version are not
    labelled again, so a second run only rebuilds the report. With no
    comment in scope it says so and exits 0 (a new site is not a fault).
    The subcommands label a CSV file, score the model and train a new one.
    """
    if ctx.invoked_subcommand is not None:
        given = [name for name, value in (("--survey", key), ("--since", since), ("--out", out_dir),
                                          ("--model", model_version), ("--json", as_json or None))
                 if value is not None]
        if given:
            raise click.UsageError(f"{', '.join(given)} belong(s) to `flask analyze` itself, "
                                   f"not to `flask analyze {ctx.invoked_subcommand}`")
        return
    survey = find_survey(key) if key else None
    try:
        outcome = jobs.run_held(survey, lambda progress: service.run_analysis(
            survey, since, out_dir, model_version, batch_size, progress=progress, workers=workers), also=_progress)
    except jobs.AnalysisBusy as busy:
        raise click.ClickException(f"{busy} (from the dashboard or another `flask analyze`); only one runs at a "
                                   f"time: run this again when it has finished ({jobs.stale_rule_text()})") from None
    except NothingToAnalyse as exc:
        # A site or survey with no comments yet is not a fault: the nightly timer must not fail on it.
        message = f"{exc}; no report written"
        click.echo(json.dumps({"nothing_to_analyse": True, "message": message}) if as_json else message)
        return
    except AnalysisError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({**_summary_json(outcome.report, outcome.out_dir), "phases": outcome.phases},
                              indent=2, default=str))
        return
    _print_summary(outcome.report, outcome.out_dir)


def _summary_json(report: dict, out_dir: Path) -> dict:
    """What the text summary says, as data: figures per survey, labels, every pain point, where the report is."""
    keys = ("model_version", "totals", "surveys", "metrics", "sentiment", "theme", "pain_points")
    return {**{key: report[key] for key in keys if key in report},
            "out_dir": str(out_dir), "report_html": str(Path(out_dir) / "report.html")}


def _progress(total: int, label: str):
    """click's progress bar on stderr for long runs; nothing for short ones."""
    if total < PROGRESS_FROM:
        return service.no_progress(total, label)
    return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True)


def _print_summary(report: dict, out_dir: Path) -> None:
    totals = report["totals"]
    click.echo(f"Model {report['model_version']}: labelled {totals['labelled_now']:,} new comment(s); "
               f"{totals['comments']:,} comment(s) in {totals['responses']:,} answer(s) in scope.")
    for survey in report["surveys"]:
        metric = report["metrics"][survey["key"]]
        score = "no scores" if metric["score"] is None else f"{metric['score']:.1f}"
        interval = (f" (95% CI {metric['ci_low']:.1f} to {metric['ci_high']:.1f})"
                    if metric["ci_low"] is not None else "")
        click.echo(f"{survey['kind'].upper():4} {survey['name']} [{survey['key']}]: {score}{interval}, n={metric['n']:,}")
        if survey["negative_comments"]:
            click.echo(f"     pain points hold {survey['pain_point_comments']:,} of {survey['negative_comments']:,} "
                       f"negative comments ({survey['coverage'] * 100:.0f}%; "
                       f"{survey['other_negative_comments']:,} other), ranked by {survey['ranked_by']}")
    click.echo("Sentiment: " + ", ".join(f"{n:,} {label}" for label, n in report["sentiment"].items()))
    click.echo("Themes:    " + ", ".join(f"{n:,} {label}" for label, n in report["theme"].items()))
    points = report["pain_points"]
    if points:
        click.echo(f"Top pain points (of {len(points)}):")
        for point in points[:5]:
            gap = "" if point["score_impact"] is None else f", score {point['score_impact']:+.2f}"
            click.echo(f"  {point['rank']}. {point['label']} ({point['theme']}): {point['count']:,} answer(s), "
                       f"{point['share'] * 100:.1f}% of comments{gap}")
    else:
        click.echo("No pain points: too few negative remarks to group.")
    click.echo(f"Report: {Path(out_dir) / 'report.html'}")


# --------------------------------------------------------------------------- #
# flask analyze classify / evaluate / train
# --------------------------------------------------------------------------- #
@analyze_cli.command("classify")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--in", "in_path", hidden=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Old spelling of FILE.")
@click.option("--text-col", required=True, help="Column holding the text to label.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file to write: the input plus sentiment, sentiment_proba, theme, theme_proba "
                   "(model_sentiment, … when the input already has such columns).")
@click.option("--prefix", default=None, metavar="TEXT",
              help="Prefix for the four label columns (default: none, or 'model_' when a name is taken).")
@click.option("--model", "model_version", metavar="VERSION", help="Model version (default: the newest).")
@click.option("--batch-size", default=BATCH_SIZE, show_default=True, type=click.IntRange(1, 100_000))
def classify_command(file: Path | None, in_path: Path | None, text_col: str, out_path: Path, prefix: str | None,
                     model_version: str | None, batch_size: int) -> None:
    """Label every row of the CSV FILE (UTF-8, header row; comma, semicolon or tab), streaming.

    Memory does not grow with the file; the output keeps the input's separator.

    Your columns are never overwritten: a file that already has `sentiment` or
    `theme` gets the model's labels as `model_sentiment`, `model_theme`, ….
    """
    from analysis.classify import ColumnNotFound, UnreadableCsv, classify_csv

    in_path = _input_file(file, in_path)
    if out_path.resolve() == in_path.resolve():
        raise click.UsageError("--out must be a different file from FILE (it would be overwritten while read)")
    if not out_path.parent.is_dir():
        raise click.UsageError(f"--out: folder {out_path.parent} does not exist")
    header, delimiter = _header(in_path)
    if header:
        _check_columns(in_path, header, [text_col])
    labeller = _labeller(model_version)
    try:
        with written_aside(out_path) as tmp:
            rows = classify_csv(in_path, tmp, text_col, labeller, batch_size=batch_size, prefix=prefix,
                                delimiter=delimiter)
    except ColumnNotFound as exc:
        raise click.ClickException(str(exc)) from None
    except UnicodeDecodeError:
        raise _not_utf8(in_path) from None
    except UnreadableCsv as exc:
        raise click.ClickException(f"{in_path}: line {exc.line}: {unreadable_csv(exc.reason, exc.read_to)}; "
                                   f"{out_path} was not written") from None
    except ValueError as exc:
        raise click.ClickException(f"{in_path}: {exc}") from None
    click.echo(f"labelled {rows:,} row(s) with model {labeller.version}: {out_path}")


@analyze_cli.command("evaluate")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--in", "in_path", hidden=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Old spelling of FILE.")
@click.option("--text-col", required=True, help="Column holding the text.")
@click.option("--label-col", required=True, help="Column holding the right label (rows left blank are skipped).")
@click.option("--task", required=True, type=click.Choice(TASKS), help="Which labels to score.")
@click.option("--score-col", help="Column with each answer's score: sentiment then also uses the score band, "
                                  "as `flask analyze` does (blank scores: text only). Needs --kind.")
@click.option("--kind", type=click.Choice(sorted(KINDS)), help="Survey kind of --score-col (its scale and bands).")
@click.option("--model", "model_version", metavar="VERSION", help="Model version (default: the newest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON here.")
def evaluate_command(file: Path | None, in_path: Path | None, text_col: str, label_col: str, task: str,
                     score_col: str | None, kind: str | None, model_version: str | None, as_json: bool,
                     out_path: Path | None) -> None:
    """Accuracy, macro-F1, per-class precision/recall and the confusion matrix against the labelled CSV FILE."""
    from analysis.evaluate import evaluate, format_report

    in_path = _input_file(file, in_path)
    if bool(score_col) != bool(kind):
        raise click.UsageError("--score-col and --kind go together (the kind says how to read the score)")
    if score_col and task != "sentiment":
        raise click.UsageError("--score-col only changes sentiment; use it with --task sentiment")
    if out_path and not out_path.parent.is_dir():
        raise click.UsageError(f"--out: folder {out_path.parent} does not exist")
    texts, gold, bands, skipped = [], [], [], 0
    problems = []
    for line, row in _read_csv(in_path, [text_col, label_col] + ([score_col] if score_col else [])):
        label = (row[label_col] or "").strip().lower()
        if not label:
            skipped += 1
            continue
        if label not in LABELS[task]:
            problems.append(f"line {line}: {task} {row[label_col]!r} is not one of {', '.join(LABELS[task])}")
            continue
        if score_col:
            band, problem = _score_band(row[score_col], kind)
            if problem:
                problems.append(f"line {line}: {score_col} {problem}")
                continue
            bands.append(band)
        texts.append(row[text_col] or "")
        gold.append(label)
    _fail_on(problems, in_path, what="bad value(s)" if score_col else "bad label(s)")
    if not texts:
        raise click.ClickException(f"{in_path}: no rows with a {label_col!r} label to evaluate against")
    labeller = _labeller(model_version)
    result = evaluate(texts, gold, task, labeller, bands=bands if score_col else None)
    result["skipped_unlabelled_rows"] = skipped
    text = json.dumps(result, indent=2)
    if out_path:
        with written_aside(out_path) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
    if as_json:
        click.echo(text)
    else:
        click.echo(f"model {labeller.version} on {in_path.name}" + (f" ({skipped} unlabelled row(s) skipped)"
                                                                      if skipped else ""))
        click.echo(format_report(result))


def _input_file(file: Path | None, old_option: Path | None) -> Path:
    """FILE as an argument, like every other command's input; ``--in FILE`` still works."""
    if file and old_option:
        raise click.UsageError("give the input file once: as FILE (--in is its old spelling)")
    if not (file or old_option):
        raise click.UsageError("missing the input CSV FILE")
    return file or old_option


def _score_band(raw: str | None, kind: str) -> tuple[str | None, str | None]:
    """``(band, None)`` for a score of ``kind`` (``(None, None)`` when blank), or ``(None, problem)``."""
    spec = KINDS[kind]
    raw = (raw or "").strip()
    if not raw:
        return None, None
    try:
        score = float(raw)
    except ValueError:
        return None, f"{raw!r} is not a number"
    if not score.is_integer() or not spec.low <= score <= spec.high:
        return None, f"{raw!r} is not a whole number from {spec.low} to {spec.high} ({kind.upper()})"
    return spec.band(int(score)), None


def _refuse_unless_text(path: Path) -> None:
    """The imports' check of a file's kind (a workbook, UTF-16 or UTF-32 text) before it is streamed:
    their NULs would decode as UTF-8 into a header like "t e x t"."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    try:
        refuse_unless_text(head)
    except ImportError_ as exc:
        raise click.ClickException(f"{path}: {exc}; nothing was done") from None


def _header(path: Path) -> tuple[list[str], str]:
    """A UTF-8 CSV's column names and its separator (sniffed from the header line, as every import does)."""
    _refuse_unless_text(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
    except UnicodeDecodeError:  # decoding reads ahead: a bad byte in the first rows fails here
        raise _not_utf8(path) from None
    delimiter = sniff_delimiter(first)
    try:
        return next(csv.reader([first], delimiter=delimiter, strict=True), []), delimiter
    except csv.Error:  # a header cell's quote left open: _read_csv reports it with its line
        return [], delimiter


def _check_columns(path: Path, header: list[str], columns: list[str]) -> None:
    """A clear error unless each of ``columns`` is in ``header`` exactly once."""
    missing = [c for c in dict.fromkeys(columns) if c not in header]
    if missing:
        raise click.ClickException(
            f"{path}: no column {', '.join(map(repr, missing))}; the columns are: {', '.join(header) or 'none'}")
    try:
        for column in dict.fromkeys(columns):
            refuse_twice(header, column)
    except ImportError_ as exc:
        raise click.ClickException(f"{path}: {exc}; nothing was done") from None


def _read_csv(path: Path, columns: list[str]):
    """``(line number, row dict)`` of a UTF-8 CSV, after checking its header has ``columns``, each once."""
    _, delimiter = _header(path)
    start = 1
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            # strict: an unclosed quote is an error, not the rest of the file read as one cell
            reader = csv.DictReader(fh, delimiter=delimiter, strict=True)
            _check_columns(path, reader.fieldnames or [], columns)
            start = reader.line_num + 1
            for row in reader:
                yield start, row
                start = reader.line_num + 1
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except csv.Error as exc:
        raise click.ClickException(f"{path}: line {start}: {unreadable_csv(str(exc), reader.line_num)}; "
                                   "nothing was done") from None


def _not_utf8(path: Path) -> click.ClickException:
    """The error for a file that is not UTF-8, naming its first line that is not (read again, as bytes)."""
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
        fh.seek(0)
        line = first_line_not_utf8(fh)
    return click.ClickException(f"{path}: {not_utf8(head, line)}; nothing was done")


def _fail_on(problems: list[str], path: Path, what: str = "bad label(s)") -> None:
    if problems:
        shown = "\n".join(f"{path}: {p}" for p in problems[:20])
        more = f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise click.ClickException(f"{len(problems)} {what}; nothing was done:\n{shown}{more}")


@analyze_cli.command("train")
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your own labelled comments: a CSV with a text column and a sentiment and/or theme column.")
@click.option("--text-col", default="text", show_default=True, help="Text column of --labels.")
@click.option("--from-scores", is_flag=True,
              help="Also learn sentiment from this site's comments and their scores "
                   "(negative band → negative, positive band → positive; weak labels).")
@click.option("--survey", "key", metavar="KEY", help="With --from-scores: only this survey's comments.")
@click.option("--no-corrections", is_flag=True, help="Leave out the corrections analysts made in the dashboard.")
@click.option("--corpus", "corpus_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Corpus CSV files or folders (text,sentiment,theme) instead of the shipped corpus.")
@click.option("--seed", default=0, show_default=True, type=int)
def train_command(labels_path: Path | None, text_col: str, from_scores: bool, key: str | None,
                  no_corrections: bool, corpus_paths: tuple[Path, ...], seed: int) -> None:
    """Train a new model version into <instance>/models; `flask analyze` then uses it."""
    if key and not from_scores:
        raise click.UsageError("--survey only applies together with --from-scores")
    own = _read_labelled(labels_path, text_col, LABELS) if labels_path else []
    for path in _corpus_files(corpus_paths):
        _refuse_unless_text(path)
    try:
        data = service.training_data(own, corrections=not no_corrections, from_scores=from_scores,
                                     survey=find_survey(key) if key else None)
        click.echo(f"Training on the {'given' if corpus_paths else 'shipped'} corpus + {len(data.labelled):,} "
                   f"labelled ({data.corrections:,} analyst correction(s)) + {len(data.weak_sentiment):,} weak "
                   f"row(s)…", err=True)
        version, out_dir, metadata = service.train_model(data, list(corpus_paths), seed)
    except AnalysisError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"model {version} saved in {out_dir}")
    for task in TASKS:
        held_out = metadata["metrics"][task]["held_out"]
        click.echo(f"  {task}: held-out accuracy {held_out['accuracy']:.3f}, macro-F1 {held_out['macro_f1']:.3f}")
    click.echo("`flask analyze` now uses it (pin another with --model or ANALYSIS_MODEL_VERSION).")


def _corpus_files(corpus_paths: tuple[Path, ...]) -> list[Path]:
    """The CSV files --corpus names (a folder: its *.csv), as training reads them."""
    from analysis.corpus import CorpusError, resolve_paths

    if not corpus_paths:
        return []  # the shipped corpus
    try:
        return resolve_paths(list(corpus_paths))
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from None


def _read_labelled(path: Path, text_col: str, labels: dict) -> list[tuple[str, str, str]]:
    """``(text, task, label)`` from a CSV with a sentiment and/or theme column; blank cells are skipped."""
    header, _ = _header(path)
    tasks = [task for task in TASKS if task in header]
    if not tasks:
        raise click.ClickException(f"{path}: needs a 'sentiment' or a 'theme' column; "
                                   f"the columns are: {', '.join(header) or 'none'}")
    rows, problems = [], []
    for line, row in _read_csv(path, [text_col, *tasks]):
        text = (row[text_col] or "").strip()
        for task in tasks:
            label = (row[task] or "").strip().lower()
            if not label:
                continue
            if not text:
                problems.append(f"line {line}: a {task} label but no text")
            elif label not in labels[task]:
                problems.append(f"line {line}: {task} {row[task]!r} is not one of {', '.join(labels[task])}")
            else:
                rows.append((text, task, label))
    _fail_on(problems, path)
    if not rows:
        raise click.ClickException(f"{path}: no labelled rows")
    return rows


def _labeller(version: str | None):
    try:
        return service.load_labeller(version)
    except AnalysisError as exc:
        raise click.ClickException(str(exc)) from None
