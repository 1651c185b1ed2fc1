"""Time and peak memory of ``flask analyze`` on generated answers, per phase (target #20: 1M in < 5 min, < 1 GB).

Generates ``--responses`` NPS answers into a throw-away SQLite database in a
temporary instance folder (bulk inserts, not HTTP): comments are texts of the
shipped corpus (``models/corpus``), a third of them with a second corpus
sentence appended (so comments have several clauses), each varied the way
people type (a letter swapped here and there, lower case, lost or doubled
punctuation, other numbers), so a million comments are not a few thousand
repeated. Scores are drawn to match each text's sentiment, dates spread over a
year. Nothing from ``../shared`` is used.

Then runs ``flask analyze --json`` twice in a child process, each time measuring
wall time, CPU time and the child's peak resident memory (``ru_maxrss``), and
the phases the analysis reports itself (``survey.insights.phases``: wall, CPU
and peak memory of each step):

1. the first run labels every comment, stores the labels and writes the report;
2. the second run finds nothing new to label and only rebuilds pain points and report.

The load average of the machine is printed beside the numbers: on a shared
machine CPU seconds say more than wall seconds.

Usage::

    nice -n 10 python benchmarks/analyze_speed.py                    # 100,000 answers, the newest model
    nice -n 10 python benchmarks/analyze_speed.py --responses 1000000 --only-first
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
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "models" / "corpus"
# The target of #20: 1,000,000 comments in under 5 minutes and 1 GB; the time scales with the count.
TARGET_SECONDS_PER_MILLION = 300
TARGET_MB = 1024

# Scores an answer with a comment of this sentiment is drawn from.
SCORES = {"negative": [0, 1, 2, 3, 4, 5, 6, 6, 7], "neutral": [5, 6, 7, 7, 8, 8, 9], "positive": [7, 8, 9, 9, 10, 10]}


def corpus_rows(paths: list[Path]) -> list[tuple[str, str]]:
    rows = []
    for path in paths:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows.extend((row["text"], row["sentiment"]) for row in csv.DictReader(fh))
    return rows


def vary(text: str, rng: random.Random) -> str:
    """``text`` as another person might have typed it: typos, case, punctuation and numbers differ."""
    words = text.split()
    for i, word in enumerate(words):
        if len(word) > 3 and rng.random() < 0.04:  # two neighbouring letters swapped
            j = rng.randrange(len(word) - 1)
            words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]
    text = " ".join(words)
    text = re.sub(r"\d+", lambda m: str(rng.randint(1, 12 if len(m.group()) < 2 else 99)), text)
    roll = rng.random()
    if roll < 0.25:
        text = text.lower()
    elif roll < 0.35:
        text = text.rstrip(".!?")
    elif roll < 0.42:
        text = text.rstrip(".") + "!!"
    return text


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
            text = vary(text, rng)
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


def generated_database(instance: Path, args) -> str:
    """Generate the answers into ``instance``, or copy them from ``--cache`` (generating it the first time)."""
    cache = args.cache
    if cache is not None and (cache / "KEY").exists() and (cache / "COUNT").read_text() == str(args.responses):
        shutil.copy2(cache / "rapport.db", instance / "rapport.db")
        return (cache / "KEY").read_text()
    t0 = time.perf_counter()
    key = generate(instance, args.responses, args.seed, args.corpus)
    print(f"generated {args.responses:,} answers in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copy2(instance / "rapport.db", cache / "rapport.db")
        (cache / "KEY").write_text(key)
        (cache / "COUNT").write_text(str(args.responses))
    return key


def _tree_pss_kb(pid: int) -> int:
    """Proportional set size of ``pid`` and its descendants (shared pages counted once, split between
    their holders): what the run costs the machine while labelling children or the responses.csv
    process run beside it. 0 where /proc has no smaps_rollup."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return total


def timed_analyze(instance: Path, key: str, out: Path, workers: int = 0) -> dict:
    """Run ``flask analyze`` in a child process; its wall time, peak memory and output."""
    import threading

    env = {**os.environ, "RAPPORT_INSTANCE_PATH": str(instance)}
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "survey", "analyze", "--survey", key, "--out", str(out), "--json",
             "--workers", str(workers)],
            cwd=REPO, env=env, stdout=stdout, stderr=stderr, text=True,
        )
        peak_pss, done = [0], threading.Event()

        def sample() -> None:  # every process of the run together, twice a second
            while not done.wait(0.5):
                peak_pss[0] = max(peak_pss[0], _tree_pss_kb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4 gives this child's own peak resident set size (kilobytes on Linux).
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        sampler.join()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    if proc.returncode != 0:
        sys.exit(f"flask analyze failed ({proc.returncode}):\n{output}\n{errors}")
    phases = json.loads(output)["phases"]
    # CPU seconds too: on a busy machine the wall time says more about the neighbours than about us.
    return {"seconds": round(seconds, 1), "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
            # Phases reset the peak as they start (survey.insights.phases), so the run's peak is theirs.
            "peak_mb": max([round(usage.ru_maxrss / 1024)] + [p["peak_mb"] for p in phases]),
            # all its processes at once (labelling children, the responses.csv process), sampled
            "peak_all_processes_pss_mb": round(peak_pss[0] / 1024),
            "load_average": round(os.getloadavg()[0], 2), "phases": phases, "output": output}


def print_phases(title: str, run: dict) -> None:
    print(f"{title}: {run['seconds']} s wall, {run['cpu_seconds']} s CPU, peak {run['peak_mb']} MB, all processes "
          f"together {run['peak_all_processes_pss_mb']} MB PSS (load average {run['load_average']})", file=sys.stderr)
    for p in run["phases"]:
        children = (f" (+ child processes: {p['children_cpu_seconds']:.1f} s CPU, peak {p['children_peak_mb']} MB)"
                    if "children_peak_mb" in p and p["phase"].startswith("labelling") else "")
        print(f"  {p['phase']:<40} {p['seconds']:>7.1f} s {p['cpu_seconds']:>7.1f} s CPU {p['peak_mb']:>6} MB peak"
              f"{children}", file=sys.stderr)


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
    parser.add_argument("--cache", type=Path,
                        help="keep the generated answers here and reuse them next time (1M take minutes to make)")
    parser.add_argument("--workers", type=int, default=1,
                        help="flask analyze --workers: child processes running the model (default 1, for 2 cores)")
    parser.add_argument("--only-first", action="store_true",
                        help="skip the second (nothing new to label) run")
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
        key = generated_database(instance, args)
        first = timed_analyze(instance, key, instance / "reports" / "first", args.workers)
        print_phases("first run", first)
        second = None
        if not args.only_first:
            second = timed_analyze(instance, key, instance / "reports" / "second", args.workers)
            print_phases("second run", second)
        report = json.loads((instance / "reports" / "first" / "report.json").read_text())
        keep = ("seconds", "cpu_seconds", "peak_mb", "peak_all_processes_pss_mb", "load_average", "phases")
        result = {
            "responses": args.responses,
            "workers": args.workers,
            "model_version": report["model_version"],
            "first_run": {k: first[k] for k in keep},
            "second_run": {k: second[k] for k in keep} if second else None,
            "pain_points": len(report["pain_points"]),
            "report_bytes": {name: (instance / "reports" / "first" / name).stat().st_size
                             for name in ("report.json", "report.html", "responses.csv")},
            "cpu": os.cpu_count(),
            "load_average_before": round(load_before, 2),
            "python": sys.version.split()[0],
        }
        if args.screenshot:
            screenshot(instance / "reports" / "first" / "report.html", args.screenshot)
        print(json.dumps(result, indent=2))
        target = TARGET_SECONDS_PER_MILLION * args.responses / 1_000_000
        ok = first["seconds"] < target and first["peak_mb"] < TARGET_MB
        print(f"target (< {target:.0f} s, < {TARGET_MB} MB): {'met' if ok else 'NOT met'}", file=sys.stderr)
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
