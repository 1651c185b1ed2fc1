"""/widget.js as served (size, type, caching) and the /embed/KEY page (framing, CSP, options)."""

import gzip
import re

import pytest

from survey.db import db
from survey.widget.operations import add_origins

GZIP_BUDGET = 6 * 1024


def test_widget_js_is_small_after_gzip(client):
    served = client.get("/widget.js")
    assert served.status_code == 200
    size = len(gzip.compress(served.data, compresslevel=9))
    assert size <= GZIP_BUDGET, f"widget.js is {size} bytes gzipped; the budget is {GZIP_BUDGET}"


def test_widget_js_is_served_without_its_comment_lines_and_otherwise_as_written(client):
    from survey.widget.routes import SCRIPT

    served = client.get("/widget.js").get_data(as_text=True)
    written = SCRIPT.read_text(encoding="utf-8").splitlines(keepends=True)
    assert any(line.lstrip().startswith("//") for line in written)
    assert served == "".join(line for line in written if not line.lstrip().startswith("//"))
    assert served.startswith("/* Rapport survey widget.")  # the header shows the snippet


def test_widget_js_type_caching_and_etag(app, client):
    served = client.get("/widget.js")
    assert served.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.cache_control.public and served.cache_control.max_age == app.config["WIDGET_SCRIPT_MAX_AGE"]
    assert served.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    etag = served.headers["ETag"]
    again = client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/widget.js", headers={"If-None-Match": '"stale"'}).status_code == 200


def test_widget_js_uses_no_cookies_no_third_parties_no_inline_styles(client):
    source = client.get("/widget.js").get_data(as_text=True)
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)  # the header comment shows the snippet
    assert "cookie" not in code.lower() and "credentials: \"omit\"" in code
    assert not re.search(r"https?://", code), "the widget talks only to the host it was loaded from"
    assert "innerHTML" not in code and "eval(" not in code  # survey text is set as text, never as HTML
    assert "setAttribute(\"style\"" not in code  # styles go through CSSOM, which a page's CSP allows


@pytest.fixture
def survey(make_survey):
    return make_survey("ces", subject="Northwind")


def test_embed_page_may_be_framed_only_by_the_surveys_origins(client, survey):
    add_origins(survey, ["https://shop.example.com", "http://127.0.0.1:8080"])
    page = client.get(f"/embed/{survey.public_key}")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors http://127.0.0.1:8080 https://shop.example.com" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    html = page.get_data(as_text=True)
    assert f'<style nonce="{nonce}">' in html
    assert f'data-survey="{survey.public_key}"' in html and "data-embed" in html
    assert f'href="/s/{survey.public_key}"' in html  # without JavaScript, a link to the answer page
    assert page.headers["Cache-Control"] == "no-store"


def test_embed_page_without_origins_cannot_be_framed(client, survey):
    assert "frame-ancestors 'none'" in client.get(f"/embed/{survey.public_key}").headers["Content-Security-Policy"]


def test_embed_options_are_checked_and_escaped(client, survey):
    html = client.get(f"/embed/{survey.public_key}?lang=fr-CA&accent=%23c0ffee&meta_plan=%22%3E%3Cscript%3E"
                      ).get_data(as_text=True)
    assert 'lang="fr-CA"' in html and 'data-lang="fr-CA"' in html and 'data-accent="#c0ffee"' in html
    assert 'data-meta-plan="&#34;&gt;&lt;script&gt;"' in html and '"><script>' not in html
    ignored = client.get(f"/embed/{survey.public_key}?lang=%22x&accent=red;x").get_data(as_text=True)
    assert "data-lang" not in ignored and "data-accent" not in ignored


def test_embed_errors(client, survey):
    assert client.get("/embed/no-such-key").status_code == 404
    bad_meta = client.get(f"/embed/{survey.public_key}?meta_bad%20name=1")
    assert bad_meta.status_code == 400 and "damaged" in bad_meta.get_data(as_text=True)
    survey.is_open = False
    db.session.commit()
    assert client.get(f"/embed/{survey.public_key}").status_code == 410


def test_embed_page_sends_no_conflicting_x_frame_options(client, survey):
    add_origins(survey, ["http://127.0.0.1:8080"])
    page = client.get(f"/embed/{survey.public_key}")
    assert page.status_code == 200
    assert "X-Frame-Options" not in page.headers  # DENY would contradict frame-ancestors
    assert "frame-ancestors http://127.0.0.1:8080" in page.headers["Content-Security-Policy"]
