"""Right-to-left override and isolate characters in what people type cannot reorder the page around it.

A comment (or a survey, pain point or contact name) holding U+202E RIGHT-TO-LEFT OVERRIDE with no
closing U+202C is stored as given: it is what the customer wrote. Shown inline next to Rapport's own
words, the override ran on to the end of the paragraph and reversed them ("Trojan Source"-style:
"3 comments" read as "stnemmoc 3", a name seemed to belong to another figure). Each such string is
rendered in its own isolate (``<bdi>``, or an element that is its own paragraph), so the override ends
with it. Checked in real Chromium: in the DOM (every text node holding a bidi control sits in an
isolating element holding nothing but user text) and on screen (the words after a comment stay after it).
"""

from __future__ import annotations

import pytest

from survey.codeframe import operations as ops
from survey.csvsafe import safe_cell, unsafe_cell
from survey.insights.report import render_html
from tests.dashboard_support import make_user
from tests.results_support import add_run, label
from tests.test_analyze_report import sample_report
from tests.test_results_browser import sign_in

RLO = "\u202e"
SURVEY_NAME = f"Shop {RLO}pohs"
COMMENT = f"the refund took weeks {RLO}skeew"
PAIN_LABEL = f"late refund {RLO}dnufer"
POINT_NAME = f"slow app {RLO}ppa"
PLAN = f"pro {RLO}orp"
CONTACT_NAME = f"Ann {RLO}nna"
USER_TEXT = [SURVEY_NAME, COMMENT, PAIN_LABEL, POINT_NAME, PLAN, CONTACT_NAME]

#: Every text node holding a bidi control, with the nearest element that isolates it (its own
#: paragraph, or an inline isolate) and what else that element says once the user's strings are taken out.
UNISOLATED_JS = r"""
(userText) => {
  const CONTROLS = /[\u202a-\u202e\u2066-\u2069]/;
  const isolates = (el) => {
    const style = getComputedStyle(el);
    if (["isolate", "isolate-override", "plaintext"].includes(style.unicodeBidi)) return true;
    return !style.display.startsWith("inline") || style.display === "inline-block";
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!CONTROLS.test(node.data)) continue;
    let el = node.parentElement;
    // Plain text, no markup inside (a form's value, an option, a tooltip, a chart's description for
    // screen readers); an SVG text is its own paragraph.
    if (["TEXTAREA", "OPTION", "TITLE", "DESC", "SCRIPT", "TEXT"].includes(el.tagName.toUpperCase())) continue;
    while (el !== document.body && !isolates(el)) el = el.parentElement;
    let rest = el.textContent;
    for (const text of [...userText].sort((a, b) => b.length - a.length)) rest = rest.split(text).join("");
    if (rest.trim()) found.push(`<${el.tagName.toLowerCase()} class="${el.className}">: ${el.textContent.trim()}`);
  }
  return found;
}
"""


def unisolated(page) -> list[str]:
    return page.evaluate(UNISOLATED_JS, USER_TEXT)


#: Each visible character of the first element matching a selector, with where it is drawn.
CHARS_JS = r"""
(selector) => {
  const out = [];
  const walker = document.createTreeWalker(document.querySelector(selector), NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.data.length; i++) {
      if (!node.data[i].trim() || /[\u202a-\u202e\u2066-\u2069]/.test(node.data[i])) continue;
      const range = document.createRange();
      range.setStart(node, i);
      range.setEnd(node, i + 1);
      const box = range.getBoundingClientRect();
      out.push([node.data[i], box.left, box.top]);
    }
  }
  return out;
}
"""


def last_word_is_drawn_last(page, selector: str) -> bool:
    """Whether the element's last character (Rapport's, after the user's text) is drawn rightmost on
    its line: an override running on past the user's text draws it further left."""
    chars = page.evaluate(CHARS_JS, selector)
    _, left, top = chars[-1]
    return all(x <= left for _, x, y in chars if abs(y - top) < 2)


@pytest.fixture
def hostile_survey(make_survey, make_response):
    from survey.invites.addressbook import add_contact
    from survey.invites.contacts import ContactRow

    survey = make_survey("csat", name=SURVEY_NAME)
    response = make_response(survey, score=1, comment=COMMENT, channel="email", meta={"plan": PLAN})
    make_response(survey, score=2, comment="the app froze twice", channel="email")
    label(response, "negative", "service")
    _, [point] = add_run(survey, [(PAIN_LABEL, "service", [response])])
    ops.add_point(survey, POINT_NAME, "service", examples=[response])
    add_contact(ContactRow(line=1, email="ann@example.com", name=CONTACT_NAME))
    return survey, response, point


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_user_text_with_an_override_is_isolated_on_every_dashboard_page(live_server, browser, hostile_survey,
                                                                         tmp_path, width):
    survey, response, point = hostile_survey
    admin = make_user("admin", email="admin@example.com")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url, admin.email)
    key = survey.public_key
    pages = ["/surveys", f"/surveys/{key}", f"/surveys/{key}/results", f"/surveys/{key}/comments",
             f"/surveys/{key}/comments?pain={point.id}&q=refund", f"/surveys/{key}/codeframe", "/follow-up",
             f"/follow-up/{response.id}", "/contacts"]
    drawn_after = {f"/surveys/{key}/results": ["td.point .quote"], "/follow-up": [".comment-meta"]}
    problems = {}
    for path in pages:
        page.goto(live_server.url + path)
        page.wait_for_load_state()
        assert page.evaluate("document.body.innerText").count(RLO) >= 1, path  # the text is there, as given
        found = unisolated(page)
        if found:
            problems[path] = found
        # On screen: the closing quote after a pain point's quote, the answer's number after the survey's name.
        for selector in drawn_after.get(path, []):
            if not last_word_is_drawn_last(page, selector):
                problems.setdefault(path, []).append(f"{selector}: the words after the user's text are drawn before it")
        page.screenshot(path=str(tmp_path / f"{path.strip('/').split('?')[0].replace('/', '_')}-{width}.png"),
                        full_page=True)
    context.close()
    assert problems == {}, "\n".join(f"{p}: {x!r}" for p, xs in problems.items() for x in xs)


@pytest.mark.browser
def test_the_report_isolates_user_text_too(browser, tmp_path):
    html = render_html(sample_report(label=PAIN_LABEL, quote=COMMENT))
    html = html.replace("Shop &lt;script&gt;", SURVEY_NAME + " &lt;script&gt;")  # the survey's name as typed
    page = browser.new_page()
    page.set_content(html)
    found = page.evaluate(UNISOLATED_JS, USER_TEXT + [f'{SURVEY_NAME} <script>alert("x")</script>'
                                                      '<img src=x onerror=alert(1)>'])
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.close()
    assert found == [], "\n".join(map(repr, found))


@pytest.mark.parametrize("control", ["\u202e", "\u202b", "\u2066", "\u2067\u200f", "\u2068"])
def test_a_csv_cell_hides_no_formula_behind_a_direction_character(control):
    """A spreadsheet cell is its own paragraph: an override in one cannot reorder another, so CSV text is
    written as given. But an invisible direction character must not hide a formula's "=" from the escaping."""
    cell = f"{control}=HYPERLINK(\"http://evil.example\",\"refund\")"
    assert safe_cell(cell) == "'" + cell and unsafe_cell(safe_cell(cell)) == cell
    assert safe_cell(COMMENT) == COMMENT and safe_cell(f"{control}fine") == f"{control}fine"


#: Every plain-text place where the user's strings appear next to Rapport's own words (the page's
#: title, an option's label, an attribute a browser shows or reads aloud) without an isolate around them.
PLAIN_TEXT_JS = r"""
(userText) => {
  const SHOWN = ["title", "aria-label", "alt", "placeholder", "data-confirm"];
  const found = [];
  const check = (where, value) => {
    if (value.trim() && userText.includes(value.trim())) return;  // alone: its own paragraph
    for (const text of userText) {
      if (value.replace(/\u2068[^\u2069]*\u2069/g, "").includes(text)) found.push(`${where}: ${value}`);
    }
  };
  check("<title>", document.title);
  for (const el of document.querySelectorAll("*")) {
    for (const name of SHOWN) if (el.hasAttribute(name)) check(`${el.tagName.toLowerCase()} ${name}`, el.getAttribute(name));
    if (el.tagName === "OPTION") check("option", el.textContent);
  }
  return found;
}
"""


def drawn_in_order(page, text: str) -> bool:
    """Whether ``text``, drawn as one left-to-right line, ends with its own last character rightmost
    (an override or right-to-left name running on past the typed part draws Rapport's words before it)."""
    page.set_content('<p id="line" style="font: 16px sans-serif; white-space: nowrap"></p>')
    page.eval_on_selector("#line", "(el, text) => { el.textContent = text; }", text)
    return last_word_is_drawn_last(page, "#line")


@pytest.mark.browser
def test_titles_options_and_shown_attributes_isolate_typed_text(live_server, browser, hostile_survey):
    """Stop 28 isolated typed text in the pages' markup; <title>, <option> and attributes (a confirm
    dialog, an aria-label, a tooltip) hold plain text only, so there it is FSI…PDI: an override in a
    survey's name reversed the rest of the browser tab's title ("Results · Shop" then "tropaR · shop")."""
    survey, response, point = hostile_survey
    admin = make_user("admin", email="admin@example.com")
    from survey.auth.operations import create_api_token
    from survey.db import db
    from survey.labels import correct_label

    create_api_token(admin, f"nightly {RLO}thgin")
    correct_label(response, "theme", "care", admin)
    db.session.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url, admin.email)
    key = survey.public_key
    pages = [f"/surveys/{key}", f"/surveys/{key}/edit", f"/surveys/{key}/results",
             f"/surveys/{key}/comments?pain={point.id}&q={RLO}x&attr.plan=" + PLAN.replace(" ", "+"),
             f"/surveys/{key}/codeframe", f"/surveys/{key}/campaigns", "/tokens"]
    problems, titles = {}, {}
    for path in pages:
        page.goto(live_server.url + path)
        page.wait_for_load_state()
        found = page.evaluate(PLAIN_TEXT_JS, USER_TEXT + [f"nightly {RLO}thgin", f"{RLO}x"])
        if found:
            problems[path] = found
        titles[path] = page.title()
    drawing = context.new_page()
    for path, title in titles.items():
        if SURVEY_NAME in title and not drawn_in_order(drawing, title):
            problems.setdefault(path, []).append(f"the title draws Rapport's words inside the name: {title!r}")
    context.close()
    assert problems == {}, "\n".join(f"{p}: {x!r}" for p, xs in problems.items() for x in xs)
    assert any(SURVEY_NAME in title for title in titles.values())


HEBREW_NAME = "\u05d7\u05e0\u05d5\u05ea"  # right-to-left letters, no control character


@pytest.mark.browser
@pytest.mark.parametrize("name", [SURVEY_NAME, HEBREW_NAME])
def test_a_survey_name_cannot_reorder_the_rest_of_an_alert_subject(app, make_survey, make_response, browser, name):
    """Subjects are plain text: a right-to-left name before ": 1" drew the score before the name
    ("Low score on 1 :<name>"); the name now sits in FSI…PDI, as in the mail's body."""
    from survey.alerts.low_scores import queue_alerts
    from survey.models import utcnow
    from tests.alerts_support import queued

    app.config.update(PUBLIC_BASE_URL="https://rapport.example.com")
    owner = make_user("admin", email="owner@example.com")
    survey = make_survey("nps", name=name, owner_id=owner.id)
    make_response(survey, score=1, comment="cold", created_at=utcnow())
    queue_alerts(utcnow())
    [message] = queued("alert")
    subject = message["Subject"]
    # The override itself is dropped (a Subject is one clean line); right-to-left letters are isolated.
    assert subject == ("Low score on Shop pohs: 1" if name == SURVEY_NAME else f"Low score on \u2068{name}\u2069: 1")
    page = browser.new_page()
    assert drawn_in_order(page, subject), subject
    page.close()


def test_typed_text_in_invitation_and_digest_subjects_is_isolated(app, make_survey):
    """The contact's name and the survey's subject in an invitation's Subject: each in its own isolate (an
    override in them is dropped as before: a Subject is one clean line). The digest's: tests/test_digest.py."""
    import datetime as dt

    from survey.invites import campaigns
    from survey.invites.compose import Composer

    survey = make_survey("nps", subject=f"Acme {RLO}emca", email_subject="{name}, how did {subject} do?")
    links = campaigns.Links("https://rapport.example.com")
    composer = Composer(survey=survey, sender="Rapport <surveys@localhost>", expires_at=dt.datetime(2030, 1, 31),
                        links_for=lambda token: links.for_token(survey, token))
    # Left-to-right text alone needs no isolate: the customer's Subject carries no invisible characters.
    assert composer.subject(HEBREW_NAME) == f"\u2068{HEBREW_NAME}\u2069, how did Acme emca do?"
    assert composer.subject(None) == ", how did Acme emca do?"
    plain = make_survey("nps", subject=HEBREW_NAME)
    default = Composer(survey=plain, sender="Rapport <surveys@localhost>", expires_at=dt.datetime(2030, 1, 31),
                       links_for=lambda token: links.for_token(plain, token), reminder=True)
    assert default.subject(None) == f"Reminder: A quick question about \u2068{HEBREW_NAME}\u2069"


def test_an_option_isolates_typed_text_only_beside_rapports_words(app, make_survey):
    """An option alone is its own line (a pain point's name in the merge list stays as typed, so its
    accessible name is the name); a deactivated owner's address is followed by Rapport's "(deactivated)"."""
    from survey.admin.queries import owner_choices
    from survey.db import db

    gone = make_user("analyst", email="gone@example.com")
    gone.is_active = False
    db.session.commit()
    survey = make_survey("nps", owner_id=gone.id)
    labels = [choice.label for choice in owner_choices(survey)]
    assert labels[-1] == "gone@example.com (deactivated)"  # nothing in it could reorder Rapport's words
    gone.email = f"{HEBREW_NAME}@example.com"
    db.session.commit()
    assert [choice.label for choice in owner_choices(survey)][-1] == f"\u2068{HEBREW_NAME}@example.com\u2069 (deactivated)"
