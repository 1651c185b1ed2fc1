"""The label queue, corrections since the last training, and retraining from the dashboard.

Runs on the tiny fixture model and corpus (tests/fixtures/analyze_corpus.csv), with
comments written for these tests; the background training is joined with ``wait_for``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.display import isolated
from survey.insights import jobs
from survey.labelling import operations
from survey.labelling.models import TrainingRun
from survey.labels import correct_label
from survey.models import LabelCorrection, ResponseLabel, utcnow
from tests.analyze_support import CORPUS, add_answers, analysis_app, tiny_model  # noqa: F401
from tests.dashboard_support import login

COMMENTS = [
    (2, "On hold for an hour and the line went dead"),
    (9, "Lovely engineer, sorted in ten minutes"),
    (7, "ok I guess"),
    (3, "Nobody called me back as promised"),
    (10, "Great value for the price"),
    (6, "The parcel came, the box was a bit squashed"),
    (8, "fine"),
    (1, "Charged twice and still waiting for the refund"),
]


@pytest.fixture
def labelled(analysis_app, app, runner, make_survey, make_response, tmp_path):
    """Two surveys of comments labelled by the tiny model (unpinned, so it can be switched)."""
    app.config["ANALYSIS_CORPUS"] = [str(CORPUS)]
    app.config["ANALYSIS_MODEL_VERSION"] = None  # the newest: the tiny model, trained today
    first, a = add_answers(make_survey, make_response, COMMENTS[:5])
    second, b = add_answers(make_survey, make_response, COMMENTS[5:], kind="csat")
    for response in b:
        response.score = min(5, max(1, response.score // 2))
    db.session.commit()
    result = runner.invoke(args=["analyze", "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    return first, second, a + b


def test_queue_offers_the_least_certain_comments_spread_over_surveys(labelled, app):
    first, second, responses = labelled
    picked = operations.review_queue(size=4)
    assert len(picked) == 4
    assert {r.survey_id for r, _ in picked} == {first.id, second.id}
    scores = [u for _, u in picked]
    assert all(0.0 <= u <= 1.0 for u in scores)
    # the queue starts with the least certain comment of all
    labels = db.session.scalars(sa.select(ResponseLabel)).all()
    from analysis.review_queue import Candidate, uncertainty
    most = max(uncertainty(Candidate(lab.response_id, "", "", lab.sentiment_probs, lab.theme_probs)) for lab in labels)
    assert scores[0] == pytest.approx(most)
    # a corrected comment leaves the queue
    top = picked[0][0]
    correct_label(top, "theme", "care", None)
    assert top.id not in {r.id for r, _ in operations.review_queue(size=20)}


def test_corrections_are_counted_from_the_last_training(labelled, app):
    _, _, responses = labelled
    assert operations.corrections_since_training()[0] == 0
    correct_label(responses[0], "theme", "service", None)
    correct_label(responses[1], "sentiment", "positive", None)
    count, trained_at = operations.corrections_since_training()
    assert count == 2 and trained_at is not None
    # A label corrected again (a slip fixed) is one correction, as retraining counts it.
    correct_label(responses[0], "theme", "care", None)
    assert operations.corrections_since_training()[0] == 2 == len(operations.corrections_for_training())


def test_agreeing_with_the_model_confirms_the_label_and_clears_it_from_the_queue(labelled, client, app):
    first, _, _ = labelled
    top = operations.review_queue(size=1)[0][0]
    survey, model_labels = top.survey, (top.sentiment, top.theme, top.label_version)
    analyst = login(client, "analyst")
    # Save changes with nothing changed is no judgement: nothing is stored, and the page says how to confirm.
    reply = client.post(f"/surveys/{survey.public_key}/responses/{top.id}/labels",
                        data={"sentiment": top.sentiment, "theme": top.theme, "next": "/labelling"},
                        follow_redirects=True)
    assert (f"Nothing changed on answer #{top.id}. If its labels are right, press Confirm both"
            in reply.get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count(LabelCorrection.id))) == 0
    assert top.id in {r.id for r, _ in operations.review_queue(size=50)}
    reply = client.post(f"/surveys/{survey.public_key}/responses/{top.id}/labels",
                        data={"sentiment": top.sentiment, "theme": top.theme, "next": "/labelling",
                              "confirm": "both"}, follow_redirects=True)
    html = reply.get_data(as_text=True)
    assert f"Confirmed: answer #{top.id}" in html and "Nothing changed" not in html
    # stored as the analyst's label, with who and when, marked a confirmation
    stored = db.session.scalars(sa.select(LabelCorrection).where(LabelCorrection.response_id == top.id)).all()
    assert {(c.field, c.confirmed, c.user_id) for c in stored} == {("sentiment", True, analyst.id),
                                                                    ("theme", True, analyst.id)}
    assert top.id not in {r.id for r, _ in operations.review_queue(size=50)}
    assert operations.corrections_since_training()[0] == 2
    assert (top.comment, "theme", top.theme) in operations.corrections_for_training()
    db.session.refresh(top)
    assert (top.sentiment, top.theme, top.label_version) == model_labels  # the labels in force are unchanged
    # the CSV says the label was not corrected (the analyst agreed); the card says it was confirmed
    export = client.get(f"/surveys/{survey.public_key}/export.csv").get_data(as_text=True).lstrip("\ufeff")
    line = next(row for row in csv.DictReader(io.StringIO(export)) if row["id"] == str(top.id))
    assert (line["sentiment_corrected"], line["theme_corrected"]) == ("false", "false")
    comments = client.get(f"/surveys/{survey.public_key}/comments").get_data(as_text=True)
    assert "✓ confirmed" in comments and f"confirmed by {isolated(analyst.email)}" in comments
    # submitting again stores nothing more
    again = client.post(f"/surveys/{survey.public_key}/responses/{top.id}/labels",
                        data={"sentiment": top.sentiment, "theme": top.theme, "confirm": "both"},
                        headers={"Accept": "application/json"})
    assert again.get_json()["changed"] == [] and again.get_json()["confirmed"] == []
    assert db.session.scalar(sa.select(sa.func.count(LabelCorrection.id))) == 2


def test_a_rewritten_comment_keeps_its_analyst_labels_as_history_but_not_in_force(labelled, client, app, runner,
                                                                                   tmp_path):
    """An analyst's label judged the text it was given. When the customer rewrites the comment in its
    edit window, that label must stop being the one shown, exported, counted and trained on (a
    "positive" correction of "Lovely engineer" must not stay on "engineer never came"), yet the
    analyst's history is kept: the rows stay, stamped superseded."""
    from survey.operations import revise_response

    first, _, responses = labelled
    rewritten, untouched = responses[1], responses[3]
    for response in (rewritten, untouched):
        response.created_at = utcnow()  # within the edit window
    db.session.commit()
    analyst = login(client, "analyst")
    client.post(f"/surveys/{first.public_key}/responses/{rewritten.id}/labels",
                data={"sentiment": "positive", "theme": "care", "confirm": "both"})  # a correction and/or a confirmation
    correct_label(rewritten, "theme", "service", analyst)  # and a second thought on the old text
    other_theme = next(t for t in ("care", "service", "other") if t != untouched.theme)
    correct_label(untouched, "theme", other_theme, analyst)  # a change, not a confirmation
    assert operations.corrections_since_training()[0] == 3
    revise_response(untouched, comment=f"  {untouched.comment} ")  # a retry of the same text rewrites nothing
    assert operations.corrections_since_training()[0] == 3

    revise_response(rewritten, 1, "The engineer never came and nobody called to say why")
    db.session.expire_all()
    history = db.session.scalars(sa.select(LabelCorrection).where(LabelCorrection.response_id == rewritten.id)).all()
    assert len(history) == 3 and all(c.superseded_at is not None and c.user_id == analyst.id for c in history)
    assert (rewritten.sentiment, rewritten.theme, rewritten.label_version) == (None, None, None)
    assert operations.corrections_since_training()[0] == 1  # only the untouched comment's
    assert [row[0] for row in operations.corrections_for_training()] == [untouched.comment]
    comments = client.get(f"/surveys/{first.public_key}/comments").get_data(as_text=True)
    assert comments.count(f"by {isolated(analyst.email)}") == 1

    # the next run labels the new text by the model; the untouched comment keeps its correction
    assert runner.invoke(args=["analyze", "--out", str(tmp_path / "again")]).exit_code == 0
    db.session.expire_all()
    assert rewritten.label_version is not None and rewritten.sentiment == "negative"
    assert untouched.theme == other_theme
    export = client.get(f"/surveys/{first.public_key}/export.csv").get_data(as_text=True).lstrip("\ufeff")
    lines = {row["id"]: row for row in csv.DictReader(io.StringIO(export))}
    assert (lines[str(rewritten.id)]["sentiment_corrected"], lines[str(rewritten.id)]["theme_corrected"]) == \
        ("false", "false")
    assert lines[str(untouched.id)]["theme_corrected"] == "true"
    # the rewritten comment may come back to the label queue: nobody has judged its new text
    queued = {r.id for r, _ in operations.review_queue(size=50)}
    assert rewritten.id in queued and untouched.id not in queued
    # labelling the new text is a fresh judgement, in force again
    correct_label(rewritten, "theme", "care", analyst)
    db.session.refresh(rewritten)
    assert rewritten.theme == "care" and operations.corrections_since_training()[0] == 2


def test_page_shows_queue_count_and_retrain_only_to_admins(labelled, client, app):
    _, _, responses = labelled
    correct_label(responses[2], "sentiment", "neutral", None)
    login(client, "analyst")
    html = client.get("/labelling").get_data(as_text=True)
    assert "Comments the model is least sure of" in html and "model unsure" in html
    # It said "model unsure (100%)": a tie, as a percentage nobody could place. Now the gap, item by item.
    items = re.findall(r'data-uncertainty="([\d.]+)">\s*<p class="muted small">(?:[^<]|</?bdi>)*?model unsure: '
                       r'its two likeliest labels are (tied|\d+% apart)', html)
    assert items and len(items) == html.count('class="queue-item"')
    for uncertainty, said in items:
        gap = round((1 - float(uncertainty)) * 100)
        assert said == "tied" if gap == 0 else abs(int(said.split("%")[0]) - gap) <= 1, (uncertainty, said)
    assert "<strong>1</strong> label corrected or confirmed since it was trained" in html
    assert "Retrain with the corrections" not in html
    assert client.post("/labelling/retrain").status_code == 403
    login(client, "admin")
    assert "Retrain with the corrections" in client.get("/labelling").get_data(as_text=True)


def test_admin_retrains_in_the_background_compares_and_switches(labelled, client, app):
    _, _, responses = labelled
    old = operations.model_in_use().version
    for response, theme in zip(responses, ["service", "service", "other", "care", "other", "service", "other",
                                           "service"]):
        correct_label(response, "theme", theme, None)
    login(client, "admin")
    response = client.post("/labelling/retrain", follow_redirects=True)
    assert "Retraining started with 8 of your labels" in response.get_data(as_text=True)
    run = db.session.scalar(sa.select(TrainingRun))
    assert run.state == "running" and run.previous_version == old
    assert "already running" in client.post("/labelling/retrain", follow_redirects=True).get_data(as_text=True)

    operations.wait_for(run.id, timeout=300)
    db.session.expire_all()
    run = db.session.get(TrainingRun, run.id)
    assert run.state == "ready", run.error
    assert run.candidate_version != old and operations.model_in_use().version == old  # not switched yet
    theme = run.scores["theme"]
    assert theme["rows"] == 8 and "own_macro_f1" in theme["old"] and "own_macro_f1" in theme["new"]
    assert 0 <= theme["old"]["own_right"] <= 8 and 0 <= theme["new"]["own_right"] <= 8
    assert theme["new"]["own_weight"] is not None
    page = client.get("/labelling").get_data(as_text=True)
    assert f"A new model is ready: <strong>{run.candidate_version}</strong>" in page
    assert "Theme, your 8 labels" in page and "Switch to" in page

    response = client.post(f"/labelling/runs/{run.id}/switch", follow_redirects=True)
    assert f"Model {run.candidate_version} is now in use" in response.get_data(as_text=True)
    assert operations.model_in_use().version == run.candidate_version
    assert operations.corrections_since_training()[0] == 0
    again = client.post(f"/labelling/runs/{run.id}/switch", follow_redirects=True).get_data(as_text=True)
    assert "Not switched: this training is switched" in again


def test_the_comparison_counts_your_labels_got_right_rather_than_a_macro_f1_of_one(labelled, client, app):
    scores = {"theme": {"rows": 1, "old": {"held_out_macro_f1": 0.905, "own_macro_f1": 0.3333, "own_right": 1},
                        "new": {"held_out_macro_f1": 0.904, "own_weight": 10.0}},
              "sentiment": {"rows": 3, "old": {"held_out_macro_f1": 0.845, "own_macro_f1": 0.0},  # stored before
                            "new": {"held_out_macro_f1": 0.844, "own_macro_f1": 0.5, "own_weight": 10.0}}}
    db.session.add(TrainingRun(state="ready", previous_version="20260101-aaaaaaaa", corrections=4, scores=scores,
                               candidate_version="20260102-bbbbbbbb"))
    db.session.commit()
    login(client, "admin")
    page = re.sub(r"\s+", " ", client.get("/labelling").get_data(as_text=True))
    # It read 0.333 for the one label the model got right (the two classes absent from it scoring 0).
    assert "Theme, your 1 label" in page and "<td>1 of 1 right</td>" in page and "0.333" not in page
    assert "<td>too few to cross-validate</td>" in page
    assert "<td>0.000</td> <td>0.500</td>" in page  # runs stored before the count keep their numbers
    assert "(macro-F1: 0 to 1, higher is better)" in page


def test_a_failed_training_is_recorded_and_can_be_discarded(labelled, client, app):
    app.config["ANALYSIS_CORPUS"] = [str(CORPUS.parent / "no-such-corpus.csv")]
    correct_label(labelled[2][0], "theme", "care", None)
    login(client, "admin")
    client.post("/labelling/retrain")
    run = db.session.scalar(sa.select(TrainingRun))
    operations.wait_for(run.id, timeout=60)
    db.session.expire_all()
    run = db.session.get(TrainingRun, run.id)
    assert run.state == "failed" and "corpus path not found" in run.error
    assert "The last retraining failed" in client.get("/labelling").get_data(as_text=True)
    client.post(f"/labelling/runs/{run.id}/discard")
    db.session.expire_all()
    assert db.session.get(TrainingRun, run.id).state == "discarded"


def test_switch_refuses_while_a_version_is_pinned(labelled, app):
    run = TrainingRun(state="ready", previous_version="x", candidate_version="20260101-deadbeef")
    db.session.add(run)
    db.session.commit()
    app.config["ANALYSIS_MODEL_VERSION"] = "20260101-cafecafe"
    with pytest.raises(operations.RetrainError, match="ANALYSIS_MODEL_VERSION pins"):
        operations.switch_to(run)


def _flashes(response) -> str:
    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>\s*(.*?)\s*<', response.get_data(as_text=True), re.S))


def test_retraining_without_any_correction_is_refused(labelled, client, app):
    """It would train the model in use again and, once switched, relabel every comment for nothing."""
    login(client, "admin")
    # The page offered the button anyway, only for it to answer "Cannot retrain".
    page = client.get("/labelling").get_data(as_text=True)
    assert "Retrain with the corrections" not in page
    assert "Retraining learns from your labels: correct or confirm some below first." in page
    response = client.post("/labelling/retrain", follow_redirects=True)  # sent anyway
    assert "Cannot retrain: there are no corrections to learn from yet" in _flashes(response)
    assert db.session.scalar(sa.select(sa.func.count(TrainingRun.id))) == 0


def test_a_double_submitted_retrain_starts_one_training(labelled, client, app):
    _, _, responses = labelled
    correct_label(responses[0], "theme", "care", None)
    admin = login(client, "admin")
    clients = [app.test_client() for _ in range(2)]
    for each in clients:
        login(each, user=admin)
    together, answers = threading.Barrier(2), []

    def press(each):
        together.wait()
        answers.append(_flashes(each.post("/labelling/retrain", follow_redirects=True)))

    threads = [threading.Thread(target=press, args=(each,)) for each in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    runs = db.session.scalars(sa.select(TrainingRun)).all()
    for run in runs:
        operations.wait_for(run.id, timeout=300)
    assert len(runs) == 1, answers
    assert sorted("already running" in answer for answer in answers) == [False, True], answers


def test_a_retrain_waits_until_the_ready_candidate_is_switched_to_or_discarded(labelled, client, app):
    """With a candidate ready, the page still offered "Retrain": the new run took the page's place and
    the ready candidate (and its model files) was left undecided for good."""
    _, _, responses = labelled
    correct_label(responses[0], "theme", "care", None)
    ready = TrainingRun(state="ready", previous_version=operations.model_in_use().version, corrections=1,
                        candidate_version="20260102-bbbbbbbb", scores={})
    db.session.add(ready)
    db.session.commit()
    login(client, "admin")
    page = client.get("/labelling").get_data(as_text=True)
    assert "Switch to 20260102-bbbbbbbb" in page and "Retrain with the corrections" not in page
    response = client.post("/labelling/retrain", follow_redirects=True)  # a form left open in another tab
    assert ("Cannot retrain: model 20260102-bbbbbbbb from the last retraining is waiting: switch to it or "
            "discard it first") in _flashes(response)
    assert db.session.scalar(sa.select(sa.func.count(TrainingRun.id))) == 1
    client.post(f"/labelling/runs/{ready.id}/discard")
    assert "Retrain with the corrections" in client.get("/labelling").get_data(as_text=True)


def test_a_retraining_whose_process_died_stops_blocking_and_the_page_says_so(labelled, client, app):
    _, _, responses = labelled
    correct_label(responses[0], "theme", "care", None)
    # Recorded as start_retrain records it, and never finished: its process ended (a restart, a kill).
    dead = TrainingRun(state="running", running=True, previous_version=operations.model_in_use().version,
                       corrections=1)
    db.session.add(dead)
    db.session.commit()
    login(client, "admin")
    # Refused, saying when a dead one stops blocking: the rule of every background job (jobs.stale_rule_text).
    assert ("already running; wait for it to finish (one whose process died is let go 10 minutes after its "
            "last progress)") in _flashes(client.post("/labelling/retrain", follow_redirects=True))
    dead.updated_at = utcnow() - jobs.STALE_AFTER - dt.timedelta(seconds=1)
    db.session.commit()

    page = client.get("/labelling").get_data(as_text=True)
    assert "stopped before it finished" in page and "refreshes by itself" not in page
    response = client.post("/labelling/retrain", follow_redirects=True)
    assert "Retraining started with 1 of your labels" in _flashes(response)
    db.session.expire_all()
    assert db.session.get(TrainingRun, dead.id).state == "failed"
    new = operations.latest_run()
    assert new.id != dead.id
    operations.wait_for(new.id, timeout=300)


def test_a_retraining_is_stale_by_the_rule_of_every_background_job(app, monkeypatch):
    """Retraining had a rule of its own (dead two hours after it started, whatever it reported), beside
    survey.insights.jobs' for analyses (dead ten minutes after its last progress). One rule now: a run
    is judged by jobs.is_stale, and says it is alive while the model trains."""
    now = utcnow()
    long_alive = TrainingRun(state="running", running=True, started_at=now - dt.timedelta(hours=3),
                             updated_at=now - jobs.STALE_AFTER + dt.timedelta(seconds=5))
    db.session.add(long_alive)
    db.session.commit()
    operations.retire_stale()
    assert db.session.get(TrainingRun, long_alive.id).state == "running"  # 3 hours old, but alive
    long_alive.updated_at = utcnow() - jobs.STALE_AFTER - dt.timedelta(seconds=1)
    db.session.commit()
    operations.retire_stale()
    db.session.expire_all()
    gone = db.session.get(TrainingRun, long_alive.id)
    assert (gone.state, gone.running, gone.error) == ("failed", None, operations.STOPPED)
    assert not hasattr(operations, "STALE_AFTER")  # the fact is jobs.STALE_AFTER, defined once

    # While the model trains, the run stamps updated_at each jobs.ALIVE_EVERY (here shortened).
    monkeypatch.setattr(jobs, "ALIVE_EVERY", dt.timedelta(milliseconds=20))
    training = threading.Event()
    stamps = []

    def slow_training(run):
        for _ in range(5):
            training.wait(0.05)
            db.session.expire_all()
            stamps.append(db.session.get(TrainingRun, run.id).updated_at)
        return "20260102-bbbbbbbb", {}

    monkeypatch.setattr(operations, "train_candidate", slow_training)
    run = TrainingRun(state="running", running=True, updated_at=now - dt.timedelta(minutes=5))
    db.session.add(run)
    db.session.commit()
    operations._train_in_background(app, run.id)
    assert len(set(stamps)) > 1 and min(stamps) > now - dt.timedelta(minutes=5)
    db.session.expire_all()
    done = db.session.get(TrainingRun, run.id)
    assert done.state == "ready" and done.updated_at == done.finished_at


def test_a_switch_and_a_discard_of_the_same_run_at_once_leave_one_outcome(app, client):
    """Two admins (or a double click): the second request read the run as ready before the first wrote.
    The discard then marked a run "discarded" whose model the switch had just put in use."""
    from pathlib import Path

    from sqlalchemy.orm.attributes import set_committed_value

    app.config["ANALYSIS_MODEL_VERSION"] = None
    version = "20260102-bbbbbbbb"
    candidates = operations.candidates_dir()
    candidates.mkdir(parents=True, exist_ok=True)
    for name in (f"sentiment-{version}.skops", f"theme-{version}.skops", f"{version}.json"):
        (candidates / name).write_text("{}")
    run = TrainingRun(state="ready", previous_version="20260101-aaaaaaaa", candidate_version=version, corrections=3)
    db.session.add(run)
    db.session.commit()
    login(client, "admin")
    response = client.post(f"/labelling/runs/{run.id}/switch", follow_redirects=True)  # the first admin
    assert f"Model {version} is now in use" in response.get_data(as_text=True)
    # the second admin's request read the run just before that switch was committed
    read_by_the_second_admin = db.session.get(TrainingRun, run.id)
    set_committed_value(read_by_the_second_admin, "state", "ready")
    with pytest.raises(operations.RetrainError, match="this training is switched; it cannot be discarded"):
        operations.discard(read_by_the_second_admin)
    db.session.expire_all()
    assert db.session.get(TrainingRun, run.id).state == "switched"
    assert (Path(app.instance_path) / "models" / f"{version}.json").exists()
    again = client.post(f"/labelling/runs/{run.id}/switch", follow_redirects=True).get_data(as_text=True)
    assert "Not switched: this training is switched" in again
