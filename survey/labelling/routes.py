"""Label queue and retraining views: thin; the work is in ``survey.labelling.operations``."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from survey.auth import current_user, login_required, role_required
from survey.db import db
from survey.labelling import bp, operations
from survey.labelling.models import TrainingRun
from survey.results.forms import CorrectionForm
from survey.results.queries import CommentRow, model_confidence


class RetrainForm(FlaskForm):
    """The retrain, switch and discard buttons: nothing but the CSRF token."""


@bp.get("/labelling")
@login_required
def queue():
    picked = operations.review_queue()
    probas = model_confidence([response.id for response, _ in picked])
    rows = [(CommentRow(response, None, {}, *probas.get(response.id, (None, None))), score)
            for response, score in picked]
    since, trained_at = operations.corrections_since_training()
    found = operations.model_in_use()
    run = operations.latest_run()
    return render_template(
        "labelling/queue.html", rows=rows, corrections_since=since, trained_at=trained_at,
        model=found, run=run, correction_form=CorrectionForm(), form=RetrainForm(),
        anything_to_learn=bool(since) or operations.labels_in_force() > 0,
        back=url_for("labelling.queue"),
    )


@bp.post("/labelling/retrain")
@role_required("admin")
def retrain():
    if not RetrainForm().validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    try:
        run = operations.start_retrain(current_user())
    except operations.RetrainError as exc:
        flash(f"Cannot retrain: {exc}.", "error")
    else:
        flash(f"Retraining started with {run.corrections} of your labels; this page updates when it is done.", "ok")
    return redirect(url_for("labelling.queue"), code=303)


def _run_or_404(run_id: int) -> TrainingRun:
    run = db.session.get(TrainingRun, run_id)
    if run is None:
        abort(404, description="There is no such training run.")
    if not RetrainForm().validate_on_submit():
        abort(400, description="The form expired; reload the page and try again.")
    return run


@bp.post("/labelling/runs/<int:run_id>/switch")
@role_required("admin")
def switch(run_id: int):
    run = _run_or_404(run_id)
    try:
        version = operations.switch_to(run)
    except operations.RetrainError as exc:
        flash(f"Not switched: {exc}.", "error")
    else:
        flash(f"Model {version} is now in use; the next `flask analyze` (or Analyze now) relabels with it.", "ok")
    return redirect(url_for("labelling.queue"), code=303)


@bp.post("/labelling/runs/<int:run_id>/discard")
@role_required("admin")
def discard(run_id: int):
    run = _run_or_404(run_id)
    try:
        operations.discard(run)
    except operations.RetrainError as exc:
        flash(f"Not discarded: {exc}.", "error")
    else:
        flash("The new model was discarded; the model in use is unchanged.", "info")
    return redirect(url_for("labelling.queue"), code=303)
