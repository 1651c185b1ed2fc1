"""An admin in real headless Chromium: opens the label queue, corrects the comment the model is
least sure of, retrains in the background, compares the two versions and switches."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
import sqlalchemy as sa

from survey.db import db
from survey.labelling import operations
from survey.labelling.models import TrainingRun
from survey.models import LabelCorrection
from tests.analyze_support import CORPUS, add_answers, analysis_app, tiny_model  # noqa: F401
from tests.dashboard_support import make_user
from tests.test_labelling import COMMENTS
from tests.test_results_browser import sign_in

pytestmark = pytest.mark.browser


def test_admin_corrects_from_the_queue_retrains_and_switches(analysis_app, app, runner, live_server, browser,
                                                            make_survey, make_response, tmp_path):
    app.config["ANALYSIS_CORPUS"] = [str(CORPUS)]
    app.config["ANALYSIS_MODEL_VERSION"] = None
    add_answers(make_survey, make_response, COMMENTS)
    assert runner.invoke(args=["analyze", "--out", str(tmp_path / "report")]).exit_code == 0
    old = operations.model_in_use().version
    admin = make_user("admin", email="admin@example.com")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url, admin.email)
    page.get_by_role("link", name="Label queue").click()
    page.wait_for_url("**/labelling")
    assert page.get_by_role("heading", name="Comments the model is least sure of").is_visible()
    assert "0 labels corrected or confirmed since it was trained" in page.locator(".corrections-since").inner_text()

    first = page.locator(".queue-item article.comment").first
    first.get_by_text("Correct labels").click()
    current = first.locator('.label[data-field="theme"]').inner_text().split()[0]
    first.get_by_label("Theme").select_option(next(t for t in ("care", "service", "other") if t != current))
    first.get_by_role("button", name="Save").click()
    expect(first.get_by_role("status")).to_have_text("Saved.")  # saved by a fetch: it retries until then
    # the sentiment left as it was is not the analyst's: it still reads as the model's
    assert "confirmed" not in first.locator('.label[data-field="sentiment"]').inner_text()
    # the model was right about the next one: saving nothing changed says how to confirm, Confirm both does
    second = page.locator(".queue-item article.comment").nth(1)
    second_id = second.get_attribute("id")
    second.get_by_text("Correct labels").click()
    second.get_by_role("button", name="Save changes").click()
    expect(second.get_by_role("status")).to_have_text("Nothing changed. If the labels are right, press Confirm both.")
    second.get_by_role("button", name="Confirm both").click()
    page.wait_for_function("id => document.querySelector(`#${id} .correction-status`).textContent === 'Confirmed.'",
                           arg=second_id)
    assert "✓ confirmed" in second.locator('.label[data-field="theme"]').inner_text()
    page.reload()
    # theme corrected on the first, both confirmed on the second
    assert "3 labels corrected or confirmed since it was trained" in page.locator(".corrections-since").inner_text()
    assert page.locator(f"#{second_id}").count() == 0  # it left the queue
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(LabelCorrection.id))) == 3

    page.get_by_role("button", name="Retrain with the corrections").click()
    expect(page.locator(".flashes")).to_contain_text("Retraining started with 3 of your labels")
    run = db.session.scalar(sa.select(TrainingRun))
    operations.wait_for(run.id, timeout=300)
    page.reload()
    assert "A new model is ready" in page.locator("#training-run").inner_text()
    table = page.locator("table.scores")
    assert table.is_visible() and "Theme, held-out 20% of the corpus" in table.inner_text()
    assert "Theme, your 2 labels" in table.inner_text()
    # The versions read as written (they name files): the header's capitals turned them into "3D10A51B".
    db.session.refresh(run)
    assert run.candidate_version in table.locator("thead").inner_text()
    shots = Path(tmp_path)
    page.screenshot(path=str(shots / "labelling-desktop.png"), full_page=True)

    # the comparison on a phone: nothing wider than the screen, the table scrolls inside itself
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone_page = phone.new_page()
    sign_in(phone_page, live_server.url, admin.email)
    phone_page.goto(f"{live_server.url}/labelling")
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    phone_page.screenshot(path=str(shots / "labelling-phone.png"), full_page=True)
    phone.close()

    page.get_by_role("button", name="Switch to").click()
    expect(page.locator(".flashes")).to_contain_text("is now in use")
    db.session.expire_all()
    assert operations.model_in_use().version not in (None, old)
    context.close()

    print(f"screenshots in {shots}")
