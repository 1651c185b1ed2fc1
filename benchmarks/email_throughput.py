"""How fast a campaign queues and leaves: invitations queued and messages delivered per second.

Loads N contacts (10,000 by default) into a throw-away database, queues a
campaign to them with ``send_campaign`` (the code behind ``flask invite
send``), then starts ``--workers`` processes of ``flask invite deliver`` (one
pass each, the real command) against an aiosmtpd server on 127.0.0.1 that runs
in its own process and counts the Message-IDs it accepts. Checks that every
message arrived exactly once and that the outbox says so too, and prints the
rates and the peak memory of the queueing process and of the workers. Not a
test: run it by hand (under ``nice``) and record the figures in
benchmarks/README.md.

    .venv/bin/python benchmarks/email_throughput.py [--count 10000] [--workers 1|2] [--batch-size N]
        [--pipelining] [--database-url postgresql+psycopg://…]   (default: SQLite in a temporary folder)

With ``--database-url`` the database must be empty (its tables are created
and, at the end, dropped).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


class CountingHandler:
    """Accepts every message and keeps its Message-ID; optionally offers PIPELINING."""

    def __init__(self, pipelining: bool):
        self.message_ids: list[bytes] = []
        self.pipelining = pipelining

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:  # aiosmtpd reads commands in order from its stream, so pipelining just works
            responses.insert(1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        start = content.find(b"Message-ID: ") + len(b"Message-ID: ")
        self.message_ids.append(content[start:content.find(b"\r\n", start)])
        return "250 2.0.0 OK"


def smtp_server(port: int, pipelining: bool, ready, control) -> None:
    """The counting server, in its own process so it does not share a CPU lock with the worker."""
    from aiosmtpd.controller import Controller

    handler = CountingHandler(pipelining)
    controller = Controller(handler, hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    ready.set()
    control.recv()  # "stop"
    controller.stop()
    control.send((handler.message_ids, time.process_time()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="contacts to invite (1 to 1,000,000)")
    parser.add_argument("--workers", type=int, default=1, help="delivery worker processes (default 1)")
    parser.add_argument("--batch-size", type=int, help="messages per batch (default MAIL_BATCH_SIZE)")
    parser.add_argument("--pipelining", action="store_true", help="the server offers PIPELINING")
    parser.add_argument("--database-url", help="an empty database to use (default: SQLite in a temp folder)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="write a cProfile of each worker to DIR/worker<n>.prof")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"],
                        help="SQLite's SQLITE_SYNCHRONOUS (FULL, the default, fsyncs every commit)")
    args = parser.parse_args()
    if not 1 <= args.count <= 1_000_000:
        parser.error("--count must be from 1 to 1,000,000")
    if not 1 <= args.workers <= 8:
        parser.error("--workers must be from 1 to 8")

    folder = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    database_url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
    port = _free_port()
    ready, (control, server_end) = multiprocessing.Event(), multiprocessing.Pipe()
    server = multiprocessing.Process(target=smtp_server, args=(port, args.pipelining, ready, server_end), daemon=True)
    server.start()
    ready.wait(30)
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secrets.token_hex(32), "MAIL_SERVER": "127.0.0.1",
                "MAIL_PORT": port, "SQLITE_SYNCHRONOUS": args.synchronous}
    if args.batch_size:
        settings["MAIL_BATCH_SIZE"] = args.batch_size
    os.environ["RAPPORT_INSTANCE_PATH"] = str(folder / "instance")

    import sqlalchemy as sa

    from survey import create_app
    from survey.db import db
    from survey.invites.campaigns import send_campaign
    from survey.invites.models import OutboxMessage
    from survey.models import Contact
    from survey.operations import create_survey

    app = create_app(settings)
    with app.app_context():
        import survey.models_all  # noqa: F401

        db.create_all()
        try:
            for start in range(0, args.count, 10_000):  # set-up, not measured
                db.session.execute(sa.insert(Contact), [
                    {"email": f"customer{i}@example.com", "name": f"Customer {i}", "attributes": {"plan": "pro"}}
                    for i in range(start, min(start + 10_000, args.count))])
                db.session.commit()
            nps = create_survey("nps", "Benchmark NPS", "Northwind Broadband")
            env = dict(os.environ, PYTHONPATH=str(REPO), **{f"RAPPORT_{k}": str(v) for k, v in settings.items()})
            command = [sys.executable, "-m", "flask", "--app", "survey", "invite", "deliver"]
            # A worker's start-up (imports, app) with nothing to send: subtracted from the workers' CPU.
            subprocess.run(command, cwd=REPO, env=env, check=True, capture_output=True)
            startup_cpu = _cpu(resource.RUSAGE_CHILDREN)
            rss_before = _peak_rss_mb(resource.RUSAGE_SELF)
            started, cpu_started = time.perf_counter(), time.process_time()
            result = send_campaign(nps, base_url="https://surveys.example.com")
            queued_in, queue_cpu = time.perf_counter() - started, time.process_time() - cpu_started
            rss_queue = _peak_rss_mb(resource.RUSAGE_SELF)
            db.session.remove()

            started = time.perf_counter()
            profile = (lambda n: ["-m", "cProfile", "-o", str(args.profile / f"worker{n}.prof")]) if args.profile \
                else (lambda n: [])
            workers = [subprocess.Popen([sys.executable, *profile(n), *command[1:]], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True) for n in range(1, args.workers + 1)]
            outputs = [worker.communicate()[0].strip() for worker in workers]
            delivered_in = time.perf_counter() - started
            rss_workers = _peak_rss_mb(resource.RUSAGE_CHILDREN)
            worker_cpu = _cpu(resource.RUSAGE_CHILDREN) - startup_cpu * (1 + args.workers)
            states = dict(db.session.execute(
                sa.select(OutboxMessage.state, sa.func.count()).group_by(OutboxMessage.state)).all())
        finally:
            db.session.remove()
            if args.database_url:
                db.drop_all()
    control.send("stop")
    message_ids, server_cpu = control.recv()
    server.join(10)
    shutil.rmtree(folder, ignore_errors=True)  # a 100,000-message SQLite file is over a gigabyte

    arrived, unique = len(message_ids), len(set(message_ids))
    backend = database_url.split(":", 1)[0]
    if backend.startswith("sqlite"):
        backend += f" (synchronous={args.synchronous})"
    print(f"database: {backend}; {args.workers} worker(s), batch size {app.config['MAIL_BATCH_SIZE']}, "
          f"pipelining {'on' if args.pipelining else 'off'}; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"queued {result.queued:,} invitations in {queued_in:.1f} s ({result.queued / queued_in:,.0f}/s), "
          f"{queue_cpu * 1e6 / result.queued:,.0f} µs CPU each in this process; "
          f"peak memory {rss_queue:.0f} MB ({rss_before:.0f} MB before)")
    print(f"delivered {arrived:,} in {delivered_in:.1f} s: {arrived / delivered_in:,.0f} messages/s, "
          f"peak worker memory {rss_workers:.0f} MB")
    # CPU per message does not depend on what else the machine runs, unlike the wall-clock rates.
    print(f"CPU per message: workers {worker_cpu * 1e6 / arrived:,.0f} µs, SMTP server "
          f"{server_cpu * 1e6 / arrived:,.0f} µs (each on a core of its own: at most "
          f"{arrived / max(worker_cpu / args.workers, server_cpu):,.0f} messages/s)")
    for n, output in enumerate(outputs, 1):
        print(f"  worker {n}: {output}")
    print(f"arrived {arrived:,}, distinct Message-IDs {unique:,}; outbox: "
          + ", ".join(f"{s} {c:,}" for s, c in sorted(states.items())))
    if not (arrived == unique == states.get("sent") == args.count):
        sys.exit("not every message arrived exactly once")


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
