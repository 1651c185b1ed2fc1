"""The codeframe: import/export/list/copy from the command line, sorting, proposals, dismissals, edits, trends."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from analysis.codeframe import CodeframeSorter
from survey.codeframe import operations as ops
from survey.codeframe.models import CodeframeEdit, CodeframeExample, CodeframePoint
from survey.db import db
from survey.insights.codeframe import trend
from survey.models import PainPointRecord, Survey
from tests.analyze_support import add_answers, analysis_app, read_report, tiny_model  # noqa: F401

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "codeframe_broadband.csv"

# Our own comments: three known problems, a fourth the codeframe does not know, praise.
ANSWERS = [
    (0, "on hold for two hours and nobody answered the phone"),
    (1, "I was kept on hold for ages, terrible"),
    (2, "waited on hold for an hour then the line went dead"),
    (1, "the engineer never turned up, I wasted a whole day"),
    (0, "engineer did not show up and nobody called to say why"),
    (3, "the app crashes every time I try to pay my bill"),
    (2, "the app keeps freezing and crashing, useless"),
    (1, "my bill was wrong again and I was overcharged"),
    (2, "overcharged on my bill for the third month, the bill is always wrong"),
    (0, "bill wrong again, overcharged by twenty pounds"),
    (10, "lovely staff, quick and friendly installation"),
    (9, "great value and the speed is brilliant"),
]


def invoke(runner, *args):
    return runner.invoke(args=["codeframe", *args])


def export_text(runner, key) -> str:
    result = invoke(runner, "export", "--survey", key)
    assert result.exit_code == 0, result.output
    return result.stdout


# --------------------------------------------------------------------------- #
# Import, export, list, copy
# --------------------------------------------------------------------------- #
def test_import_export_round_trip_and_reimport_changes_nothing(runner, make_survey, tmp_path):
    survey, other = make_survey("nps"), make_survey("csat")
    result = invoke(runner, "import", str(FIXTURE), "--survey", survey.public_key)
    assert result.exit_code == 0, result.output
    assert "3 new pain point(s), 9 new example(s), 3 new keyword(s)" in result.output

    listed = json.loads(invoke(runner, "list", "--survey", survey.public_key, "--json").stdout)
    assert [(p["name"], p["theme"], p["examples"], p["keywords"]) for p in listed] == [
        ("app keeps crashing", "other", 3, ["crash"]),
        ("engineer did not turn up", "service", 3, ["no show"]),
        ("on hold for hours", "service", 3, ["on hold"]),
    ]
    edits = db.session.scalars(sa.select(CodeframeEdit)).all()
    assert [(e.action, e.actor) for e in edits] == [("import", "cli")]

    again = invoke(runner, "import", str(FIXTURE), "--survey", survey.public_key)
    assert again.exit_code == 0 and "Nothing changed" in again.output
    assert db.session.scalar(sa.select(sa.func.count(CodeframeExample.id))) == 9
    assert db.session.scalar(sa.select(sa.func.count(CodeframeEdit.id))) == 1

    exported = export_text(runner, survey.public_key)
    assert exported.startswith("\ufeffname,")  # a BOM for spreadsheets, which the import takes off
    rows = list(csv.DictReader(io.StringIO(exported.removeprefix("\ufeff"))))
    assert len(rows) == 9 and set(rows[0]) == set(ops.COLUMNS)
    path = tmp_path / "exported.csv"
    path.write_text(exported, encoding="utf-8")
    assert invoke(runner, "import", str(path), "--survey", survey.public_key).output.startswith("Nothing changed")
    assert invoke(runner, "import", str(path), "--survey", other.public_key).exit_code == 0
    assert export_text(runner, other.public_key) == exported


def test_every_bad_line_is_reported_and_nothing_is_imported(runner, make_survey, tmp_path):
    survey = make_survey()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "name,theme,keywords,example\n"
        "late refunds,service,,refund took six weeks\n"        # line 2: fine
        ",service,,no name here\n"                              # line 3
        "late refunds,pricing,,unknown theme\n"                 # line 4
        "nothing given,service,,\n"                             # line 5
        "late refunds,care,,theme differs from line 2\n"        # line 6
        "rude staff,care,,fine,extra cell\n",                   # line 7
        encoding="utf-8")
    result = invoke(runner, "import", str(bad), "--survey", survey.public_key)
    assert result.exit_code == 1
    for line in ("line 3: no name", "line 4: unknown theme 'pricing'", "line 5: 'nothing given' has neither",
                 "line 6: 'late refunds' has theme 'care' here but 'service' above", "line 7: more cells"):
        assert line in result.output, result.output
    assert "5 bad line(s); nothing was imported" in result.output
    assert db.session.scalar(sa.select(sa.func.count(CodeframePoint.id))) == 0

    header = tmp_path / "header.csv"
    header.write_text("title,text\nx,y\n", encoding="utf-8")
    result = invoke(runner, "import", str(header), "--survey", survey.public_key)
    assert result.exit_code == 1 and "line 1: the header needs `name`" in result.output
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,example\ncaf\xe9,ok\n".encode("latin-1"))
    result = invoke(runner, "import", str(latin), "--survey", survey.public_key)
    assert result.exit_code == 1 and "line 2: not UTF-8" in result.output
    result = invoke(runner, "import", str(FIXTURE), "--survey", "no-such-key")
    assert result.exit_code == 1 and "no survey has the key" in result.output


def test_cells_no_database_stores_and_broken_quoting_are_reported_with_their_line(runner, make_survey, tmp_path):
    """NUL and control characters break the text rule every importer shares (PostgreSQL cannot store NUL:
    it was a traceback); an unclosed quote or a runaway cell names the line it starts on."""
    survey = make_survey()
    bad = tmp_path / "bad.csv"
    bad.write_text("name,example\n"
                   "late refunds,refund took six weeks\n"        # line 2: fine
                   "late refunds,a\x00b\n"                       # line 3: NUL
                   "rude\x1b[31m staff,they shouted\n",          # line 4: an escape sequence in the name
                   encoding="utf-8")
    result = invoke(runner, "import", str(bad), "--survey", survey.public_key)
    assert result.exit_code == 1, result.output
    assert "line 3: the example contains a NUL character" in result.output
    assert "line 4: the name contains a control character (U+001B)" in result.output
    assert db.session.scalar(sa.select(sa.func.count(CodeframePoint.id))) == 0

    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text('name,example\nlate refunds,fine\nrude staff,"they shouted\nslow app,it is slow\n',
                        encoding="utf-8")
    result = invoke(runner, "import", str(unclosed), "--survey", survey.public_key)
    assert result.exit_code == 1 and "line 3: a quoted field starts here and its closing quote" in result.output
    runaway = tmp_path / "runaway.csv"
    runaway.write_text("name,example\nlate refunds,fine\nslow,\"" + "x" * 200_000 + "\"\n", encoding="utf-8")
    result = invoke(runner, "import", str(runaway), "--survey", survey.public_key)
    assert result.exit_code == 1 and "line 3: a field is longer than 128 KiB" in result.output, result.output
    assert db.session.scalar(sa.select(sa.func.count(CodeframePoint.id))) == 0


def test_a_file_saved_with_semicolons_imports_like_a_comma_one(runner, make_survey, tmp_path):
    """Spreadsheets in many locales save CSV with semicolons; it was refused as a header without `name`."""
    survey = make_survey()
    path = tmp_path / "codeframe.csv"
    path.write_bytes("\ufeffname;theme;keywords;example\r\n"
                     'late refunds;service;"refund; money back";Still waiting for my refund, six weeks on\r\n'
                     "rude staff;care;;they shouted at me\r\n".encode("utf-8"))
    result = invoke(runner, "import", str(path), "--survey", survey.public_key)
    assert result.exit_code == 0 and "2 new pain point(s), 2 new example(s), 2 new keyword(s)" in result.output, \
        result.output
    refunds = ops.point_by_name(survey, "late refunds")
    assert refunds.keywords == ["refund", "money back"]
    assert [e.text for e in refunds.examples] == ["Still waiting for my refund, six weeks on"]


def test_the_export_opens_in_excel_with_its_accents_and_imports_back_bom_and_all(runner, make_survey, tmp_path):
    """Without a byte order mark Excel read the UTF-8 file in the legacy code page ("DÃ©lai"); the BOM
    goes into the CLI's file (and stdout, which the download matches) and every import takes it off."""
    survey = make_survey()
    source = tmp_path / "accents.csv"
    source.write_text("name,theme,keywords,example\nDélai de remboursement,service,remboursé,"
                      "\"J'attends toujours mon remboursement, six semaines après\"\nmal atendido,care,,señora grosera\n",
                      encoding="utf-8")
    assert invoke(runner, "import", str(source), "--survey", survey.public_key).exit_code == 0
    out = tmp_path / "codeframe.csv"
    assert invoke(runner, "export", "--survey", survey.public_key, "--out", str(out)).exit_code == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfname,theme,") and "Délai de remboursement".encode() in data
    assert data.decode("utf-8") == export_text(runner, survey.public_key)  # the file is what stdout prints
    copy = make_survey()
    result = invoke(runner, "import", str(out), "--survey", copy.public_key)
    assert result.exit_code == 0 and "2 new pain point(s)" in result.output, result.output
    assert sorted(p.name for p in ops.points_of(copy)) == ["Délai de remboursement", "mal atendido"]
    assert invoke(runner, "import", str(out), "--survey", survey.public_key).output.startswith("Nothing changed")


def test_names_differing_only_in_case_or_spacing_are_one_pain_point(runner, make_survey, tmp_path):
    survey = make_survey()
    path = tmp_path / "codeframe.csv"
    path.write_text("name,theme,keywords,example\n"
                    "Late Flight,service,delay,the flight was late\n"
                    "late  flight ,,Delay;late,two hours late again\n", encoding="utf-8")
    result = invoke(runner, "import", str(path), "--survey", survey.public_key)
    assert result.exit_code == 0 and "1 new pain point(s), 2 new example(s), 2 new keyword(s)" in result.output
    again = tmp_path / "again.csv"
    again.write_text("name,example\nLATE FLIGHT,delayed by three hours\n", encoding="utf-8")
    assert "0 new pain point(s), 1 new example(s)" in invoke(runner, "import", str(again), "--survey",
                                                               survey.public_key).output
    assert [(p.name, len(p.examples), p.keywords) for p in ops.points_of(survey)] == [
        ("Late Flight", 3, ["delay", "late"])]

    other = ops.add_point(survey, "rude staff", "care")
    with pytest.raises(ops.CodeframeError, match="already has a pain point named 'Late Flight'"):
        ops.rename_point(other, "late FLIGHT")
    with pytest.raises(ops.CodeframeError, match="already has a pain point"):
        ops.add_point(survey, "Rude  Staff", "care")
    with pytest.raises(ops.CodeframeError, match="the name contains a NUL character"):
        ops.rename_point(other, "rude\x00staff")  # from the dashboard's form: PostgreSQL cannot store it
    ops.rename_point(other, "Rude Staff")  # its own name in another case is fine
    assert [p.name for p in ops.points_of(survey)] == ["Late Flight", "Rude Staff"]


def test_two_analysts_renaming_to_one_name_at_once_get_a_message_not_an_error_page(client, make_survey,
                                                                                     monkeypatch):
    from tests.dashboard_support import login

    survey = make_survey()
    late, rude = ops.add_point(survey, "Late flight", "service"), ops.add_point(survey, "Rude staff", "care")
    late_id = late.id
    login(client)
    # The other analyst's rename commits between this request's name check and its own commit: the
    # check still sees the codeframe as it was, and the database's unique name is what refuses it.
    monkeypatch.setattr(ops, "points_of", lambda survey: [])
    reply = client.post(f"/surveys/{survey.public_key}/codeframe",
                        data={"action": "rename", "point_id": late_id, "name": "Rude staff"}, follow_redirects=True)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert "Another analyst changed this codeframe at the same moment" in page and "nothing was saved" in page
    monkeypatch.undo()
    assert sorted(p.name for p in ops.points_of(survey)) == ["Late flight", "Rude staff"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CodeframeEdit)
                             .where(CodeframeEdit.action == "rename")) == 0


def test_two_analysts_adding_to_a_codeframe_one_short_of_full_at_once_add_one_point(app, make_survey, monkeypatch):
    """Accepting a proposal and splitting a point at the same moment on a codeframe of POINTS_MAX - 1:
    each counted 199 before the other committed, and the codeframe held 201. Analyst A pauses between
    its count and its insert until B has counted too (or a second has passed): B must count after A's
    commit and be told the codeframe is full. On SQLite and, with RAPPORT_TEST_DATABASE_URL, PostgreSQL."""
    survey = make_survey()
    specs = [ops.PointSpec(f"point {n:03d}", "service", [], [], False) for n in range(ops.POINTS_MAX - 2)]
    specs.append(ops.PointSpec("slow app", "service", [], ["the app is slow", "the app freezes"], False))
    ops.import_codeframe(survey, specs)
    survey_id, slow = survey.id, ops.point_by_name(survey, "slow app")
    slow_id, freezes_id = slow.id, next(e.id for e in slow.examples if e.text == "the app freezes")
    db.session.remove()
    counted = {"analyst-a": threading.Event(), "analyst-b": threading.Event()}
    real_check_room = ops._check_room

    def check_room_then_pause(survey):
        real_check_room(survey)
        me = threading.current_thread().name
        counted[me].set()
        if me == "analyst-a":
            counted["analyst-b"].wait(1.0)

    monkeypatch.setattr(ops, "_check_room", check_room_then_pause)
    outcome = {}

    def analyst(name, edit):
        with app.app_context():
            try:
                edit()
                outcome[name] = "added"
            except ops.CodeframeError as exc:
                outcome[name] = str(exc)
            finally:
                db.session.remove()

    def accept():
        ops.add_point(db.session.get(Survey, survey_id), "late refunds", "service")

    def split():
        ops.split_point(db.session.get(CodeframePoint, slow_id), "app freezes", [freezes_id])

    a = threading.Thread(target=analyst, args=("analyst-a", accept), name="analyst-a")
    b = threading.Thread(target=analyst, args=("analyst-b", split), name="analyst-b")
    a.start()
    assert counted["analyst-a"].wait(10)
    b.start()
    a.join(20)
    b.join(20)
    assert outcome["analyst-a"] == "added", outcome
    assert "is full: it holds 200 pain points" in outcome["analyst-b"], outcome
    held = db.session.scalar(sa.select(sa.func.count(CodeframePoint.id)).where(CodeframePoint.survey_id == survey_id))
    assert held == ops.POINTS_MAX


def test_an_edit_naming_an_id_no_database_holds_is_a_400_not_a_500(client, make_survey):
    """point_id=99999999999999999999 reached SQLite as an OverflowError (a 500)."""
    from tests.dashboard_support import login

    survey = make_survey()
    point = ops.add_point(survey, "Late flight", "service")
    login(client)
    url = f"/surveys/{survey.public_key}/codeframe"
    huge = 2**64
    for data in ({"action": "hide", "point_id": huge}, {"action": "assign", "target_id": point.id, "response_id": huge},
                 {"action": "dismiss", "proposal_id": huge}, {"action": "hide", "point_id": 0},
                 {"action": "split", "point_id": point.id, "name": "New", "example_ids": [huge]}):
        reply = client.post(url, data=data)
        assert reply.status_code == 400, (data, reply.status_code)
        assert "not one of this page&#39;s ids (reload the page)" in reply.get_data(as_text=True)
    assert not db.session.get(CodeframePoint, point.id).hidden


def test_a_hide_or_rename_sent_twice_is_one_edit_in_the_log(client, make_survey):
    """A double click (or the browser re-sending the form) logged "hide" twice, and a rename to the
    name a point already has logged "rename X (was X)": the log recorded edits that changed nothing."""
    from tests.dashboard_support import login

    survey = make_survey()
    point = ops.add_point(survey, "Late flight", "service")
    login(client)
    url = f"/surveys/{survey.public_key}/codeframe"
    for _ in range(2):
        reply = client.post(url, data={"action": "hide", "point_id": point.id}, follow_redirects=True)
    assert "“Late flight” was already hidden; nothing changed." in reply.get_data(as_text=True)
    for _ in range(2):
        reply = client.post(url, data={"action": "rename", "point_id": point.id, "name": "Late  flights "},
                            follow_redirects=True)
    assert "“Late flights” already has that name; nothing changed." in reply.get_data(as_text=True)
    logged = db.session.scalars(sa.select(CodeframeEdit.action).where(CodeframeEdit.survey_id == survey.id)
                                .order_by(CodeframeEdit.id)).all()
    assert logged == ["add", "hide", "rename"]


def test_export_never_hands_a_spreadsheet_a_formula_and_still_round_trips(runner, make_survey, tmp_path):
    survey = make_survey()
    path = tmp_path / "codeframe.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([("name", "keywords", "example"),
                                  ("=HYPERLINK(\"http://evil.example\")", "@SUM(1);refund", "=cmd|' /C calc'!A0"),
                                  ("-2 stars", "", " +1 for the app")])
    assert invoke(runner, "import", str(path), "--survey", survey.public_key).exit_code == 0
    exported = export_text(runner, survey.public_key)
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    assert not [c for c in cells if c.lstrip().startswith(("=", "+", "-", "@"))], cells
    assert "'=cmd|' /C calc'!A0" in cells and "'@SUM(1); refund" in cells

    again = tmp_path / "exported.csv"
    again.write_text(exported, encoding="utf-8")
    assert invoke(runner, "import", str(again), "--survey", survey.public_key).output.startswith("Nothing changed")
    copy = make_survey()
    assert invoke(runner, "import", str(again), "--survey", copy.public_key).exit_code == 0
    assert export_text(runner, copy.public_key) == exported
    assert [(p.name, p.keywords, [e.text for e in p.examples]) for p in ops.points_of(copy)] == [
        ("-2 stars", [], ["+1 for the app"]),
        ("=HYPERLINK(\"http://evil.example\")", ["@SUM(1)", "refund"], ["=cmd|' /C calc'!A0"])]


def test_an_export_that_fails_midway_leaves_the_file_it_would_replace_whole(runner, make_survey, tmp_path,
                                                                           monkeypatch):
    """--out wrote into the file in place: a failure (or Ctrl-C) half-way left a truncated codeframe.csv."""
    survey = make_survey()
    invoke(runner, "import", str(FIXTURE), "--survey", survey.public_key)
    (tmp_path / "repo").mkdir()
    out = tmp_path / "repo" / "codeframe.csv"
    out.write_text("the team's file, kept in version control\n", encoding="utf-8")

    def fail_after_the_header(rows, fh):
        fh.write("name,theme,keywords,example,hidden\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(ops, "write_csv", fail_after_the_header)
    result = invoke(runner, "export", "--survey", survey.public_key, "--out", str(out))
    assert result.exit_code != 0
    assert out.read_text(encoding="utf-8") == "the team's file, kept in version control\n"
    assert [p.name for p in out.parent.iterdir()] == ["codeframe.csv"]  # no temporary file left behind
    monkeypatch.undo()
    assert invoke(runner, "export", "--survey", survey.public_key, "--out", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8") == export_text(runner, survey.public_key)
    result = invoke(runner, "export", "--survey", survey.public_key, "--out", str(tmp_path / "no" / "such.csv"))
    assert result.exit_code == 2 and "folder" in result.output and "does not exist" in result.output


def test_copy_to_another_survey_and_list_table(runner, make_survey):
    source, target = make_survey(), make_survey()
    assert invoke(runner, "copy", "--survey", source.public_key, "--to", target.public_key).exit_code == 1
    invoke(runner, "import", str(FIXTURE), "--survey", source.public_key)
    result = invoke(runner, "copy", "--survey", source.public_key, "--to", target.public_key)
    assert result.exit_code == 0 and "3 new pain point(s), 9 new example(s)" in result.output
    assert export_text(runner, target.public_key) == export_text(runner, source.public_key)
    table = invoke(runner, "list", "--survey", target.public_key).output
    assert "engineer did not turn up" in table and "no show" in table
    assert invoke(runner, "export", "--survey", make_survey().public_key).exit_code == 1


# --------------------------------------------------------------------------- #
# Sorting (pure ML)
# --------------------------------------------------------------------------- #
def _fixture_examples():
    specs, problems = ops.read_file(FIXTURE)
    assert not problems
    return [(text, s.name) for s in specs for text in s.examples]


def test_sorter_assigns_by_examples_and_keywords_and_says_none():
    texts = ["on hold for two hours and nobody answered", "the engineer never turned up for my appointment",
             "app crashes when I open the bill page", "the parking outside was muddy and the weather was grim",
             "it keeps crashing whenever I log in"]
    sorter = CodeframeSorter.fit(_fixture_examples(), {"app keeps crashing": ["crashing"]}, unlabelled=texts)
    assigned = [[a.name for a in row] for row in sorter.assign(texts)]
    assert assigned[0][0] == "on hold for hours"
    assert assigned[1][0] == "engineer did not turn up"
    assert assigned[2][0] == "app keeps crashing"
    assert assigned[3] == []  # nothing like any example: "none" is an honest answer
    assert "app keeps crashing" in assigned[4]
    again = CodeframeSorter.fit(_fixture_examples(), {"app keeps crashing": ["crashing"]}, unlabelled=texts)
    assert [[a.name for a in row] for row in again.assign(texts)] == assigned  # deterministic


def _rare_point_case():
    examples = [(t, "on hold for hours") for t in (
        "on hold for two hours before anyone picked up", "kept on hold forever and then cut off",
        "waited on hold an hour just to change my address", "on hold again for 90 minutes, nobody answers")]
    examples += [(t, "engineer did not turn up") for t in (
        "the engineer never turned up and nobody called", "engineer did not show for the install",
        "took a day off work and the engineer never came", "second missed engineer visit this month")]
    examples += [(t, "router arrived broken") for t in (
        "the router arrived with a cracked case, really disappointed", "awful, new router was broken out of the box",
        "hub delivered smashed, box crushed, not happy", "router came damaged and will not power on, terrible")]
    waits = [f"{verb} on hold for {n} {unit}{tail}" for verb in ("stuck", "left", "waited", "sat", "kept")
             for n, unit in (("two", "hours"), ("forty", "minutes"), ("three", "hours"))
             for tail in ("", " and gave up", ", useless")][:30]
    visits = [f"engineer {what} {when}" for what in ("never showed up", "did not come", "missed the slot")
              for when in ("on monday", "again", "twice now")]
    vague = ["really poor, not happy at all", "awful experience from start to finish", "very disappointed",
             "worst company I have dealt with", "not good enough, sort it out", "terrible, just terrible"]
    broken = ["my router arrived broken"]
    return examples, waits, visits, vague, broken


def test_two_pain_points_sort_and_say_none():
    examples = [(t, "on hold") for t in ("on hold two hours", "kept on hold forever", "hold music for an hour")]
    examples += [(t, "engineer") for t in ("engineer never came", "no engineer showed", "engineer missed the visit")]
    texts = ["on hold again today", "the engineer was a no show", "my bill is wrong"]
    sorter = CodeframeSorter.fit(examples, unlabelled=texts)
    assert [[a.name for a in row] for row in sorter.assign(texts)] == [["on hold"], ["engineer"], []]


def test_a_rare_point_is_not_swamped_by_the_common_ones(monkeypatch):
    """Vague complaints that share a few words with the rare point's examples stay out of it."""
    import analysis.codeframe as codeframe

    examples, waits, visits, vague, broken = _rare_point_case()
    comments = waits + visits + vague + broken

    def rare_members(sorter):
        rows = sorter.assign(comments)
        assert sum("on hold for hours" in {a.name for a in row} for row in rows[:len(waits)]) == len(waits)
        return [text for text, row in zip(comments, rows) if "router arrived broken" in {a.name for a in row}]

    sorter = CodeframeSorter.fit(examples, unlabelled=comments)
    share = dict(zip(sorter.names, sorter.prior))
    assert share["on hold for hours"] > share["engineer did not turn up"] > share["router arrived broken"]
    corrected = rare_members(sorter)
    monkeypatch.setattr(codeframe, "PRIOR_EM_STEPS", 0)  # every point assumed as common as the others
    uncorrected = rare_members(CodeframeSorter.fit(examples, unlabelled=comments))
    assert broken[0] in corrected and broken[0] in uncorrected
    assert len(uncorrected) >= len(vague)  # swamped: most vague complaints land in the rare point
    assert len(corrected) <= 1 + len(vague) // 2


def test_f1_thresholds_hand_worked():
    """Surest first: expected TP is the running sum, expected positives the column's total."""
    from analysis.codeframe import _f1_thresholds

    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    # Column 0 (total 2.1): keep 1 -> 2(0.9)/(1+2.1) = 0.58, keep 2 -> 2(1.7)/(2+2.1) = 0.83,
    # keep 3 -> 2(2.0)/(3+2.1) = 0.78, keep 4 -> 2(2.1)/(4+2.1) = 0.69: the bar is the second, 0.8.
    # Column 1 (total 1.9): 0.62, 2(1.6)/(2+1.9) = 0.82, 0.73, 0.65: the bar is 0.7.
    assert _f1_thresholds(proba) == pytest.approx([0.8, 0.7])


def test_em_prior_runs_to_its_fixed_point():
    from analysis.codeframe import _em_prior

    proba = np.array([[0.8, 0.2]] * 6 + [[0.3, 0.7]] * 4)
    uniform = np.array([0.5, 0.5])
    three = _em_prior(proba, uniform, 3)
    converged = _em_prior(proba, uniform, 1000, 1e-9)
    assert converged[0] > three[0] > 0.5  # each step moves the shares further from uniform, then they stop
    adjusted = proba * (converged / uniform)
    adjusted /= adjusted.sum(axis=1, keepdims=True)
    assert adjusted.mean(axis=0) == pytest.approx(converged, abs=1e-6)  # a fixed point: one more step stays


def test_em_prior_with_the_examples_as_pseudo_counts_never_drops_a_point():
    """The plain fixed point can give a point no share at all, and then no threshold reaches it."""
    from analysis.codeframe import _em_prior

    proba = np.array([[0.7, 0.3]] * 20)  # every comment leans to the first point
    uniform = np.array([0.5, 0.5])
    assert _em_prior(proba, uniform, 1000, 1e-9)[1] < 0.01
    shares = _em_prior(proba, uniform, 1000, 1e-9, pseudo_counts=np.array([5, 5]))
    assert shares.sum() == pytest.approx(1.0)
    assert 5 / 30 <= shares[1] < 0.5  # at least its 5 examples among 20 comments + 10 examples


def test_thresholds_from_the_run_keep_the_rare_point_and_leave_vague_complaints_out(monkeypatch):
    """With enough comments, each point gets the bar that maximises its expected F1: low for a point
    that is hard to be sure of (the rare one), high for a clear one; the shares are EM's fixed point."""
    import analysis.codeframe as codeframe

    examples, waits, visits, vague, broken = _rare_point_case()
    comments = waits + visits + vague + broken
    assert CodeframeSorter.fit(examples, unlabelled=comments).thresholds is None  # too few comments: best point
    monkeypatch.setattr(codeframe, "THRESHOLD_MIN_COMMENTS", 10)
    sorter = CodeframeSorter.fit(examples, unlabelled=comments)
    bar = dict(zip(sorter.names, sorter.thresholds))
    assert bar["router arrived broken"] < bar["on hold for hours"]
    rows = [{a.name for a in row} for row in sorter.assign(comments)]
    assert all(row == {"on hold for hours"} for row in rows[:len(waits)])
    assert all(row == {"engineer did not turn up"} for row in rows[len(waits):len(waits) + len(visits)])
    assert "router arrived broken" in rows[-1]
    vague_rows = rows[len(waits) + len(visits):-1]
    assert sum("router arrived broken" in row for row in vague_rows) <= len(vague) // 2
    assert any(not row for row in vague_rows)  # below every bar: none

# --------------------------------------------------------------------------- #
# flask analyze with a codeframe
# --------------------------------------------------------------------------- #
def _analyze(runner, survey, out: Path) -> dict:
    result = runner.invoke(args=["analyze", "--survey", survey.public_key, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return read_report(out)


def _by_label(report) -> dict:
    return {p["label"]: p for p in report["pain_points"]}


@pytest.mark.usefixtures("analysis_app")
def test_analyze_reports_the_codeframe_by_name_and_proposes_the_rest(runner, make_survey, make_response, tmp_path):
    survey, responses = add_answers(make_survey, make_response, ANSWERS)
    invoke(runner, "import", str(FIXTURE), "--survey", survey.public_key)
    report = _analyze(runner, survey, tmp_path / "r1")
    points = [p for p in report["pain_points"] if not p["proposal"]]
    assert [p["label"] for p in points] and {p["label"] for p in points} <= {
        "on hold for hours", "engineer did not turn up", "app keeps crashing"}
    assert all(p["source"] == "codeframe" for p in points)
    by = _by_label(report)
    hold = by["on hold for hours"]
    assert responses[0].id in hold["response_ids"] and responses[2].id in hold["response_ids"]
    assert responses[10].id not in hold["response_ids"]
    assert responses[3].id in by["engineer did not turn up"]["response_ids"]
    # Everything after the codeframe's pain points is a proposal, found among what fits none of them.
    proposals = [p for p in report["pain_points"] if p["proposal"]]
    assert report["pain_points"][: len(points)] == points
    assert all(p["source"] == "proposal" for p in proposals)
    in_codeframe = {rid for p in points for rid in p["response_ids"]}
    assert all(not set(p["response_ids"]) & in_codeframe for p in proposals)
    assert report["surveys"][0]["codeframe"] is True
    assert hold["trend"]["periods"] and hold["trend"]["periods"][0]["n"] >= 1
    stored = db.session.scalars(sa.select(PainPointRecord).where(PainPointRecord.label == "on hold for hours")).one()
    assert stored.source == "codeframe" and stored.trend == hold["trend"]


@pytest.mark.usefixtures("analysis_app")
def test_results_say_how_many_negative_comments_the_pain_points_hold_and_mark_proposals(runner, client, make_survey, make_response,
                                                                     tmp_path):
    """The report said "X of Y negative comments are in a pain point; Z are other", Results said nothing:
    a short list of pain points read as the whole story."""
    from tests.dashboard_support import login

    survey, _ = add_answers(make_survey, make_response, ANSWERS)
    login(client)
    without = _analyze(runner, survey, tmp_path / "r0")["surveys"][0]
    page = _results_text(client, survey)
    assert (f"The analysis found a negative remark in {without['negative_comments']} comments: "
            f"{without['pain_point_comments']} ({without['coverage'] * 100:.0f}%) are in a pain point;") in page
    invoke(runner, "import", str(FIXTURE), "--survey", survey.public_key)
    found = _analyze(runner, survey, tmp_path / "r1")["surveys"][0]
    assert found["other_negative_comments"] > 0
    page = _results_text(client, survey)
    assert (f"{found['pain_point_comments']} ({found['coverage'] * 100:.0f}%) are in the codeframe's pain points; "
            f"the other {found['other_negative_comments']} are in none (the proposals come from these).") in page
    assert "whatever the filters" not in page
    # A hidden point's comments are counted in (they feed no proposal) but not listed: say so.
    ops.set_hidden(ops.points_of(survey)[0], True)
    assert "are in the codeframe's pain points (hidden ones included); the other" in _results_text(client, survey)
    ops.set_hidden(ops.points_of(survey)[0], False)
    # The proposals ranked after the codeframe's pain points read as such (they read as agreed pain points).
    proposals = [p for p in _analyze(runner, survey, tmp_path / "r2")["pain_points"] if p["proposal"]]
    assert proposals
    page = _results_text(client, survey)
    assert page.count("A proposal, not yet in the codeframe: <a href") == len(proposals)
    filtered = _results_text(client, survey, "?band=negative")
    assert "Counted over all answers, whatever the filters." in filtered


def _results_text(client, survey, query: str = "") -> str:
    return " ".join(client.get(f"/surveys/{survey.public_key}/results{query}").get_data(as_text=True).split())


@pytest.mark.usefixtures("analysis_app")
def test_a_dismissed_proposal_does_not_come_back(runner, make_survey, make_response, tmp_path):
    survey, _ = add_answers(make_survey, make_response, ANSWERS)
    invoke(runner, "import", str(FIXTURE), "--survey", survey.public_key)
    report = _analyze(runner, survey, tmp_path / "r1")
    proposals = [p for p in report["pain_points"] if p["proposal"]]
    if not proposals:
        pytest.fail(f"the billing complaints should be proposed: {report['pain_points']}")
    first = proposals[0]
    ops.dismiss_proposal(survey, first["label"], first["terms"], first["response_ids"])
    again = _analyze(runner, survey, tmp_path / "r2")
    assert first["label"] not in {p["label"] for p in again["pain_points"]}
    assert again["surveys"][0]["dismissed_proposals"] >= 1


@pytest.mark.usefixtures("analysis_app")
def test_edits_are_recorded_and_survive_every_rerun(runner, make_survey, make_response, tmp_path, app):
    from survey.auth.operations import create_user

    analyst = create_user("ana@example.com", "analyst", "a long enough password")
    survey, responses = add_answers(make_survey, make_response, ANSWERS)
    invoke(runner, "import", str(FIXTURE), "--survey", survey.public_key)
    _analyze(runner, survey, tmp_path / "r1")

    hold = ops.point_by_name(survey, "on hold for hours")
    ops.rename_point(hold, "long waits on the phone", analyst)
    ops.merge_points(ops.point_by_name(survey, "engineer did not turn up"),
                     [ops.point_by_name(survey, "app keeps crashing")], analyst)
    billing = ops.add_point(survey, "wrong bills", "other", analyst)
    moved = responses[2]  # "waited on hold ... line went dead": an analyst files it under wrong bills
    ops.move_comment(ops.point_by_name(survey, "long waits on the phone"), billing, moved, analyst)

    for run in ("r2", "r3"):
        by = _by_label(_analyze(runner, survey, tmp_path / run))
        assert "on hold for hours" not in by and "app keeps crashing" not in by
        assert moved.id not in by["long waits on the phone"]["response_ids"]
        assert moved.id in by["wrong bills"]["response_ids"]
        assert responses[0].id in by["long waits on the phone"]["response_ids"]
        assert responses[5].id in by["engineer did not turn up"]["response_ids"]  # merged: the app crash
    actions = [(e.action, e.actor) for e in ops.edits_of(survey)]
    assert ("rename", "ana@example.com") in actions and ("merge", "ana@example.com") in actions
    assert ("remove", "ana@example.com") in actions and ("assign", "ana@example.com") in actions
    with pytest.raises(ops.CodeframeError, match="already has a pain point"):
        ops.rename_point(billing, "long waits on the phone")


@pytest.mark.usefixtures("analysis_app")
def test_each_edit_changes_the_next_runs_numbers(runner, make_survey, make_response, tmp_path):
    """Merge, split and move each show in the next run's counts, and a moved comment teaches the sort."""
    survey, responses = add_answers(make_survey, make_response, ANSWERS)
    invoke(runner, "import", str(FIXTURE), "--survey", survey.public_key)
    first = {label: set(p["response_ids"]) for label, p in _by_label(_analyze(runner, survey, tmp_path / "r1")).items()}
    bills = {responses[i].id for i in (7, 8, 9)}
    assert not bills & set().union(*(first[n] for n in ("on hold for hours", "engineer did not turn up",
                                                         "app keeps crashing")))

    # Move: one bill comment filed under a new point; the other two bills follow it in the next run.
    billing = ops.add_point(survey, "wrong bills", "other")
    ops.assign_comment(billing, responses[7])
    moved = _by_label(_analyze(runner, survey, tmp_path / "r2"))
    assert set(moved["wrong bills"]["response_ids"]) == bills
    assert moved["wrong bills"]["count"] == 3

    # Merge: the merged point counts both points' comments.
    ops.merge_points(ops.point_by_name(survey, "engineer did not turn up"),
                     [ops.point_by_name(survey, "app keeps crashing")])
    merged = _by_label(_analyze(runner, survey, tmp_path / "r3"))
    assert "app keeps crashing" not in merged
    assert set(merged["engineer did not turn up"]["response_ids"]) == (
        first["engineer did not turn up"] | first["app keeps crashing"])

    # Split: the examples about a dropped line become their own point and take its comment along.
    hold = ops.point_by_name(survey, "on hold for hours")
    ops.split_point(hold, "line cut off", [e.id for e in hold.examples if "cut off" in e.text])
    ops.move_comment(hold, ops.point_by_name(survey, "line cut off"), responses[2])
    split = _by_label(_analyze(runner, survey, tmp_path / "r4"))
    assert responses[2].id in split["line cut off"]["response_ids"]
    assert responses[2].id not in split["on hold for hours"]["response_ids"]
    assert split["on hold for hours"]["count"] + split["line cut off"]["count"] >= len(first["on hold for hours"])


@pytest.mark.usefixtures("analysis_app")
def test_split_and_hide(runner, make_survey, make_response, tmp_path):
    survey, _ = add_answers(make_survey, make_response, ANSWERS)
    invoke(runner, "import", str(FIXTURE), "--survey", survey.public_key)
    engineer = ops.point_by_name(survey, "engineer did not turn up")
    day_off = [e.id for e in engineer.examples if "day off" in e.text]
    ops.split_point(engineer, "wasted a day off", day_off)
    assert [e.text for e in ops.point_by_name(survey, "wasted a day off").examples] == [
        "took a day off work and the engineer never came"]
    with pytest.raises(ops.CodeframeError, match="leave at least one"):
        ops.split_point(engineer, "everything", [e.id for e in engineer.examples])
    ops.set_hidden(ops.point_by_name(survey, "app keeps crashing"), True)
    labels = set(_by_label(_analyze(runner, survey, tmp_path / "r")))
    assert "app keeps crashing" not in labels
    rows = list(csv.DictReader(io.StringIO(export_text(runner, survey.public_key).removeprefix("\ufeff"))))
    assert {r["hidden"] for r in rows if r["name"] == "app keeps crashing"} == {"yes"}


def test_accepting_a_proposal_or_splitting_is_capped_like_an_import(client, make_survey, make_response, monkeypatch):
    """Only the file import held a codeframe to POINTS_MAX: accepting proposals and splitting points
    grew it past the bound. Every path that adds a point now refuses at the bound, saying why."""
    from tests.dashboard_support import login
    from tests.results_support import add_run

    monkeypatch.setattr(ops, "POINTS_MAX", 3)
    survey = make_survey("nps")
    answers = [make_response(survey, score=1, comment=f"bill wrong again {i}") for i in range(3)]
    held = ops.add_point(survey, "on hold", "service", examples=answers[:2])
    ops.add_point(survey, "rude staff", "care")
    _, (proposal, second) = add_run(survey, [("wrong bills", "other", answers), ("billing", "other", answers)])
    proposal.source = second.source = "proposal"
    db.session.commit()
    login(client)
    accept = {"action": "accept", "proposal_id": proposal.id, "name": "wrong bills"}
    split = {"action": "split", "point_id": held.id, "name": "cut off", "example_ids": [held.examples[0].id]}

    assert client.post(f"/surveys/{survey.public_key}/codeframe", data=accept).status_code == 302  # the 3rd
    for form in (split, {**accept, "proposal_id": second.id, "name": "billing"}):
        edits = db.session.scalar(sa.select(sa.func.count(CodeframeEdit.id)))
        reply = client.post(f"/surveys/{survey.public_key}/codeframe", data=form, follow_redirects=True)
        assert reply.status_code == 200
        page = " ".join(reply.get_data(as_text=True).split())
        assert (f"the codeframe of {survey.public_key} is full: it holds 3 pain points and a codeframe holds at "
                "most 3. Merge pain points that belong together to make room; nothing was added") in page
        assert sorted(p.name for p in ops.points_of(survey)) == ["on hold", "rude staff", "wrong bills"]
        assert db.session.scalar(sa.select(sa.func.count(CodeframeEdit.id))) == edits
    assert len(db.session.get(CodeframePoint, held.id).in_force("example")) == 2  # the split moved nothing
    page = " ".join(client.get(f"/surveys/{survey.public_key}/codeframe").get_data(as_text=True).split())
    assert "The codeframe is full: it holds 3 pain points, the most a codeframe may." in page

    # Merging makes room again.
    ops.merge_points(held, [ops.point_by_name(survey, "rude staff")])
    assert ops.split_point(held, "cut off", [held.examples[0].id]).name == "cut off"
    with pytest.raises(ops.CodeframeError, match="is full"):
        ops.add_point(survey, "one more", "other")


# --------------------------------------------------------------------------- #
# Trends, hand-worked
# --------------------------------------------------------------------------- #
def test_trend_shares_intervals_and_a_significant_rise():
    week1, week2 = dt.date(2024, 1, 1), dt.date(2024, 1, 8)
    periods = {i: week1 for i in range(10)} | {i: week2 for i in range(10, 20)}
    members = [0, 1] + list(range(10, 18))  # 2 of 10, then 8 of 10
    result = trend(members, periods)
    first, second = result["periods"]
    assert (first["count"], first["n"], first["share"]) == (2, 10, 0.2)
    # Wilson, z = 1.96: centre (0.2 + 0.19208) / 1.38416 = 0.28326, half 1.96 * 0.16001 / 1.38416 = 0.22657
    assert first["ci_low"] == pytest.approx(0.0567, abs=2e-4) and first["ci_high"] == pytest.approx(0.5098, abs=2e-4)
    change = result["latest_change"]
    # unpooled: se = sqrt(0.016 + 0.016) = 0.17889, z = 3.354, p = 0.0008
    assert change["difference"] == pytest.approx(0.6) and change["p_value"] == pytest.approx(0.0008, abs=1e-4)
    assert change["significant"] is True and change["direction"] == "up"


def test_trend_small_moves_are_steady_and_one_period_has_no_change():
    week1, week2 = dt.date(2024, 1, 1), dt.date(2024, 1, 8)
    periods = {i: week1 for i in range(10)} | {i: week2 for i in range(10, 20)}
    result = trend([0, 1, 2, 10, 11, 12, 13], periods)  # 3 of 10, then 4 of 10
    assert result["latest_change"]["significant"] is False and result["latest_change"]["direction"] == "steady"
    only = trend([0], {0: week1, 1: week1})
    assert only["periods"][0]["share"] == 0.5 and only["latest_change"] is None
    none = trend([], {0: week1})
    assert none["periods"][0]["ci_low"] == 0.0 and none["periods"][0]["count"] == 0


@pytest.mark.usefixtures("analysis_app")
def test_read_api_lists_pain_points_with_their_trend(runner, client, make_survey, make_response, tmp_path):
    from survey.auth.operations import create_api_token, create_user

    survey, responses = add_answers(make_survey, make_response, ANSWERS)
    user = create_user("api@example.com", "analyst", "a long enough password")
    _, token = create_api_token(user, "test")
    headers = {"Authorization": f"Bearer {token}"}
    empty = client.get(f"/api/v1/surveys/{survey.public_key}/pain-points", headers=headers).get_json()
    assert empty == {"survey": survey.public_key, "run": None, "pain_points": []}
    invoke(runner, "import", str(FIXTURE), "--survey", survey.public_key)
    report = _analyze(runner, survey, tmp_path / "r")
    body = client.get(f"/api/v1/surveys/{survey.public_key}/pain-points", headers=headers).get_json()
    assert [(p["label"], p["proposal"], p["trend"]) for p in body["pain_points"]] == [
        (p["label"], p["proposal"], p["trend"]) for p in report["pain_points"]]
    assert client.get("/api/v1/surveys/nope/pain-points", headers=headers).status_code == 404
    assert client.get(f"/api/v1/surveys/{survey.public_key}/pain-points").status_code == 401

    # An analyst's edits show at once, not after the next run: a rename, a hide, a merge.
    from survey.codeframe import operations as ops
    named = [p for p in body["pain_points"] if p["source"] == "codeframe"]
    assert len(named) >= 3, named
    first, second, third = (ops.point_by_name(survey, p["label"]) for p in named[:3])
    ops.rename_point(first, "Renamed by the team")
    ops.set_hidden(second, True)
    ops.merge_points(first, [third])
    after = client.get(f"/api/v1/surveys/{survey.public_key}/pain-points", headers=headers).get_json()
    labels = [p["label"] for p in after["pain_points"]]
    assert "Renamed by the team" in labels
    assert not {named[0]["label"], named[1]["label"], named[2]["label"]} & set(labels)
    survivor = next(p for p in after["pain_points"] if p["label"] == "Renamed by the team")
    assert survivor["merged_since_run"] == [named[2]["label"]]  # its counts are the run's until the next one
    assert all(p["merged_since_run"] == [] for p in after["pain_points"] if p is not survivor)
    # the dashboard's pain-point panel reads them the same way
    from markupsafe import escape
    from tests.dashboard_support import login
    login(client)
    panel = client.get(f"/surveys/{survey.public_key}/results").get_data(as_text=True)
    assert "Renamed by the team" in panel and f"Merged with {escape(named[2]['label'])}" in panel
    assert f">{escape(named[1]['label'])}</a>" not in panel and f">{escape(named[0]['label'])}</a>" not in panel



@pytest.mark.usefixtures("analysis_app")
def test_a_hidden_pain_point_leaves_no_gap_in_the_ranks_and_its_link_is_refused(runner, client, make_survey,
                                                                                 make_response, tmp_path):
    from markupsafe import escape

    from survey.auth.operations import create_api_token, create_user
    from survey.codeframe import operations as ops
    from tests.dashboard_support import login

    survey, _ = add_answers(make_survey, make_response, ANSWERS)
    invoke(runner, "import", str(FIXTURE), "--survey", survey.public_key)
    _analyze(runner, survey, tmp_path / "r")
    user = create_user("api@example.com", "analyst", "a long enough password")
    _, token = create_api_token(user, "test")
    headers = {"Authorization": f"Bearer {token}"}
    api = f"/api/v1/surveys/{survey.public_key}/pain-points"
    before = client.get(api, headers=headers).get_json()["pain_points"]
    assert [p["rank"] for p in before] == list(range(1, len(before) + 1))
    named = [p for p in before if p["source"] == "codeframe"]
    assert len(named) >= 2, named
    hidden = named[0]  # the top one: every point after it would be off by one
    ops.set_hidden(ops.point_by_name(survey, hidden["label"]), True)

    after = client.get(api, headers=headers).get_json()["pain_points"]
    assert [p["rank"] for p in after] == list(range(1, len(before)))
    assert [p["label"] for p in after] == [p["label"] for p in before if p is not hidden]
    # The API's answer filter refuses it as it refuses a pain point that is not shown.
    refused = client.get(f"/api/v1/surveys/{survey.public_key}/responses?pain={hidden['id']}", headers=headers)
    assert refused.status_code == 400 and "hidden" in refused.get_json()["error"]["message"]

    login(client)
    panel = client.get(f"/surveys/{survey.public_key}/results").get_data(as_text=True)
    ranks = [int(r) for r in re.findall(r'<td class="num rank">(\d+)</td>', panel)]
    assert ranks == list(range(1, len(after) + 1))
    # A bookmarked drill-down of the hidden point: a message, not its comments.
    link = client.get(f"/surveys/{survey.public_key}/comments?pain={hidden['id']}")
    page = link.get_data(as_text=True)
    assert link.status_code == 400 and "hidden in this survey" in page
    assert f"{escape(hidden['label'])}</h2>" not in page
    # A shown point's drill-down carries its rank among those shown.
    shown = after[0]
    page = client.get(f"/surveys/{survey.public_key}/comments?pain={shown['id']}").get_data(as_text=True)
    assert "Pain point #1 " in page
    # Shown again, it opens again.
    ops.set_hidden(ops.point_by_name(survey, hidden["label"]), False)
    assert client.get(f"/surveys/{survey.public_key}/comments?pain={hidden['id']}").status_code == 200
    assert [p["rank"] for p in client.get(api, headers=headers).get_json()["pain_points"]] == \
        [p["rank"] for p in before]

def _self_training_case():
    hold = ["on hold for two hours", "kept on hold forever", "hold music for an hour", "on hold again all morning",
            "put on hold three times", "waited on hold 50 minutes", "on hold till the line dropped",
            "hold for ages then cut off", "an hour on hold for a simple question", "on hold, nobody picks up"]
    engineer = ["engineer never came", "no engineer showed", "engineer missed the visit", "the engineer did not turn up",
                "engineer was a no show again", "waited in all day, no engineer", "engineer cancelled on the day",
                "second missed engineer appointment", "engineer came without the parts", "engineer left it unfinished"]
    examples = [(t, "on hold") for t in hold] + [(t, "engineer") for t in engineer]
    # The run's comments: hold waits also said as a queue, which no example says.
    comments = [f"on hold {n} and stuck in the queue{tail}" for n in ("an hour", "two hours", "forever", "all day")
                for tail in ("", ", useless", " again")]
    comments += [f"engineer {what}" for what in ("never showed", "missed the slot", "did not come", "no show")]
    return examples, comments


def test_self_training_learns_what_the_comments_a_point_fits_also_say(monkeypatch):
    import analysis.codeframe as codeframe

    examples, comments = _self_training_case()
    probe = ["stuck in the queue"]
    # Self-training alone: the facet block (step 1) already knows a queue is a wait and would leave nothing to learn.
    monkeypatch.setattr(codeframe, "FACET_WEIGHTS", (0.0,))
    trained = CodeframeSorter.fit(examples, unlabelled=comments)
    monkeypatch.setattr(codeframe, "SELF_TRAINING_ROUNDS", 0)
    plain = CodeframeSorter.fit(examples, unlabelled=comments)
    hold = trained.names.index("on hold")
    assert trained.probabilities(probe)[0, hold] > plain.probabilities(probe)[0, hold] + 0.05
    assert [[a.name for a in row] for row in trained.assign(comments)] == \
        [[a.name for a in row] for row in plain.assign(comments)]  # what the examples placed stays placed


def test_prototypes_pull_a_comment_towards_the_point_whose_examples_mean_the_same(monkeypatch):
    """Comments that share no word with any example: the classifier alone is sure of the wrong point (or torn);
    the centroid of each point's examples' word vectors pulls each towards the point that means the same (step 6)."""
    import analysis.codeframe as codeframe

    speed = ["broadband speed is awful in the evenings", "internet so slow I can't stream anything",
             "download speed nowhere near what was promised", "connection keeps dropping every night",
             "pages take forever to load", "speeds are a joke, 2 meg at best", "buffering constantly, slow slow slow",
             "internet drops out when it rains", "the line is slow and unreliable",
             "speed tests show a fraction of the package"]
    bill = ["charged twice this month", "bill went up without warning", "overcharged again on my bill",
            "price rise after six months is a con", "billed for a service I cancelled", "hidden fees on every invoice",
            "direct debit took the wrong amount", "paying more than new customers", "refund never arrived",
            "bill is wrong every single month"]
    staff = ["the agent was rude and hung up", "staff in the shop were dismissive",
             "the man on the phone was condescending", "nobody listened to me, very rude",
             "sales rep lied to get me to sign", "treated like an idiot by the advisor", "the manager shouted at me",
             "they were arrogant and unhelpful", "made to feel stupid for asking", "no apology, just attitude"]
    examples = [(t, "slow internet") for t in speed] + [(t, "billing") for t in bill]
    examples += [(t, "rude staff") for t in staff]
    probes = {"the wifi crawls": "slow internet", "customer service person was nasty": "rude staff",
              "they took money I did not owe": "billing"}
    comments = list(probes) + ["my web pages barely open", "the invoice is a rip off", "the lady was really impolite",
                               "the technician sneered at me", "netflix stutters all night", "my statement is incorrect",
                               "the adviser mocked me", "upload is painfully sluggish", "I was debited twice"]
    # The prototypes alone beside the classifier: the facet block (step 1) would place these probes by itself.
    monkeypatch.setattr(codeframe, "FACET_WEIGHTS", (0.0,))
    blended = CodeframeSorter.fit(examples, unlabelled=comments)
    with_prototypes = blended.probabilities(list(probes))
    monkeypatch.setattr(codeframe, "PROTOTYPE_WEIGHT", 0.0)  # the classifier alone (the rule before stop 22)
    without = CodeframeSorter.fit(examples, unlabelled=comments).probabilities(list(probes))
    for i, point in enumerate(probes.values()):
        k = blended.names.index(point)
        assert with_prototypes[i, k] > without[i, k] + 0.03, (list(probes)[i], with_prototypes[i], without[i])
    assert with_prototypes.sum(axis=1) == pytest.approx(1.0)


def test_prototype_temperature_is_sharp_for_distinct_points_and_soft_for_mixed_ones():
    """Leave-one-out: each example's own centroid is made without it, so one example cannot vouch for itself."""
    from analysis.codeframe import _prototype_temperature

    rng = np.random.default_rng(0)
    axes = np.eye(3, 8)
    distinct = np.vstack([axes[k] + 0.1 * rng.standard_normal((6, 8)) for k in range(3)])
    mixed = axes[rng.integers(0, 3, 18)] + 0.1 * rng.standard_normal((18, 8))  # labels say nothing of the vectors
    distinct /= np.linalg.norm(distinct, axis=1, keepdims=True)
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    y = np.repeat(np.arange(3), 6)
    assert _prototype_temperature(distinct, y, 3) < 0.2 < _prototype_temperature(mixed, y, 3)


def test_self_training_weighs_each_points_comments_alike():
    """A common point's many pseudo-labels do not outweigh a rare point's few; no comment outweighs an example."""
    from analysis.codeframe import UNLABELLED_WEIGHT, _soft_labels

    y = np.array([0] * 10 + [1] * 10)
    posteriors = np.array([[0.9, 0.1]] * 200 + [[0.2, 0.8]] * 2)
    rows, labels, weight = _soft_labels(y, posteriors)
    totals = np.bincount(labels, weights=weight, minlength=2)
    assert totals[0] == pytest.approx(UNLABELLED_WEIGHT * 10)  # the common point: its pool is 0.3 of its examples
    assert totals[1] <= UNLABELLED_WEIGHT * 10 + 1e-9
    assert weight.max() <= 1.0 + 1e-9  # one example weighs 1 here
    assert set(rows) == set(range(202))


def test_facet_weight_is_chosen_on_the_examples_out_of_fold(monkeypatch):
    """A facet block that tells the points apart is weighed in; one that is noise is left out (weight 0)."""
    import analysis.codeframe as codeframe
    from scipy.sparse import csr_matrix

    monkeypatch.setattr(codeframe, "FACET_WEIGHTS", (0.0, 0.25, 0.5, 1.0))
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    words = csr_matrix(np.eye(3)[y] * 0.3 + rng.random((30, 3)))  # features that half tell the points apart
    telling = np.sqrt(np.eye(4)[y] * 0.9 + 0.025)  # each point's examples in its own facet
    noise = np.sqrt(rng.dirichlet(np.ones(4), 30))
    assert codeframe._facet_weight(words, telling, y, 3, seed=0) > 0
    assert codeframe._facet_weight(words, noise, y, 3, seed=0) == 0


def test_facet_block_takes_a_comment_its_examples_never_word_to_their_point(monkeypatch):
    """Examples say "on hold" and "nobody answers"; "can't get through to anyone" shares no word with them, but the
    complaint facets (written once for any business) know it is the same complaint (reaching support)."""
    import analysis.codeframe as codeframe

    phone = ["on hold for an hour", "nobody answers the phone", "kept on hold for ages", "the helpline rings out",
             "hold music for forty minutes", "phoned five times, no answer", "waited on hold then cut off",
             "the call centre never picks up", "hung on the line all morning", "no one answers my calls"]
    engineer = ["engineer never came", "no engineer showed", "engineer missed the visit", "the engineer did not turn up",
                "engineer no show again", "waited in all day, no engineer", "engineer cancelled on the day",
                "second missed engineer appointment", "technician did not arrive", "the fitter never turned up"]
    bill = ["charged twice this month", "bill went up without warning", "overcharged again on my bill",
            "billed for a service I cancelled", "hidden fees on every invoice", "direct debit took the wrong amount",
            "refund never arrived", "bill is wrong every single month", "they took money I did not owe",
            "invoice double counted my usage"]
    examples = [(t, "phone") for t in phone] + [(t, "engineer") for t in engineer] + [(t, "bill") for t in bill]
    probes = ["can't get through to anyone", "chat bot goes round in circles, never reach a person"]
    comments = probes + ["the visit was missed", "wrong amount taken", "still waiting for a callback",
                         "nobody turned up for the install", "my statement is incorrect", "phone support is useless"]
    monkeypatch.setattr(codeframe, "FACET_WEIGHTS", (1.0,))
    with_facets = CodeframeSorter.fit(examples, unlabelled=comments)
    monkeypatch.setattr(codeframe, "FACET_WEIGHTS", (0.0,))
    without = CodeframeSorter.fit(examples, unlabelled=comments)
    assert with_facets.facet_weight == 1.0 and without.facet_weight == 0.0
    k = with_facets.names.index("phone")
    gained = with_facets.probabilities(probes)[:, k] - without.probabilities(probes)[:, k]
    assert (gained > 0.05).all(), gained
    # The gate ("none") reads no facet: the same comments pass it with and without the block.
    assert [bool(row) for row in with_facets.assign(comments)] == [bool(row) for row in without.assign(comments)]
