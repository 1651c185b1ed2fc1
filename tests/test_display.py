"""One way to write a score, an interval and a change (survey.display)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from survey.display import (change_interval_text, change_text, counted, enough, interval_text, method_text, plural,
                            score_text)


@pytest.mark.parametrize("value, kind, text", [
    (-26.1, "nps", "-26"), (26.5, "nps", "+26"), (0.4, "nps", "0"), (-0.4, "nps", "0"), (100.0, "nps", "+100"),
    (62.5, "csat", "62%"), (100.0, "csat", "100%"), (0.0, "csat", "0%"),
    (5.254, "ces", "5.25"), (1.0, "ces", "1.00"), (None, "nps", "–"),
])
def test_scores(value, kind, text):
    assert score_text(value, kind) == text


@pytest.mark.parametrize("value, kind, text", [
    (7.5, "nps", "+8 points"), (-7.4, "csat", "-7 points"), (0.3, "nps", "0 points"), (-0.004, "ces", "0.00 points"),
    (0.25, "ces", "+0.25 points"), (None, "csat", "–"),
])
def test_changes_have_one_unit_word(value, kind, text):
    assert change_text(value, kind) == text


def test_intervals_methods_and_the_minimum():
    assert interval_text(-12.2, 30.4, "nps") == "-12 to +30"
    assert interval_text(48.2, 71.0, "csat") == "48% to 71%"
    assert interval_text(None, 3.0, "ces") == "–"
    assert change_interval_text(-66.2, -1.5, "nps") == "-66 to -2 points"
    assert method_text("wilson") == "Wilson score interval"
    assert (enough(9), enough(10), enough(3, minimum=3), enough(None)) == (False, True, True, False)


def test_favicon_is_served_on_every_site(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/vnd.microsoft.icon"
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert icon.cache_control.max_age == 86400
    assert 'rel="icon" href="/favicon.ico"' in client.get("/login").get_data(as_text=True)


def test_a_count_reads_as_a_number_and_its_noun_never_noun_s_in_brackets():
    assert [counted(n, "label") for n in (0, 1, 2)] == ["0 labels", "1 label", "2 labels"]
    assert plural("reply", 3, "replies") == "replies" and plural("reply", 1, "replies") == "reply"


def test_no_dashboard_page_or_message_says_s_in_brackets():
    # The pages and their flashes count with survey.display.counted/plural; the command line keeps its terse "(s)".
    root = Path(__file__).resolve().parents[1] / "survey"
    pages = [p for p in root.rglob("*.html")] + [root / "labelling" / "routes.py", root / "admin" / "contacts.py",
                                                 root / "admin" / "contact_pages.py", root / "campaigns" / "routes.py",
                                                 root / "insights" / "jobs.py"]
    in_text = re.compile(r"[a-z]\(s\)")  # "label(s)"; in Python only inside a string ("staff(s)" is a call)
    in_string = re.compile(r"[\"'][^\"']*[a-z]\(s\)")
    offenders = [f"{p.relative_to(root)}:{n}" for p in pages
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if (in_string if p.suffix == ".py" else in_text).search(line)]
    assert offenders == []


def test_dashboard_pages_write_a_moment_one_way():
    # "7 Dec 2026, 07:36 UTC" (display.when_text) on every page, the webhook delivery log included;
    # ISO dates and seconds stay in machine-readable attributes (datetime=, title=). A hand-made copy of
    # when_text's own format is a second definition of it, so that counts too.
    root = Path(__file__).resolve().parents[1] / "survey" / "templates"
    own_format = re.compile(r"""strftime\(["'](%Y-%m-%d|%H:%M|%-d )|_at\[:\d+\]""")  # or an ISO text cut short
    dashboard_pages = [p for p in root.rglob("*.html") if p.parent.name != "email"]  # e-mails write theirs short
    offenders = [f"{p.relative_to(root)}:{n}" for p in dashboard_pages
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if own_format.search(re.sub(r"""(datetime|title)="[^"]*\"""", "", line))]
    assert offenders == []
