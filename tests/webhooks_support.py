"""A real HTTP receiver on 127.0.0.1 for webhook tests, and the README's signature check."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import REPO


@pytest.fixture
def app_config(app_config):
    """Webhooks to the receiver on 127.0.0.1, each try cut at 1 s, retries due at once.
    (Test modules import these fixtures to use them.)"""
    app_config.update(WEBHOOK_ALLOW_LOCAL_TARGETS=True, WEBHOOK_TIMEOUT_SECONDS=1, WEBHOOK_RETRY_BASE_SECONDS=0)
    return app_config


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers each POST by the next step of ``plan`` (then 200): ``500``, ``("sleep", s)``,
    ``("redirect", url)``, ``"huge"`` (a 200 with 20 MB), ``"drip"`` (a reply one byte at a time)."""

    def __init__(self):
        self.plan: list = []
        self.received: list[Received] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                receiver.arrived.set()
                step = receiver.plan.pop(0) if receiver.plan else 200
                if isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = 200
                if isinstance(step, tuple) and step[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", step[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif step == "huge":
                    self.send_response(200)
                    self.send_header("Content-Length", str(20 * 1024 * 1024))
                    self.end_headers()
                    try:
                        for _ in range(20 * 1024):
                            self.wfile.write(b"x" * 1024)
                    except OSError:
                        pass  # the client read what it wanted and left
                elif step == "drip":
                    try:
                        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 200:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(0.05)
                    except OSError:
                        pass
                else:
                    text = b"thanks" if step == 200 else b"server error " * 100
                    self.send_response(step)
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/rapport"

    def __enter__(self) -> "Receiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def readme_verify():
    """The ``verify`` function exactly as the README shows it to receivers."""
    text = (REPO / "README.md").read_text()
    code = re.search(r"```python\n(# verify a Rapport webhook\n.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 (our own README)
    return namespace["verify"]


def secret_on(page: str) -> str:
    return re.search(r'id="webhook-secret" class="code" value="(whsec_[^"]+)"', page).group(1)
