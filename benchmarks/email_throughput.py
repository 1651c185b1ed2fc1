"""How fast the outbox worker delivers: messages per second to a local SMTP server.

Queues a campaign to N contacts (10,000 by default) in a throw-away database,
starts an aiosmtpd server on 127.0.0.1 that accepts and counts messages, runs
one `deliver()` pass (the same code as `flask invite deliver`), checks that
every message arrived exactly once, and prints the rates. Not a test: run it
by hand and record the figure in benchmarks/README.md.

    .venv/bin/python benchmarks/email_throughput.py [--count 10000] [--batch-size 100]
        [--database-url postgresql://…]   (default: SQLite in a temporary folder)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class CountingHandler:
    def __init__(self):
        self.message_ids: list[bytes] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        start = content.find(b"Message-ID: ") + len("Message-ID: ")
        with self.lock:
            self.message_ids.append(content[start:content.find(b"\r\n", start)])
        return "250 2.0.0 OK"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="messages to queue and deliver (max 100,000)")
    parser.add_argument("--batch-size", type=int, default=100, help="messages per SMTP connection")
    parser.add_argument("--database-url", help="an empty database to use (default: SQLite in a temp folder)")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"],
                        help="SQLite's SQLITE_SYNCHRONOUS (FULL, the default, fsyncs every commit)")
    args = parser.parse_args()
    if not 1 <= args.count <= 100_000:
        parser.error("--count must be from 1 to 100,000")

    from aiosmtpd.controller import Controller

    folder = Path(tempfile.mkdtemp(prefix="rapport-bench-"))
    os.environ["RAPPORT_INSTANCE_PATH"] = str(folder / "instance")
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), decode_data=False)
    controller.start()

    from survey import create_app
    from survey.db import db
    from survey.invites.contacts import ContactRow
    from survey.invites.delivery import deliver
    from survey.invites.operations import import_contacts, send_campaign
    from survey.operations import create_survey

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": args.database_url or f"sqlite:///{folder / 'bench.db'}",
        "SECRET_KEY": "benchmark", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": controller.port,
        "SQLITE_SYNCHRONOUS": args.synchronous,
    })
    try:
        with app.app_context():
            import survey.models_all  # noqa: F401

            db.create_all()
            import_contacts([ContactRow(line=i, email=f"customer{i}@example.com", name=f"Customer {i}",
                                        attributes={"plan": "pro"}) for i in range(args.count)])
            nps = create_survey("nps", "Benchmark NPS", "Northwind Broadband")
            started = time.perf_counter()
            result = send_campaign(nps, base_url="https://surveys.example.com")
            queued_in = time.perf_counter() - started
            started, cpu_started = time.perf_counter(), time.process_time()
            report = deliver(batch_size=args.batch_size)
            delivered_in = time.perf_counter() - started
            # CPU seconds of this process (worker and SMTP server): a figure that load on a shared machine
            # does not distort the way wall-clock time is distorted.
            delivery_cpu = time.process_time() - cpu_started
            db.session.remove()
    finally:
        controller.stop()

    arrived = len(handler.message_ids)
    unique = len(set(handler.message_ids))
    backend = app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]
    if backend.startswith("sqlite"):
        backend += f" (synchronous={args.synchronous})"
    print(f"database: {backend}, batch size {args.batch_size}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"queued {result.queued} invitations in {queued_in:.1f} s ({result.queued / queued_in:,.0f}/s)")
    print(f"delivered {report.sent} in {delivered_in:.1f} s: {report.sent / delivered_in:,.0f} messages/s "
          f"({delivery_cpu:.1f} CPU s in this process, worker and SMTP server: "
          f"{report.sent / delivery_cpu:,.0f} messages per CPU second)")
    print(f"arrived {arrived}, distinct Message-IDs {unique}, failed {report.failed}")
    if not (report.sent == arrived == unique == args.count):
        sys.exit("not every message arrived exactly once")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


if __name__ == "__main__":
    main()
