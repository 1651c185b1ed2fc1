"""A real gunicorn server on 127.0.0.1 and a bounded concurrent client for it.

Used by the load tests (tests/test_load_*.py) and the benchmark command
(benchmarks/load.py). The server runs the app exactly as an operator would:
``gunicorn 'survey:create_app()'`` configured through ``RAPPORT_*`` variables,
CSRF on. The client speaks HTTP/1.1 over raw asyncio streams with keep-alive,
so one process can hold a few dozen connections without threads; every loop
has a fixed number of requests and a wall-clock deadline.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from tests.conftest import TEST_SECRET_KEY
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- the server ---------------------------------------------------------------------------------


class GunicornServer:
    """``gunicorn`` serving ``app`` on a free port of 127.0.0.1; a context manager.

    ``env`` adds to (or, with value None, removes from) the inherited environment;
    the instance folder and database go in through ``RAPPORT_INSTANCE_PATH`` and
    ``RAPPORT_SQLALCHEMY_DATABASE_URI`` the way an operator sets them.
    """

    def __init__(self, app: str = "survey:create_app()", *, workers: int = 2, threads: int = 4,
                 worker_class: str = "gthread", env: dict[str, str | None] | None = None,
                 log_path: Path | None = None):
        self.app = app
        self.workers = workers
        self.threads = threads
        self.worker_class = worker_class
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                self.env.pop(key, None)
            else:
                self.env[key] = value
        self.log_path = log_path or Path(f"/tmp/rapport-gunicorn-{self.port}.log")
        self.process: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "gunicorn", self.app,
            "--bind", f"{HOST}:{self.port}",
            "--workers", str(self.workers),
            "--worker-class", self.worker_class,
            "--threads", str(self.threads),
            "--keep-alive", "5",
            "--graceful-timeout", "5",
        ]

    def settings(self) -> str:
        """The gunicorn settings in words, for reports."""
        if self.worker_class == "sync":  # one request at a time, and no keep-alive
            return f"{self.workers} sync workers, a new connection per request"
        return f"{self.workers} {self.worker_class} workers × {self.threads} threads, keep-alive 5 s"

    def start(self, timeout: float = 30.0) -> "GunicornServer":
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command, cwd=REPO, env=self.env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        # Ready when every worker has booted and one answers HTTP (any status).
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            if len(self.worker_pids()) >= self.workers and self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=2) as sock:
                sock.sendall(b"GET /__ready__ HTTP/1.1\r\nHost: " + HOST.encode() + b"\r\nConnection: close\r\n\r\n")
                return sock.recv(16).startswith(b"HTTP/1.")
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        """The live worker processes: the children of the gunicorn master."""
        if self.process is None:
            return []
        return children_of(self.process.pid)

    def wait_for_workers(self, count: int, exclude: set[int] = frozenset(), timeout: float = 20.0) -> list[int]:
        """Wait until ``count`` workers run, none of them in ``exclude`` (e.g. a killed one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = [pid for pid in self.worker_pids() if pid not in exclude]
            if len(pids) >= count:
                return pids
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn did not bring back {count} workers within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log.close()
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> "GunicornServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def children_of(parent: int) -> list[int]:
    """Process ids whose parent is ``parent`` (from /proc; Linux only)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, ...
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == parent:
            found.append(int(entry))
    return sorted(found)


def server_env(instance_path: Path, database_uri: str, *, secret_key: str = TEST_SECRET_KEY,
               **config: str) -> dict[str, str | None]:
    """``RAPPORT_*`` variables for a production-like server (CSRF on, not TESTING)."""
    env: dict[str, str | None] = {
        "RAPPORT_INSTANCE_PATH": str(instance_path),
        "RAPPORT_SQLALCHEMY_DATABASE_URI": database_uri,
        "RAPPORT_SECRET_KEY": secret_key,
        "RAPPORT_TEST_DATABASE_URL": None,
        "DATABASE_URL": None,
    }
    # Load tests post the form at once, thousands a minute, from many addresses: no answer-page
    # bot timer or per-survey limit (the per-address limit stays, as for the widget).
    config.setdefault("ANSWER_MIN_FILL_MS", "0")
    config.setdefault("ANSWER_SURVEY_RATE_LIMIT", "null")
    env.update({f"RAPPORT_{key}": value for key, value in config.items()})
    return env


# --- the client ---------------------------------------------------------------------------------


class ConnectionLost(Exception):
    """The server closed or reset the connection before a whole response arrived."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Connection:
    """One keep-alive HTTP/1.1 connection; reopens after the server closes it."""

    def __init__(self, port: int, host: str = HOST, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: bytes = b"") -> Reply:
        try:
            return await asyncio.wait_for(self._exchange(method, path, headers or {}, body), self.timeout)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError, OSError) as exc:
            await self.close()
            raise ConnectionLost(f"{type(exc).__name__}: {exc}") from exc
        except ConnectionLost:
            await self.close()
            raise

    async def _exchange(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self._writer.drain()

        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionLost("the server closed the connection without answering")
        status = int(status_line.split()[1])
        reply_headers: dict[str, str] = {}
        cookies: dict[str, str] = {}
        while True:
            line = (await self._reader.readline()).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                cookie_name, _, rest = value.partition("=")
                cookies[cookie_name] = rest.split(";", 1)[0]
            reply_headers[name] = value
        if reply_headers.get("transfer-encoding", "").lower() == "chunked":
            payload = await self._read_chunked()
        else:
            payload = await self._reader.readexactly(int(reply_headers.get("content-length", "0")))
        if reply_headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(status, reply_headers, payload, cookies)

    async def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self._reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self._reader.readline()
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readline()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self._reader = self._writer = None


# --- the answer page as a customer's browser uses it ----------------------------------------------

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class FormSession:
    """What a customer's browser holds after loading an answer page: a session cookie and a CSRF token."""

    cookie: str
    csrf_token: str


class PageUnavailable(Exception):
    """The answer page did not load, so nothing could be posted."""

    def __init__(self, reply: Reply):
        super().__init__(f"the answer page answered {reply.status}: {reply.text[:300]}")
        self.reply = reply


async def open_form(conn: Connection, survey_key: str) -> FormSession:
    page = await conn.request("GET", f"/s/{survey_key}")
    if page.status != 200:
        raise PageUnavailable(page)
    match = _CSRF.search(page.text)
    if match is None or "session" not in page.cookies:
        raise AssertionError("the answer page carried no CSRF token or no session cookie")
    return FormSession(cookie=page.cookies["session"], csrf_token=html.unescape(match.group(1)))


PARTNER_ORIGIN = "https://shop.example.com"
WIDGET_ELAPSED_MS = 4000  # a human's time to answer, above WIDGET_MIN_ANSWER_MS


@dataclass(frozen=True)
class Submission:
    """One answer to send; ``key`` is its unique submission_key (uuid hex).

    ``via`` is "form" (the answer page, as a browser posts it) or "widget"
    (the JSON API from a partner page). Widget answers come from ``client_ip``
    through a trusted proxy, as many customers' answers do on a busy day.
    """

    key: str
    score: int
    comment: str
    via: str = "form"
    client_ip: str = "198.18.0.1"

    @property
    def channel(self) -> str:
        return {"form": "link", "widget": "widget"}[self.via]


def make_submissions(count: int, scale: range, tag: str = "load", widget_every: int = 0) -> list[Submission]:
    """``count`` distinct answers cycling through the scale, each with its own key and comment.

    With ``widget_every=n`` every n-th goes through the widget API instead of the form.
    Client addresses come from 198.18.0.0/15, the range set aside for benchmarks.
    """
    subs = []
    for n in range(count):
        key = uuid.uuid4().hex
        via = "widget" if widget_every and n % widget_every == widget_every - 1 else "form"
        subs.append(Submission(key=key, score=scale[n % len(scale)], comment=f"{tag} answer {n} {key[:8]}",
                               via=via, client_ip=f"198.{18 + n // 65025 % 2}.{n // 255 % 255}.{n % 255 + 1}"))
    return subs


def form_body(form: FormSession, sub: Submission) -> bytes:
    return urlencode({"csrf_token": form.csrf_token, "submission_key": sub.key, "score": sub.score,
                      "comment": sub.comment, "meta_json": "", "ref": ""}).encode()


async def post_answer(conn: Connection, survey_key: str, form: FormSession, sub: Submission) -> Reply:
    return await conn.request("POST", f"/s/{survey_key}", {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"session={form.cookie}",
        "X-Forwarded-For": sub.client_ip,  # each customer from an address of their own, as the widget's
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/124.0 Safari/537.36",
    }, form_body(form, sub))


def widget_body(sub: Submission) -> bytes:
    return json.dumps({"score": sub.score, "comment": sub.comment, "elapsed_ms": WIDGET_ELAPSED_MS,
                       "submission_key": sub.key, "page_url": f"{PARTNER_ORIGIN}/orders/42"}).encode()


async def post_widget_answer(conn: Connection, survey_key: str, sub: Submission) -> Reply:
    return await conn.request("POST", f"/api/v1/surveys/{survey_key}/responses", {
        "Content-Type": "application/json",
        "Origin": PARTNER_ORIGIN,
        "X-Forwarded-For": sub.client_ip,
        "User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
                      "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    }, widget_body(sub))


@dataclass
class Outcome:
    """What the client saw for one submission: an HTTP status, or the connection error instead."""

    status: int | None
    error: str | None = None
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def acknowledged(self) -> bool:
        # The form answers 303 → thank-you page; an API answers 201/200.
        return self.error is None and self.status is not None and (200 <= self.status < 300 or self.status == 303)


@dataclass
class LoadResult:
    outcomes: dict[str, Outcome]
    seconds: float
    unsent: list[Submission]  # never attempted: the deadline came first

    @property
    def acknowledged(self) -> set[str]:
        return {key for key, outcome in self.outcomes.items() if outcome.acknowledged}

    def summary(self) -> str:
        statuses: dict[str, int] = {}
        for outcome in self.outcomes.values():
            label = str(outcome.status) if outcome.status is not None else "connection error"
            statuses[label] = statuses.get(label, 0) + 1
        return (f"{len(self.outcomes)} sent in {self.seconds:.1f} s, {len(self.unsent)} unsent; "
                + ", ".join(f"{label}: {n}" for label, n in sorted(statuses.items())))


async def submit_all(port: int, survey_key: str, submissions: list[Submission], *, concurrency: int = 16,
                     deadline: float = 60.0, posts_per_page: int = 1, on_progress=None) -> LoadResult:
    """Send every submission, ``concurrency`` customers at a time.

    For form answers a customer loads the page (GET: cookie + CSRF token), then
    posts ``posts_per_page`` answers with it, as many times as its share needs;
    widget answers go straight to the JSON API. A
    connection error is recorded against the submission it hit, and the
    customer reloads the page on a new connection. Stops sending at
    ``deadline`` seconds; whatever was not sent by then is returned as unsent.
    """
    queue: asyncio.Queue[Submission] = asyncio.Queue()
    for sub in submissions:
        queue.put_nowait(sub)
    outcomes: dict[str, Outcome] = {}
    started = time.monotonic()
    stop_at = started + deadline

    async def customer() -> None:
        conn = Connection(port)
        form: FormSession | None = None
        used = 0
        try:
            while time.monotonic() < stop_at:
                try:
                    sub = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    if sub.via == "widget":
                        reply = await post_widget_answer(conn, survey_key, sub)
                    else:
                        if form is None or used >= posts_per_page:
                            form, used = await open_form(conn, survey_key), 0
                        reply = await post_answer(conn, survey_key, form, sub)
                        used += 1
                    outcomes[sub.key] = Outcome(reply.status, message=reply.text[:500], headers=reply.headers)
                except ConnectionLost as exc:
                    outcomes[sub.key] = Outcome(None, error=str(exc))
                    form = None
                except PageUnavailable as exc:
                    # Never posted: the customer saw an error page instead of the form.
                    outcomes[sub.key] = Outcome(exc.reply.status, error="page", message=exc.reply.text[:500])
                    form = None
                if on_progress is not None:
                    on_progress(len(outcomes))
        finally:
            await conn.close()

    await asyncio.gather(*(customer() for _ in range(concurrency)))
    unsent = []
    while not queue.empty():
        unsent.append(queue.get_nowait())
    return LoadResult(outcomes, time.monotonic() - started, unsent)


def run_async(coroutine):
    """Run ``coroutine`` to the end from synchronous code, in a thread with its own event loop.

    The session's Playwright browser keeps an event loop on the main thread,
    where ``asyncio.run`` would refuse to start.
    """
    outcome = {}

    def target():
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed back to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="load-client")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def run_submissions(port: int, survey_key: str, submissions: list[Submission], **options) -> LoadResult:
    """``submit_all`` from synchronous code (tests)."""
    return run_async(submit_all(port, survey_key, submissions, **options))


# --- what the database holds ------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredAnswer:
    key: str
    survey_id: int
    score: int | None
    comment: str | None
    channel: str


def stored_answers(keys: list[str]) -> dict[str, list[StoredAnswer]]:
    """Rows whose submission_key is one of ``keys`` (inside an app context), grouped by key."""
    import sqlalchemy as sa

    from survey.db import db
    from survey.models import Response

    found: dict[str, list[StoredAnswer]] = {}
    for start in range(0, len(keys), 500):  # stay under every backend's bound-parameter limit
        rows = db.session.execute(
            sa.select(Response.submission_key, Response.survey_id, Response.score, Response.comment,
                      Response.channel).where(Response.submission_key.in_(keys[start:start + 500]))
        )
        for row in rows:
            found.setdefault(row.submission_key, []).append(StoredAnswer(*row))
    db.session.rollback()  # end the read so the next look sees newer commits
    return found


def problems_with(stored: dict[str, list[StoredAnswer]], submissions: list[Submission],
                  survey_id: int) -> list[str]:
    """Every stored answer must be whole and exactly what was sent, once: a list of what is not."""
    sent = {sub.key: sub for sub in submissions}
    problems = []
    for key, rows in stored.items():
        if len(rows) != 1:
            problems.append(f"{key}: stored {len(rows)} times")
        sub = sent[key]
        for row in rows:
            if (row.survey_id, row.score, row.comment, row.channel) != (survey_id, sub.score, sub.comment,
                                                                        sub.channel):
                problems.append(f"{key}: stored {row} but sent {sub}")
    return problems


def serve_app(app, tmp_path: Path, *, workers: int = 2, threads: int = 4, **config: str) -> GunicornServer:
    """A gunicorn server (not started) for the test ``app``'s database, CSRF on as in production.

    It trusts one proxy's X-Forwarded-For, so widget answers can come from
    many client addresses (each within the widget's per-address rate limit).

    SQLite keeps the suite's synchronous setting: these tests kill processes,
    not the machine, and a killed process loses nothing SQLite has written
    whatever that setting is.
    """
    config.setdefault("SQLITE_SYNCHRONOUS", app.config["SQLITE_SYNCHRONOUS"])
    config.setdefault("PROXY_FIX_X_FOR", "1")
    env = server_env(tmp_path / "server-instance", app.config["SQLALCHEMY_DATABASE_URI"], **config)
    return GunicornServer(workers=workers, threads=threads, env=env, log_path=tmp_path / "gunicorn.log")
