"""The codeframe page downloads the codeframe as ``flask codeframe export`` writes it, and takes an
admin's upload through the same import as ``flask codeframe import`` (all or nothing, bounded)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from playwright.sync_api import expect
import sqlalchemy as sa

from survey.codeframe import operations as ops
from survey.codeframe.models import CodeframeEdit, CodeframeExample, CodeframePoint
from survey.db import db
from tests.conftest import extract_csrf
from tests.dashboard_support import login

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "codeframe_broadband.csv"


def upload(client, survey, data: bytes, filename: str = "codeframe.csv", **extra):
    return client.post(f"/surveys/{survey.public_key}/codeframe/import",
                       data={"file": (io.BytesIO(data), filename), **extra}, content_type="multipart/form-data")


def counts() -> tuple[int, int, int]:
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(t))
                 for t in (CodeframePoint, CodeframeExample, CodeframeEdit))


def test_upload_then_download_round_trips_and_the_same_file_again_changes_nothing(client, make_survey, runner):
    survey, other = make_survey(), make_survey()
    admin = login(client, "admin")
    reply = upload(client, survey, FIXTURE.read_bytes(), "broadband.csv")
    assert reply.status_code == 302
    page = client.get(reply.headers["Location"]).get_data(as_text=True)
    assert "3 new pain point(s), 9 new example(s), 3 new keyword(s)" in page
    edit = db.session.scalars(sa.select(CodeframeEdit)).one()
    assert (edit.action, edit.actor, edit.user_id, edit.detail["source"]) == ("import", admin.email, admin.id,
                                                                              "broadband.csv")
    assert edit.created_at is not None

    download = client.get(f"/surveys/{survey.public_key}/codeframe.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"] == f'attachment; filename="codeframe-{survey.public_key}.csv"'
    exported = runner.invoke(args=["codeframe", "export", "--survey", survey.public_key])
    assert download.get_data(as_text=True) == exported.stdout  # the CLI's export, byte for byte
    assert download.get_data().startswith(b"\xef\xbb\xbfname,")  # a UTF-8 BOM, so Excel shows accents right

    before = counts()
    again = upload(client, survey, download.get_data())
    assert "Nothing changed" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert counts() == before
    assert upload(client, other, download.get_data()).status_code == 302
    assert client.get(f"/surveys/{other.public_key}/codeframe.csv").get_data() == download.get_data()


def test_an_analyst_downloads_but_an_upload_is_403_and_changes_nothing(client, make_survey):
    survey = make_survey()
    ops.add_point(survey, "=Late flight", "service", examples=[])
    login(client, "analyst")
    page = client.get(f"/surveys/{survey.public_key}/codeframe").get_data(as_text=True)
    assert "Download CSV" in page and "Import a codeframe file" not in page
    text = client.get(f"/surveys/{survey.public_key}/codeframe.csv").get_data(as_text=True)
    assert text.splitlines()[1].startswith("'=Late flight,")  # formula-safe, like the CLI's
    before = counts()
    reply = upload(client, survey, FIXTURE.read_bytes())
    assert reply.status_code == 403 and "needs the admin role" in reply.get_data(as_text=True)
    assert counts() == before


def test_no_codeframe_is_a_404_that_says_so(client, make_survey):
    survey = make_survey()
    login(client)
    reply = client.get(f"/surveys/{survey.public_key}/codeframe.csv")
    assert reply.status_code == 404 and "has no codeframe yet" in reply.get_data(as_text=True)
    # and the page, which then offers no download, does not point an admin's import at one
    login(client, role="admin")
    page = client.get(f"/surveys/{survey.public_key}/codeframe").get_data(as_text=True)
    assert "Import a codeframe file" in page and "Download CSV" not in page


def test_bad_lines_are_listed_with_their_numbers_and_nothing_is_imported(client, make_survey):
    survey = make_survey()
    login(client, "admin")
    bad = ("name,theme,keywords,example\n"
           "late refunds,service,,refund took six weeks\n"
           ",service,,no name here\n"
           "late refunds,pricing,,unknown theme\n").encode()
    reply = upload(client, survey, bad, "bad.csv")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "bad.csv: 2 bad line(s); nothing was imported. Fix them" in page
    assert "line 3: no name" in page and "line 4: unknown theme &#39;pricing&#39;" in page
    assert counts() == (0, 0, 0)

    reply = upload(client, survey, "name,example\ncaf\xe9,ok\n".encode("latin-1"))
    assert reply.status_code == 422 and "line 2: not UTF-8" in reply.get_data(as_text=True)
    reply = client.post(f"/surveys/{survey.public_key}/codeframe/import", data={})
    assert reply.status_code == 422 and "Choose a CSV file to upload." in reply.get_data(as_text=True)
    assert counts() == (0, 0, 0)


def test_too_large_a_file_or_too_many_points_is_refused_with_the_limit(client, make_survey, runner, tmp_path,
                                                                       monkeypatch):
    survey = make_survey()
    login(client, "admin")
    big = b"name,example\n" + b"late refunds,the refund took weeks and weeks\n" * 30_000  # 1.3 MB
    reply = upload(client, survey, big, "big.csv")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    assert "big.csv: the file is larger than 1 MB, the most a codeframe file may be (with at most 200 pain points" in page
    path = tmp_path / "big.csv"
    path.write_bytes(big)
    result = runner.invoke(args=["codeframe", "import", str(path), "--survey", survey.public_key])
    assert result.exit_code == 1 and "larger than 1 MB, the most a codeframe file may be" in result.output

    many = "name,example\n" + "".join(f"point {i},example {i}\n" for i in range(201))
    reply = upload(client, survey, many.encode(), "many.csv")
    assert reply.status_code == 422
    assert "line 202: a 201st pain point; a codeframe holds at most 200" in reply.get_data(as_text=True)
    examples = "name,example\n" + "".join(f"late,example {i}\n" for i in range(5001))
    reply = upload(client, survey, examples.encode(), "examples.csv")
    assert "line 5002: a 5001st example; a file holds at most 5000" in reply.get_data(as_text=True)
    assert counts() == (0, 0, 0)

    # Within the file's bound, but more than a codeframe holds with what it has already.
    monkeypatch.setattr(ops, "POINTS_MAX", 3)
    ops.add_point(survey, "Rude staff", "care")
    reply = upload(client, survey, FIXTURE.read_bytes(), "broadband.csv")
    assert reply.status_code == 422
    assert f"a codeframe holds at most 3 pain points; this would make {survey.public_key}&#39;s 4 (1 now)" in \
        reply.get_data(as_text=True)
    assert counts()[0] == 1


def test_an_upload_without_the_csrf_token_is_400(app, make_survey):
    survey = make_survey()
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    login(client, "admin")
    reply = upload(client, survey, FIXTURE.read_bytes())
    assert reply.status_code == 400 and "This form has expired" in reply.get_data(as_text=True)
    assert counts() == (0, 0, 0)
    token = extract_csrf(client.get(f"/surveys/{survey.public_key}/codeframe").get_data(as_text=True))
    assert upload(client, survey, FIXTURE.read_bytes(), csrf_token=token).status_code == 302
    assert counts()[0] == 3


@pytest.mark.browser
def test_an_admin_uploads_and_downloads_on_a_phone_and_a_desktop(app, live_server, browser, make_survey, runner,
                                                                 tmp_path):
    """Through real Chromium at 390 and 1280 px: a bad file lists its lines, a good one imports, the
    download is the CLI's export; nothing on the page is cut or too small to tap."""
    from tests.dashboard_support import make_user
    from tests.test_dashboard_phone import PHONE, problems_on
    from tests.test_results_browser import sign_in

    survey = make_survey("csat", name="Broadband support")
    make_user("admin", email="cf-admin@example.com")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,theme,example\nlate refunds,pricing,refund took weeks\n", encoding="utf-8")
    shots = {}
    for viewport, name in ((PHONE, "phone"), ({"width": 1280, "height": 900}, "desktop")):
        context = browser.new_context(viewport=viewport, is_mobile=name == "phone", has_touch=name == "phone",
                                      accept_downloads=True)
        page = context.new_page()
        sign_in(page, live_server.url, "cf-admin@example.com")
        page.goto(f"{live_server.url}/surveys/{survey.public_key}/codeframe")
        page.get_by_label("Codeframe CSV file").set_input_files(str(bad))
        page.get_by_role("button", name="Import").click()
        expect(page.locator(".problems")).to_contain_text("line 2: unknown theme 'pricing'")
        # The refused file's field has the focus, so even a phone opens at the problems, below the fold.
        expect(page.get_by_label("Codeframe CSV file")).to_be_focused()
        expect(page.locator(".problems")).to_be_in_viewport()
        # What the screen shows as it opens; full-page shots come last, as capturing beyond the
        # viewport re-applies the phone's emulation and a click right after it can land beside its target.
        shots[f"{name}-bad"] = tmp_path / f"{name}-bad.png"
        page.screenshot(path=str(shots[f"{name}-bad"]))
        problems = problems_on(page, f"{name} bad file") if name == "phone" else []
        page.get_by_label("Codeframe CSV file").set_input_files(str(FIXTURE))
        page.get_by_role("button", name="Import").click()
        page.wait_for_url(f"**/surveys/{survey.public_key}/codeframe")
        expect(page.locator("main")).to_contain_text("Nothing changed" if name == "desktop" else "3 new pain point(s)")
        if name == "phone":
            problems += problems_on(page, "phone imported")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download CSV").click()
        assert download.value.suggested_filename == f"codeframe-{survey.public_key}.csv"
        downloaded = Path(download.value.path()).read_text(encoding="utf-8")
        shots[name] = tmp_path / f"{name}.png"
        page.screenshot(path=str(shots[name]), full_page=True)
        context.close()
        assert not problems, "\n".join(problems)
        assert downloaded == runner.invoke(args=["codeframe", "export", "--survey", survey.public_key]).stdout
    assert counts()[0] == 3
    print("screenshots:", *shots.values())
