"""Throughput and memory of ``classify_csv`` with the default model.

Generates a CSV of ``--rows`` comments (default 100,000) from the training
corpus (seeded shuffle; each comment joins one to three corpus texts, so many
have several clauses, as real comments do), labels it with
:func:`analysis.classify.classify_csv` in one process, and reports:

* comments per second, by wall clock and by this process's CPU time (the CPU
  figure is what the code achieves when the machine is shared), with the load
  average before and after; ``--repeat N`` labels the file N times and reports
  every run plus the best and the median, since on a shared machine one run
  says little (A/B two versions back to back, each with ``--repeat``);
* peak resident memory (``resource.getrusage``) and, in a second pass over a
  file a fifth the size and over the full file, the peak of Python allocations
  (``tracemalloc``), to show memory stays flat as files grow.

No shared data is needed. Writes JSON (default
``benchmarks/results/classify_speed.json``). Usage::

    .venv/bin/python benchmarks/classify_speed.py [--rows 100000] [--model-dir models] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.output import write_result  # noqa: E402

TARGET = 10_000  # comments per second


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    """Write ``rows`` synthetic comments built from corpus texts."""
    from analysis.corpus import load_corpus

    texts = load_corpus().texts
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "score", "comment"])
        for i in range(rows):
            k = rng.choices((1, 2, 3), weights=(6, 3, 1))[0]
            w.writerow([i, rng.randint(0, 10), " ".join(rng.sample(texts, k))])


def timed_run(src: Path, dst: Path, labeller, batch_size: int) -> dict:
    from analysis.classify import classify_csv

    wall, cpu = time.perf_counter(), time.process_time()
    n = classify_csv(src, dst, "comment", labeller, batch_size=batch_size)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"rows": n, "seconds_wall": round(wall, 2), "seconds_cpu": round(cpu, 2),
            "per_second_wall": round(n / wall), "per_second_cpu": round(n / cpu)}


def traced_peak(src: Path, dst: Path, labeller, batch_size: int) -> int:
    from analysis.classify import classify_csv

    tracemalloc.start()
    classify_csv(src, dst, "comment", labeller, batch_size=batch_size)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--model-dir", default=str(REPO / "models"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "classify_speed.json"))
    parser.add_argument("--repeat", type=int, default=1,
                        help="label the file this many times; report each run, the best and the median")
    parser.add_argument("--no-tracemalloc", action="store_true")
    args = parser.parse_args(argv)

    from analysis.labeller import Labeller

    t0 = time.perf_counter()
    labeller = Labeller.load([Path(args.model_dir)])
    load_s = time.perf_counter() - t0
    result = {"model_version": labeller.version, "rows": args.rows,
              "batch_size": args.batch_size, "model_load_seconds": round(load_s, 2),
              "target_per_second": TARGET, "load_average_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        src, small, dst = Path(tmp) / "in.csv", Path(tmp) / "small.csv", Path(tmp) / "out.csv"
        make_csv(src, args.rows)
        make_csv(small, max(1, args.rows // 5), seed=1)
        labeller.label(["warm up the caches"])
        runs = [timed_run(src, dst, labeller, args.batch_size) | {"load_average": os.getloadavg()[0]}
                for _ in range(max(1, args.repeat))]
        by_cpu = sorted(runs, key=lambda r: r["seconds_cpu"])
        result["run"] = by_cpu[0]  # the best run: the least disturbed by the neighbours
        if len(runs) > 1:
            result["runs"] = runs
            result["median_per_second_cpu"] = by_cpu[len(by_cpu) // 2]["per_second_cpu"]
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        if not args.no_tracemalloc:
            result["tracemalloc_peak_mb"] = {
                f"{args.rows // 5}_rows": round(traced_peak(small, dst, labeller,
                                                            args.batch_size) / 2**20, 1),
                f"{args.rows}_rows": round(traced_peak(src, dst, labeller,
                                                       args.batch_size) / 2**20, 1),
            }
        with open(dst, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh))
        result["output_columns"] = header
    run = result["run"]
    result["target_met_wall"] = run["per_second_wall"] >= TARGET
    result["target_met_cpu"] = run["per_second_cpu"] >= TARGET
    result["load_average_after"] = os.getloadavg()
    print(f"model {labeller.version} (loaded in {load_s:.2f}s)")
    print(f"classify_csv {run['rows']} rows: {run['per_second_wall']:,}/s wall "
          f"({run['seconds_wall']}s), {run['per_second_cpu']:,}/s CPU ({run['seconds_cpu']}s); "
          f"target {TARGET:,}/s" + (f" (best of {len(result['runs'])}; median "
                                    f"{result['median_per_second_cpu']:,}/s CPU)" if "runs" in result else ""))
    print(f"peak RSS {result['peak_rss_mb']} MB; tracemalloc peak "
          f"{result.get('tracemalloc_peak_mb', 'skipped')}; "
          f"load average before {result['load_average_before'][0]:.1f}, "
          f"after {result['load_average_after'][0]:.1f}")
    write_result(Path(args.out), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
