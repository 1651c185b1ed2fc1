"""The widget on a partner's page in headless Chromium: a real cross-origin embed.

The partner site is a second HTTP server on another port of 127.0.0.1; the
app is ``live_server``. ``localhost`` on the same port is a different origin,
which is how "an origin not on the list" is tested.
"""

import json

import pytest

from survey.widget.operations import add_origins, bot_catch_totals
from tests.widget_support import HOSTILE_CSS, PartnerSite, answers, partner_page

pytestmark = pytest.mark.browser

MIN_MS = 250  # the bot trap stays on; tests wait this long before answering, as a person would


@pytest.fixture
def app_config(app_config):
    app_config["WIDGET_MIN_ANSWER_MS"] = MIN_MS
    return app_config


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "partner"
    root.mkdir()
    with PartnerSite(root) as partner:
        yield partner


@pytest.fixture
def survey(make_survey, site):
    survey = make_survey("nps", subject="Northwind Broadband", followup_negative="Sorry! What went wrong?")
    add_origins(survey, [site.origin])
    return survey


def widget(page):
    """The widget's card, once rendered (Playwright's locators pierce its open shadow root)."""
    card = page.locator("rapport-widget .w")
    card.wait_for()
    return card


def test_visitor_answers_score_then_comment_by_mouse_and_it_is_one_response(live_server, page, site, survey):
    site.page("account.html", partner_page(live_server.url, survey.public_key,
                                           attrs='data-meta-customer-id="C-1042" data-meta-plan="fibre"'))
    requests, posted = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("request", lambda r: posted.append(json.loads(r.post_data)) if r.method == "POST" else None)
    page.goto(site.url("account.html?tab=billing"))
    card = widget(page)
    group = card.get_by_role("radiogroup", name="How likely are you to recommend Northwind Broadband")
    assert group.get_by_role("radio").count() == 11
    assert card.get_by_role("radio", name="0, Not at all likely").count() == 1  # the ends are read out
    assert card.get_by_role("radio", name="10, Extremely likely").count() == 1
    page.wait_for_timeout(MIN_MS + 50)
    card.get_by_role("radio", name="3", exact=True).click()
    comment = card.get_by_role("textbox", name="Sorry! What went wrong?")
    comment.wait_for()
    assert comment.evaluate("el => el.getRootNode().activeElement === el")  # focus moved to the follow-up
    # The card still says which score was chosen while the comment is written.
    assert " ".join(card.locator(".got").inner_text().split()) == "Your score: 3"
    # What goes over the wire: the documented fields, nothing that identifies the visitor.
    [body] = posted
    assert set(body) == {"score", "meta", "page_url", "website", "elapsed_ms", "submission_key"}
    assert body["page_url"] == site.url("account.html?tab=billing") and body["website"] == ""
    assert MIN_MS <= body["elapsed_ms"] < 30_000 and len(body["submission_key"]) == 32
    comment.fill("The engineer came two hours late")
    card.get_by_role("button", name="Send").click()
    status = card.get_by_role("status")
    status.get_by_text("Thank you").wait_for()

    [row] = answers()
    assert (row.score, row.comment, row.channel) == (3, "The engineer came two hours late", "widget")
    assert row.meta == {"customer-id": "C-1042", "plan": "fibre"}
    assert row.page_url == "/account.html"  # path only
    assert row.referrer_origin == site.origin
    assert row.ua_family and "Chrome" in row.ua_family
    assert all(url.startswith((site.origin, live_server.url)) for url in requests)  # no third parties
    assert page.context.cookies() == []

    # Answered: not shown again on this site for the survey's cap (90 days), not even fetched.
    requests.clear()
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.locator("rapport-widget").count() == 0
    assert not any("/api/v1/" in url for url in requests)
    until = page.evaluate(f"localStorage.getItem('rapport:{survey.public_key}')")
    assert 89 * 86400e3 < int(until) - page.evaluate("Date.now()") <= 90 * 86400e3


def test_page_on_an_origin_not_on_the_list_stores_nothing(live_server, page, site, survey):
    site.page("account.html", partner_page(live_server.url, survey.public_key))
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(site.url("account.html", host="localhost"))  # same server, another origin
    page.wait_for_load_state("networkidle")
    assert page.locator("rapport-widget").count() == 0
    assert any("list of origins" in text for text in warnings), warnings
    # A script on that page posting straight to the API is stopped too.
    outcome = page.evaluate("""url => fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({score: 9, elapsed_ms: 5000})}).then(r => "status " + r.status, e => e.name)""",
                            f"{live_server.url}/api/v1/surveys/{survey.public_key}/responses")
    assert outcome == "TypeError"  # the preflight was refused, so the POST was never sent
    assert answers() == []


def csp_meta(policy: str) -> str:
    return f'<meta http-equiv="Content-Security-Policy" content="{policy}">'


def test_a_strict_content_security_policy_needs_only_the_host_in_script_and_connect_src(live_server, page, site,
                                                                                         survey):
    """The card's styles are a constructed stylesheet and CSSOM, which ``style-src 'self'`` does not block; a
    policy that lets the script in but not its requests gets a warning naming connect-src, not the origin list."""
    strict = f"default-src 'self'; script-src 'self' {live_server.url}; connect-src 'self' {live_server.url}; style-src 'self'"
    site.page("strict.html", partner_page(live_server.url, survey.public_key, head=csp_meta(strict)))
    site.page("no-connect.html", partner_page(live_server.url, survey.public_key,
                                              head=csp_meta(f"default-src 'self'; script-src {live_server.url}")))
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    page.goto(site.url("no-connect.html"))
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(200)
    assert page.locator("rapport-widget").count() == 0
    assert any(f"Content-Security-Policy blocks {live_server.url}: add it to connect-src" in text
               for text in warnings), warnings
    assert not any("list of origins" in text for text in warnings)
    page.goto(site.url("strict.html"))
    card = widget(page)
    assert card.evaluate("el => getComputedStyle(el).borderTopLeftRadius") == "12px"  # styled despite style-src
    page.wait_for_timeout(MIN_MS + 50)
    card.get_by_role("radio", name="9", exact=True).click()
    card.get_by_role("textbox").fill("Fine")
    card.get_by_role("button", name="Send").click()
    card.get_by_role("status").get_by_text("Thank you").wait_for()
    assert [(row.score, row.comment) for row in answers()] == [(9, "Fine")]


STYLE_PROBE = """host => {
  const props = ["font-family", "font-size", "color", "background-color", "border-top-width", "border-top-style",
                 "padding-top", "margin-top", "letter-spacing", "line-height", "text-transform", "width", "height",
                 "display", "position", "outline-style"];
  const out = [];
  for (const el of [host, ...host.shadowRoot.querySelectorAll("*")]) {
    const style = getComputedStyle(el), box = el.getBoundingClientRect();
    out.push([el.tagName, el.className, props.map(p => style.getPropertyValue(p)),
              [box.x, box.y, box.width, box.height].map(Math.round)]);
  }
  return out;
}"""


def test_partner_css_cannot_restyle_the_widget(live_server, browser, site, survey, tmp_path):
    site.page("plain.html", partner_page(live_server.url, survey.public_key))
    site.page("hostile.html", partner_page(live_server.url, survey.public_key, head=HOSTILE_CSS))
    results = {}
    for name in ("plain", "hostile"):
        context = browser.new_context(viewport={"width": 900, "height": 640})
        page = context.new_page()
        page.goto(site.url(f"{name}.html"))
        widget(page)
        page.wait_for_timeout(400)  # the entrance animation
        host = page.locator("rapport-widget")
        results[name] = (host.evaluate(STYLE_PROBE), host.screenshot(path=str(tmp_path / f"{name}.png")))
        if name == "hostile":
            page.screenshot(path=str(tmp_path / "hostile-page.png"))
            # The partner's CSS did apply to its own page.
            assert page.evaluate("getComputedStyle(document.querySelector('#pay')).backgroundColor") == "rgb(0, 255, 0)"
        context.close()
    plain_styles, plain_png = results["plain"]
    hostile_styles, hostile_png = results["hostile"]
    assert len(plain_styles) > 30
    for plain, hostile in zip(plain_styles, hostile_styles, strict=True):
        assert plain == hostile
    assert plain_png == hostile_png


OPTION_BOXES = """host => Array.from(host.shadowRoot.querySelectorAll('.o label')).map(label => {
  const box = label.getBoundingClientRect();
  return [Math.round(box.x), Math.round(box.y), box.width, box.height];
})"""


def option_boxes(page, url: str, shot) -> list:
    """Open ``url``, wait for the card to settle and return its options' boxes (x, y, width, height)."""
    page.goto(url)
    widget(page)
    page.wait_for_timeout(400)  # the entrance animation
    if shot:
        page.locator("rapport-widget").screenshot(path=str(shot))
    return page.locator("rapport-widget").evaluate(OPTION_BOXES)


def test_on_a_phone_every_option_is_a_44px_target(live_server, browser, site, survey, make_survey, tmp_path):
    """Eleven NPS options go in two rows (0-5 over 6-10); a five-point scale stays in one."""
    csat = make_survey("csat")
    add_origins(csat, [site.origin])
    site.page("nps.html", partner_page(live_server.url, survey.public_key))
    site.page("csat.html", partner_page(live_server.url, csat.public_key))
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        boxes = option_boxes(page, site.url("nps.html"), tmp_path / "nps-phone.png")
        assert len(boxes) == 11
        assert all(width >= 44 and height >= 44 for _, _, width, height in boxes), boxes
        rows = sorted({y for _, y, _, _ in boxes})
        assert len(rows) == 2
        assert [sum(1 for _, y, _, _ in boxes if y == row) for row in rows] == [6, 5]
        assert [x for x, y, _, _ in boxes if y == rows[0]] == sorted(x for x, y, _, _ in boxes if y == rows[0])
        page.locator("rapport-widget").get_by_role("radio", name="6").tap()  # a tap lands on what it shows
        page.locator("rapport-widget").get_by_role("textbox").wait_for()  # the follow-up step
        assert [a.score for a in answers()] == [6]
        boxes = option_boxes(page, site.url("csat.html"), None)
        assert len(boxes) == 5 and len({y for _, y, _, _ in boxes}) == 1
        assert all(width >= 44 for _, _, width, _ in boxes), boxes
    finally:
        context.close()


def test_on_a_desktop_the_eleven_options_are_one_row_of_wide_buttons(live_server, browser, site, survey, tmp_path):
    site.page("nps.html", partner_page(live_server.url, survey.public_key))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        boxes = option_boxes(page, site.url("nps.html"), tmp_path / "nps-desktop.png")
        assert len(boxes) == 11 and len({y for _, y, _, _ in boxes}) == 1  # 0-10 in one row
        assert all(width >= 40 for _, _, width, _ in boxes), boxes  # they were 26 px
        page.wait_for_timeout(MIN_MS)
        card = widget(page)
        card.get_by_role("radio", name="9", exact=True).click()
        card.get_by_role("textbox").wait_for()
        assert card.locator(".got .n").inner_text() == "9" and card.locator(".got .n").is_visible()
        page.locator("rapport-widget").screenshot(path=str(tmp_path / "nps-desktop-followup.png"))
    finally:
        context.close()


def test_the_dashboards_iframe_snippet_fits_the_frame_to_the_widget(app, live_server, page, site, survey):
    from survey.admin.links import embed_snippet

    with app.test_request_context(base_url=live_server.url):
        snippet = embed_snippet(survey)
    assert 'height="360"' not in snippet and "resize" in snippet
    site.page("help.html", f"<!doctype html><html><head><meta charset='utf-8'><title>Help</title></head><body><h1>Help</h1>{snippet}</body></html>")
    page.goto(site.url("help.html"))
    frame_id = f"rapport-{survey.public_key}"
    frame = page.frame_locator(f"#{frame_id}")
    card = frame.locator("rapport-widget .w")
    card.wait_for()
    # The frame starts at 200 px; the widget inside reports its height and the snippet's script applies it.
    page.wait_for_function(f"document.getElementById('{frame_id}').height !== '200'")
    frame_height = float(page.evaluate(f"document.getElementById('{frame_id}').height"))
    card_height = card.bounding_box()["height"]
    assert abs(frame_height - card_height) <= 2, (frame_height, card_height)


def test_keyboard_only(live_server, page, site, survey):
    site.page("account.html", partner_page(live_server.url, survey.public_key, attrs='data-lang="fr"'))
    posts = []
    page.on("request", lambda r: posts.append(r.method) if r.method in ("POST", "PATCH") else None)
    page.goto(site.url("account.html"))
    card = widget(page)
    page.wait_for_timeout(MIN_MS + 50)
    for _ in range(10):  # through the partner's links, field and button, into the widget
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "RAPPORT-WIDGET":
            break
    inner = "document.activeElement.shadowRoot.activeElement"
    assert page.evaluate(f"{inner}.getAttribute('aria-label')") == "Fermer"  # the close button, in French
    page.keyboard.press("Tab")
    assert page.evaluate(f"{inner}.name") == "score"
    assert page.evaluate(f"{inner}.matches(':focus-visible')")
    for _ in range(8):
        page.keyboard.press("ArrowRight")  # choosing with arrows sends nothing yet
    assert page.evaluate(f"{inner}.value") == "8" and posts == []
    send = card.get_by_role("button", name="Envoyer")
    assert send.is_visible()
    page.keyboard.press("Enter")
    comment = card.get_by_role("textbox")
    comment.wait_for()
    page.keyboard.type("Typed without a mouse")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    card.get_by_role("status").get_by_text("Thank you").wait_for()
    [row] = answers()
    assert (row.score, row.comment) == (8, "Typed without a mouse")
    assert posts == ["POST", "PATCH"]


def test_escape_closes_the_card_and_gives_focus_back(live_server, page, site, survey):
    site.page("account.html", partner_page(live_server.url, survey.public_key))
    page.goto(site.url("account.html"))
    widget(page)
    page.focus("#pay")
    page.keyboard.press("Tab")  # from the partner's last control into the widget: nothing traps focus
    assert page.evaluate("document.activeElement.tagName") == "RAPPORT-WIDGET"
    page.keyboard.press("Escape")
    assert page.locator("rapport-widget").count() == 0
    assert page.evaluate("document.activeElement.id") == "pay"
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.locator("rapport-widget").count() == 0  # dismissed counts for the cap too
    assert answers() == []


def test_inline_widget_in_a_target_element(live_server, page, site, make_survey):
    survey = make_survey("csat", followup_enabled=False, widget_cap_days=0)
    add_origins(survey, [site.origin])
    site.page("help.html", partner_page(live_server.url, survey.public_key, attrs='data-target="#feedback"',
                                        body='<section id="feedback"></section><footer id="after">Footer</footer>'))
    page.goto(site.url("help.html"))
    card = widget(page)
    assert page.evaluate("document.querySelector('rapport-widget').parentElement.id") == "feedback"
    assert page.evaluate("getComputedStyle(document.querySelector('rapport-widget')).position") == "static"
    page.wait_for_timeout(MIN_MS + 50)
    card.get_by_role("radio", name="5, Very satisfied").click()
    card.get_by_role("status").get_by_text("Thank you").wait_for()  # no follow-up: straight to thanks
    assert [(a.score, a.comment) for a in answers()] == [(5, None)]
    page.reload()
    widget(page)  # a cap of 0 days: shown every time


EMBED_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Contact us</title></head><body>
<h1>Contact us</h1>
<iframe id="rapport" src="{app}/embed/{key}?lang=de&meta_section=contact" title="Feedback"
        style="width:100%;max-width:420px;border:0;height:40px"></iframe>
<script>
addEventListener("message", function (e) {{
  if (e.origin === "{app}" && e.data && e.data.rapport === "resize")
    document.getElementById("rapport").style.height = e.data.height + "px";
}});
</script></body></html>"""


def test_iframe_embed_answers_and_sizes_itself(live_server, page, site, survey):
    site.page("contact.html", EMBED_PAGE.format(app=live_server.url, key=survey.public_key))
    page.goto(site.url("contact.html"))
    frame = page.frame_locator("#rapport")
    frame.locator("rapport-widget .w").wait_for()
    iframe = page.locator("#rapport")
    page.wait_for_function("document.getElementById('rapport').getBoundingClientRect().height > 100")
    first_height = iframe.bounding_box()["height"]
    page.wait_for_timeout(MIN_MS + 50)
    frame.get_by_role("radio", name="9", exact=True).click()
    frame.get_by_role("textbox").fill("Quick answer on the phone")
    frame.get_by_role("button", name="Senden").click()
    frame.get_by_role("status").get_by_text("Thank you").wait_for()
    page.wait_for_function(f"document.getElementById('rapport').getBoundingClientRect().height < {first_height}")
    [row] = answers()
    assert (row.score, row.comment, row.channel) == (9, "Quick answer on the phone", "widget")
    assert row.meta == {"section": "contact"}
    assert row.referrer_origin == site.origin  # the page that framed it, as it is on the list


def test_iframe_embed_is_refused_on_other_origins(live_server, page, site, survey):
    site.page("contact.html", EMBED_PAGE.format(app=live_server.url, key=survey.public_key))
    blocked = []
    page.on("console", lambda m: blocked.append(m.text) if "frame-ancestors" in m.text else None)
    page.goto(site.url("contact.html", host="localhost"))
    page.wait_for_load_state("networkidle")
    frame = page.frame(url=lambda url: "/embed/" in url)
    assert frame is None or frame.locator("rapport-widget").count() == 0
    assert blocked, "Chromium reports the frame-ancestors refusal"
    assert answers() == []


def test_widget_stays_quiet_for_a_closed_survey(live_server, page, site, survey):
    from survey.db import db

    survey.is_open = False
    db.session.commit()
    site.page("account.html", partner_page(live_server.url, survey.public_key))
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site.url("account.html"))
    page.wait_for_load_state("networkidle")
    assert page.locator("rapport-widget").count() == 0 and errors == []



def test_a_right_to_left_page_does_not_mirror_the_card(live_server, page, site, make_survey):
    """``all: initial`` leaves ``direction`` inherited: on a dir="rtl" page the English card was mirrored
    ("?Broadband to a friend" and ":Your score", 10 on the left). The card reads left to right, as its
    languages do; the survey's own wording and the visitor's comment take the direction of their text."""
    survey = make_survey("nps", subject="Northwind Broadband", followup_negative="ما الذي حدث خطأ؟")
    add_origins(survey, [site.origin])
    site.page("ar.html", partner_page(live_server.url, survey.public_key)
              .replace('<html lang="en">', '<html lang="ar" dir="rtl">'))
    page.goto(site.url("ar.html"))
    card = widget(page)
    direction = "el => getComputedStyle(el).direction"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"  # the partner's page is RTL
    assert card.evaluate(direction) == "ltr" and card.locator(".q").evaluate(direction) == "ltr"
    options = card.locator(".o label")
    assert options.first.bounding_box()["x"] < options.last.bounding_box()["x"]  # 0 on the left, 10 on the right
    page.wait_for_timeout(MIN_MS + 50)
    card.get_by_role("radio", name="3", exact=True).click()
    comment = card.get_by_role("textbox", name="ما الذي حدث خطأ؟")
    comment.wait_for()
    assert card.locator("label.q").evaluate(direction) == "rtl"  # the survey's Arabic follow-up
    assert card.locator(".got").evaluate(direction) == "ltr"  # "Your score: 3", colon after the words
    comment.fill("تأخر الفني ساعتين")
    assert comment.evaluate(direction) == "rtl"
    comment.fill("The engineer was late")
    assert comment.evaluate(direction) == "ltr"


def test_a_lost_reply_and_a_second_click_store_one_answer(live_server, page, site, survey):
    site.page("account.html", partner_page(live_server.url, survey.public_key))
    lost = []

    def lose_the_first_reply(route):
        if route.request.method == "POST" and not lost:
            lost.append(route.fetch().status)  # the server stores the answer…
            route.abort()  # …but its reply never reaches the page
        else:
            route.continue_()

    page.route("**/responses", lose_the_first_reply)
    page.goto(site.url("account.html"))
    card = widget(page)
    page.wait_for_timeout(MIN_MS + 50)
    card.get_by_role("radio", name="6", exact=True).click()
    card.get_by_role("alert").get_by_text("Could not send. Please try again.").wait_for()
    assert lost == [201] and len(answers()) == 1
    card.get_by_role("radio", name="6", exact=True).click()
    card.get_by_role("textbox").fill("Second try")
    card.get_by_role("button", name="Send").click()
    card.get_by_role("status").get_by_text("Thank you").wait_for()
    [row] = answers()
    assert (row.score, row.comment) == (6, "Second try")


def test_a_double_click_on_send_sends_the_comment_once(live_server, page, site, survey):
    site.page("account.html", partner_page(live_server.url, survey.public_key))
    edits = []
    page.on("request", lambda r: edits.append(r.post_data) if r.method == "PATCH" else None)
    page.goto(site.url("account.html"))
    card = widget(page)
    page.wait_for_timeout(MIN_MS + 50)
    card.get_by_role("radio", name="8", exact=True).click()
    card.get_by_role("textbox").fill("Quick install")
    card.get_by_role("button", name="Send").dblclick()
    card.get_by_role("status").get_by_text("Thank you").wait_for()
    page.wait_for_timeout(300)  # a second request would have left by now
    assert len(edits) == 1
    [row] = answers()
    assert (row.score, row.comment) == (8, "Quick install")


def test_the_survey_page_previews_the_snippet_live_and_stores_none_of_its_answers(live_server, browser,
                                                                                  make_survey, tmp_path):
    """The dashboard's preview is a page of this site, let in by the rule for the site's own pages (no partner
    origin listed here); it runs the copied snippet, answers like a partner page (score, follow-up, thanks)
    but stores nothing, so a test counts in no result, and asks again on reload."""
    from tests.dashboard_support import PASSWORD, make_user

    survey = make_survey("nps", subject="Northwind Broadband", followup_negative="Sorry! What went wrong?")
    user = make_user("analyst")
    for width, height in ((1280, 900), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        problems = []
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{live_server.url}/login")
        page.get_by_label("E-mail address").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server.url}/surveys")
        page.goto(f"{live_server.url}/surveys/{survey.public_key}")
        frame = page.frame_locator("iframe.widget-preview")
        card = frame.locator("rapport-widget .w")
        card.wait_for()
        page.locator("iframe.widget-preview").scroll_into_view_if_needed()
        page.wait_for_timeout(max(MIN_MS, 400))  # the bot trap, and the entrance animation for the picture
        page.screenshot(path=str(tmp_path / f"preview-{width}.png"), full_page=True)
        card.get_by_role("radio", name="3", exact=True).click()
        card.get_by_role("textbox", name="Sorry! What went wrong?").fill(f"Preview at {width} px")
        page.wait_for_timeout(300)  # the card grows to its follow-up, its tallest step: the frame still holds it
        page.locator("iframe.widget-preview").screenshot(path=str(tmp_path / f"preview-{width}-followup.png"))
        preview_box, card_box = page.locator("iframe.widget-preview").bounding_box(), card.bounding_box()
        assert preview_box["y"] < card_box["y"] and card_box["y"] + card_box["height"] < preview_box["y"] + preview_box["height"]
        assert preview_box["x"] < card_box["x"] and card_box["x"] + card_box["width"] < preview_box["x"] + preview_box["width"]
        card.get_by_role("button", name="Send").click()
        card.get_by_role("status").get_by_text("Thank you").wait_for()
        page.locator("iframe.widget-preview").screenshot(path=str(tmp_path / f"preview-{width}-thanks.png"))
        # Asked again: the preview forgets the "answered" mark a visitor's browser keeps.
        frame.get_by_role("link", name="Show it again").click()
        frame.locator("rapport-widget .w").get_by_role("radio", name="3", exact=True).wait_for()
        assert not problems, problems
        context.close()

    assert answers() == []
    assert bot_catch_totals(survey) == {"honeypot": 0, "too_fast": 0}  # thanked as a preview, not as a bot


@pytest.mark.parametrize("direction", ["rtl", "ltr"])
def test_on_a_phone_a_page_wider_than_the_screen_keeps_the_floating_card_on_screen(
        live_server, browser, site, survey, tmp_path, direction):
    """A partner page wider than a phone (a wide table, an image) widens the layout viewport a fixed box
    is placed in; on a right-to-left page that extra width lies to the left of what is shown, and the
    card, 16 px from the layout viewport's right edge, sat off-screen, out of reach."""
    wide = '<table><tr><td style="min-width:1100px">Plans and prices for every region</td></tr></table>'
    html = partner_page(live_server.url, survey.public_key, body=wide)
    if direction == "rtl":
        html = html.replace('<html lang="en">', '<html lang="ar" dir="rtl">')
    site.page(f"wide-{direction}.html", html)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(site.url(f"wide-{direction}.html"))
        card = widget(page)
        page.wait_for_timeout(300)  # let a pending layout settle before measuring what is on screen
        shown = page.evaluate("({left: visualViewport.offsetLeft, top: visualViewport.offsetTop,"
                              " width: visualViewport.width, height: visualViewport.height})")
        box = page.evaluate("""() => { const r = document.querySelector("rapport-widget").getBoundingClientRect();
                                       return {x: r.x, y: r.y, width: r.width, height: r.height}; }""")
        page.screenshot(path=str(tmp_path / f"wide-{direction}-390.png"))
        assert shown["left"] - 1 <= box["x"] and box["x"] + box["width"] <= shown["left"] + shown["width"] + 1, \
            (box, shown)
        assert box["y"] + box["height"] <= shown["top"] + shown["height"] + 1, (box, shown)
        page.wait_for_timeout(MIN_MS + 50)
        card.get_by_role("radio", name="9", exact=True).tap()  # reachable: a tap lands on it
        card.get_by_role("textbox").wait_for()
        assert [a.score for a in answers()] == [9]
    finally:
        context.close()
