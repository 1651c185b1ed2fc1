"""Teaching the model from the dashboard: the label queue, the count of new
corrections, and retraining in the background with a look before switching.

* :func:`review_queue` offers the comments the model in use is least sure of
  (:mod:`analysis.review_queue`: margin uncertainty, spread over surveys and
  themes), skipping those an analyst already corrected or confirmed.
* :func:`corrections_since_training` counts the analysts' labels (corrections
  and explicit confirmations, never a label merely left as it was) made after the model in use was trained: what a retrain would add.
* :func:`start_retrain` records a :class:`TrainingRun` and trains a candidate
  in a background thread (the corpus plus every correction, weighted as
  :mod:`analysis.own_labels` decides; the model in use's parameters, no grid
  search). :func:`compare` puts the old and new versions' scores side by
  side; :func:`switch_to` makes the candidate the model in use, and
  :func:`discard` drops it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import threading
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app

from survey.db import db
from survey.insights import jobs
from survey.labelling.models import TrainingRun
from survey.labels import IN_FORCE, corrections_for_training
from survey.models import LabelCorrection, Response, ResponseLabel, Survey, User, utcnow

QUEUE_SIZE = 20
#: Comments whose labels are read to fill the queue (the newest first); bounds the work per page view.
QUEUE_POOL = 5000
#: A run whose process ended (a restart, a kill) before it could record how it ended is taken for
#: dead by the rule of every background job (jobs.is_stale): the training says it is alive each
#: jobs.ALIVE_EVERY, so silence past jobs.STALE_AFTER means no process is training it.
STOPPED = "it stopped before it finished (its process ended, e.g. a restart); start it again"
CANDIDATES = "model-candidates"
_threads: dict[int, threading.Thread] = {}


class RetrainError(RuntimeError):
    """A retrain cannot start or a candidate cannot be switched to; the message says why."""


# --------------------------------------------------------------------------- #
# The model in use
# --------------------------------------------------------------------------- #
def model_dirs() -> list[Path]:
    # imported here: survey.insights.service imports every model module, this package's included
    from survey.insights.service import model_dirs as insights_model_dirs

    return insights_model_dirs()


def candidates_dir() -> Path:
    return Path(current_app.instance_path) / CANDIDATES


def model_in_use():
    """The :class:`analysis.model_store.ModelVersion` `flask analyze` would use, or ``None``."""
    from analysis.model_store import ModelNotFound, find_version

    try:
        return find_version(model_dirs(), current_app.config.get("ANALYSIS_MODEL_VERSION"))
    except ModelNotFound:
        return None


def _trained_at(found) -> dt.datetime | None:
    created = (found.metadata or {}).get("created") if found else None
    if not created:
        return None
    return dt.datetime.fromisoformat(created).astimezone(dt.timezone.utc).replace(tzinfo=None)


def corrections_since_training() -> tuple[int, dt.datetime | None]:
    """``(corrections made after the model in use was trained, when it was trained)``.

    A label corrected twice counts once, as training learns only its latest value.
    """
    trained = _trained_at(model_in_use())
    return labels_in_force(after=trained), trained


def labels_in_force(after: dt.datetime | None = None) -> int:
    """The analysts' labels in force (made after ``after``): what a retrain learns from, each label once."""
    labels = sa.select(LabelCorrection.response_id, LabelCorrection.field).where(IN_FORCE).distinct()
    if after is not None:
        labels = labels.where(LabelCorrection.created_at > after)
    return db.session.scalar(sa.select(sa.func.count()).select_from(labels.subquery()))


# --------------------------------------------------------------------------- #
# The label queue
# --------------------------------------------------------------------------- #
def review_queue(size: int = QUEUE_SIZE, survey: Survey | None = None) -> list[tuple[Response, float]]:
    """The ``size`` comments the model in use is least sure of, spread over surveys and themes.

    Only comments labelled by the model in use and not yet corrected by anyone.
    """
    from analysis.review_queue import Candidate, pick

    found = model_in_use()
    if found is None:
        return []
    corrected = sa.select(LabelCorrection.id).where(LabelCorrection.response_id == Response.id, IN_FORCE)
    query = (sa.select(ResponseLabel.response_id, Survey.public_key, Response.theme,
                       ResponseLabel.sentiment_probs, ResponseLabel.theme_probs)
             .join(Response, Response.id == ResponseLabel.response_id)
             .join(Survey, Survey.id == Response.survey_id)
             .where(ResponseLabel.model_version == found.version, ~sa.exists(corrected))
             .order_by(Response.id.desc()).limit(QUEUE_POOL))
    if survey is not None:
        query = query.where(Response.survey_id == survey.id)
    candidates = [Candidate(rid, key, theme or "other", s_probs or {}, t_probs or {})
                  for rid, key, theme, s_probs, t_probs in db.session.execute(query)]
    chosen = pick(candidates, size)
    responses = {r.id: r for r in db.session.scalars(
        sa.select(Response).where(Response.id.in_([c.response_id for c, _ in chosen])))}
    return [(responses[c.response_id], score) for c, score in chosen]


# --------------------------------------------------------------------------- #
# Retraining
# --------------------------------------------------------------------------- #
def running_run() -> TrainingRun | None:
    return db.session.scalar(sa.select(TrainingRun).where(TrainingRun.state == "running")
                             .order_by(TrainingRun.id.desc()).limit(1))


def latest_run() -> TrainingRun | None:
    """The newest run; one whose process died is recorded as failed first, so the page tells the truth."""
    retire_stale()
    return db.session.scalar(sa.select(TrainingRun).order_by(TrainingRun.id.desc()).limit(1))


def retire_stale() -> None:
    stale = running_run()
    if stale is not None and jobs.is_stale(stale):
        _finish(stale.id, state="failed", error=STOPPED)


def start_retrain(user: User | None) -> TrainingRun:
    """Record a run and train a candidate in a background thread; refuse if one is running.

    One at a time on every host: the row's ``running`` flag is unique, so of two presses at
    once (a double click, two admins) the second one's insert fails.
    """
    retire_stale()
    if running_run() is not None:
        raise RetrainError(f"a retraining is already running; wait for it to finish ({jobs.stale_rule_text()})")
    waiting = latest_run()
    if waiting is not None and waiting.state == "ready":
        # A new run would take the page's place and leave this candidate, and its files, undecided for good.
        raise RetrainError(f"model {waiting.candidate_version} from the last retraining is waiting: "
                           "switch to it or discard it first")
    found = model_in_use()
    if found is None:
        raise RetrainError("there is no model in use to retrain (`flask analyze train` trains a first one)")
    corrections = len(corrections_for_training())
    if not corrections:  # it would train the model in use again, and switching would relabel everything
        raise RetrainError("there are no corrections to learn from yet; correct some labels below first")
    run = TrainingRun(requested_by_id=user.id if user else None, previous_version=found.version,
                      corrections=corrections, state="running", running=True)
    db.session.add(run)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise RetrainError(f"a retraining is already running; wait for it to finish ({jobs.stale_rule_text()})") \
            from None
    thread = threading.Thread(target=_train_in_background, name=f"retrain-{run.id}",
                              args=(current_app._get_current_object(), run.id), daemon=True)
    _threads[run.id] = thread
    thread.start()
    return run


def wait_for(run_id: int, timeout: float | None = None) -> None:
    """Block until the background training of ``run_id`` (started in this process) ends."""
    thread = _threads.get(run_id)
    if thread is not None:
        thread.join(timeout)


def _train_in_background(app: Flask, run_id: int) -> None:
    alive = threading.Event()  # set when the training ends
    beat = threading.Thread(target=_say_alive, args=(app, run_id, alive), name=f"retrain-{run_id}-alive",
                            daemon=True)
    beat.start()
    with app.app_context():
        try:
            version, scores = train_candidate(db.session.get(TrainingRun, run_id))
        except Exception as exc:  # noqa: BLE001 -- any failure is recorded for the admin, never lost
            db.session.rollback()
            _finish(run_id, state="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
            app.logger.exception("retraining run %s failed", run_id)
            return
        finally:
            alive.set()
            beat.join()
        _finish(run_id, state="ready", candidate_version=version, scores=scores)


def _say_alive(app: Flask, run_id: int, ended: threading.Event) -> None:
    """While the model trains (one long step, no progress to report), stamp the run's ``updated_at`` each
    jobs.ALIVE_EVERY: the sign of life jobs.is_stale reads. Its own app context, so its own session."""
    with app.app_context():
        while not ended.wait(jobs.ALIVE_EVERY.total_seconds()):
            try:
                db.session.execute(sa.update(TrainingRun).where(TrainingRun.id == run_id, TrainingRun.running.is_(True))
                                   .values(updated_at=utcnow()))
                db.session.commit()
            except sa.exc.OperationalError:  # the database busy a moment: the next beat comes well in time
                db.session.rollback()


def _finish(run_id: int, **values) -> None:
    now = utcnow()
    db.session.execute(sa.update(TrainingRun).where(TrainingRun.id == run_id)
                       .values(finished_at=now, updated_at=now, running=None, **values))
    db.session.commit()


def train_candidate(run: TrainingRun) -> tuple[str, dict]:
    """Train the candidate of ``run`` into the candidates folder; return ``(version, scores)``."""
    from analysis.corpus import DEFAULT_CORPUS_DIR
    from analysis.labeller import Labeller
    from analysis.model_store import find_version
    from analysis.labels import TASKS
    from analysis.train import train_models
    from survey.insights.service import training_data

    previous = find_version(model_dirs(), run.previous_version)
    own = training_data([], corrections=True, from_scores=False).labelled  # PII-masked
    corpus = current_app.config.get("ANALYSIS_CORPUS") or DEFAULT_CORPUS_DIR
    params = {task: previous.metadata["metrics"][task]["best_params"] for task in TASKS}
    out = candidates_dir()
    out.mkdir(parents=True, exist_ok=True)
    version = train_models(corpus, extra_labeled=own, out_dir=out, fixed_params=params)
    new = find_version([out], version)
    scores = compare(Labeller.load(model_dirs(), previous.version), previous.metadata,
                     new.metadata, own, corpus)
    return version, scores


def compare(old_labeller, old_meta: dict, new_meta: dict, own: list[tuple[str, str, str]], corpus) -> dict:
    """Old and new versions side by side, per task.

    * ``held_out``: macro-F1 on the 20% of the corpus each training held out;
    * ``own``: on the analysts' corrections (whole-text labels), the old model's
      macro-F1 and the new procedure's *cross-validated* macro-F1 (3 folds: trained on the
      corpus and the other folds' corrections at the new run's weight, scored
      on the fold left out), so the new number is not a score on its own
      training rows.
    """
    from analysis.corpus import load_corpus
    from analysis.evaluate import evaluate_predictions
    from analysis.own_labels import cross_validated_predictions
    from analysis.labels import LABELS, TASKS

    rows = load_corpus(corpus)
    out = {}
    for task in TASKS:
        texts = [t for t, k, _ in own if k == task]
        gold = [lab for _, k, lab in own if k == task]
        entry = {"rows": len(texts),
                 "old": {"held_out_macro_f1": old_meta["metrics"][task]["held_out"]["macro_f1"]},
                 "new": {"held_out_macro_f1": new_meta["metrics"][task]["held_out"]["macro_f1"],
                         "own_weight": new_meta["metrics"][task].get("own_weight")}}
        if texts:
            labels = LABELS[task]
            old_pred = [labels[k] for k in old_labeller.predict_proba(task, texts).argmax(1)]
            entry["old"]["own_macro_f1"] = evaluate_predictions(gold, old_pred, task)["macro_f1"]
            # On a handful of labels macro-F1 misleads (one label got right reads 0.333, the absent
            # classes scoring 0): the page shows how many each model gets right.
            entry["old"]["own_right"] = sum(g == p for g, p in zip(gold, old_pred))
            new_pred = cross_validated_predictions(
                task, rows.texts, rows.labels(task), texts, gold,
                new_meta["metrics"][task]["best_params"], entry["new"]["own_weight"])
            if new_pred is not None:
                entry["new"]["own_macro_f1"] = evaluate_predictions(gold, new_pred, task)["macro_f1"]
                entry["new"]["own_right"] = sum(g == p for g, p in zip(gold, new_pred))
        out[task] = entry
    return out


def switch_to(run: TrainingRun) -> str:
    """Make ``run``'s candidate the model in use (its files move into the instance's models)."""
    if run.state != "ready":
        raise RetrainError(f"this training is {run.state}; only a finished one can be switched to")
    pinned = current_app.config.get("ANALYSIS_MODEL_VERSION")
    if pinned:
        raise RetrainError(f"ANALYSIS_MODEL_VERSION pins model {pinned}; remove that setting to switch "
                           "models from the dashboard")
    src, dst = candidates_dir(), Path(current_app.instance_path) / "models"
    if not any(src.glob(f"*{run.candidate_version}*")):
        raise RetrainError(f"the files of model {run.candidate_version} are gone from {src}")
    _claim(run, "switched", "only a finished one can be switched to", ("ready",))
    try:
        files = sorted(src.glob(f"*{run.candidate_version}*"))
        dst.mkdir(parents=True, exist_ok=True)
        # the metadata last: a version is only listed once its .json exists, so a half move is never used
        for path in sorted(files, key=lambda p: p.suffix == ".json"):
            tmp = dst / f".{path.name}.tmp"
            shutil.copyfile(path, tmp)
            os.replace(tmp, dst / path.name)
            path.unlink()
    except OSError as exc:
        _release(run, "ready")
        raise RetrainError(f"the files of model {run.candidate_version} could not be moved: "
                           f"{exc.strerror or exc}") from None
    return run.candidate_version


def discard(run: TrainingRun) -> None:
    _claim(run, "discarded", "it cannot be discarded", ("ready", "failed"))
    for path in candidates_dir().glob(f"*{run.candidate_version}*") if run.candidate_version else []:
        path.unlink(missing_ok=True)


def _claim(run: TrainingRun, to: str, refusal: str, allowed: tuple[str, ...]) -> None:
    """Move ``run`` to state ``to`` if it is still in one of ``allowed``, in one conditional UPDATE.

    Two admins (or a double click) may both have read the run as "ready": only the
    first claim changes a row; the other is refused with the state the first left, so
    a model is never both switched to and discarded, nor its files handled twice.
    """
    claimed = db.session.execute(
        sa.update(TrainingRun).where(TrainingRun.id == run.id, TrainingRun.state.in_(allowed)).values(state=to),
        execution_options={"synchronize_session": False},
    ).rowcount == 1
    db.session.commit()
    db.session.refresh(run)
    if not claimed:
        raise RetrainError(f"this training is {run.state}; {refusal}")


def _release(run: TrainingRun, state: str) -> None:
    db.session.execute(sa.update(TrainingRun).where(TrainingRun.id == run.id).values(state=state),
                       execution_options={"synchronize_session": False})
    db.session.commit()
    db.session.refresh(run)


def scores_json(run: TrainingRun) -> str:
    return json.dumps(run.scores or {}, indent=2, sort_keys=True)
