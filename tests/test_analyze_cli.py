"""``flask analyze``: labels stored, incremental runs, the report folder, runs for the dashboard, bad options."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.labels import correct_label
from survey.models import (AnalysisJob, AnalysisRun, LabelCorrection, PainPointRecord, ResponseLabel,
                           pain_point_responses)
from tests.analyze_support import NPS_ANSWERS, add_answers, analysis_app, read_report, tiny_model  # noqa: F401

pytestmark = pytest.mark.usefixtures("analysis_app")


def analyze(runner, *args):
    return runner.invoke(args=["analyze", *args])


def test_analyze_labels_every_comment_then_nothing_new(runner, make_survey, make_response, tmp_path, analysis_app):
    survey, responses = add_answers(make_survey, make_response)
    out = tmp_path / "report"
    result = analyze(runner, "--survey", survey.public_key, "--out", str(out))
    assert result.exit_code == 0, result.output
    commented = [r for r in responses if r.comment]
    assert f"labelled {len(commented)} new comment(s)" in result.output

    labels = db.session.scalars(sa.select(ResponseLabel)).all()
    assert sorted(label.response_id for label in labels) == sorted(r.id for r in commented)
    for label in labels:
        assert label.model_version == analysis_app
        assert label.sentiment in ("negative", "neutral", "positive") and label.theme in ("service", "care", "other")
        assert sum(label.sentiment_probs.values()) == pytest.approx(1, abs=1e-3)
        assert label.sentiment_proba == pytest.approx(label.sentiment_probs[label.sentiment], abs=1e-4)
        assert label.clauses and all(c["text"] and c["sentiment"] and c["theme"] for c in label.clauses)
    for response in commented:
        db.session.refresh(response)
        assert response.sentiment and response.theme and response.label_version == analysis_app

    # the promoter's comment is split into its two points, each labelled
    mixed = next(r for r in commented if r.comment.startswith("the engineer was lovely"))
    mixed_label = next(label for label in labels if label.response_id == mixed.id)
    assert [c["text"] for c in mixed_label.clauses] == ["the engineer was lovely",
                                                        "but it took three months to get connected"]
    # PII is masked in what is stored
    phone = next(label for label in labels if label.response_id == commented[0].id)
    assert "[phone]" in phone.clauses[-1]["text"] and "07700" not in str(phone.clauses)

    again = analyze(runner, "--survey", survey.public_key, "--out", str(out))
    assert again.exit_code == 0, again.output
    assert "labelled 0 new comment(s)" in again.output
    assert db.session.scalar(sa.select(sa.func.count(ResponseLabel.id))) == len(commented)
    assert read_report(out)["totals"]["labelled_now"] == 0


def test_only_new_comments_are_labelled(runner, make_survey, make_response, tmp_path):
    survey, _ = add_answers(make_survey, make_response, NPS_ANSWERS[:5])
    assert analyze(runner, "--out", str(tmp_path / "a")).exit_code == 0
    make_response(survey, score=1, comment="on hold for two hours again")
    result = analyze(runner, "--out", str(tmp_path / "b"))
    assert "labelled 1 new comment(s)" in result.output
    assert read_report(tmp_path / "b")["totals"]["comments"] == 6


def test_report_folder_schema(runner, make_survey, make_response, tmp_path):
    survey, responses = add_answers(make_survey, make_response)
    out = tmp_path / "report"
    assert analyze(runner, "--survey", survey.public_key, "--out", str(out)).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "responses.csv"]
    report = read_report(out)
    assert set(report) >= {"generated_at", "model_version", "scope", "totals", "metrics", "surveys", "sentiment",
                           "theme", "sentiment_by_theme", "pain_points"}
    metric = report["metrics"][survey.public_key]
    assert metric["kind"] == "nps" and metric["n"] == 14
    assert {"score", "se", "ci_low", "ci_high"} <= set(metric) and metric["ci_low"] < metric["score"] < metric["ci_high"]
    comments = sum(1 for r in responses if r.comment)
    assert sum(report["sentiment"].values()) == sum(report["theme"].values()) == comments
    assert report["totals"] == {"responses": 14, "comments": comments, "labelled_now": comments}
    assert report["scope"] == {"survey": survey.public_key, "since": None, "label": survey.name}
    (section,) = report["surveys"]
    assert section["period"] == "week" and sum(section["score_counts"].values()) == 14
    assert [p["period_start"] for p in section["trend"]] == ["2024-01-01", "2024-01-08"]  # Mondays

    ids = {r.id for r in responses}
    for rank, point in enumerate(report["pain_points"], start=1):
        assert set(point) >= {"label", "theme", "count", "share", "score_impact", "response_ids", "quotes", "impact"}
        assert point["rank"] == rank and point["survey"] == survey.public_key
        assert point["count"] == len(point["response_ids"]) and set(point["response_ids"]) <= ids
        assert point["share"] == pytest.approx(point["count"] / comments, abs=1e-4)
        assert 1 <= len(point["quotes"]) <= 3
    assert report["pain_points"], "the repeated complaints form at least one pain point"
    impacts = [p["impact"] for p in report["pain_points"]]
    assert impacts == sorted(impacts, reverse=True)

    with open(out / "responses.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["response_id"]) for r in rows] == sorted(ids)
    score_only = next(r for r in rows if not r["comment"])
    assert score_only["score"] == "8" and score_only["sentiment"] == "" and score_only["band"] == "passive"
    labelled = [r for r in rows if r["comment"]]
    assert all(r["sentiment"] and float(r["sentiment_proba"]) > 0 and r["model_version"] for r in labelled)
    assert all(abs(sum(float(r[f"p_{s}"]) for s in ("negative", "neutral", "positive")) - 1) < 1e-2 for r in labelled)
    in_points = {rid for p in report["pain_points"] for rid in p["response_ids"]}
    assert all(bool(r["pain_points"]) == (int(r["response_id"]) in in_points) for r in rows)


def test_report_masks_pii_and_defuses_formulas(runner, make_survey, make_response, tmp_path):
    survey, _ = add_answers(make_survey, make_response)
    out = tmp_path / "report"
    assert analyze(runner, "--survey", survey.public_key, "--out", str(out)).exit_code == 0
    for name in ("report.html", "report.json", "responses.csv"):
        text = (out / name).read_text(encoding="utf-8")
        assert "ana.lopez@example.com" not in text and "07700 900123" not in text, name
    csv_text = (out / "responses.csv").read_text(encoding="utf-8-sig")
    assert "[email]" in csv_text and "[phone]" in csv_text
    with open(out / "responses.csv", encoding="utf-8-sig", newline="") as fh:
        comments = [row["comment"] for row in csv.DictReader(fh)]
    assert "'=HYPERLINK(\"http://evil.example\",\"click\") staff were kind" in comments
    assert not any(c.startswith(("=", "+", "-", "@")) for c in comments)


def test_runs_and_pain_points_are_stored_for_the_dashboard(runner, make_survey, make_response, tmp_path):
    survey, _ = add_answers(make_survey, make_response)
    out = tmp_path / "report"
    assert analyze(runner, "--survey", survey.public_key, "--out", str(out)).exit_code == 0
    run = db.session.scalar(sa.select(AnalysisRun))
    assert run.survey_id == survey.id and run.finished_at and run.report_dir == str(out.resolve())
    assert run.summary["totals"]["comments"] == 13
    report = read_report(out)
    stored = db.session.scalars(sa.select(PainPointRecord).order_by(PainPointRecord.rank)).all()
    assert [(p.label, p.count, p.rank) for p in stored] == [(p["label"], p["count"], p["rank"])
                                                            for p in report["pain_points"]]
    for point, row in zip(report["pain_points"], stored):
        assert sorted(r.id for r in row.responses) == point["response_ids"]
        assert row.survey_id == survey.id and row.quotes == point["quotes"]


def test_all_surveys_run_ranks_across_surveys_and_keeps_per_survey_ranks(runner, make_survey, make_response,
                                                                         tmp_path, app):
    nps, _ = add_answers(make_survey, make_response)
    csat, _ = add_answers(make_survey, make_response, [(1 + s // 3, c) for s, c in NPS_ANSWERS], kind="csat")
    out = tmp_path / "all"
    result = analyze(runner, "--out", str(out))
    assert result.exit_code == 0, result.output
    report = read_report(out)
    assert set(report["metrics"]) == {nps.public_key, csat.public_key}
    assert report["metrics"][csat.public_key]["kind"] == "csat"
    assert {p["survey"] for p in report["pain_points"]} == {nps.public_key, csat.public_key}
    assert [p["rank"] for p in report["pain_points"]] == list(range(1, len(report["pain_points"]) + 1))
    run = db.session.scalar(sa.select(AnalysisRun))
    assert run.survey_id is None and sorted(run.summary["survey_ids"]) == sorted([nps.id, csat.id])
    for survey in (nps, csat):
        ranks = db.session.scalars(sa.select(PainPointRecord.rank).where(PainPointRecord.survey_id == survey.id)
                                   .order_by(PainPointRecord.rank)).all()
        assert ranks == list(range(1, len(ranks) + 1))


def test_default_report_folder_and_old_runs_pruned(runner, make_survey, make_response, app):
    survey, _ = add_answers(make_survey, make_response, NPS_ANSWERS[:6])
    app.config["ANALYSIS_KEEP_RUNS"] = 2
    folders = []
    for _ in range(3):
        result = analyze(runner, "--survey", survey.public_key)
        assert result.exit_code == 0, result.output
        folders.append(result.output.strip().splitlines()[-1].removeprefix("Report: "))
    assert len(set(folders)) == 3
    for folder in folders:
        assert f"/reports/{survey.public_key}-" in folder and folder.endswith("report.html")
    runs = db.session.scalars(sa.select(AnalysisRun.report_dir).order_by(AnalysisRun.id)).all()
    assert len(runs) == 2 and runs[-1] + "/report.html" == folders[-1]
    kept = set(db.session.scalars(sa.select(AnalysisRun.id)))
    assert set(db.session.scalars(sa.select(PainPointRecord.run_id))) <= kept
    orphan = sa.select(sa.func.count()).select_from(pain_point_responses).where(
        ~pain_point_responses.c.pain_point_id.in_(sa.select(PainPointRecord.id)))
    assert db.session.scalar(orphan) == 0


def test_since_limits_the_scope(runner, make_survey, make_response, tmp_path):
    survey, responses = add_answers(make_survey, make_response)
    out = tmp_path / "since"
    result = analyze(runner, "--survey", survey.public_key, "--since", "2024-01-10", "--out", str(out))
    assert result.exit_code == 0, result.output
    report = read_report(out)
    later = [r for r in responses if r.created_at >= dt.datetime(2024, 1, 10)]
    assert report["totals"]["responses"] == len(later)
    assert report["scope"]["since"] == "2024-01-10"
    assert db.session.scalar(sa.select(sa.func.count(ResponseLabel.id))) == sum(1 for r in later if r.comment)


def test_a_correction_stays_in_force_after_a_run(runner, make_survey, make_response, tmp_path):
    survey, responses = add_answers(make_survey, make_response, NPS_ANSWERS[:4])
    target = responses[1]
    correct_label(target, "sentiment", "positive", None)
    assert analyze(runner, "--out", str(tmp_path / "r")).exit_code == 0
    db.session.refresh(target)
    assert target.sentiment == "positive"
    with open(tmp_path / "r" / "responses.csv", encoding="utf-8-sig", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if int(r["response_id"]) == target.id)
    assert row["sentiment"] == "positive" and row["corrected"] == "sentiment"
    # its one clause follows the correction, so it is no pain point any more
    assert all(target.id not in p["response_ids"] for p in read_report(tmp_path / "r")["pain_points"])


def test_a_comment_changed_in_its_edit_window_is_labelled_again(runner, make_survey, make_response, tmp_path):
    """A customer who rewrites a comment (the widget's or answer page's edit window) must not keep the old
    text's labels and clauses for ever: the run labelled only comments this model had not labelled."""
    from survey.models import utcnow
    from survey.operations import revise_response

    survey = make_survey("nps")
    kept = make_response(survey, score=1, comment="on hold for two hours and then cut off", created_at=utcnow())
    changed = make_response(survey, score=9, comment="friendly staff and the installation went smoothly",
                            created_at=utcnow())
    assert analyze(runner, "--survey", survey.public_key, "--out", str(tmp_path / "r1")).exit_code == 0
    correct_label(kept, "theme", "care", None)
    revise_response(changed, 2, "the engineer never turned up and nobody called me back")
    revise_response(kept, 0, "on hold for three hours and then cut off")

    result = analyze(runner, "--survey", survey.public_key, "--out", str(tmp_path / "r2"))
    assert result.exit_code == 0 and "labelled 2 new comment(s)" in result.output, result.output
    db.session.expire_all()
    labels = db.session.scalars(sa.select(ResponseLabel).where(ResponseLabel.response_id == changed.id)).all()
    assert len(labels) == 1 and "engineer" in " ".join(c["text"] for c in labels[0].clauses)
    assert changed.sentiment == "negative"
    # the analyst's correction judged the old text: kept as history, no longer in force
    assert kept.theme == ResponseLabel.query.filter_by(response_id=kept.id).one().theme
    assert db.session.scalar(sa.select(LabelCorrection.superseded_at).where(LabelCorrection.response_id == kept.id))


@pytest.mark.parametrize("args, message", [
    (["--survey", "nope"], "no survey has the key 'nope'"),
    (["--since", "2024-13-01"], "'2024-13-01' does not match the format '%Y-%m-%d'"),
    (["--since", "yesterday"], "does not match the format"),
    (["--model", "20990101-deadbeef"], "model version '20990101-deadbeef' not found"),
    (["--batch-size", "0"], "0 is not in the range"),
])
def test_bad_options_fail_clearly(runner, make_survey, make_response, args, message):
    add_answers(make_survey, make_response, NPS_ANSWERS[:3])
    result = analyze(runner, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(sa.select(sa.func.count(ResponseLabel.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(AnalysisRun.id))) == 0


def test_empty_survey_and_empty_site_say_so_and_succeed(runner, make_survey, make_response):
    """Nothing to analyse is not a fault (the nightly timer on a new site): one line, exit 0, no report."""
    result = analyze(runner)
    assert result.exit_code == 0, result.output
    assert result.output == "no answers with a comment in any survey: nothing to analyse; no report written\n"
    # the dashboard does not call it a failed attempt either
    assert db.session.scalar(sa.select(AnalysisJob.status)) == "nothing"
    survey = make_survey("csat")
    make_response(survey, score=4)
    result = analyze(runner, "--survey", survey.public_key)
    assert result.exit_code == 0
    assert f"survey {survey.public_key} ({survey.name}) has no comments to analyse (1 answer(s), none" in result.output
    add_answers(make_survey, make_response, NPS_ANSWERS[:2])
    result = analyze(runner, "--since", "2030-01-01", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "nothing_to_analyse": True,
        "message": "no answers with a comment since 2030-01-01 in any survey: nothing to analyse; no report written"}
    assert db.session.scalar(sa.select(sa.func.count(AnalysisRun.id))) == 0


def test_group_options_do_not_leak_into_subcommands(runner):
    result = analyze(runner, "--survey", "x", "classify", "--help")
    assert result.exit_code == 2 and "--survey belong(s) to `flask analyze` itself" in result.output


def test_interrupted_batch_from_another_run_is_not_labelled_twice(runner, make_survey, make_response, tmp_path,
                                                                  analysis_app):
    """Two runs at once: a batch the other run stored meanwhile is skipped, not an error."""
    from analysis.labeller import CommentLabels
    from survey.insights.service import _store_rows
    from survey.labels import encode_label_rows, label_rows

    survey, responses = add_answers(make_survey, make_response, NPS_ANSWERS[:3])
    item = lambda r: (r.id, CommentLabels("negative", 0.9, {"negative": 0.9, "neutral": 0.05, "positive": 0.05},  # noqa
                                          "service", 0.8, {"service": 0.8, "care": 0.1, "other": 0.1}, []))
    store = lambda batch: _store_rows(analysis_app, encode_label_rows(label_rows(analysis_app, batch)))  # noqa: E731
    assert len(store([item(responses[0])])) == 1
    assert [row[0] for row in store([item(r) for r in responses])] == [r.id for r in responses[1:]]
    assert db.session.scalar(sa.select(sa.func.count(ResponseLabel.id))) == 3


def test_progress_bar_on_stderr_for_long_runs(runner, make_survey, make_response, tmp_path, monkeypatch):
    monkeypatch.setattr("survey.insights.cli.PROGRESS_FROM", 3)
    survey, _ = add_answers(make_survey, make_response, NPS_ANSWERS[:5])
    result = runner.invoke(args=["analyze", "--out", str(tmp_path / "r"), "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "Labelling comments" in result.stderr and "Labelling" not in result.stdout
    assert "labelled 5 new comment(s)" in result.stdout


def test_the_dashboard_reads_the_stored_pain_points(runner, make_survey, make_response, tmp_path):
    from survey.results import queries
    from survey.results.filters import ResponseFilter

    survey, _ = add_answers(make_survey, make_response)
    assert analyze(runner, "--out", str(tmp_path / "r")).exit_code == 0
    run = queries.latest_run(survey)
    assert run is not None and run.survey_id is None  # an all-surveys run covers this survey
    rows = queries.pain_points(ResponseFilter(survey=survey), run)
    report = read_report(tmp_path / "r")
    assert [(row.point.label, row.matching) for row in rows] == [(p["label"], p["count"]) for p in report["pain_points"]]


def test_a_tampered_model_file_is_refused(runner, make_survey, make_response, app):
    import json
    from pathlib import Path

    add_answers(make_survey, make_response, NPS_ANSWERS[:3])
    models = Path(app.instance_path) / "models"
    version = "20990101-deadbeef"
    (models / f"{version}.json").write_text(json.dumps({"created": "2099-01-01T00:00:00+00:00"}))
    for task in ("sentiment", "theme"):
        (models / f"{task}-{version}.skops").write_bytes(b"not a skops file")
    result = analyze(runner, "--model", version)
    assert result.exit_code == 1 and "refusing to load the model" in result.output
    assert db.session.scalar(sa.select(sa.func.count(ResponseLabel.id))) == 0


def test_score_band_tips_comment_sentiment_but_a_promoters_complaint_still_counts(
        runner, make_survey, make_response, tmp_path, app):
    """With the band at full weight a promoter's weakly worded complaint becomes a positive
    comment, yet its one clause stays negative for the pain points; weight 0 leaves the text alone."""
    from analysis.labeller import Labeller
    from survey.insights import queries, service

    texts = [comment for _, comment in NPS_ANSWERS if comment]
    labeller = Labeller.load(service.model_dirs(), app.config["ANALYSIS_MODEL_VERSION"])
    text_only = {c: lab for c, lab in zip(texts, labeller.label(texts))}
    # a comment the text calls negative but not by far: a promoter's score should tip it
    close = min((c for c in texts if text_only[c].sentiment == "negative" and len(text_only[c].clauses) == 1),
                key=lambda c: text_only[c].sentiment_probs["negative"] - text_only[c].sentiment_probs["positive"])
    survey = make_survey("nps")
    promoter = make_response(survey, score=10, comment=close)
    app.config["ANALYSIS_SCORE_WEIGHT"] = 50.0  # an exaggerated band, so the tip is certain
    service.label_new_comments(labeller, survey.id, None)
    db.session.expire_all()
    stored = db.session.scalar(sa.select(ResponseLabel).where(ResponseLabel.response_id == promoter.id))
    assert stored.sentiment == "positive" and promoter.sentiment == "positive"
    assert stored.clauses[0]["sentiment"] == "negative"
    assert [c.response_id for c in queries.negative_clauses([survey.id], None, labeller.version)] == [promoter.id]
    # an analyst's correction still moves a one-clause comment out of the pain points
    correct_label(promoter, "sentiment", "positive", None)
    assert list(queries.negative_clauses([survey.id], None, labeller.version)) == []

    other = make_survey("nps")
    same = make_response(other, score=10, comment=close)
    app.config["ANALYSIS_SCORE_WEIGHT"] = 0
    service.label_new_comments(labeller, other.id, None)
    db.session.expire_all()
    assert db.session.get(type(same), same.id).sentiment == "negative"
