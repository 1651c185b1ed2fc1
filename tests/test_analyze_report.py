"""survey.insights.report (no app needed): the report dict, the three files, escaping, masking."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.painpoints import PainPoint
from survey.insights.findings import SurveyPainPoint, SurveySummary
from survey.insights.report import RESPONSE_COLUMNS, build_report, render_html, write_report
from survey.metrics import metric_for

REPO = Path(__file__).resolve().parent.parent
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def sample_report(label=HOSTILE, quote=f"call me on 07700 900123 {HOSTILE}"):
    survey = SurveySummary(
        key="k1", name=f"Shop {HOSTILE}", kind="csat", responses=6, comments=4,
        score_counts={1: 2, 4: 1, 5: 3},
        trend=[(dt.date(2024, 1, 1), metric_for("csat", [1, 1, 5])), (dt.date(2024, 1, 8), metric_for("csat", [4, 5, 5]))],
    )
    points = [SurveyPainPoint("k1", 1, PainPoint(rank=1, label=label, theme="care", count=2, share=0.5, score_impact=-3.5,
                                                 impact=40.0, response_ids=[3, 7], quotes=[quote], terms=["x"]))]
    return build_report(
        surveys=[survey], sentiment_by_theme={"service": {"negative": 2}, "care": {"positive": 1, "negative": 1}},
        pain_points=points, model_version="20240101-abcdef12", labelled_now=4,
        scope={"survey": "k1", "since": None, "label": f"Shop {HOSTILE}"},
        generated_at=dt.datetime(2024, 2, 1, 9, 30, 15, 123),
    )


def test_build_report_numbers():
    report = sample_report()
    assert report["metrics"]["k1"]["kind"] == "csat" and report["metrics"]["k1"]["n"] == 6
    assert report["metrics"]["k1"]["score"] == pytest.approx(400 / 6, abs=1e-3)
    assert report["sentiment"] == {"negative": 3, "neutral": 0, "positive": 1}
    assert report["theme"] == {"service": 2, "care": 2, "other": 0}
    assert [p["period_start"] for p in report["surveys"][0]["trend"]] == ["2024-01-01", "2024-01-08"]
    assert report["surveys"][0]["trend"][1]["n"] == 3
    assert report["generated_at"] == "2024-02-01T09:30:15"
    assert report["pain_points"][0]["quotes"] == [f"call me on [phone] {HOSTILE}"]
    json.dumps(report, allow_nan=False)  # valid JSON: no NaN anywhere


def test_html_escapes_everything_and_loads_nothing():
    html = render_html(sample_report())
    assert "<script" not in html.lower()
    assert "<img" not in html  # only ever as escaped text
    assert "&lt;script&gt;" in html
    assert "07700" not in html and "[phone]" in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "http://" not in html.replace("http://www.w3.org/", "")  # no external resource
    # Four charts, each inlined once (the narrow drawing reads on a phone and on a desktop).
    assert html.count("<svg") == html.count('role="img"') == html.count('class="chart chart-narrow"') == 4
    assert "3, 7" in html  # every answer id of a pain point
    assert "Generated 1 Feb 2024, 09:30 UTC with model" in html  # as pages write a moment (JSON keeps ISO)


def test_write_report_files(tmp_path):
    rows = [
        {"response_id": 1, "survey": "k1", "score": 5, "comment": "=1+2 mail me at a.b@example.org", "sentiment": "negative",
         "sentiment_proba": 0.912345, "p_negative": 0.912345, "pain_points": ["on hold", "rude"], "corrected": []},
        {"response_id": 2, "survey": "k1", "score": None, "comment": None, "external_id": "@ext"},
        {"response_id": 3, "survey": "k1", "score": 4, "comment": "\tsneaky", "external_id": "-2"},
    ]
    out = write_report(tmp_path / "r", sample_report(), iter(rows))
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "responses.csv"]
    assert json.loads((out / "report.json").read_text())["model_version"] == "20240101-abcdef12"
    with open(out / "responses.csv", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        assert tuple(next(reader)) == RESPONSE_COLUMNS
        lines = [dict(zip(RESPONSE_COLUMNS, line)) for line in reader]
    assert lines[0]["comment"] == "'=1+2 mail me at [email]"
    assert lines[0]["sentiment_proba"] == "0.9123" and lines[0]["pain_points"] == "on hold; rude"
    assert lines[1]["score"] == "" and lines[1]["external_id"] == "'@ext"
    assert lines[2]["comment"] == "'\tsneaky" and lines[2]["external_id"] == "'-2"


def test_responses_csv_opens_in_excel_with_its_accents(tmp_path):
    """Without a byte order mark Excel read responses.csv in the legacy code page ("CafÃ©"), with or
    without the second process writing it (a function given instead of rows)."""
    from survey.insights.report import response_line_blocks, write_response_lines

    rows = [{"response_id": 1, "survey": "k1", "score": 2, "comment": "Café froid, serveur très lent"}]
    for given in (iter(rows), lambda fh: write_response_lines(fh, response_line_blocks(rows))):
        out = write_report(tmp_path / "r", sample_report(), given)
        data = (out / "responses.csv").read_bytes()
        assert data.startswith(b"\xef\xbb\xbfresponse_id,") and "Café froid".encode() in data
        with open(out / "responses.csv", encoding="utf-8-sig", newline="") as fh:
            assert tuple(next(csv.reader(fh))) == RESPONSE_COLUMNS


def test_a_failed_write_keeps_the_previous_report(tmp_path, monkeypatch):
    out = write_report(tmp_path / "r", sample_report(), [])
    before = (out / "report.json").read_text()

    def broken_rows():
        yield {"response_id": 1}
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_report(out, sample_report(label="changed"), broken_rows())
    assert (out / "report.json").read_text() == before
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json", "responses.csv"]

    def broken_html(report):
        raise RuntimeError("template error")

    monkeypatch.setattr("survey.insights.report.render_html", broken_html)
    with pytest.raises(RuntimeError):
        write_report(out, sample_report(label="changed"), [])
    assert (out / "report.json").read_text() == before  # not half-replaced
    assert len(list(out.iterdir())) == 3


def test_pain_point_bars_name_their_survey_when_there_are_several():
    report = sample_report(label="on hold")
    second = dict(report["surveys"][0], key="k2", name="Shop two")
    report["surveys"].append(second)
    report["metrics"]["k2"] = report["metrics"]["k1"]
    report["pain_points"].append(dict(report["pain_points"][0], survey="k2", rank=2))
    html = render_html(report)
    assert "on hold (Shop two)" in html and "on hold (Shop &lt;script&gt;" in html


def test_html_lists_a_capped_number_of_answer_ids(monkeypatch):
    """A big pain point's ids are cut in report.html (responses.csv has them all), a small one's are not."""
    from survey.insights import report as report_module

    monkeypatch.setattr(report_module, "MAX_LISTED_IDS", 3)
    data = sample_report()
    data["pain_points"].append({**data["pain_points"][0], "rank": 2, "label": "many", "response_ids": list(range(10, 20))})
    html = render_html(data)
    assert "All 2 answer ids" in html and "3, 7" in html
    assert "First 3 of 10 answer ids" in html and "10, 11, 12</p>" in html
