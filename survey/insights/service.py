"""The insights service: label new comments, group pain points, write the report, record the run.

A comment's path reads top-down: the command (``survey.insights.cli``) calls
:func:`run_analysis`, which asks ``analysis`` to label and group (pure ML),
reads and stores through ``survey.insights.queries`` and ``survey.labels``,
and writes the report (``survey.insights.report``). This module is the only
place of the run that commits: once per batch of labels (an interrupted run
keeps what it finished) and once for the run's record. Nothing here knows
about click or requests; problems are raised as :class:`AnalysisError` with a
message for a person.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ContextManager, Protocol

import sqlalchemy as sa
from flask import current_app

from survey import models_all  # noqa: F401  (every table, so flushes can resolve every foreign key)
from survey.db import chunks, db
from survey.codeframe.operations import has_codeframe
from survey.insights import codeframe, queries
from survey.insights.findings import Findings, SurveyPainPoint, SurveySummary
from survey.insights.labelled_clauses import LabelledClauses
from survey.insights.phases import PhaseLog, no_phase
from survey.insights.response_lines import response_lines
from survey.insights.workers import ChildFailed
from survey.kinds import KINDS
from survey.labels import corrections_for_training, store_encoded_labels
from survey.models import (AnalysisRun, PainPointRecord, Response, ResponseLabel, Survey, pain_point_responses,
                           utcnow)

if TYPE_CHECKING:
    from analysis.labeller import Labeller

BATCH_SIZE = 2000


class AnalysisError(Exception):
    """The analysis cannot go ahead or finish; the message says why, for a person."""


class NothingToAnalyse(AnalysisError):
    """No comment in scope (a new site, a quiet survey): nothing was done, which is not a fault."""


class Progress(Protocol):
    def update(self, n: int) -> None: ...


#: ``progress(total, label)``: a context manager giving something to ``update(n)``.
ProgressFactory = Callable[[int, str], ContextManager[Progress]]


class _NoProgress:
    def update(self, n: int) -> None:
        pass


def no_progress(total: int, label: str) -> ContextManager[Progress]:
    return contextlib.nullcontext(_NoProgress())


@dataclass
class AnalysisOutcome:
    run: AnalysisRun
    report: dict
    out_dir: Path
    phases: list[dict]  # time and memory per step (survey.insights.phases)


# --------------------------------------------------------------------------- #
# Models
# --------------------------------------------------------------------------- #
def model_dirs() -> list[Path]:
    """Where models are looked for: the instance's own first, then the shipped ones."""
    from analysis.model_store import DEFAULT_MODEL_DIR

    return [Path(current_app.instance_path) / "models", DEFAULT_MODEL_DIR]


def load_labeller(version: str | None) -> "Labeller":
    """The pinned (``ANALYSIS_MODEL_VERSION``), given or newest model."""
    from analysis.labeller import Labeller
    from analysis.model_store import ModelNotFound, UntrustedModelError

    version = version or current_app.config.get("ANALYSIS_MODEL_VERSION")
    try:
        return Labeller.load(model_dirs(), version)
    except ModelNotFound as exc:
        raise AnalysisError(f"{exc.args[0]} (`flask analyze train` trains one)") from None
    except UntrustedModelError as exc:
        raise AnalysisError(f"refusing to load the model: {exc}") from None


# --------------------------------------------------------------------------- #
# One run
# --------------------------------------------------------------------------- #
def run_analysis(survey: Survey | None, since: dt.datetime | None, out_dir: Path | None,
                 model_version: str | None, batch_size: int = BATCH_SIZE,
                 progress: ProgressFactory = no_progress, workers: int = 0) -> AnalysisOutcome:
    """Label what is new in scope, find the pain points, write the report and record the run."""
    from survey.insights.report import build_report, remove_partial, write_report

    started = utcnow()
    phases = PhaseLog()
    with phases.phase("counting comments"):
        surveys = [survey] if survey else queries.surveys_with_answers(since)
        survey_ids = [s.id for s in surveys]
        if not queries.count_comments(survey_ids, since):
            raise NothingToAnalyse(_nothing_to_analyse(survey, since))
    with phases.phase("loading the model"):
        labeller = load_labeller(model_version)

    # This run's clauses, kept as they are stored for the pain points (one pass fewer over the labels).
    with contextlib.closing(LabelledClauses()) as kept:
        with phases.phase("labelling and storing labels"):
            labelled = label_new_comments(labeller, survey.id if survey else None, since, batch_size, progress,
                                          workers, kept)
        version = labeller.version
        del labeller  # the model is not needed past labelling: its memory goes to the grouping
        # With workers (fork is safe here), a second process makes responses.csv's lines meanwhile.
        with response_lines(survey_ids, since, version, aside=workers > 0 and sys.platform == "linux",
                            phases=phases.phases) as finish_lines:
            findings = find_insights(surveys, since, version, phase=phases.phase, labelled=kept)
            with phases.phase("building the report"):
                report = build_report(
                    surveys=findings.surveys, sentiment_by_theme=findings.sentiment_by_theme,
                    pain_points=findings.pain_points, model_version=version, labelled_now=labelled,
                    generated_at=started,
                    scope={"survey": survey.public_key if survey else None,
                           "since": since.date().isoformat() if since else None,
                           "label": survey.name if survey else "all surveys"},
                )
            created = out_dir is None
            out_dir = out_dir or _default_report_dir(survey, started)
            try:
                with phases.phase("writing report files"):
                    write_report(out_dir, report, finish_lines(findings.pain_points))
            except (OSError, ChildFailed) as exc:
                if created:
                    remove_partial(out_dir)
                raise AnalysisError(f"could not write the report to {out_dir}: {exc}") from None
    with phases.phase("storing the run and its pain points"):
        run = record_run(survey, surveys, version, started, out_dir, findings, report)
    return AnalysisOutcome(run, report, out_dir, phases.phases)


def _nothing_to_analyse(survey: Survey | None, since: dt.datetime | None) -> str:
    when = f" since {since.date().isoformat()}" if since else ""
    if survey is None:
        return f"no answers with a comment{when} in any survey: nothing to analyse"
    answers = queries.count_answers([survey.id], since)
    return (f"survey {survey.public_key} ({survey.name}) has no comments{when} to analyse"
            f" ({answers} answer(s){when}, none with a comment)")


def _default_report_dir(survey: Survey | None, started: dt.datetime) -> Path:
    base = Path(current_app.instance_path) / "reports"
    name = f"{survey.public_key if survey else 'all'}-{started.strftime('%Y%m%d-%H%M%S')}"
    path, n = base / name, 1
    while path.exists():
        n += 1
        path = base / f"{name}-{n}"
    return path


# --------------------------------------------------------------------------- #
# Labelling
# --------------------------------------------------------------------------- #
def label_new_comments(labeller: "Labeller", survey_id: int | None, since: dt.datetime | None,
                       batch_size: int = BATCH_SIZE, progress: ProgressFactory = no_progress,
                       workers: int = 0, kept: LabelledClauses | None = None) -> int:
    """Label, in batches, every comment in scope that this model version has not labelled; return how many.

    Keyset pagination on the id keeps memory flat; each batch is one transaction,
    so an interrupted run keeps what it finished and the next run goes on from there.
    With ``workers`` child processes (:mod:`survey.insights.workers`) the model
    labels the next batches while this process stores the last one; batches are
    still stored and committed one at a time, in order. With ``kept``, the clauses of every
    batch stored are also kept there for the pain points.
    """
    from analysis.score_band import SCORE_WEIGHT

    from survey.insights.workers import labelling

    # The score band tips close calls of comment sentiment (measured: benchmarks/score_band.py).
    weight = current_app.config.get("ANALYSIS_SCORE_WEIGHT")
    weight = SCORE_WEIGHT if weight is None else float(weight)
    pending = queries.pending_labelling(labeller.version, survey_id, since)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(pending.subquery()))
    done, last_id = 0, 0
    in_flight: deque = deque()  # (index order, future label rows and packed clauses), oldest first
    if kept is not None:
        kept.before_id = db.session.scalar(sa.select(sa.func.max(ResponseLabel.id)))
    with progress(total, "Labelling comments") as bar, labelling(labeller, workers) as label:
        while True:
            rows = []
            if last_id is not None:
                rows = db.session.execute(pending.where(Response.id > last_id).limit(batch_size)).all()
                last_id = rows[-1].id if rows else None
            if rows:
                bands = [None if row.score is None else KINDS[row.kind].band(row.score) for row in rows]
                answers = [(row.survey_id, row.score) for row in rows] if kept is not None else None
                # the labels in force are stored in the date index's order (see store_encoded_labels)
                index_order = {row.id: (row.survey_id, row.created_at) for row in rows}
                in_flight.append((index_order, label([row.id for row in rows], [row.comment for row in rows], bands,
                                                     weight, answers)))
            if not in_flight:
                break
            if rows and len(in_flight) <= workers:
                continue  # keep every worker busy before waiting for the oldest batch
            index_order, labelled = in_flight.popleft()
            label_rows, packed = labelled.result()
            stored = _store_rows(labeller.version, label_rows, index_order.get)
            if kept is not None:
                if len(stored) == len(label_rows):
                    kept.add(packed)
                else:  # another run stored part of the batch: read the scope's clauses from the database
                    kept.whole = False
            done += len(stored)
            bar.update(len(index_order))
    return done


def _store_rows(version: str, rows: list[tuple], index_order: Callable | None = None) -> list[tuple]:
    """Store and commit a batch of encoded label rows (:func:`survey.labels.encode_label_rows`); if another
    run stored some of it meanwhile (or answers were deleted), the rest. The rows stored."""
    try:
        store_encoded_labels(rows, index_order)
        db.session.commit()
        return rows
    except sa.exc.IntegrityError:
        db.session.rollback()
        pending = queries.still_unlabelled(version, [row[0] for row in rows])
        rows = [row for row in rows if row[0] in pending]
        store_encoded_labels(rows, index_order)
        db.session.commit()
        return rows


# --------------------------------------------------------------------------- #
# Numbers and pain points
# --------------------------------------------------------------------------- #
def find_insights(surveys: list[Survey], since: dt.datetime | None, version: str,
                  phase: Callable[[str], ContextManager] = no_phase,
                  labelled: LabelledClauses | None = None) -> Findings:
    """Per-survey summaries, pain points ranked across the scope, and the sentiment × theme counts.

    The numbers come from the same queries as the dashboard (``survey.results``),
    so the report and the results page agree.
    """
    from analysis.painpoints import ScoreTotals, analyse_pain_points
    from survey.results import queries as results
    from survey.results.filters import ResponseFilter

    summaries, found = [], []
    by_theme: dict[str, Counter] = defaultdict(Counter)
    for survey in surveys:
        with phase("survey figures"):
            flt = ResponseFilter(survey=survey, start=since.date() if since else None)
            score_counts = results.score_counts(flt)
            period, trend = results.trend(flt)
            for theme, counts in results.sentiment_by_theme(flt).items():
                by_theme[theme].update(counts)
            comments = queries.count_comments([survey.id], since)
            spec = KINDS[survey.kind]
            totals = ScoreTotals(n=sum(score_counts.values()),
                                 total=float(sum(s * n for s, n in score_counts.items())),
                                 squares=float(sum(s * s * n for s, n in score_counts.items())),
                                 low=spec.low, high=spec.high)
        with_codeframe = has_codeframe(survey.id)
        with phase("reading negative clauses"):
            whole: dict[int, str] | None = {} if with_codeframe else None
            # One pass over the labels gives both the negative clauses and the others (the
            # background), kept compact; the codeframe reads the background twice, as a list.
            background = queries.TextSpool()
            clauses = list(queries.negative_clauses([survey.id], since, version, background, whole, labelled))
            if with_codeframe:
                background = list(background)
        with phase("comment periods"):
            periods = codeframe.comment_periods(survey.id, since, period)
        if with_codeframe:
            with phase("sorting into the codeframe"):
                sorted_ = codeframe.sort_survey(survey.id, clauses, background, comments, totals, whole)
            points = [(p, "codeframe") for p in sorted_.points] + [(p, "proposal") for p in sorted_.proposals]
            negative, covered, ranked_by = sorted_.negative_comments, sorted_.covered_comments, sorted_.ranked_by
            dismissed = sorted_.dismissed
        else:
            with phase("grouping and naming pain points"):
                analysis = analyse_pain_points(clauses, comments, totals, background=background)
            points = [(p, "discovered") for p in analysis.points]
            negative, covered, ranked_by = analysis.negative_comments, analysis.covered_comments, analysis.ranked_by
            dismissed = 0
        del clauses, background  # the next survey's clauses need the room
        summaries.append(SurveySummary(
            key=survey.public_key, name=survey.name, kind=survey.kind, responses=results.answer_count(flt),
            comments=comments, score_counts=score_counts, trend=trend, period=period,
            negative_comments=negative, pain_point_comments=covered, ranked_by=ranked_by,
            codeframe=any(source == "codeframe" for _, source in points) or has_codeframe(survey.id),
            dismissed_proposals=dismissed,
        ))
        with phase("pain point trends"):
            found.extend(SurveyPainPoint(survey.public_key, survey.id, point, source,
                                         codeframe.trend(point.response_ids, periods)) for point, source in points)
    if len(surveys) > 1:  # one list for the report, ranked across surveys
        found.sort(key=_cross_survey_order)
    return Findings(summaries, found, {theme: dict(counts) for theme, counts in by_theme.items()})


def _cross_survey_order(found: SurveyPainPoint) -> tuple:
    # Proposals after the pain points; on the rounded impact the report shows, so equal-looking
    # points fall back to size and name.
    return (found.is_proposal, -round(found.point.impact, 3), -found.point.count, found.point.label,
            found.survey_key)


# --------------------------------------------------------------------------- #
# Storing the run
# --------------------------------------------------------------------------- #
def record_run(survey: Survey | None, surveys: list[Survey], version: str, started: dt.datetime, out_dir: Path,
               findings: Findings, report: dict) -> AnalysisRun:
    """The run, its pain points and their answers, in one transaction; older runs beyond the limit go.

    The pain points are stored from the objects found, not read back from the report;
    the run's summary keeps the report's headline numbers for the dashboard.
    """
    run = AnalysisRun(
        survey_id=survey.id if survey else None, model_version=version, started_at=started,
        finished_at=utcnow(), report_dir=str(Path(out_dir).resolve()),
        # survey_ids: every survey this run covered, also those it found no pain point in.
        summary={"scope": report["scope"], "survey_ids": [s.id for s in surveys],
                 "totals": report["totals"], "metrics": report["metrics"],
                 "sentiment": report["sentiment"], "theme": report["theme"],
                 "pain_points": len(findings.pain_points),
                 # Per survey: how many negative comments its pain points hold, and how many none (Results says so).
                 "coverage": {s["key"]: {"negative_comments": s["negative_comments"],
                                         "pain_point_comments": s["pain_point_comments"],
                                         "codeframe": s["codeframe"]} for s in report["surveys"]}},
    )
    db.session.add(run)
    db.session.flush()
    links = []
    for found in findings.pain_points:
        point = found.point.as_dict()  # the rounding the report shows
        row = PainPointRecord(
            run_id=run.id, survey_id=found.survey_id, rank=found.point.rank, label=found.point.label[:200],
            theme=found.point.theme, count=found.point.count, share=point["share"],
            score_impact=point["score_impact"], impact=point["impact"], quotes=list(found.point.quotes),
            source=found.source, trend=found.trend,
        )
        db.session.add(row)
        db.session.flush()
        links.extend({"pain_point_id": row.id, "response_id": rid} for rid in found.point.response_ids)
    for chunk in chunks(links, size=5000):
        db.session.execute(sa.insert(pain_point_responses), chunk)
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
    points = sa.select(PainPointRecord.id).where(PainPointRecord.run_id.in_(old))
    db.session.execute(sa.delete(pain_point_responses).where(pain_point_responses.c.pain_point_id.in_(points)))
    db.session.execute(sa.delete(PainPointRecord).where(PainPointRecord.run_id.in_(old)))
    db.session.execute(sa.delete(AnalysisRun).where(AnalysisRun.id.in_(old)))


# --------------------------------------------------------------------------- #
# Training
# --------------------------------------------------------------------------- #
@dataclass
class TrainingData:
    """What a new model learns from besides the corpus (texts already PII-masked)."""

    labelled: list[tuple[str, str, str]]  # (text, task, label): the team's own labels and corrections
    corrections: int                      # how many of ``labelled`` are analysts' corrections
    weak_sentiment: list[tuple[str, str]]  # (text, band) from scores


def training_data(own_labels: Iterable[tuple[str, str, str]], *, corrections: bool, from_scores: bool,
                  survey: Survey | None = None) -> TrainingData:
    """Own labels, the dashboard's corrections and (optionally) score bands, PII-masked."""
    from analysis.text import mask_pii

    labelled = list(own_labels)
    fixed = corrections_for_training() if corrections else []
    labelled.extend(fixed)
    weak: list[tuple[str, str]] = []
    if from_scores:
        weak = queries.weak_labels(survey)
        if not weak:
            raise AnalysisError("--from-scores: no comment with a score in the negative or positive band "
                                "to learn from")
    # Models keep their vocabulary: no e-mail address or phone number may end up in one.
    return TrainingData([(mask_pii(text), task, label) for text, task, label in labelled], len(fixed),
                        [(mask_pii(text), label) for text, label in weak])


def train_model(data: TrainingData, corpus_paths: list[Path], seed: int = 0) -> tuple[str, Path, dict]:
    """Train a new model version into ``<instance>/models``; ``(version, folder, metadata)``."""
    from analysis.corpus import DEFAULT_CORPUS_DIR, CorpusError
    from analysis.model_store import find_version
    from analysis.train import train_models

    out_dir = Path(current_app.instance_path) / "models"
    try:
        version = train_models(corpus_paths or DEFAULT_CORPUS_DIR, extra_labeled=data.labelled,
                               weak_sentiment=data.weak_sentiment, out_dir=out_dir, seed=seed)
    except (CorpusError, ValueError) as exc:
        raise AnalysisError(str(exc)) from None
    return version, out_dir, find_version([out_dir], version).metadata
