"""Helpers for the widget tests: API calls with an Origin, stored answers, a partner web site.

``python -m tests.widget_support`` regenerates the README picture
(survey/static/screenshots/widget.png): the floating widget on a sample partner page.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import sqlalchemy as sa

from survey.db import db
from survey.models import Response
from tests.conftest import TEST_SECRET_KEY

PARTNER = "https://shop.example.com"
HUMAN_MS = 4000  # a plausible time to answer, above WIDGET_MIN_ANSWER_MS


def answers() -> list[Response]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Response).order_by(Response.id)))


def answers_url(survey) -> str:
    return f"/api/v1/surveys/{survey.public_key}/responses"


def post_answer(client, survey, body: dict | None = None, origin: str | None = PARTNER, **headers):
    """POST a widget answer as a browser on ``origin`` would (None: no Origin header)."""
    if origin is not None:
        headers["Origin"] = origin
    payload = {"score": survey.spec.high, "elapsed_ms": HUMAN_MS} if body is None else body
    return client.post(answers_url(survey), json=payload, headers=headers)


def patch_answer(client, survey, response_id: int, body: dict, origin: str | None = PARTNER, **headers):
    if origin is not None:
        headers["Origin"] = origin
    return client.patch(f"{answers_url(survey)}/{response_id}", json=body, headers=headers)


def error_of(response) -> dict:
    """The JSON error body, checked for its shape."""
    assert response.is_json, response.get_data(as_text=True)[:200]
    error = response.get_json()["error"]
    assert error["status"] == response.status_code and error["message"]
    return error


class PartnerSite:
    """A partner's web site: static files from ``root`` over HTTP on 127.0.0.1, in a thread."""

    def __init__(self, root: Path):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self._server.server_address[1]
        self.root = root
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/{path.lstrip('/')}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page(self, name: str, html: str) -> str:
        (self.root / name).write_text(html, encoding="utf-8")
        return name

    def __enter__(self) -> "PartnerSite":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def partner_page(app_url: str, key: str, attrs: str = "", head: str = "", body: str = "") -> str:
    """A partner page that embeds the snippet the README shows."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Northwind Broadband</title>{head}</head>
<body>
<header><strong>Northwind Broadband</strong> <a href="#plans">Plans</a> <a href="#help">Help</a></header>
<main><h1>Your account</h1><p>Your fibre line is active. Next bill: 12 December.</p>
<input id="search" placeholder="Search help"> <button id="pay">Pay now</button>{body}</main>
<script src="{app_url}/widget.js" data-survey="{key}" {attrs} async></script>
</body></html>"""


HOSTILE_CSS = """<style>
* { font-family: "Courier New", monospace !important; font-size: 22px !important; color: #c00 !important;
    letter-spacing: 3px !important; line-height: 3 !important; box-sizing: content-box !important;
    margin: 7px !important; padding: 9px !important; text-transform: uppercase !important; }
button, input, textarea, label, span, p, div, form { all: unset !important; display: inline !important;
    background: lime !important; border: 5px dashed purple !important; width: 300px !important; }
rapport-widget { display: none !important; position: static !important; width: 10px !important; }
html { font-size: 40px !important; }
:focus-visible { outline: 0 !important; }
</style>"""


def make_readme_screenshot(path: Path) -> None:
    """The floating widget, score chosen and follow-up shown, on a sample partner page."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from survey import create_app
    from survey.operations import create_survey
    from survey.widget.operations import add_origins
    from tests.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        app = create_app({"SECRET_KEY": TEST_SECRET_KEY, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{root / 'shot.db'}",
                          "WIDGET_MIN_ANSWER_MS": 0})
        (root / "site").mkdir()
        with app.app_context():
            import survey.models_all  # noqa: F401

            db.create_all()
            survey = create_survey("nps", "Broadband NPS", "Northwind Broadband",
                                   followup_negative="Sorry to hear that. What went wrong?")
            with PartnerSite(root / "site") as site, LiveServer(app) as server:
                add_origins(survey, [site.origin])
                site.page("account.html", SAMPLE_PARTNER_PAGE.format(app=server.url, key=survey.public_key))
                with sync_playwright() as pw:
                    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    page = browser.new_page(viewport={"width": 1000, "height": 620})
                    page.goto(site.url("account.html"))
                    page.get_by_role("radio", name="9").hover()
                    page.wait_for_timeout(400)
                    page.screenshot(path=str(path))
                    browser.close()
            db.session.remove()
            db.engine.dispose()


SAMPLE_PARTNER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Northwind Broadband · Your account</title>
<style>
body {{ margin: 0; font: 16px/1.5 Georgia, serif; color: #263238; background: #eef2f5; }}
header {{ background: #0b3d5c; color: #fff; padding: 14px 32px; display: flex; gap: 28px; align-items: center; }}
header strong {{ font-size: 20px; margin-right: auto; }} header a {{ color: #cfe6f5; text-decoration: none; }}
main {{ max-width: 560px; margin: 28px 32px; }} h1 {{ font-weight: normal; margin: 0 0 12px; }}
.tile {{ background: #fff; padding: 16px 20px; margin: 12px 0; border-left: 4px solid #0b3d5c; }}
button {{ background: #e0662b; color: #fff; border: 0; padding: 10px 18px; font: inherit; }}
</style></head>
<body>
<header><strong>Northwind Broadband</strong><a href="#">Plans</a><a href="#">Help</a><a href="#">Account</a></header>
<main><h1>Your account</h1>
<div class="tile">Fibre 500 · active since March<br>Next bill: 12 December, €39.00</div>
<div class="tile">Your engineer visit on 3 December is confirmed (8:00–12:00).</div>
<button>Pay now</button></main>
<script src="{app}/widget.js" data-survey="{key}" data-meta-plan="fibre-500" async></script>
</body></html>"""


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "survey" / "static" / "screenshots" / "widget.png"
    make_readme_screenshot(target)
    print(target)
