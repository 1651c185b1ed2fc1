"""``flask analyze``: the Flask glue around the Flask-free ``analysis`` core.

* ``flask analyze [--survey KEY] [--since DATE] [--out DIR] [--model VERSION]``
  labels every comment the current model has not labelled yet, stores the
  labels (``survey.labels``), recomputes the pain points from the stored
  clause labels of *all* comments in scope, writes the report folder and
  records the run (``AnalysisRun``/``PainPoint``) for the dashboard.
* ``flask analyze classify`` / ``evaluate`` / ``train``: label a CSV file,
  score the model against a labelled CSV, train a new model version.

This is the only module of ``analysis`` that touches the database or Flask.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import sys
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from survey import models_all  # noqa: F401  (every table, so flushes can resolve every foreign key)
from survey.db import db
from survey.kinds import KINDS
from survey.labels import ModelLabels, corrections_for_training, record_model_labels, unlabelled_query
from survey.models import (AnalysisRun, LabelCorrection, PainPoint, Response, ResponseLabel, Survey,
                           pain_point_responses, utcnow)

BATCH_SIZE = 2000
#: Show a progress bar when at least this many comments are to be labelled.
PROGRESS_FROM = 2000
TASKS = ("sentiment", "theme")


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
@click.pass_context
@with_appcontext
def analyze_cli(ctx: click.Context, key: str | None, since: dt.datetime | None, out_dir: Path | None,
                model_version: str | None, batch_size: int) -> None:
    """Label new comments, find pain points and write a report.

    Incremental: comments already labelled by this model version are not
    labelled again, so a second run only rebuilds the report. The
    subcommands label a CSV file, score the model and train a new one.
    """
    if ctx.invoked_subcommand is not None:
        given = [name for name, value in (("--survey", key), ("--since", since), ("--out", out_dir),
                                          ("--model", model_version)) if value is not None]
        if given:
            raise click.UsageError(f"{', '.join(given)} belong(s) to `flask analyze` itself, "
                                   f"not to `flask analyze {ctx.invoked_subcommand}`")
        return
    run_analysis(key, since, out_dir, model_version, batch_size)


def run_analysis(key: str | None, since: dt.datetime | None, out_dir: Path | None,
                 model_version: str | None, batch_size: int = BATCH_SIZE) -> AnalysisRun:
    from survey.cli import find_survey

    started = utcnow()
    survey = find_survey(key) if key else None
    surveys = [survey] if survey else _surveys_with_answers(since)
    comments = _count_comments([s.id for s in surveys], since)
    if not comments:
        raise click.ClickException(_nothing_to_analyse(survey, since))
    labeller = load_labeller(model_version)

    labelled = label_new_comments(labeller, survey.id if survey else None, since, batch_size)
    summaries, pain_points, by_theme = gather(surveys, since, labeller.version)

    from analysis.report import build_report, remove_partial, write_report

    scope_label = survey.name if survey else "all surveys"
    report = build_report(
        surveys=summaries, sentiment_by_theme=by_theme, pain_points=pain_points,
        model_version=labeller.version, labelled_now=labelled, generated_at=started,
        scope={"survey": survey.public_key if survey else None,
               "since": since.date().isoformat() if since else None, "label": scope_label},
    )
    created = out_dir is None
    out_dir = out_dir or _default_report_dir(survey, started)
    try:
        write_report(out_dir, report, _response_rows([s.id for s in surveys], since, labeller.version,
                                                     report["pain_points"]))
    except OSError as exc:
        if created:
            remove_partial(out_dir)
        raise click.ClickException(f"could not write the report to {out_dir}: {exc}") from None
    run = record_run(survey, labeller.version, started, out_dir, report)
    _print_summary(report, out_dir)
    return run


def _nothing_to_analyse(survey: Survey | None, since: dt.datetime | None) -> str:
    when = f" since {since.date().isoformat()}" if since else ""
    if survey is None:
        return f"no answers with a comment{when} in any survey: nothing to analyse"
    answers = _count_answers([survey.id], since)
    return (f"survey {survey.public_key} ({survey.name}) has no comments{when} to analyse"
            f" ({answers} answer(s){when}, none with a comment)")


def _scoped(query: sa.Select, survey_ids: list[int], since: dt.datetime | None) -> sa.Select:
    query = query.where(Response.survey_id.in_(survey_ids))
    return query.where(Response.created_at >= since) if since is not None else query


def _count_comments(survey_ids: list[int], since: dt.datetime | None) -> int:
    if not survey_ids:
        return 0
    return db.session.scalar(_scoped(sa.select(sa.func.count(Response.id)).where(Response.comment.is_not(None)),
                                     survey_ids, since))


def _count_answers(survey_ids: list[int], since: dt.datetime | None) -> int:
    return db.session.scalar(_scoped(sa.select(sa.func.count(Response.id)), survey_ids, since))


def _surveys_with_answers(since: dt.datetime | None) -> list[Survey]:
    has_answers = sa.select(Response.id).where(Response.survey_id == Survey.id)
    if since is not None:
        has_answers = has_answers.where(Response.created_at >= since)
    return list(db.session.scalars(sa.select(Survey).where(sa.exists(has_answers)).order_by(Survey.id)))


def model_dirs() -> list[Path]:
    """Where models are looked for: the instance's own first, then the shipped ones."""
    from analysis.model_store import DEFAULT_MODEL_DIR

    return [Path(current_app.instance_path) / "models", DEFAULT_MODEL_DIR]


def load_labeller(version: str | None):
    from analysis.labeller import Labeller
    from analysis.model_store import ModelNotFound, UntrustedModelError

    version = version or current_app.config.get("ANALYSIS_MODEL_VERSION")
    try:
        return Labeller.load(model_dirs(), version)
    except ModelNotFound as exc:
        raise click.ClickException(f"{exc.args[0]} (`flask analyze train` trains one)") from None
    except UntrustedModelError as exc:
        raise click.ClickException(f"refusing to load the model: {exc}") from None


# --------------------------------------------------------------------------- #
# Labelling
# --------------------------------------------------------------------------- #
def label_new_comments(labeller, survey_id: int | None, since: dt.datetime | None, batch_size: int) -> int:
    """Label, in batches, every comment in scope that this model version has not labelled; return how many.

    Keyset pagination on the id keeps memory flat; each batch is one transaction,
    so an interrupted run keeps what it finished and the next run goes on from there.
    """
    pending = unlabelled_query(labeller.version, survey_id, since).with_only_columns(Response.id, Response.comment)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(pending.subquery()))
    done, last_id = 0, 0
    with _progress(total, "Labelling comments") as bar:
        while True:
            rows = db.session.execute(pending.where(Response.id > last_id).limit(batch_size)).all()
            if not rows:
                break
            last_id = rows[-1].id
            labels = labeller.label([row.comment for row in rows])
            done += _store_batch(labeller.version, [_model_labels(row.id, label) for row, label in zip(rows, labels)])
            bar.update(len(rows))
    return done


def _model_labels(response_id: int, label) -> ModelLabels:
    return ModelLabels(
        response_id=response_id,
        sentiment=label.sentiment, sentiment_proba=round(label.sentiment_proba, 4),
        sentiment_probs=_rounded(label.sentiment_probs),
        theme=label.theme, theme_proba=round(label.theme_proba, 4), theme_probs=_rounded(label.theme_probs),
        clauses=[{"text": c.text, "sentiment": c.sentiment, "sentiment_probs": _rounded(c.sentiment_probs),
                  "theme": c.theme, "theme_probs": _rounded(c.theme_probs)} for c in label.clauses],
    )


def _rounded(probs: dict[str, float]) -> dict[str, float]:
    return {label: round(float(p), 4) for label, p in probs.items()}


def _store_batch(version: str, items: list[ModelLabels]) -> int:
    """Store a batch; if another run stored some of it meanwhile (or answers were deleted), store the rest."""
    try:
        return record_model_labels(version, items)
    except sa.exc.IntegrityError:
        db.session.rollback()
        ids = [item.response_id for item in items]
        still_pending = set(db.session.scalars(
            sa.select(Response.id).where(
                Response.id.in_(ids),
                ~sa.exists().where(ResponseLabel.response_id == Response.id, ResponseLabel.model_version == version),
            )
        ))
        return record_model_labels(version, [item for item in items if item.response_id in still_pending])


@contextlib.contextmanager
def _progress(total: int, label: str) -> Iterator:
    """click's progress bar on stderr for long runs; a no-op object otherwise."""
    if total < PROGRESS_FROM:
        yield _NoBar()
        return
    with click.progressbar(length=total, label=label, file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        yield bar


class _NoBar:
    def update(self, _n: int) -> None:
        pass


# --------------------------------------------------------------------------- #
# Numbers for the report
# --------------------------------------------------------------------------- #
def gather(surveys: list[Survey], since: dt.datetime | None, version: str):
    """Per-survey summaries, ranked pain points (as dicts) and the sentiment × theme counts.

    The numbers come from the same queries as the dashboard (``survey.results``),
    so the report and the results page agree.
    """
    from analysis.painpoints import ScoreTotals, find_pain_points
    from analysis.report import SurveySummary
    from survey.results import queries
    from survey.results.filters import ResponseFilter

    summaries, points = [], []
    by_theme: dict[str, Counter] = defaultdict(Counter)
    for survey in surveys:
        flt = ResponseFilter(survey=survey, start=since.date() if since else None)
        score_counts = queries.score_counts(flt)
        period, trend = queries.trend(flt)
        for theme, counts in queries.sentiment_by_theme(flt).items():
            by_theme[theme].update(counts)
        comments = _count_comments([survey.id], since)
        summaries.append(SurveySummary(
            key=survey.public_key, name=survey.name, kind=survey.kind, responses=queries.answer_count(flt),
            comments=comments, score_counts=score_counts, trend=trend, period=period,
        ))
        spec = KINDS[survey.kind]
        totals = ScoreTotals(n=sum(score_counts.values()), total=float(sum(s * n for s, n in score_counts.items())),
                             low=spec.low, high=spec.high)
        for point in find_pain_points(list(_negative_clauses([survey.id], since, version)), comments, totals):
            points.append({"survey": survey.public_key, **point.as_dict()})
    if len(surveys) > 1:  # one list for the report, ranked across surveys
        points.sort(key=lambda p: (-p["impact"], -p["count"], p["label"], p["survey"]))
        for rank, point in enumerate(points, start=1):
            point["survey_rank"], point["rank"] = point["rank"], rank
    return summaries, points, {theme: dict(counts) for theme, counts in by_theme.items()}


def _negative_clauses(survey_ids: list[int], since: dt.datetime | None, version: str):
    """Negative clauses from the stored labels of ``version``.

    A one-clause comment follows the labels in force, so an analyst's correction
    of its sentiment or theme also moves it in or out of the pain points.
    """
    from analysis.painpoints import NegativeClause

    rows = db.session.execute(
        _scoped(sa.select(ResponseLabel.response_id, ResponseLabel.clauses, Response.score,
                          Response.sentiment, Response.theme)
                .join(Response, Response.id == ResponseLabel.response_id)
                .where(ResponseLabel.model_version == version), survey_ids, since)
        .order_by(ResponseLabel.response_id)
        .execution_options(yield_per=BATCH_SIZE)
    )
    for response_id, clauses, score, sentiment, theme in rows:
        if len(clauses) == 1:
            clauses = [{**clauses[0], "sentiment": sentiment or clauses[0]["sentiment"],
                        "theme": theme or clauses[0]["theme"]}]
        for clause in clauses:
            if clause["sentiment"] == "negative":
                yield NegativeClause(response_id, clause["text"], clause["theme"], score)


def _response_rows(survey_ids: list[int], since: dt.datetime | None, version: str, pain_points: list[dict]):
    """responses.csv lines, streamed: every answer in scope with its labels and probabilities."""
    in_points: dict[int, list[str]] = defaultdict(list)
    for point in pain_points:
        for response_id in point["response_ids"]:
            in_points[response_id].append(point["label"])
    corrected: dict[int, set[str]] = defaultdict(set)
    for response_id, field in db.session.execute(
        _scoped(sa.select(LabelCorrection.response_id, LabelCorrection.field)
                .join(Response, Response.id == LabelCorrection.response_id), survey_ids, since).distinct()
    ):
        corrected[response_id].add(field)
    keys = dict(db.session.execute(sa.select(Survey.id, Survey.public_key).where(Survey.id.in_(survey_ids))).all())
    kinds = dict(db.session.execute(sa.select(Survey.id, Survey.kind).where(Survey.id.in_(survey_ids))).all())
    rows = db.session.execute(
        _scoped(sa.select(Response.id, Response.survey_id, Response.external_id, Response.created_at,
                          Response.channel, Response.score, Response.sentiment, Response.theme, Response.comment,
                          ResponseLabel.sentiment_proba, ResponseLabel.theme_proba, ResponseLabel.sentiment_probs,
                          ResponseLabel.theme_probs, ResponseLabel.model_version)
                .outerjoin(ResponseLabel, (ResponseLabel.response_id == Response.id)
                           & (ResponseLabel.model_version == version)), survey_ids, since)
        .order_by(Response.id)
        .execution_options(yield_per=BATCH_SIZE)
    )
    for row in rows:
        probs = {**(row.sentiment_probs or {}), **(row.theme_probs or {})}
        yield {
            "response_id": row.id, "survey": keys[row.survey_id], "external_id": row.external_id,
            "created_at": row.created_at.replace(microsecond=0).isoformat(), "channel": row.channel,
            "score": row.score,
            "band": KINDS[kinds[row.survey_id]].band_name(row.score) if row.score is not None else None,
            "sentiment": row.sentiment, "sentiment_proba": row.sentiment_proba,
            "theme": row.theme, "theme_proba": row.theme_proba,
            **{f"p_{label}": p for label, p in probs.items()},
            "corrected": sorted(corrected.get(row.id, ())), "model_version": row.model_version,
            "pain_points": in_points.get(row.id, []), "comment": row.comment,
        }


# --------------------------------------------------------------------------- #
# Storing the run
# --------------------------------------------------------------------------- #
def record_run(survey: Survey | None, version: str, started: dt.datetime, out_dir: Path, report: dict) -> AnalysisRun:
    """The run, its pain points and their answers, in one transaction; older runs beyond the limit go."""
    ids = dict(db.session.execute(sa.select(Survey.public_key, Survey.id)).all())
    run = AnalysisRun(
        survey_id=survey.id if survey else None, model_version=version, started_at=started,
        finished_at=utcnow(), report_dir=str(Path(out_dir).resolve()),
        # survey_ids: every survey this run covered, also those it found no pain point in.
        summary={"scope": report["scope"], "survey_ids": [ids[s["key"]] for s in report["surveys"]],
                 "totals": report["totals"], "metrics": report["metrics"],
                 "sentiment": report["sentiment"], "theme": report["theme"],
                 "pain_points": len(report["pain_points"])},
    )
    db.session.add(run)
    db.session.flush()
    links = []
    for point in report["pain_points"]:
        row = PainPoint(
            run_id=run.id, survey_id=ids[point["survey"]], rank=point.get("survey_rank", point["rank"]),
            label=point["label"][:200], theme=point["theme"], count=point["count"], share=point["share"],
            score_impact=point["score_impact"], impact=point["impact"], quotes=point["quotes"],
        )
        db.session.add(row)
        db.session.flush()
        links.extend({"pain_point_id": row.id, "response_id": rid} for rid in point["response_ids"])
    for start in range(0, len(links), 5000):
        db.session.execute(sa.insert(pain_point_responses), links[start:start + 5000])
    _prune_runs(run.survey_id, keep=current_app.config["ANALYSIS_KEEP_RUNS"])
    db.session.commit()
    return run


def _prune_runs(survey_id: int | None, keep: int) -> None:
    """Delete the pain points and records of all but the newest ``keep`` runs of this scope."""
    same_scope = AnalysisRun.survey_id.is_(None) if survey_id is None else AnalysisRun.survey_id == survey_id
    old = list(db.session.scalars(
        sa.select(AnalysisRun.id).where(same_scope).order_by(AnalysisRun.finished_at.desc(), AnalysisRun.id.desc())
        .offset(keep)
    ))
    if not old:
        return
    points = sa.select(PainPoint.id).where(PainPoint.run_id.in_(old))
    db.session.execute(sa.delete(pain_point_responses).where(pain_point_responses.c.pain_point_id.in_(points)))
    db.session.execute(sa.delete(PainPoint).where(PainPoint.run_id.in_(old)))
    db.session.execute(sa.delete(AnalysisRun).where(AnalysisRun.id.in_(old)))


def _default_report_dir(survey: Survey | None, started: dt.datetime) -> Path:
    base = Path(current_app.instance_path) / "reports"
    name = f"{survey.public_key if survey else 'all'}-{started.strftime('%Y%m%d-%H%M%S')}"
    path, n = base / name, 1
    while path.exists():
        n += 1
        path = base / f"{name}-{n}"
    return path


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
@click.option("--in", "in_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV file (UTF-8) with a header row.")
@click.option("--text-col", required=True, help="Column holding the text to label.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file to write: the input plus sentiment, sentiment_proba, theme, theme_proba "
                   "(model_sentiment, … when the input already has such columns).")
@click.option("--prefix", default=None, metavar="TEXT",
              help="Prefix for the four label columns (default: none, or 'model_' when a name is taken).")
@click.option("--model", "model_version", metavar="VERSION", help="Model version (default: the newest).")
@click.option("--batch-size", default=BATCH_SIZE, show_default=True, type=click.IntRange(1, 100_000))
def classify_command(in_path: Path, text_col: str, out_path: Path, prefix: str | None, model_version: str | None,
                     batch_size: int) -> None:
    """Label every row of any CSV file, streaming (memory does not grow with the file).

    Your columns are never overwritten: a file that already has `sentiment` or
    `theme` gets the model's labels as `model_sentiment`, `model_theme`, ….
    """
    from analysis.classify import ColumnNotFound, classify_csv

    if out_path.resolve() == in_path.resolve():
        raise click.UsageError("--out must be a different file from --in (it would be overwritten while read)")
    if not out_path.parent.is_dir():
        raise click.UsageError(f"--out: folder {out_path.parent} does not exist")
    labeller = load_labeller(model_version)
    try:
        with _written_aside(out_path) as tmp:
            rows = classify_csv(in_path, tmp, text_col, labeller, batch_size=batch_size, prefix=prefix)
    except ColumnNotFound as exc:
        raise click.ClickException(str(exc)) from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{in_path} is not UTF-8 text; save it as CSV UTF-8 and try again") from None
    except (ValueError, csv.Error) as exc:
        raise click.ClickException(f"{in_path}: {exc}") from None
    click.echo(f"labelled {rows:,} row(s) with model {labeller.version}: {out_path}")


@contextlib.contextmanager
def _written_aside(target: Path) -> Iterator[Path]:
    """A temporary file next to ``target``, renamed onto it only if the block succeeds."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@analyze_cli.command("evaluate")
@click.option("--in", "in_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV file (UTF-8) with the text and the right answers.")
@click.option("--text-col", required=True, help="Column holding the text.")
@click.option("--label-col", required=True, help="Column holding the right label (rows left blank are skipped).")
@click.option("--task", required=True, type=click.Choice(TASKS), help="Which labels to score.")
@click.option("--score-col", help="Column with each answer's score: sentiment then also uses the score band, "
                                  "as `flask analyze` does (blank scores: text only). Needs --kind.")
@click.option("--kind", type=click.Choice(sorted(KINDS)), help="Survey kind of --score-col (its scale and bands).")
@click.option("--model", "model_version", metavar="VERSION", help="Model version (default: the newest).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON here.")
def evaluate_command(in_path: Path, text_col: str, label_col: str, task: str, score_col: str | None,
                     kind: str | None, model_version: str | None, as_json: bool, out_path: Path | None) -> None:
    """Accuracy, macro-F1, per-class precision/recall and the confusion matrix against labelled data."""
    from analysis.evaluate import evaluate, format_report
    from analysis.pipelines import LABELS

    if bool(score_col) != bool(kind):
        raise click.UsageError("--score-col and --kind go together (the kind says how to read the score)")
    if score_col and task != "sentiment":
        raise click.UsageError("--score-col only changes sentiment; use it with --task sentiment")
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
    labeller = load_labeller(model_version)
    result = evaluate(texts, gold, task, labeller, bands=bands if score_col else None)
    result["skipped_unlabelled_rows"] = skipped
    text = json.dumps(result, indent=2)
    if out_path:
        out_path.write_text(text + "\n", encoding="utf-8")
    if as_json:
        click.echo(text)
    else:
        click.echo(f"model {labeller.version} on {in_path.name}" + (f" ({skipped} unlabelled row(s) skipped)"
                                                                      if skipped else ""))
        click.echo(format_report(result))


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


def _read_csv(path: Path, columns: list[str]):
    """``(line number, row dict)`` of a UTF-8 CSV, after checking its header has ``columns``."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in dict.fromkeys(columns) if c not in header]
            if missing:
                raise click.ClickException(
                    f"{path}: no column {', '.join(map(repr, missing))}; the columns are: {', '.join(header) or 'none'}")
            for row in reader:
                yield reader.line_num, row
    except UnicodeDecodeError:
        raise click.ClickException(f"{path} is not UTF-8 text; save it as CSV UTF-8 and try again") from None
    except csv.Error as exc:
        raise click.ClickException(f"{path}: {exc}") from None


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
    from analysis.corpus import DEFAULT_CORPUS_DIR, CorpusError
    from analysis.model_store import find_version
    from analysis.pipelines import LABELS
    from analysis.text import mask_pii
    from analysis.train import train_models
    from survey.cli import find_survey

    if key and not from_scores:
        raise click.UsageError("--survey only applies together with --from-scores")
    extra: list[tuple[str, str, str]] = []
    if labels_path:
        extra.extend(_read_labelled(labels_path, text_col, LABELS))
    corrections = [] if no_corrections else corrections_for_training()
    extra.extend(corrections)
    weak: list[tuple[str, str]] = []
    if from_scores:
        weak = _weak_labels(find_survey(key) if key else None)
        if not weak:
            raise click.ClickException("--from-scores: no comment with a score in the negative or positive band "
                                       "to learn from")
    # Models keep their vocabulary: no e-mail address or phone number may end up in one.
    extra = [(mask_pii(text), task, label) for text, task, label in extra]
    weak = [(mask_pii(text), label) for text, label in weak]
    out_dir = Path(current_app.instance_path) / "models"
    click.echo(f"Training on the {'given' if corpus_paths else 'shipped'} corpus + {len(extra):,} labelled "
               f"({len(corrections):,} analyst correction(s)) + {len(weak):,} weak row(s)…", err=True)
    try:
        version = train_models(list(corpus_paths) or DEFAULT_CORPUS_DIR, extra_labeled=extra,
                               weak_sentiment=weak, out_dir=out_dir, seed=seed)
    except (CorpusError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    metadata = find_version([out_dir], version).metadata
    click.echo(f"model {version} saved in {out_dir}")
    for task in TASKS:
        held_out = metadata["metrics"][task]["held_out"]
        click.echo(f"  {task}: held-out accuracy {held_out['accuracy']:.3f}, macro-F1 {held_out['macro_f1']:.3f}")
    click.echo("`flask analyze` now uses it (pin another with --model or ANALYSIS_MODEL_VERSION).")


def _read_labelled(path: Path, text_col: str, labels: dict) -> list[tuple[str, str, str]]:
    """``(text, task, label)`` from a CSV with a sentiment and/or theme column; blank cells are skipped."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
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


def _weak_labels(survey: Survey | None) -> list[tuple[str, str]]:
    """Comments whose score is in the negative or positive band, with that band as a sentiment label."""
    query = (sa.select(Response.comment, Response.score, Survey.kind).join(Survey, Survey.id == Response.survey_id)
             .where(Response.comment.is_not(None), Response.score.is_not(None)).order_by(Response.id))
    if survey is not None:
        query = query.where(Response.survey_id == survey.id)
    weak = []
    for comment, score, kind in db.session.execute(query.execution_options(yield_per=BATCH_SIZE)):
        band = KINDS[kind].band(score)
        if band != "neutral" and comment.strip():
            weak.append((comment, band))
    return weak


def init_app(app: Flask) -> None:
    app.cli.add_command(analyze_cli)
