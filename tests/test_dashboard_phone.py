"""The dashboard on a phone (390 × 844) in real headless Chromium.

An analyst walks the survey list, the results (filters collapsed, then opened),
the comments and a label correction. On every screen no text is cut (no cell or
container scrolls sideways, nothing hangs past the viewport) and every control
is at least 44 px tall. ``RAPPORT_UPDATE_SCREENSHOTS=1`` copies the phone
screenshots to survey/static/screenshots/ for the README.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect
import sqlalchemy as sa

from survey.db import db
from survey.demo import seed_demo
from survey.models import Contact, Response, Survey
from survey.insights.charts import READABLE_PX
from tests.dashboard_support import make_user
from tests.results_support import add_run, label, label_all
from tests.test_results_browser import sign_in

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parent.parent / "survey" / "static" / "screenshots"
PHONE = {"width": 390, "height": 844}
MIN_TARGET = 44

# Everything a finger can use, and every box that holds text.
CONTROLS = "a[href], button, input:not([type=hidden]), select, textarea, summary"
# Read for screen readers only (clipped to a pixel): not on screen, so not cut.
VISUALLY_HIDDEN = """const visuallyHidden = (el) => {
  for (let at = el; at; at = at.parentElement) {
    const style = getComputedStyle(at);
    if (style.position === "absolute" && style.clip !== "auto") return true;
  }
  return false;
};"""
CUT_TEXT = """() => {
  %s
  const cut = [];
  const tolerance = 1;
  for (const el of document.querySelectorAll("td, th, .stat, .panel, .chip, .button, .label, .comment, .field, main, h1, h2")) {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden" || visuallyHidden(el)) continue;
    if (el.closest(".table-scroll")) continue;  // a table that scrolls on purpose, inside its own box
    if (el.scrollWidth > el.clientWidth + tolerance && style.overflowX !== "auto" && style.overflowX !== "scroll") {
      cut.push(`${el.tagName.toLowerCase()}.${el.className}: ${el.scrollWidth} > ${el.clientWidth}: ${el.innerText.slice(0, 40)}`);
    }
    const box = el.getBoundingClientRect();
    if (box.width && box.right > document.documentElement.clientWidth + tolerance) {
      cut.push(`${el.tagName.toLowerCase()}.${el.className} ends at ${Math.round(box.right)}px: ${el.innerText.slice(0, 40)}`);
    }
  }
  return cut;
}""" % VISUALLY_HIDDEN
# A link in a sentence: its paragraph has words outside its links. It is inline text, exempt from
# the 44 px (WCAG 2.5.8): as a 44 px box it pushed its line apart from the next. A paragraph of
# links only ("All its campaigns · New campaign") is not a sentence: its links are targets.
IN_SENTENCE = """const inSentence = (el) => {
  const p = el.tagName === "A" && el.closest("p");
  if (!p) return false;
  let outside = p.innerText;
  for (const a of p.querySelectorAll("a")) outside = outside.replace(a.innerText, "");
  return /[\\p{L}\\p{N}]/u.test(outside);
};"""
SMALL_CONTROLS = """([selector, minimum]) => {
  %s
  %s
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(el).visibility === "hidden") continue;  // not shown
    if (visuallyHidden(el) || inSentence(el)) continue;
    if (box.height < minimum - 0.5) small.push(`${el.tagName.toLowerCase()} "${(el.innerText || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 30)}" ${Math.round(box.width)}×${Math.round(box.height)}`);
  }
  return small;
}""" % (VISUALLY_HIDDEN, IN_SENTENCE)
# A link in a sentence taller than its paragraph's line: it spreads the lines around it.
TALL_INLINE_LINKS = """() => {
  %s
  const tall = [];
  for (const a of document.querySelectorAll("main a[href]")) {
    if (!inSentence(a)) continue;
    const style = getComputedStyle(a.closest("p"));
    const line = parseFloat(style.lineHeight) || 1.5 * parseFloat(style.fontSize);
    for (const box of a.getClientRects()) {
      if (box.height > line + 0.5) tall.push(`a "${a.innerText.trim().slice(0, 30)}" ${Math.round(box.height)} px in lines of ${Math.round(line)} px`);
    }
  }
  return tall;
}""" % IN_SENTENCE


# In a pain point's Answers cell: px from the end of the count to the start of its share.
COUNT_TO_SHARE = """td => {
  const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
  let count = null;
  while (walker.nextNode()) if (/\\d/.test(walker.currentNode.textContent) && !walker.currentNode.parentElement.closest(".sub")) { count = walker.currentNode; break; }
  const range = document.createRange();
  range.setStart(count, 0); range.setEnd(count, count.textContent.trimEnd().length);
  return td.querySelector(".sub").getBoundingClientRect().left - range.getBoundingClientRect().right;
}"""


def problems_on(page, name: str) -> list[str]:
    """What is cut or too small to tap on the screen shown, each line naming the screen."""
    found = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        found.append(f"the page is {width} px wide")
    found += [f"cut: {item}" for item in page.evaluate(CUT_TEXT)]
    found += [f"under {MIN_TARGET} px: {item}" for item in page.evaluate(SMALL_CONTROLS, [CONTROLS, MIN_TARGET])]
    found += [f"stretches its line: {item}" for item in page.evaluate(TALL_INLINE_LINKS)]
    return [f"{name}: {item}" for item in found]


@pytest.fixture
def demo(app):
    seed_demo("http://127.0.0.1")
    survey = db.session.scalar(sa.select(Survey).where(Survey.kind == "nps"))
    commented = list(db.session.scalars(
        sa.select(Response).where(Response.survey_id == survey.id, Response.comment.is_not(None)).order_by(Response.id)))
    label_all([(response, "negative" if response.score <= 6 else "positive", ("service", "care", "other")[i % 3])
               for i, response in enumerate(commented)])
    worst = [r for r in commented if r.score <= 6]
    add_run(survey, [("slow to fix faults", "service", worst[:3]), ("rude on the phone", "care", worst[3:5])])
    # An e-mailed answer from a contact with an id-like attribute.
    contact = Contact(email="dana.ruiz@example.com", name="Dana Ruiz",
                      attributes={"plan": "business", "region": "west", "customer-id": "C-100234"})
    db.session.add(contact)
    db.session.commit()
    db.session.add(Response(survey_id=survey.id, score=4, channel="email", contact_id=contact.id,
                            comment="Engineer came twice and the line still drops every evening.",
                            meta=dict(contact.attributes)))
    db.session.commit()
    return survey


def test_the_dashboard_on_a_phone(demo, live_server, browser, tmp_path):
    survey = demo
    make_user("analyst", email="phone@example.com")
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server.url, "phone@example.com")
    shots, problems = {}, []

    def check_screen(name: str) -> None:
        problems.extend(problems_on(page, name))

    # The survey list: the score column is whole.
    page.wait_for_load_state("networkidle")
    check_screen("survey list")
    score = page.locator("table.surveys tbody tr").first.locator("td.score-col")
    assert score.is_visible() and score.evaluate("td => td.scrollWidth <= td.clientWidth")
    shots["phone-surveys"] = tmp_path / "phone-surveys.png"
    page.screenshot(path=str(shots["phone-surveys"]), full_page=True)

    # The survey's own page: its link and snippets fit too.
    page.goto(f"{live_server.url}/surveys/{survey.public_key}")
    check_screen("survey page")

    # Results: the filters wait behind a button, so the score is on the first screen.
    page.goto(f"{live_server.url}/surveys/{survey.public_key}/results")
    page.wait_for_load_state("networkidle")
    toggle = page.get_by_role("button", name="Filters")
    assert toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false"
    assert not page.get_by_label("Channel").is_visible()
    headline = page.locator(".stat.metric .stat-value")
    assert headline.bounding_box()["y"] + headline.bounding_box()["height"] < PHONE["height"]
    check_screen("results")
    # The README's picture, taken before any tap (a tapped summary keeps the tap highlight).
    shots["phone-results"] = tmp_path / "phone-results.png"
    page.screenshot(path=str(shots["phone-results"]))
    # The interval's method reads in words after one tap; a title tooltip would never show on a phone.
    method = page.locator(".stat.metric details.method")
    method.locator("summary").tap()
    assert "MOVER interval from Wilson intervals" in method.inner_text() and method.is_visible()
    check_screen("results, interval method open")
    page.screenshot(path=str(tmp_path / "phone-method.png"))  # to look at, not for the README
    method.locator("summary").tap()
    # A pain point's count and its share read together ("32 10%"), not the count adrift mid-row.
    gap = page.locator(".pain-table td[data-label=Answers]").first.evaluate(COUNT_TO_SHARE)
    assert 0 <= gap < 16, f"the count sits {gap:.0f} px from its share"

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    page.get_by_label("Channel").select_option("email")
    page.get_by_label("Score", exact=True).select_option("negative")
    check_screen("results, filters open")
    shots["phone-filters"] = tmp_path / "phone-filters.png"
    page.screenshot(path=str(shots["phone-filters"]))
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**channel=email**")
    # Collapsed again after applying, and the button says how many filters are in use.
    toggle = page.get_by_role("button", name="Filters")
    assert "2" in toggle.inner_text() and toggle.get_attribute("aria-expanded") == "false"
    check_screen("results, filtered")

    # The charts' numbers, for anyone who cannot see the image.
    page.goto(f"{live_server.url}/surveys/{survey.public_key}/results")
    data = page.locator("details.chart-data").first
    data.locator("summary").click()
    assert data.locator("table").is_visible() and data.locator("tbody tr").count() == 11
    check_screen("results, chart data open")
    page.screenshot(path=str(tmp_path / "phone-results-full.png"), full_page=True)  # to look at, not for the README

    # Comments, and a label correction with a thumb.
    page.goto(f"{live_server.url}/surveys/{survey.public_key}/comments")
    page.wait_for_load_state("networkidle")
    check_screen("comments")
    emailed = page.locator(".comment", has_text="Engineer came twice")
    assert emailed.locator(".attrs li").count() == 3  # plan, region, customer-id: once each
    emailed.get_by_text("Correct labels").click()
    emailed.get_by_label("Theme").select_option("service")
    check_screen("comments, correction open")
    shots["phone-comments"] = tmp_path / "phone-comments.png"
    emailed.scroll_into_view_if_needed()
    page.screenshot(path=str(shots["phone-comments"]))
    emailed.get_by_role("button", name="Save").click()
    expect(emailed.get_by_role("status")).to_have_text("Saved.")  # saved by a fetch: it retries until then
    context.close()
    assert not problems, "\n".join(problems)
    if os.environ.get("RAPPORT_UPDATE_SCREENSHOTS"):
        for name, path in shots.items():
            shutil.copyfile(path, SCREENSHOTS / f"{name}.png")


def test_the_codeframe_on_a_phone_wraps_long_names_links_and_keywords(app, live_server, browser, make_survey,
                                                                     tmp_path):
    """A quoted comment holding a pasted link, a long pain-point name or keyword, and the merge/move
    selects listing that name made the Codeframe screen 1,099 px wide on a 390 px phone."""
    from survey.codeframe.operations import add_point, assign_comment
    from survey.models import utcnow

    link = "https://support.example.com/tickets/" + "a1b2c3d4" * 12
    long_name = "waiting-for-engineer-appointment-confirmation-that-never-arrived-by-email"
    survey = make_survey("csat", name="Support-ticket-resolution-survey-for-the-Northern-Europe-region-2026")
    commented = []
    for i in range(12):
        commented.append(Response(survey_id=survey.id, score=1 + i % 2, channel="link", created_at=utcnow(),
                                  comment=f"See {link} nothing works, still waiting {i}"))
    db.session.add_all(commented)
    db.session.commit()
    for response in commented:
        label(response, "negative", "service")
    add_run(survey, [(long_name + "-again", "service", commented[:6])])  # shown as a proposal
    point = add_point(survey, long_name, "service", keywords=["keyword-" + "z" * 80])
    add_point(survey, "short one", "care")
    for response in commented[6:9]:
        assign_comment(point, response)
    make_user("analyst", email="phone@example.com")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server.url, "phone@example.com")
    page.goto(f"{live_server.url}/surveys/{survey.public_key}/codeframe")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(tmp_path / "phone-codeframe.png"), full_page=True)
    problems = problems_on(page, "codeframe")
    looks = {"phone": field_looks(page, ".codeframe-form")}
    context.close()
    assert not problems, "\n".join(problems)
    desktop = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(desktop, live_server.url, "phone@example.com")
    desktop.goto(f"{live_server.url}/surveys/{survey.public_key}/codeframe")
    desktop.screenshot(path=str(tmp_path / "desktop-codeframe.png"), full_page=True)
    looks["desktop"] = field_looks(desktop, ".codeframe-form")
    desktop.close()
    # The proposal's name box (and every other field of the page) is drawn like the page's selects.
    for width, fields in looks.items():
        assert "proposal" in {where for where, _ in fields} and len({look for _, look in fields}) == 1, (width, fields)


def test_a_link_in_a_sentence_keeps_its_line_but_a_link_on_its_own_is_a_target(app, live_server, browser,
                                                                               make_survey, tmp_path):
    """Every link in the page's main part was a 44 px box on a phone, links in a sentence too: the
    paragraph's line holding one stood 44 px tall, apart from the rest. In a sentence a link is
    text again; on its own (crumbs, a paragraph of links only) it keeps its 44 px."""
    survey = make_survey("nps")
    make_user("admin", email="phone@example.com")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server.url, "phone@example.com")
    page.goto(f"{live_server.url}/surveys/{survey.public_key}/codeframe")
    sentence = page.locator("main p.muted", has_text="The pain points your team agreed on")
    inline = sentence.get_by_role("link", name="Results")
    line = sentence.evaluate("p => parseFloat(getComputedStyle(p).lineHeight)")
    page.screenshot(path=str(tmp_path / "phone-sentence-link.png"))
    assert inline.evaluate("a => getComputedStyle(a).display") == "inline"
    assert inline.bounding_box()["height"] <= line
    # Its lines are as far apart as any: the paragraph is its lines' height, no taller.
    lines = sentence.evaluate("""p => { const r = document.createRange(); r.selectNodeContents(p);
        return new Set([...r.getClientRects()].map(b => Math.round(b.top))).size; }""")
    assert sentence.bounding_box()["height"] <= lines * line + 1
    crumb = page.locator("nav.crumbs").get_by_role("link", name="Surveys")
    assert crumb.bounding_box()["height"] >= MIN_TARGET - 0.5
    problems = problems_on(page, "codeframe")
    # A paragraph of links only ("All its campaigns · New campaign"): targets, not a sentence.
    page.goto(f"{live_server.url}/surveys/{survey.public_key}")
    row = page.locator("main p.link-row").get_by_role("link", name="All its campaigns")
    assert row.bounding_box()["height"] >= MIN_TARGET - 0.5
    problems += problems_on(page, "survey page")
    context.close()
    assert not problems, "\n".join(problems)


def test_a_long_pain_point_name_wraps_on_results(app, live_server, browser, make_survey, tmp_path):
    """A pain point renamed to one long word (a pasted ticket reference) ran 1,800 px past its row on a
    390 px phone, and widened the table on a desktop: the codeframe wraps such names, Results did not."""
    from survey.models import utcnow

    long_name = "INC" + "a1b2c3d4" * 12
    survey = make_survey("nps")
    commented = [Response(survey_id=survey.id, score=i % 3, channel="link", created_at=utcnow(),
                          comment=f"nobody came {i}") for i in range(6)]
    db.session.add_all(commented)
    db.session.commit()
    add_run(survey, [(long_name, "service", commented)])
    make_user("analyst", email="long@example.com")
    for viewport in (PHONE, {"width": 1280, "height": 900}):
        page = browser.new_page(viewport=viewport)
        sign_in(page, live_server.url, "long@example.com")
        page.goto(f"{live_server.url}/surveys/{survey.public_key}/results")
        page.screenshot(path=str(tmp_path / f"results-{viewport['width']}.png"), full_page=True)
        assert page.locator(".pain-table td.point a").inner_text() == long_name
        cut = page.evaluate("""() => [...document.querySelectorAll('.pain-table td.point, .pain-table')]
          .filter(el => el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right > innerWidth)
          .map(el => `${el.className}: ${el.scrollWidth} > ${el.clientWidth}`)""")
        page.close()
        assert not cut, (viewport, cut)


def test_a_survey_with_too_few_answers_keeps_the_survey_list_on_a_phone(demo, live_server, browser, make_survey,
                                                                        make_response, tmp_path):
    """ "1 of 10 needed" under "too few answers" was kept on one line like an interval, and pushed the
    survey list 9 px past a 390 px phone."""
    make_response(make_survey("nps", name="One comment", subject="X"), score=1, comment="never came")
    make_user("analyst", email="few@example.com")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server.url, "few@example.com")
    page.goto(f"{live_server.url}/surveys")
    page.screenshot(path=str(tmp_path / "phone-surveys-few.png"), full_page=True)
    assert "1 of 10 needed" in page.locator("table").inner_text()
    problems = problems_on(page, "surveys")
    context.close()
    assert not [p for p in problems if "under 44 px" not in p], "\n".join(problems)


# How each text field and select of the matching forms is drawn: (where it is, its border, corners, padding, font).
FIELD_LOOKS = """selector => [...document.querySelectorAll(selector)].flatMap(form =>
  [...form.querySelectorAll("input:not([type=hidden]):not([type=checkbox]), select")].map(el => {
    const s = getComputedStyle(el);
    return [el.closest(".proposal") ? "proposal" : "point",
            [s.borderTopWidth, s.borderTopColor, s.borderTopLeftRadius, s.paddingLeft, s.fontSize].join(" ")];
  }))"""


def field_looks(page, form_selector: str) -> list[tuple[str, str]]:
    return [tuple(row) for row in page.evaluate(FIELD_LOOKS, form_selector)]



def test_a_command_option_on_a_phone_stays_whole(app, live_server, browser, make_survey):
    """The empty codeframe's import command broke "--survey" into "-" and "-survey" on a 390 px phone."""
    survey = make_survey("csat", name="No codeframe yet")
    make_user("analyst", email="phone-cli@example.com")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server.url, "phone-cli@example.com")
    page.goto(f"{live_server.url}/surveys/{survey.public_key}/codeframe")
    lines = page.eval_on_selector_all(".cli-option", "els => els.map(e => [e.textContent, e.getClientRects().length])")
    context.close()
    assert lines and all(count == 1 for _, count in lines), lines
    assert lines[0][0] == f"--survey {survey.public_key}"


# Each stat card's empty space to its right, where no other card follows it in its row.
STAT_GAPS = """() => [...document.querySelectorAll(".stats")].flatMap(row => {
  const cards = [...row.querySelectorAll(":scope > .stat")].map(card => card.getBoundingClientRect());
  const edge = row.getBoundingClientRect().right;
  return cards.filter(card => !cards.some(other => other !== card && Math.abs(other.top - card.top) < 2 && other.left > card.right))
              .map(card => Math.round(edge - card.right));
})"""


def test_stat_cards_fill_the_phone_width(demo, live_server, browser, tmp_path):
    """On Contacts and Follow-up the stat cards kept their desktop width (12rem): one to a row at
    half the screen, the rest of each row empty."""
    make_user("admin", email="admin-phone@example.com")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server.url, "admin-phone@example.com")
    problems = []
    for path in ("/contacts", "/follow-up"):
        page.goto(live_server.url + path)
        page.screenshot(path=str(tmp_path / f"phone{path.replace('/', '-')}.png"))
        gaps = page.evaluate(STAT_GAPS)
        assert gaps, f"{path}: no stat cards"
        problems += [f"{path}: a stat card leaves {gap} px empty beside it" for gap in gaps if gap > 1]
        problems += problems_on(page, path)
    context.close()
    assert not problems, "\n".join(problems)


# The smallest text of each chart as shown: its SVG's smallest font-size times the scale it is drawn at.
SHOWN_CHART_TEXT = """async () => {
  const found = [];
  for (const img of document.querySelectorAll("img.chart-img")) {
    const svg = new DOMParser().parseFromString(await (await fetch(img.currentSrc)).text(), "image/svg+xml");
    const width = parseFloat(svg.documentElement.getAttribute("viewBox").split(" ")[2]);
    const sizes = [...svg.querySelectorAll("text")].map(t => parseFloat(t.getAttribute("font-size")));
    found.push({src: img.currentSrc, px: Math.min(...sizes) * img.getBoundingClientRect().width / width});
  }
  return found;
}"""


CHARTS_CHOSEN = "() => [...document.querySelectorAll('img.chart-img')].every(img => img.complete && img.currentSrc)"
# Between the phone and two charts a row (44rem to 64rem) one chart fills the page's width; up to 50rem it is
# the narrow drawing (results.html says why).
ONE_CHART_A_ROW = (704, 800, 900, 1000)
# Above 64rem two charts a row: the wide drawing was 576 px with 9 px text, shown 7 px at 1,025 px, 8.6 px at 1,280.
TWO_CHARTS_A_ROW = (1025, 1440)  # and the page's own 1,280


def test_results_charts_are_drawn_for_the_phone(demo, live_server, browser, tmp_path):
    """Scaled down to a phone, the desktop charts' ticks and legends were 5–6 px high."""
    survey = demo
    make_user("analyst", email="charts-phone@example.com")
    for viewport, narrow in (({"width": 1280, "height": 900}, False), (PHONE, True)):
        context = browser.new_context(viewport=viewport, is_mobile=narrow, has_touch=narrow)
        page = context.new_page()
        sign_in(page, live_server.url, "charts-phone@example.com")
        page.goto(f"{live_server.url}/surveys/{survey.public_key}/results")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(tmp_path / f"results-{viewport['width']}.png"), full_page=True)
        shown = {viewport["width"]: page.evaluate(SHOWN_CHART_TEXT)}
        # The same page resized: no new browser or sign-in.
        for width in ONE_CHART_A_ROW + TWO_CHARTS_A_ROW if not narrow else ():
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_function(CHARTS_CHOSEN)  # a resize makes each <picture> choose its source again
            page.screenshot(path=str(tmp_path / f"results-{width}.png"))
            shown[width] = page.evaluate(SHOWN_CHART_TEXT)
        context.close()
        for width, charts in shown.items():
            assert len(charts) == 4
            for chart in charts:
                assert ("size=narrow" in chart["src"]) == (narrow or width <= 800), chart
                assert READABLE_PX <= chart["px"], f"{chart['src']}: text {chart['px']:.1f} px on a {width} px screen"
                if not narrow:  # and not blown up either
                    assert chart["px"] <= 17, f"{chart['src']}: text {chart['px']:.1f} px on a {width} px screen"


# Each fact's value (dd) that sits beside its label instead of under it, with its width.
FACTS_BESIDE = """() => [...document.querySelectorAll(".facts dd")].filter(dd => {
  const dt = dd.previousElementSibling;
  return dt && dd.getBoundingClientRect().left > dt.getBoundingClientRect().left + 1;
}).map(dd => `${Math.round(dd.getBoundingClientRect().width)} px: ${dd.innerText.slice(0, 30)}`)"""


def test_facts_read_label_above_value_on_a_phone(demo, live_server, browser):
    """Beside a 9rem label column an e-mail address broke as "walk@example.co|m" and the survey's
    question ran four words to a line."""
    make_user("analyst", email="facts-phone@example.com")
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, live_server.url, "facts-phone@example.com")
    problems = []
    for path in ("/account", f"/surveys/{demo.public_key}"):
        page.goto(live_server.url + path)
        assert page.locator(".facts dd").count(), path
        problems += [f"{path}: beside its label, {item}" for item in page.evaluate(FACTS_BESIDE)]
    context.close()
    assert not problems, "\n".join(problems)
