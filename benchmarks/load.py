"""Throughput and latency of the answer endpoints under gunicorn, beside a bare Flask endpoint.

    .venv/bin/python -m benchmarks.load                      # SQLite, then a throw-away PostgreSQL
    .venv/bin/python -m benchmarks.load --db sqlite --duration 5
    .venv/bin/python -m benchmarks.load --db postgresql --pg-url postgresql://u@127.0.0.1:5432/db

For each database it serves on 127.0.0.1, with the same gunicorn settings,
the bare two-byte endpoint and the minimal Core-insert endpoint of
``benchmarks/bare_app.py``, then Rapport itself. ``wrk`` drives each endpoint
as fast as the server answers, ``--repeat`` times (throughput, and latency at
saturation; the fastest run counts, since a shared machine's neighbours take
CPU in bursts), then paced at half that rate (the latency a busy day sees).
The bare endpoint stays up throughout, and each saturated run of another
endpoint is paired with a run of it: the ratio reported is the median of the
pairs' ratios, so the VM's drift between one part of the benchmark and the
next does not end up in it.
POSTs carry a fresh ``submission_key`` each (``benchmarks/load.lua``), and
form POSTs use CSRF tokens and session cookies fetched from real page loads.

Afterwards it counts the rows: every acknowledged answer must be stored, and
no answer twice. wrk cannot tell which requests were still in flight when it
stopped, so the count check allows at most one unacknowledged stored row per
connection; an exact one-for-one check follows with the Python client of
``tests/load_support.py`` (every key it saw acknowledged is compared).

Results print as a Markdown table (and as JSON with ``--json PATH``). Every
loop here is bounded by ``--duration``; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.load_support import (  # noqa: E402
    PARTNER_ORIGIN, Connection, GunicornServer, make_submissions, open_form, problems_with, server_env,
    stored_answers, submit_all, widget_body,
)

LUA = REPO / "benchmarks" / "load.lua"
TARGETS = {"sqlite": 0.35, "postgresql": 0.2}  # form and widget POST throughput / bare endpoint
P99_TARGET_MS = 50.0


@dataclass
class Measurement:
    """One endpoint: its saturated throughput and latency, and latency at half that rate."""

    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    half_rps: float = 0.0
    half_p50_ms: float = 0.0
    half_p99_ms: float = 0.0
    ratio: float | None = None  # to the bare endpoint: the median of paired runs' ratios
    paired_ratios: list[float] = field(default_factory=list)
    acknowledged: int = 0
    stored: int | None = None
    statuses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


@dataclass
class Integrity:
    """The exact one-for-one check: what the client saw acknowledged against the rows."""

    sent: int
    acknowledged: int
    stored: int
    lost: int
    duplicated: int
    wrong: int
    seconds: float


class WrkMissing(SystemExit):
    pass


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing("wrk is not installed; on Debian or Ubuntu: apt-get install -y wrk "
                         "(this benchmark drives every endpoint with it).")
    return path


def run_wrk(url: str, mode: str, *, duration: float, connections: int, threads: int,
            data_file: Path | None = None, rate: float = 0.0, nonce: str | None = None) -> dict:
    """One wrk run; returns the counts and latency percentiles that load.lua prints."""
    nonce = nonce or secrets.token_hex(4)
    per_thread = rate / threads if rate else 0
    command = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s",
               "-s", str(LUA), url, "--", mode, str(data_file or "-"), nonce, f"{per_thread:.3f}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            result = json.loads(line[len("WRK_JSON "):])
            result["nonce"] = nonce
            return result
    raise RuntimeError(f"wrk gave no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


def measure(name: str, url: str, mode: str, args, *, data_file: Path | None = None,
            count_rows=None, bare_url: str | None = None) -> Measurement:
    """Warm up, saturate, then pace at half the saturated rate; count rows where a POST stores them.

    With ``bare_url``, every saturated run is paired with a run of the bare endpoint
    just before or after it (the order alternates), and ``ratio`` is the median of
    the pairs' ratios: the VM's speed drifts by a quarter within minutes, and a
    ratio taken across such a drift says more about the drift than about the code.
    """
    run_wrk(url, mode, duration=min(2.0, args.duration), connections=args.connections, threads=args.threads,
            data_file=data_file)
    result, mismatches, ratios = None, 0, []
    for attempt in range(max(1, args.repeat)):
        bare_first = attempt % 2 == 0
        bare_rps = _saturated_rps(bare_url, args) if bare_url and bare_first else None
        # Other tenants of a shared machine take CPU in bursts: keep the fastest run, as timeit does.
        full = run_wrk(url, mode, duration=args.duration, connections=args.connections, threads=args.threads,
                       data_file=data_file)
        if bare_url and not bare_first:
            bare_rps = _saturated_rps(bare_url, args)
        seconds = full["duration_us"] / 1e6
        run = Measurement(
            name=name, rps=full["requests"] / seconds, p50_ms=full["latency_us"]["p50"] / 1000,
            p99_ms=full["latency_us"]["p99"] / 1000, acknowledged=full["acked"],
            statuses=full["statuses"], errors={k: v for k, v in full["errors"].items() if v},
        )
        if bare_rps:
            ratios.append(run.rps / bare_rps)
        if count_rows is not None:
            time.sleep(1.0)  # let requests still in flight when wrk stopped finish
            run.stored = count_rows(full["nonce"])
            if not run.acknowledged <= run.stored <= run.acknowledged + args.connections:
                print(f"  {name}: {run.acknowledged} acknowledged but {run.stored} stored", flush=True)
                mismatches += 1
        if result is None or run.rps > result.rps:
            result = run
    if mismatches:
        result.errors["runs whose stored rows did not match"] = mismatches
    if ratios:
        result.paired_ratios = [round(r, 3) for r in ratios]
        result.ratio = statistics.median(ratios)
    half = run_wrk(url, mode, duration=args.duration, connections=args.connections, threads=args.threads,
                   data_file=data_file, rate=result.rps / 2)
    half_seconds = half["duration_us"] / 1e6
    result.half_rps = half["requests"] / half_seconds
    result.half_p50_ms = half["latency_us"]["p50"] / 1000
    result.half_p99_ms = half["latency_us"]["p99"] / 1000
    print(f"  {name:<32} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms"
          f"  | at {result.half_rps:.0f} req/s: p50 {result.half_p50_ms:.1f} ms  p99 {result.half_p99_ms:.1f} ms"
          + (f"  | × bare, paired runs: {result.paired_ratios}" if ratios else "")
          + (f"  | acked {result.acknowledged}, stored {result.stored}" if result.stored is not None else "")
          + (f"  | statuses {result.statuses}" if mode != "get" else "")
          + (f"  | errors {result.errors}" if result.errors else ""), flush=True)
    return result


def _saturated_rps(url: str, args) -> float:
    run = run_wrk(url, "get", duration=args.duration, connections=args.connections, threads=args.threads)
    return run["requests"] / (run["duration_us"] / 1e6)


# --- databases ---------------------------------------------------------------------------------------


class PostgresCluster:
    """A throw-away PostgreSQL on 127.0.0.1 (fsync on, as in production), like .ci/test's."""

    def __init__(self):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not bins:
            raise SystemExit("PostgreSQL is not installed (apt-get install -y postgresql), "
                             "or pass --pg-url for a running server.")
        self.bin = bins[-1].parent
        self.dir = Path(tempfile.mkdtemp(prefix="rapport-bench-pg."))
        self.port = _free_port()
        self.as_pg: list[str] = []
        if os.geteuid() == 0:
            # initdb refuses to run as root; the cluster belongs to the postgres user.
            if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
            shutil.chown(self.dir, "postgres")
            self.as_pg = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql+psycopg://rapport@127.0.0.1:{self.port}/rapport_bench"

    def __enter__(self) -> "PostgresCluster":
        data = self.dir / "data"
        subprocess.run([*self.as_pg, str(self.bin / "initdb"), "-D", str(data), "-U", "rapport", "--auth=trust",
                        "-E", "UTF8"], check=True, capture_output=True)
        subprocess.run([*self.as_pg, str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w",
                        "-o", f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=200",
                        "start"], check=True, capture_output=True)
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "rapport",
                        "rapport_bench"], check=True, capture_output=True)
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run([*self.as_pg, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    from tests.load_support import free_port

    return free_port()


@dataclass
class Site:
    """A database with Rapport's schema and one open NPS survey to answer (``app`` reads it back)."""

    app: object
    uri: str
    survey_key: str
    survey_id: int
    scale: range
    instance: Path


def prepare_site(uri: str, instance: Path, synchronous: str) -> Site:
    from survey import create_app
    from survey.db import db
    from survey.operations import create_survey
    from survey.widget.operations import add_origins

    os.environ["RAPPORT_INSTANCE_PATH"] = str(instance)
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SQLITE_SYNCHRONOUS": synchronous})
    with app.app_context():
        import survey.models_all  # noqa: F401

        db.create_all()
        survey = create_survey("nps", "Benchmark NPS", "Northwind")
        add_origins(survey, [PARTNER_ORIGIN])
        site = Site(app, uri, survey.public_key, survey.id, survey.scale, instance)
        db.session.remove()
    return site


def row_counter(uri: str, table: str = "responses"):
    """``count(nonce)``: rows whose submission_key starts with that wrk run's nonce."""
    import sqlalchemy as sa

    engine = sa.create_engine(_driver_url(uri))
    rows = sa.table(table, sa.column("submission_key"))

    def count(nonce: str) -> int:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(rows)
                                .where(rows.c.submission_key.like(f"{nonce}%"))).scalar_one()

    return count


def _driver_url(uri: str) -> str:
    from survey.db import normalise_url

    return normalise_url(uri)


def check_integrity(server: GunicornServer, site: Site, count: int, concurrency: int) -> Integrity:
    """Send ``count`` answers (half by form, half by widget) with the exact client; compare one for one."""
    subs = make_submissions(count, site.scale, tag="integrity", widget_every=2)
    result = asyncio.run(submit_all(server.port, site.survey_key, subs, concurrency=concurrency, deadline=120))
    with site.app.app_context():
        stored = stored_answers([sub.key for sub in subs])
        problems = problems_with(stored, subs, site.survey_id)
    acked = result.acknowledged
    return Integrity(
        sent=len(result.outcomes), acknowledged=len(acked), stored=sum(len(rows) for rows in stored.values()),
        lost=len(acked - stored.keys()), duplicated=sum(len(rows) - 1 for rows in stored.values()),
        wrong=len([p for p in problems if "stored" in p and "times" not in p]), seconds=round(result.seconds, 1),
    )


# --- one database ----------------------------------------------------------------------------------------


def fetch_form_sessions(server: GunicornServer, survey_key: str, count: int, path: Path) -> Path:
    """``count`` real page loads' session cookies and CSRF tokens, one "cookie<TAB>token" a line."""
    async def fetch() -> list[str]:
        conn = Connection(server.port)
        try:
            return [f"{form.cookie}\t{form.csrf_token}"
                    for form in [await open_form(conn, survey_key) for _ in range(count)]]
        finally:
            await conn.close()

    path.write_text("\n".join(asyncio.run(fetch())) + "\n")
    return path


def gunicorn_options(args, kind: str) -> dict:
    # The README's advice: sync workers, which take a connection only when free (a
    # threaded worker may take them all and leave the other cores idle); two per core
    # on SQLite, three on PostgreSQL, where a worker also waits for round trips.
    worker_class = args.worker_class or ("gthread" if args.gthreads else "sync")
    threads = args.gthreads or (1 if worker_class == "sync" else 4)
    workers = args.workers or (os.cpu_count() or 1) * (2 if kind == "sqlite" else 3)
    return {"workers": workers, "threads": threads, "worker_class": worker_class}


def bench_database(kind: str, uri: str, args, work: Path, synchronous: str = "FULL") -> dict:
    """Every endpoint against one database; ``synchronous`` is SQLite's setting (PostgreSQL ignores it)."""
    label = f"sqlite, synchronous={synchronous}" if kind == "sqlite" else kind
    print(f"\n== {label}: {uri.split('@')[-1]}", flush=True)
    site = prepare_site(uri, work / "instance", synchronous)
    # As behind the reverse proxy the README describes: one trusted proxy's X-Forwarded-For.
    env = server_env(site.instance, uri, secret_key=secrets.token_hex(32), SQLITE_SYNCHRONOUS=synchronous,
                     PROXY_FIX_X_FOR="1")
    results: list[Measurement] = []

    # The bare endpoint stays up beside the others (its idle sync workers cost nothing):
    # every other endpoint's runs are paired with runs of it (see measure).
    with GunicornServer("benchmarks.bare_app:create_app()", env=env, **gunicorn_options(args, kind),
                        log_path=work / "bare.log") as bare:
        settings = bare.settings()
        bare_url = bare.url + "/"
        bare_get = measure("bare Flask endpoint (2 bytes)", bare_url, "get", args)
        bare_get.ratio = 1.0
        results.append(bare_get)

        insert_uri = uri if kind == "postgresql" else f"sqlite:///{work / 'bench-insert.db'}"
        insert_env = {**env, "BENCH_INSERT_DATABASE_URL": _driver_url(insert_uri),
                      "BENCH_SQLITE_SYNCHRONOUS": synchronous}
        os.environ.update({k: v for k, v in insert_env.items() if k.startswith("BENCH_")})
        from benchmarks.bare_app import create_insert_app

        create_insert_app()  # creates its table before the workers race to
        with GunicornServer("benchmarks.bare_app:create_insert_app()", env=insert_env,
                            **gunicorn_options(args, kind), log_path=work / "insert.log") as insert:
            results.append(measure("minimal Core insert (reference)", insert.url + "/insert", "insert", args,
                                   count_rows=row_counter(insert_uri, "bench_rows"), bare_url=bare_url))

        count_rows = row_counter(uri)
        with GunicornServer(env=env, **gunicorn_options(args, kind), log_path=work / "rapport.log") as server:
            page_url = f"{server.url}/s/{site.survey_key}"
            results.append(measure("answer page GET /s/<key>", page_url, "get", args, bare_url=bare_url))
            tokens = fetch_form_sessions(server, site.survey_key, 200, work / "forms.tsv")
            results.append(measure("form POST /s/<key>", page_url, "form", args, data_file=tokens,
                                   count_rows=count_rows, bare_url=bare_url))
            path, body_file = widget_bodies(site, work / "widget.txt")
            results.append(measure("widget API POST /api/v1/surveys/<key>/responses", server.url + path,
                                   "widget", args, data_file=body_file, count_rows=count_rows,
                                   bare_url=bare_url))
            integrity = check_integrity(server, site, args.integrity_count, args.connections)
            print(f"  exact check: {integrity}", flush=True)

    return {"database": kind, "label": label, "gunicorn": settings, "results": [asdict(r) for r in results],
            "integrity": asdict(integrity)}


def widget_bodies(site: Site, path: Path) -> tuple[str, Path]:
    """The widget API's path and a file for load.lua: the partner Origin, then JSON bodies."""
    lines = [PARTNER_ORIGIN]
    for sub in make_submissions(20, site.scale, tag="widget"):
        lines.append(widget_body(replace(sub, key="SUBMISSION_KEY")).decode())
    path.write_text("\n".join(lines) + "\n")
    return f"/api/v1/surveys/{site.survey_key}/responses", path


# --- report ----------------------------------------------------------------------------------------------


def markdown(report: dict) -> str:
    notes = report["machine"]
    lines = [f"`{report['command']}` — {notes['cpus']} × {notes['cpu']}, Python {notes['python']}; "
             f"fsync of 4 KiB {notes['fsync_ms']} ms; load average {notes['load_average_at_start'][0]} at start.",
             ""]
    for run in report["runs"]:
        target = TARGETS[run["database"]]
        lines += [
            f"### {run['label']} — gunicorn {run['gunicorn']}",
            "",
            "| endpoint | req/s | × bare | × insert | p50 ms | p99 ms | req/s at half | p50 ms | p99 ms | acked | stored |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        reference = next((r["ratio"] for r in run["results"] if r["name"].startswith("minimal")), None)
        for r in run["results"]:
            versus_insert = f"{r['ratio'] / reference:.2f}" if reference and r["name"].startswith(("form", "widget")) else ""
            lines.append(
                f"| {r['name']} | {r['rps']:.0f} | {r['ratio']:.2f} | {versus_insert} "
                f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
                f"| {r['half_rps']:.0f} | {r['half_p50_ms']:.1f} | {r['half_p99_ms']:.1f} "
                f"| {r['acknowledged'] if r['stored'] is not None else ''} "
                f"| {r['stored'] if r['stored'] is not None else ''} |")
        integrity = run["integrity"]
        paired = "; ".join(f"{r['name'].split(' /')[0]} {', '.join(f'{x:.2f}' for x in r['paired_ratios'])}"
                           for r in run["results"] if r["paired_ratios"])
        lines += ["", f"× bare: the median of {len(run['results'][-1]['paired_ratios'])} runs each paired with a "
                      f"bare run beside it ({paired}). × insert: that ratio over the minimal insert's.", "",
                  f"Targets: POSTs ≥ {target:.2f} × bare; p99 < {P99_TARGET_MS:.0f} ms at half rate. "
                      f"Exact check: {integrity['sent']} answers sent, {integrity['acknowledged']} acknowledged, "
                      f"{integrity['stored']} stored, {integrity['lost']} lost, "
                      f"{integrity['duplicated']} duplicated, {integrity['wrong']} stored wrong.", ""]
        for r in run["results"]:
            if "POST /s/" in r["name"] or r["name"].startswith("widget"):
                verdict = []
                verdict.append("throughput target met" if r["ratio"] >= target else "THROUGHPUT TARGET MISSED")
                verdict.append("p99 target met" if r["half_p99_ms"] < P99_TARGET_MS else "P99 TARGET MISSED")
                if r["stored"] is not None and r["stored"] < r["acknowledged"]:
                    verdict.append("ANSWERS LOST")
                lines.append(f"- {r['name']}: {', '.join(verdict)}")
        lines.append("")
    return "\n".join(lines)


def machine_notes(work: Path) -> dict:
    load1, load5, _ = os.getloadavg()
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": [round(load1, 2), round(load5, 2)],
            "fsync_ms": fsync_latency_ms(work)}


def fsync_latency_ms(folder: Path, rounds: int = 30) -> float:
    """Median time to write 4 KiB and fsync it where the databases live: a SQLite commit's floor."""
    times = []
    with open(folder / "fsync-probe", "wb") as probe:
        for _ in range(rounds):
            started = time.perf_counter()
            probe.write(os.urandom(4096))
            probe.flush()
            os.fsync(probe.fileno())
            times.append((time.perf_counter() - started) * 1000)
    return round(sorted(times)[len(times) // 2], 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", help="a PostgreSQL database to use (default: start a throw-away cluster)")
    parser.add_argument("--sqlite-synchronous", choices=("FULL", "NORMAL", "both"), default="both",
                        help="SQLite's synchronous setting: FULL (Rapport's default: an acknowledged answer "
                             "survives a power cut), NORMAL (survives a crash of the process, not of the "
                             "machine) or both, one after the other (default)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--workers", type=int, default=0,
                        help="gunicorn workers (default, as in the README: two per core on SQLite, three on "
                             "PostgreSQL)")
    parser.add_argument("--gthreads", type=int, default=0,
                        help="threads per worker: runs gthread workers (default: sync workers, as in the README)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="saturated runs per endpoint, each paired with a run of the bare endpoint: the fastest "
                             "gives req/s and latency, the median of the pairs' ratios × bare (default 3)")
    parser.add_argument("--worker-class", choices=("sync", "gthread"),
                        help="gunicorn worker class (default sync, as in the README; gthread: 4 threads each "
                             "unless --gthreads says otherwise)")
    parser.add_argument("--integrity-count", type=int, default=1000,
                        help="answers in the exact one-for-one check (default 1000)")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 120:
        parser.error("--duration must be from 1 to 120 seconds")
    if not 0 <= args.workers <= 64 or not 0 <= args.gthreads <= 64:
        parser.error("--workers and --gthreads must be from 1 to 64 (or left out for the README's settings)")
    if args.worker_class == "sync" and args.gthreads > 1:
        parser.error("sync workers run one thread each; give --gthreads with --worker-class gthread")
    if not 1 <= args.connections <= 256 or not 1 <= args.integrity_count <= 20000:
        parser.error("--connections must be from 1 to 256 and --integrity-count from 1 to 20000")
    try:
        require_wrk()
    except WrkMissing as exc:
        print(exc, file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="rapport-bench.") as tmp:
        work = Path(tmp)
        report = {"machine": machine_notes(work),
                  "command": " ".join([".venv/bin/python -m benchmarks.load", *(argv or sys.argv[1:])]),
                  "runs": []}
        notes = report["machine"]
        print(f"{notes['cpus']} × {notes['cpu']}; fsync of 4 KiB: {notes['fsync_ms']} ms; "
              f"load average {notes['load_average_at_start'][0]}", flush=True)
        if notes["load_average_at_start"][0] > 0.5:
            print("note: other processes are using the CPU, so every number (the bare endpoint's too) "
                  "comes out lower and noisier.", flush=True)
        if args.db in ("sqlite", "both"):
            modes = ("FULL", "NORMAL") if args.sqlite_synchronous == "both" else (args.sqlite_synchronous,)
            for mode in modes:
                folder = work / f"sqlite-{mode.lower()}"
                folder.mkdir()
                report["runs"].append(bench_database("sqlite", f"sqlite:///{folder / 'rapport.db'}", args, folder,
                                                     synchronous=mode))
        if args.db in ("postgresql", "both"):
            folder = work / "postgresql"
            folder.mkdir()
            if args.pg_url:
                report["runs"].append(bench_database("postgresql", args.pg_url, args, folder))
            else:
                with PostgresCluster() as cluster:
                    report["runs"].append(bench_database("postgresql", cluster.url, args, folder))
    text = markdown(report)
    print("\n" + text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
