"""Time and peak memory of ``flask analyze`` on generated answers (target: 100k in < 2 min, < 1 GB).

Generates ``--responses`` NPS answers into a throw-away SQLite database in a
temporary instance folder: comments are texts of the shipped corpus
(``models/corpus``), a third of them with a second corpus sentence appended
(so comments have several clauses), scores drawn to match each text's
sentiment, dates spread over a year. Nothing from ``../shared`` is used.

Then runs ``flask analyze`` twice in a child process, each time measuring
wall time and the child's peak resident memory (``ru_maxrss``):

1. the first run labels every comment, stores the labels and writes the report;
2. the second run finds nothing new to label and only rebuilds pain points and report.

Usage::

    python benchmarks/analyze_speed.py                      # 100,000 answers, the newest model
    python benchmarks/analyze_speed.py --responses 20000 --model-dir /path/to/models
    python benchmarks/analyze_speed.py --keep /tmp/bench    # keep the instance folder (report inside)
    # the README picture: a broadband survey drawn from the telecom part of the corpus
    python benchmarks/analyze_speed.py --responses 3000 --corpus models/corpus/telecom_utilities.csv \
        --screenshot survey/static/screenshots/report.png
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "models" / "corpus"
TARGET_SECONDS = 120
TARGET_MB = 1024

# Scores an answer with a comment of this sentiment is drawn from.
SCORES = {"negative": [0, 1, 2, 3, 4, 5, 6, 6, 7], "neutral": [5, 6, 7, 7, 8, 8, 9], "positive": [7, 8, 9, 9, 10, 10]}


def corpus_rows(paths: list[Path]) -> list[tuple[str, str]]:
    rows = []
    for path in paths:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows.extend((row["text"], row["sentiment"]) for row in csv.DictReader(fh))
    return rows


def generate(instance: Path, n: int, seed: int, corpus: list[Path]) -> str:
    """Create the database with one NPS survey and ``n`` answers; return the survey key."""
    os.environ["RAPPORT_INSTANCE_PATH"] = str(instance)
    from survey import create_app

    app = create_app({"SQLITE_SYNCHRONOUS": "NORMAL"})
    rng = random.Random(seed)
    rows = corpus_rows(corpus)
    start = dt.datetime(2024, 1, 1)
    with app.app_context():
        import sqlalchemy as sa

        import survey.models_all  # noqa: F401
        from survey.db import db
        from survey.models import Response
        from survey.operations import create_survey

        db.create_all()
        survey = create_survey("nps", "Northwind Broadband NPS (generated)", "Northwind Broadband")
        batch = []
        for i in range(n):
            text, sentiment = rng.choice(rows)
            if rng.random() < 1 / 3:
                other, other_sentiment = rng.choice(rows)
                text = f"{text.rstrip(' .!?')}. {other}"
                sentiment = sentiment if rng.random() < 0.6 else other_sentiment
            created = start + dt.timedelta(seconds=rng.randrange(365 * 24 * 3600))
            batch.append({"survey_id": survey.id, "score": rng.choice(SCORES[sentiment]), "comment": text,
                          "channel": "import", "created_at": created, "updated_at": created,
                          "external_id": f"bench-{i}", "meta": {}})
            if len(batch) == 10_000:
                db.session.execute(sa.insert(Response), batch)
                batch = []
        if batch:
            db.session.execute(sa.insert(Response), batch)
        db.session.commit()
        key = survey.public_key
        db.engine.dispose()
    return key


def timed_analyze(instance: Path, key: str, out: Path) -> dict:
    """Run ``flask analyze`` in a child process; its wall time, peak memory and output."""
    env = {**os.environ, "RAPPORT_INSTANCE_PATH": str(instance)}
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "survey", "analyze", "--survey", key, "--out", str(out)],
            cwd=REPO, env=env, stdout=stdout, stderr=stderr, text=True,
        )
        # wait4 gives this child's own peak resident set size (kilobytes on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    if proc.returncode != 0:
        sys.exit(f"flask analyze failed ({proc.returncode}):\n{output}\n{errors}")
    # CPU seconds too: on a busy machine the wall time says more about the neighbours than about us.
    return {"seconds": round(seconds, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_mb": round(usage.ru_maxrss / 1024), "output": output}


def screenshot(html: Path, png: Path, width: int = 1100, height: int = 2000) -> None:
    """The top of ``html`` as Chromium draws it (this is how the README picture is made)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(html.resolve().as_uri())
        page.screenshot(path=str(png))
        browser.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model-dir", type=Path, help="a folder of trained models (default: the shipped models/)")
    parser.add_argument("--keep", type=Path, help="use and keep this instance folder instead of a temporary one")
    parser.add_argument("--corpus", type=Path, nargs="+", default=sorted(CORPUS.glob("*.csv")),
                        help="corpus CSV files the comments are drawn from (default: all of models/corpus)")
    parser.add_argument("--screenshot", type=Path,
                        help="also save a picture of the top of the first report (headless Chromium) here")
    args = parser.parse_args(argv)

    instance = args.keep or Path(tempfile.mkdtemp(prefix="rapport-analyze-bench-"))
    if args.keep and instance.exists():
        shutil.rmtree(instance)
    instance.mkdir(parents=True, exist_ok=True)  # mkdtemp made it already
    try:
        if args.model_dir:
            shutil.copytree(args.model_dir, instance / "models", dirs_exist_ok=True)
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        key = generate(instance, args.responses, args.seed, args.corpus)
        print(f"generated {args.responses:,} answers in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        first = timed_analyze(instance, key, instance / "reports" / "first")
        second = timed_analyze(instance, key, instance / "reports" / "second")
        report = json.loads((instance / "reports" / "first" / "report.json").read_text())
        result = {
            "responses": args.responses,
            "model_version": report["model_version"],
            "first_run": {k: first[k] for k in ("seconds", "cpu_seconds", "peak_mb")},
            "second_run": {k: second[k] for k in ("seconds", "cpu_seconds", "peak_mb")},
            "pain_points": len(report["pain_points"]),
            "cpu": os.cpu_count(),
            "load_average_before": round(load_before, 2),
            "python": sys.version.split()[0],
        }
        print(first["output"], file=sys.stderr)
        if args.screenshot:
            screenshot(instance / "reports" / "first" / "report.html", args.screenshot)
        print(json.dumps(result, indent=2))
        ok = first["seconds"] < TARGET_SECONDS and first["peak_mb"] < TARGET_MB
        print(f"target (< {TARGET_SECONDS}s, < {TARGET_MB} MB): {'met' if ok else 'NOT met'}", file=sys.stderr)
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
