"""``flask analyze`` in batches: the batch size changes nothing, an interrupted run leaves nothing half-written."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.models import AnalysisRun, PainPointRecord, Response, ResponseLabel, pain_point_responses
from tests.analyze_support import NPS_ANSWERS, add_answers, analysis_app, read_report, tiny_model  # noqa: F401

pytestmark = pytest.mark.usefixtures("analysis_app")

#: Enough repeated complaints for several pain points, in an order that mixes them across batches.
ANSWERS = [answer for _ in range(3) for answer in NPS_ANSWERS]


def analyze(runner, *args):
    return runner.invoke(args=["analyze", *args])


def stored_labels() -> dict[int, tuple]:
    rows = db.session.execute(sa.select(ResponseLabel.response_id, ResponseLabel.sentiment, ResponseLabel.theme,
                                        ResponseLabel.sentiment_probs, ResponseLabel.theme_probs,
                                        ResponseLabel.clauses))
    return {row[0]: tuple(row[1:]) for row in rows}


def labels_in_force() -> dict[int, tuple]:
    rows = db.session.execute(sa.select(Response.id, Response.sentiment, Response.theme, Response.label_version)
                              .where(Response.comment.is_not(None)))
    return {row[0]: tuple(row[1:]) for row in rows}


def pain_points_of(out) -> list[tuple]:
    return [(p["label"], p["count"], p["response_ids"], p["impact"]) for p in read_report(out)["pain_points"]]


def forget_labels() -> None:
    db.session.execute(sa.delete(ResponseLabel))
    db.session.execute(sa.update(Response).values(sentiment=None, theme=None, label_version=None))
    db.session.commit()


def test_batch_size_changes_no_label_and_no_pain_point(runner, make_survey, make_response, tmp_path):
    survey, _ = add_answers(make_survey, make_response, ANSWERS)
    results = []
    # in this process, and in one or two child processes (survey.insights.workers)
    for size, workers in (("1", "0"), ("7", "0"), ("100000", "0"), ("4", "1"), ("3", "2")):
        forget_labels()
        out = tmp_path / f"batch-{size}-{workers}"
        result = analyze(runner, "--survey", survey.public_key, "--out", str(out), "--batch-size", size,
                         "--workers", workers)
        assert result.exit_code == 0, result.output
        db.session.expire_all()
        results.append((stored_labels(), labels_in_force(), pain_points_of(out),
                        (out / "responses.csv").read_text(encoding="utf-8-sig")))
    commented = sum(1 for _, comment in ANSWERS if comment)
    assert len(results[0][0]) == commented and results[0][2], "nothing to compare"
    assert all(result == results[0] for result in results[1:])


def test_labelling_interrupted_keeps_whole_batches_only(runner, make_survey, make_response, tmp_path, monkeypatch):
    """A crash in the third batch: two batches stored in full (labels and labels in force), no run, no report."""
    from analysis.labeller import Labeller

    survey, _ = add_answers(make_survey, make_response, ANSWERS)
    real_probs, calls = Labeller.comment_probs, []  # what labels each batch (survey.insights.workers)

    def failing_probs(self, texts, keep_clauses=False):
        calls.append(len(texts))
        if len(calls) == 3:
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of a batch
        return real_probs(self, texts, keep_clauses)

    monkeypatch.setattr(Labeller, "comment_probs", failing_probs)
    out = tmp_path / "report"
    result = analyze(runner, "--survey", survey.public_key, "--out", str(out), "--batch-size", "5")
    assert result.exit_code != 0
    db.session.rollback()  # what the dead process's connection does

    labels, in_force = stored_labels(), labels_in_force()
    assert len(labels) == 10
    labelled_now = {rid for rid, (_, _, version) in in_force.items() if version is not None}
    assert labelled_now == set(labels)  # a stored label is also in force, and only those
    assert all(in_force[rid][:2] == labels[rid][:2] for rid in labels)
    assert db.session.scalar(sa.select(sa.func.count(AnalysisRun.id))) == 0
    assert not out.exists() or not any(out.iterdir())

    monkeypatch.setattr(Labeller, "comment_probs", real_probs)
    again = analyze(runner, "--survey", survey.public_key, "--out", str(out), "--batch-size", "5")
    assert again.exit_code == 0, again.output
    commented = sum(1 for _, comment in ANSWERS if comment)
    assert f"labelled {commented - 10} new comment(s)" in again.output
    assert len(stored_labels()) == commented


def test_a_crash_while_storing_the_run_stores_no_part_of_it(runner, make_survey, make_response, tmp_path,
                                                           monkeypatch):
    """The run, its pain points and their answers are one transaction: all or nothing."""
    from survey.insights import service

    survey, _ = add_answers(make_survey, make_response, ANSWERS)
    assert analyze(runner, "--survey", survey.public_key, "--out", str(tmp_path / "first")).exit_code == 0
    before = [db.session.scalar(sa.select(sa.func.count()).select_from(table))
              for table in (AnalysisRun.__table__, PainPointRecord.__table__, pain_point_responses)]
    assert before[1] and before[2]

    def crash(*args, **kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(service, "_prune_runs", crash)  # after every row of the run was added
    result = analyze(runner, "--survey", survey.public_key, "--out", str(tmp_path / "second"))
    assert result.exit_code != 0
    db.session.rollback()
    after = [db.session.scalar(sa.select(sa.func.count()).select_from(table))
             for table in (AnalysisRun.__table__, PainPointRecord.__table__, pain_point_responses)]
    assert after == before


def test_a_crash_while_writing_the_report_leaves_no_report_file(runner, make_survey, make_response, tmp_path,
                                                                monkeypatch):
    from survey.insights import report

    survey, _ = add_answers(make_survey, make_response, ANSWERS)

    def crash(data):
        raise OSError("no space left on device")

    monkeypatch.setattr(report, "render_html", crash)  # responses.csv and report.json are written by then
    out = tmp_path / "report"
    result = analyze(runner, "--survey", survey.public_key, "--out", str(out))
    assert result.exit_code == 1 and "could not write the report" in result.output
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []
    assert db.session.scalar(sa.select(sa.func.count(AnalysisRun.id))) == 0


@pytest.mark.parametrize("weight", [0.0, 0.25, 1.0])
def test_label_rows_from_the_models_arrays_equal_the_rows_from_its_labels(tiny_model, weight):
    # speed (#20, #21): a batch's rows are built and encoded straight from the model's arrays; they must
    # be the rows label_rows makes from the labeller's CommentLabels with the score bands folded in,
    # JSON text byte for byte, and the clause records the pain points read from those rows
    from analysis.labeller import Labeller
    from analysis.score_band import with_score_bands
    from survey.insights.labelled_clauses import negativity
    from survey.insights.workers import label_batch
    from survey.labels import encode_label_rows, label_rows

    folder, version = tiny_model
    labeller = Labeller.load([folder], version)
    texts = [comment for _, comment in NPS_ANSWERS if comment] + [
        "", "   ", "ok", "Great staff. Awful wait; but fixed, took ages, never called back, though polite",
        "Caf\u00e9 \"staff\" \\ were rude \U0001F620 and\tslow"]
    bands = [(None, "negative", "neutral", "positive")[i % 4] for i in range(len(texts))]
    ids = list(range(100, 100 + len(texts)))
    rows = label_rows(version, list(zip(ids, with_score_bands(labeller.label(texts), bands, weight))))
    want = [row[:-1] for row in encode_label_rows(rows)]  # but labelled_at
    got, records = label_batch(labeller, ids, texts, bands, weight)
    assert [row[:-1] for row in got] == want
    assert records == [tuple((c["text"], c["sentiment"], c["theme"], negativity(c["sentiment_probs"]))
                             for c in row["clauses"]) for row in rows]


def test_ten_thousandths_round_as_python_rounds(tiny_model):
    # the encoded rows round probabilities by table: each must be Python's round(p, 4), halves included
    import numpy as np

    from analysis.labeller import Labeller
    from survey.insights.encoded_labels import encoded_batch, ten_thousandths
    from survey.labels import encode_label_rows, label_rows_from_probs

    rng = np.random.default_rng(20)
    near_halves = (np.arange(0, 10_000) + 0.5) / 10_000  # the decimals where rounding turns
    probs = np.concatenate([rng.random(30_000), near_halves, np.nextafter(near_halves, 0),
                            np.nextafter(near_halves, 1), [0.0, 1.0, 5e-5, 0.99995, 1e-300, 0.5]]).reshape(-1, 3)
    steps = ten_thousandths(probs)
    assert steps.tolist() == [[round(round(p, 4) * 10_000) for p in row] for row in probs.tolist()]
    assert ten_thousandths(np.array([[0.5, 0.5, 1.5]])) is None
    assert ten_thousandths(np.array([[0.5, np.nan, 0.5]])) is None
    # and a batch holding a probability the table lacks is encoded the slow way, to the same text
    folder, version = tiny_model
    texts = ["slow and rude", "fine"]
    sentiment, theme, clauses = Labeller.load([folder], version).comment_probs(texts, keep_clauses=True)
    sentiment[1] = [1.5, -0.25, -0.25]
    rows, _ = encoded_batch(version, [1, 2], sentiment, theme, clauses)
    want = encode_label_rows(label_rows_from_probs(version, [1, 2], sentiment, theme, clauses))
    assert [row[:-1] for row in rows] == [row[:-1] for row in want]
    assert '"negative": 1.5' in rows[1][4]


def test_labels_stored_through_the_driver_are_what_the_orm_stores(make_survey, make_response):
    # speed (#20): label rows go to the driver as tuples with their JSON already text; the stored
    # values must be those SQLAlchemy's JSON type and the ORM store (SQLite and PostgreSQL)
    from analysis.labeller import ClauseLabels, CommentLabels
    from survey.labels import label_rows, store_label_rows

    survey, responses = add_answers(make_survey, make_response, NPS_ANSWERS[:2])
    clause = ClauseLabels("Caf\u00e9 \"late\" \\ \U0001F620", "negative",
                          {"negative": 0.70001, "neutral": 0.2, "positive": 0.1},
                          "service", {"service": 0.5, "care": 0.25, "other": 0.25})
    labels = CommentLabels("negative", 0.7, {"negative": 0.7, "neutral": 0.2, "positive": 0.1}, "service", 0.5,
                           {"service": 0.5, "care": 0.25, "other": 0.25}, [clause, clause])
    row = label_rows("m-driver", [(responses[0].id, labels)])[0]
    store_label_rows([row])
    db.session.add(ResponseLabel(**{**row, "response_id": responses[1].id}))
    db.session.commit()
    text = sa.select(*(sa.cast(getattr(ResponseLabel, c), sa.Text) for c in ("sentiment_probs", "theme_probs",
                                                                             "clauses")),
                     ResponseLabel.sentiment_proba, ResponseLabel.labelled_at)
    driver, orm = (db.session.execute(text.where(ResponseLabel.response_id == r.id)).one() for r in responses)
    assert driver == orm
    assert db.session.get(Response, responses[0].id).sentiment == "negative"


def test_the_background_spool_gives_back_every_text_in_order(monkeypatch):
    # speed (#20): the other clauses are kept from the one pass over the labels, in blocks
    from survey.insights.queries import TextSpool

    monkeypatch.setattr(TextSpool, "BLOCK", 4)
    texts = ["on time", "", "kind staff", "a", "two\nlines", "b", "", "c", "d", "last one"]
    spool = TextSpool()
    for text in texts:
        spool.append(text)
    assert list(spool) == texts
    assert list(spool) == texts  # read as often as needed (the codeframe reads it twice)
    assert list(TextSpool()) == []


def test_clauses_kept_from_labelling_give_what_the_stored_labels_give(runner, make_survey, make_response, tmp_path,
                                                                      monkeypatch):
    # speed (#20): the pain points take this run's clauses from the labelling
    # (survey.insights.labelled_clauses) and only older labels from the database; a run
    # labelling the second half of a survey, with an analyst's correction on a comment it
    # labels, must find what a run reading every label from the database finds.
    from analysis.labeller import Labeller
    from survey.labels import correct_label

    survey, responses = add_answers(make_survey, make_response, ANSWERS)
    real_probs, calls = Labeller.comment_probs, []

    def failing_probs(self, texts, keep_clauses=False):
        calls.append(len(texts))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_probs(self, texts, keep_clauses)

    monkeypatch.setattr(Labeller, "comment_probs", failing_probs)
    assert analyze(runner, "--survey", survey.public_key, "--out", str(tmp_path / "cut"), "--batch-size", "5",
                   "--workers", "0").exit_code != 0
    db.session.rollback()
    monkeypatch.setattr(Labeller, "comment_probs", real_probs)
    labelled = set(stored_labels())
    complaint = next(r for r in responses if r.comment and r.id not in labelled and "," not in r.comment
                     and "." not in r.comment.rstrip(".") and r.score is not None and r.score <= 2)
    correct_label(complaint, "theme", "other", None)  # one clause: its clause follows the correction

    results = []
    for name, workers in (("half", "2"), ("stored", "2"), ("stored-here", "0")):
        out = tmp_path / name
        result = analyze(runner, "--survey", survey.public_key, "--out", str(out), "--batch-size", "5",
                         "--workers", workers)
        assert result.exit_code == 0, result.output
        report = read_report(out)
        results.append(([(p["label"], p["count"], p["response_ids"], p["theme"], p["impact"], p["quotes"])
                         for p in report["pain_points"]], report["surveys"][0]["negative_comments"],
                        (out / "responses.csv").read_text(encoding="utf-8-sig")))
    assert results[0][0] and results[0] == results[1] == results[2]


def test_kept_clauses_that_are_not_the_whole_story_are_not_used(runner, make_survey, make_response, tmp_path):
    # speed (#20): when the stored labels are not exactly those from before the run plus the
    # kept ones (another run stored some meanwhile, answers were deleted), the database decides
    from survey.insights import queries
    from survey.insights.labelled_clauses import LabelledClauses

    survey, _ = add_answers(make_survey, make_response, ANSWERS)
    assert analyze(runner, "--survey", survey.public_key, "--out", str(tmp_path / "r")).exit_code == 0
    version = read_report(tmp_path / "r")["model_version"]
    stored = list(queries.negative_clauses([survey.id], None, version))
    assert stored
    missing = LabelledClauses()  # nothing kept, nothing from before the run: not the whole story
    assert list(queries.negative_clauses([survey.id], None, version, labelled=missing)) == stored
    stale = LabelledClauses()
    stale.before_id = 0
    stale.whole = False
    assert list(queries.negative_clauses([survey.id], None, version, labelled=stale)) == stored


def test_a_failure_in_the_responses_csv_process_leaves_no_report_and_no_run(runner, make_survey, make_response,
                                                                            tmp_path, monkeypatch):
    # speed (#20): with --workers, responses.csv's lines are made by a forked process
    # (survey.insights.response_lines); its failure fails the run like a failed write
    from survey.insights import response_lines

    survey, _ = add_answers(make_survey, make_response, ANSWERS)

    def broken(*args):
        raise OSError("no space left on device")

    monkeypatch.setattr(response_lines, "_make_lines", broken)  # the forked child runs this copy
    out = tmp_path / "report"
    result = analyze(runner, "--survey", survey.public_key, "--out", str(out), "--workers", "1")
    assert result.exit_code == 1 and "could not write the report" in result.output
    assert "no space left on device" in result.output
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []
    assert db.session.scalar(sa.select(sa.func.count(AnalysisRun.id))) == 0


def test_labels_in_force_are_updated_in_the_date_indexs_order(make_survey, make_response):
    # speed (#20): sentiment and theme are columns of ix_responses_survey_created, so a batch's
    # updates go in (survey, created_at) order, one pass over that index; the result is the same
    import datetime as dt

    from analysis.labeller import CommentLabels
    from survey.labels import encode_label_rows, label_rows, store_encoded_labels

    survey, responses = add_answers(make_survey, make_response, NPS_ANSWERS[:6])
    start = dt.datetime(2026, 1, 1)
    for response, days in zip(responses, (5, 1, 4, 0, 3, 2)):
        response.created_at = start + dt.timedelta(days=days)
    db.session.commit()
    order = {r.id: (r.survey_id, r.created_at) for r in responses}
    labels = CommentLabels("negative", 0.9, {}, "care", 0.8, {}, [])
    rows = encode_label_rows(label_rows("m-order", [(r.id, labels) for r in responses]))
    updated: list[int] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE responses"):
            updated.extend(p[-1] for p in parameters)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        store_encoded_labels(rows, order.get)
        db.session.commit()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert updated == sorted((r.id for r in responses), key=order.get)
    assert updated != [r.id for r in responses]
    assert set(labels_in_force().values()) == {("negative", "care", "m-order")}
