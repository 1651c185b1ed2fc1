"""``flask analyze`` end to end on the demo surveys and on the imported shared NPS verbatims."""

from __future__ import annotations

import csv
import json

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.models import AnalysisRun, PainPointRecord, Response, ResponseLabel, Survey
from tests.analyze_support import analysis_app, read_report, tiny_model  # noqa: F401
from tests.conftest import shared_file

pytestmark = pytest.mark.usefixtures("analysis_app")


def test_demo_surveys(runner, tmp_path):
    from survey.demo import seed_demo

    seed_demo(base_url="http://127.0.0.1:5000")
    out = tmp_path / "demo"
    result = runner.invoke(args=["analyze", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = read_report(out)
    surveys = db.session.scalars(sa.select(Survey)).all()
    assert {s.public_key for s in surveys} == set(report["metrics"])
    assert {m["kind"] for m in report["metrics"].values()} == {"nps", "csat", "ces"}
    comments = db.session.scalar(sa.select(sa.func.count(Response.id)).where(Response.comment.is_not(None)))
    assert report["totals"]["comments"] == comments == report["totals"]["labelled_now"]
    assert db.session.scalar(sa.select(sa.func.count(ResponseLabel.id))) == comments
    for survey in report["surveys"]:
        assert survey["trend"] and survey["period"] in ("week", "month")
    assert "Top pain points" in result.output or "No pain points" in result.output


@pytest.mark.shared_data
def test_imported_nps_verbatims(runner, tmp_path):
    path = shared_file("nps_verbatims_dev.csv")
    key = runner.invoke(args=["survey", "create", "--kind", "nps", "--name", "Broadband NPS"]).output.strip()
    imported = runner.invoke(args=["responses", "import", str(path), "--survey", key, "--text-col", "text",
                                   "--score-col", "nps_score", "--date-col", "responded", "--id-col", "id"])
    assert imported.exit_code == 0, imported.output
    with open(path, encoding="utf-8-sig", newline="") as fh:
        source = list(csv.DictReader(fh))

    out = tmp_path / "verbatims"
    result = runner.invoke(args=["analyze", "--survey", key, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"labelled {len(source):,} new comment(s)" in result.output
    report = read_report(out)
    metric = report["metrics"][key]
    assert metric["n"] == sum(1 for row in source if row["nps_score"].strip())
    assert metric["ci_low"] < metric["score"] < metric["ci_high"]
    assert report["surveys"][0]["period"] == "month"  # 2017–2018: months, not a hundred weeks
    points = report["pain_points"]
    assert len(points) >= 5
    ids = set(db.session.scalars(sa.select(Response.id)))
    for point in points:
        assert set(point["response_ids"]) <= ids and point["count"] == len(point["response_ids"])
        assert point["score_impact"] is not None and len(point["quotes"]) >= 1
    assert sum(p["score_impact"] < 0 for p in points) > len(points) / 2  # complaints come with lower scores
    assert db.session.scalar(sa.select(sa.func.count(PainPointRecord.id))) == len(points)
    assert db.session.scalar(sa.select(AnalysisRun.summary)).get("pain_points") == len(points)

    with open(out / "responses.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["external_id"] for r in rows) == sorted(row["id"] for row in source)
    assert all(r["sentiment"] and r["theme"] for r in rows)

    again = runner.invoke(args=["analyze", "--survey", key, "--out", str(out)])
    assert "labelled 0 new comment(s)" in again.output
    assert [p["label"] for p in read_report(out)["pain_points"]] == [p["label"] for p in points]  # deterministic


@pytest.mark.shared_data
def test_classify_and_evaluate_the_shared_labelled_verbatims(runner, tmp_path):
    path = shared_file("nps_verbatims_labeled.csv")
    out = tmp_path / "labelled.csv"
    result = runner.invoke(args=["analyze", "classify", "--in", str(path), "--text-col", "text", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with open(path, encoding="utf-8-sig", newline="") as a, open(out, encoding="utf-8", newline="") as b:
        assert len(list(csv.reader(a))) == len(list(csv.reader(b)))
    for task in ("sentiment", "theme"):
        result = runner.invoke(args=["analyze", "evaluate", "--in", str(path), "--text-col", "text",
                                     "--label-col", task, "--task", task, "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["n"] == 250 and 0 < data["macro_f1"] <= 1
