"""``flask survey`` and ``flask responses import``."""

import json

import sqlalchemy as sa

from survey.db import db
from survey.models import Response, Survey
from tests.conftest import shared_file


def count_responses(survey_id=None):
    query = sa.select(sa.func.count()).select_from(Response)
    if survey_id is not None:
        query = query.where(Response.survey_id == survey_id)
    return db.session.scalar(query)


def test_create_prints_only_the_key(runner):
    result = runner.invoke(args=["survey", "create", "--kind", "ces", "--name", "Returns", "--subject", "our returns desk"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert "\n" not in key and len(key) >= 22
    survey = db.session.scalar(sa.select(Survey).where(Survey.public_key == key))
    assert survey.kind == "ces"
    assert survey.question == "Our returns desk made it easy for me to handle my issue."


def test_create_rejects_bad_kind_on_stderr(runner):
    result = runner.invoke(args=["survey", "create", "--kind", "xyz", "--name", "N"])
    assert result.exit_code == 2
    assert "xyz" in result.stderr and result.stdout == ""


def test_create_refuses_a_name_or_subject_longer_than_the_database_holds(runner):
    """The form stops at 200 characters; the command stored 5,000 on SQLite and was a traceback on PostgreSQL."""
    for option in ("--name", "--subject"):
        args = {"--name": "Returns", "--subject": "our returns desk", option: "x" * 201}
        result = runner.invoke(args=["survey", "create", "--kind", "nps", *[part for pair in args.items() for part in pair]])
        assert result.exit_code == 2 and f"the {option[2:]} can be at most 200 characters (this one has 201)" \
            in result.stderr, result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Survey)) == 0
    assert runner.invoke(args=["survey", "create", "--kind", "nps", "--name", "x" * 200]).exit_code == 0


def test_list_table_and_json(app, runner, make_survey, make_response):
    nps = make_survey("nps", name="Broadband")
    for score in (10, 9, 0, 7):
        make_response(nps, score=score)
    make_survey("csat", name="Empty")
    table = runner.invoke(args=["survey", "list"])
    assert table.exit_code == 0
    assert "Broadband" in table.output and "too few answers" in table.output  # 4 < MIN_ANSWERS
    app.config["MIN_ANSWERS"] = 4
    table = runner.invoke(args=["survey", "list"])
    assert "+25" in table.output  # written as on the dashboard
    rows = json.loads(runner.invoke(args=["survey", "list", "--json"]).output)
    assert rows[0] | {} == rows[0]
    assert {"key", "kind", "name", "responses", "score"} <= set(rows[0])
    assert (rows[0]["kind"], rows[0]["responses"], rows[0]["score"]) == ("nps", 4, 25.0)
    assert rows[0]["method"] == "mover-wilson" and rows[0]["ci_low"] < 25.0 < rows[0]["ci_high"]
    assert rows[1]["score"] is None and rows[1]["responses"] == 0


def test_every_command_has_help(runner):
    for args in (["survey", "create"], ["survey", "list"], ["responses", "import"], ["demo"]):
        result = runner.invoke(args=[*args, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output and "--" in result.output


def test_close_and_open(runner, make_survey):
    survey = make_survey("nps")
    assert runner.invoke(args=["survey", "close", survey.public_key]).exit_code == 0
    db.session.refresh(survey)
    assert survey.is_open is False
    assert runner.invoke(args=["survey", "open", "nope"]).exit_code == 1


def write(tmp_path, text, name="in.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_import_detects_format_and_is_idempotent(runner, make_survey, tmp_path):
    survey = make_survey("nps")
    path = write(tmp_path, "id,when,score,text\na1,13/02/2024 10:00,9,great\na2,01/03/2024 11:30,,no score here\n"
                           "a3,02/03/2024 09:15,3,\"multi\nline\"\n")
    args = ["responses", "import", path, "--survey", survey.public_key, "--text-col", "text",
            "--score-col", "score", "--date-col", "when", "--id-col", "id"]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert "imported 3" in first.output and "%d/%m/%Y %H:%M" in first.output
    rows = db.session.scalars(sa.select(Response).order_by(Response.external_id)).all()
    assert [(r.external_id, r.score, r.channel) for r in rows] == [("a1", 9, "import"), ("a2", None, "import"), ("a3", 3, "import")]
    assert rows[0].created_at.day == 13 and rows[0].created_at.month == 2
    assert rows[2].comment == "multi\nline"
    second = runner.invoke(args=args)
    assert "imported 0" in second.output and "3 were already there" in second.output
    assert count_responses() == 3


def test_two_imports_of_the_same_file_at_once_add_each_answer_once(runner, make_survey, tmp_path, monkeypatch):
    """A second import (cron and a person, two terminals) that looked up the known ids before the first
    committed ended in an IntegrityError traceback; it now looks again and adds what is left."""
    from survey import operations

    survey = make_survey("nps")
    first = write(tmp_path, "id,score,text\na1,9,great\na2,3,slow\n", "first.csv")
    both = write(tmp_path, "id,score,text\na1,9,great\na2,3,slow\na3,7,ok\n", "both.csv")
    args = ["--survey", survey.public_key, "--text-col", "text", "--score-col", "score", "--id-col", "id"]
    assert runner.invoke(args=["responses", "import", first, *args]).exit_code == 0
    real_chunks, calls = operations.chunks, []

    def looked_up_before_the_first_committed(values):
        calls.append(1)
        return [] if len(calls) == 1 else real_chunks(values)

    monkeypatch.setattr(operations, "chunks", looked_up_before_the_first_committed)
    result = runner.invoke(args=["responses", "import", both, *args])
    assert result.exit_code == 0, result.output
    assert "imported 1 answer(s)" in result.output and "2 were already there" in result.output
    assert sorted(db.session.scalars(sa.select(Response.external_id))) == ["a1", "a2", "a3"]


def test_import_refuses_ambiguous_dates(runner, make_survey, tmp_path):
    survey = make_survey("nps")
    path = write(tmp_path, "when,text\n04/05/2024,a\n06/07/2024,b\n")
    result = runner.invoke(args=["responses", "import", path, "--survey", survey.public_key, "--text-col", "text",
                                 "--date-col", "when"])
    assert result.exit_code == 1
    assert "ambiguous" in result.stderr and "--date-format" in result.stderr
    assert count_responses() == 0
    ok = runner.invoke(args=["responses", "import", path, "--survey", survey.public_key, "--text-col", "text",
                             "--date-col", "when", "--date-format", "%m/%d/%Y"])
    assert ok.exit_code == 0, ok.output
    assert db.session.scalars(sa.select(Response.created_at)).first().month == 4


def test_bad_lines_are_reported_and_load_nothing_unless_skipped(runner, make_survey, tmp_path):
    survey = make_survey("csat")
    path = write(tmp_path, "id,score,text\n1,5,fine\n2,9,out of range\n3,x,not a number\n4,,\n1,4,dup id\n5,3,ok\n")
    args = ["responses", "import", path, "--survey", survey.public_key, "--text-col", "text",
            "--score-col", "score", "--id-col", "id"]
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    for expected in ("line 3: score 9 is outside 1–5", "line 4: score 'x' is not a whole number",
                     "line 5: neither a text nor a score", "line 6: id '1' already appears on line 2",
                     "4 bad line(s); nothing was imported"):
        assert expected in result.stderr
    assert count_responses() == 0
    skipped = runner.invoke(args=[*args, "--skip-bad"])
    assert skipped.exit_code == 0 and "imported 2" in skipped.output
    assert count_responses() == 2


def test_import_errors_for_missing_column_file_and_survey(runner, make_survey, tmp_path):
    survey = make_survey("csat")
    path = write(tmp_path, "a,b\n1,2\n")
    result = runner.invoke(args=["responses", "import", path, "--survey", survey.public_key, "--text-col", "text"])
    assert result.exit_code == 1 and "no column 'text'" in result.stderr and "a, b" in result.stderr
    assert runner.invoke(args=["responses", "import", str(tmp_path / "none.csv"), "--survey", survey.public_key,
                               "--text-col", "t"]).exit_code == 2
    assert runner.invoke(args=["responses", "import", path, "--survey", "nope", "--text-col", "a"]).exit_code == 1
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text\ncaf\xe9\n".encode("latin-1"))
    bad = runner.invoke(args=["responses", "import", str(latin), "--survey", survey.public_key, "--text-col", "text"])
    assert bad.exit_code == 1 and "UTF-8" in bad.stderr


def test_import_shared_nps_verbatims_twice(runner, make_survey):
    import csv

    path = shared_file("nps_verbatims_dev.csv")
    expected = list(csv.DictReader(path.open(encoding="utf-8")))
    survey = make_survey("nps")
    args = ["responses", "import", str(path), "--survey", survey.public_key, "--text-col", "text",
            "--score-col", "nps_score", "--date-col", "responded", "--id-col", "id"]
    assert runner.invoke(args=args).exit_code == 0
    assert count_responses(survey.id) == len(expected)
    first = expected[0]
    row = db.session.scalar(sa.select(Response).where(Response.external_id == first["id"]))
    assert row.score == int(first["nps_score"])
    assert row.created_at.strftime("%d/%m/%Y %H:%M") == first["responded"]
    again = runner.invoke(args=args)
    assert "imported 0" in again.output
    assert count_responses(survey.id) == len(expected)


def test_import_shared_airline_tweets_without_scores(runner, make_survey):
    path = shared_file("airline_tweets_dev.csv")
    survey = make_survey("csat")
    result = runner.invoke(args=["responses", "import", str(path), "--survey", survey.public_key, "--text-col", "text",
                                 "--date-col", "created", "--id-col", "id"])
    assert result.exit_code == 0, result.output
    assert "%m/%d/%Y %H:%M" in result.output
    assert count_responses(survey.id) == 9964
