"""CSV files as spreadsheets and careless hands make them: every problem named with its line, nothing half-imported.

Covers `flask response import`, `flask contact import` and the dashboard's contacts upload.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import sqlalchemy as sa

from survey.db import db
from survey.importer import ImportError_, open_csv_text, parse_feedback_csv
from survey.invites.contacts import parse_contacts_csv
from survey.models import Contact, Response
from tests.dashboard_support import login

BIG = "x" * (128 * 1024 + 10)


def answers() -> list[Response]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Response).order_by(Response.id)))


def contacts() -> list[Contact]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Contact)))


def import_answers(runner, survey, path, *extra):
    return runner.invoke(args=["responses", "import", str(path), "--survey", survey.public_key,
                               "--text-col", "text", "--score-col", "score", *extra])


def write(tmp_path, text: str, name: str = "in.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


# -- files that cannot be read as CSV: refused whole, with the line ------------------


def test_an_unterminated_quote_is_refused_with_its_line(runner, make_survey, tmp_path):
    survey = make_survey("nps")
    path = write(tmp_path, 'score,text\n9,fine\n3,"the agent never called back\n7,okay I guess\n8,good\n')
    result = import_answers(runner, survey, path)
    assert result.exit_code == 1
    assert "line 3:" in result.output and "closing quote" in result.output and "nothing was imported" in result.output
    assert answers() == []


@pytest.mark.parametrize("where", ["text", "contacts"])
def test_a_field_over_128_kib_is_a_message_not_a_traceback(runner, make_survey, tmp_path, where):
    if where == "text":
        path = write(tmp_path, f"score,text\n9,fine\n3,{BIG}\n")
        result = import_answers(runner, make_survey("nps"), path)
    else:
        path = write(tmp_path, f"email,name\nann@example.com,Ann\nbob@example.com,{BIG}\n")
        result = runner.invoke(args=["contacts", "import", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "line 3:" in result.output and "128 KiB" in result.output
    assert answers() == [] and contacts() == []


def test_the_dashboard_upload_answers_a_huge_field_or_open_quote_with_422(client):
    login(client, "admin")
    for content in (f"email,name\nann@example.com,Ann\nbob@example.com,{BIG}\n",
                    'email,name\nann@example.com,"Ann\nbob@example.com,Bob\n'):
        response = client.post("/contacts", data={"file": (io.BytesIO(content.encode()), "c.csv")},
                               content_type="multipart/form-data")
        assert response.status_code == 422
        assert "line 2" in response.get_data(as_text=True) or "line 3" in response.get_data(as_text=True)
    assert contacts() == []


# -- what spreadsheets export ------------------------------------------------------------


@pytest.mark.parametrize("separator", [";", "\t"])
def test_semicolon_and_tab_separated_files_import(runner, make_survey, tmp_path, separator):
    survey = make_survey("nps")
    rows = ["score;text", "9;quick and friendly, thanks", '2;"waited; and waited"', "7;ok"]
    path = write(tmp_path, "\n".join(row.replace(";", separator, 1) for row in rows) + "\n")
    result = import_answers(runner, survey, path)
    assert result.exit_code == 0, result.output
    assert [(a.score, a.comment) for a in answers()] == [
        (9, "quick and friendly, thanks"), (2, "waited; and waited"), (7, "ok")]
    contacts_file = write(tmp_path, f"email{separator}name{separator}plan\nann@example.com{separator}Ann"
                                    f"{separator}pro\n", "contacts.csv")
    assert runner.invoke(args=["contacts", "import", str(contacts_file)]).exit_code == 0
    assert [(c.email, c.attributes) for c in contacts()] == [("ann@example.com", {"plan": "pro"})]


def test_iso_8601_dates_with_t_and_an_offset_or_z(runner, make_survey, tmp_path):
    survey = make_survey("nps")
    path = write(tmp_path, "score,text,when\n"
                           "9,a,2024-01-05T10:00:00+01:00\n"
                           "8,b,2024-01-05T09:30:00.123Z\n"
                           "7,c,2024-01-06T23:15:00-05:00\n")
    result = import_answers(runner, survey, path, "--date-col", "when")
    assert result.exit_code == 0, result.output
    assert [a.created_at.replace(tzinfo=None) for a in answers()] == [
        dt.datetime(2024, 1, 5, 9, 0), dt.datetime(2024, 1, 5, 9, 30, 0, 123000), dt.datetime(2024, 1, 7, 4, 15)]
    explicit = parse_feedback_csv(io.StringIO("text,when\nx,2024-02-01T08:00:00Z\n"), text_col="text",
                                  scale=(0, 10), date_col="when", date_format="iso8601")
    assert explicit.rows[0].created_at == dt.datetime(2024, 2, 1, 8, 0)


# -- lines that are wrong: each named, none stored unless --skip-bad ---------------------


def test_ragged_rows_are_named_by_line_and_nothing_is_half_imported(runner, make_survey, tmp_path):
    survey = make_survey("nps")
    path = write(tmp_path, "score,text,when\n9,fine,2024-01-05\n3,no date here\n8,good,2024-01-06,extra\n"
                           "7,ok,2024-01-07\n")
    result = import_answers(runner, survey, path, "--date-col", "when")
    assert result.exit_code == 1
    assert "line 3: the line has 2 field(s): fewer fields than the header" in result.output
    assert "line 4: the line has 4 field(s): more fields than the header" in result.output
    assert "nothing was imported" in result.output and answers() == []
    skipped = import_answers(runner, survey, path, "--date-col", "when", "--skip-bad")
    assert skipped.exit_code == 0 and len(answers()) == 2


def test_mixed_date_formats_name_the_odd_line_not_a_good_date(runner, make_survey, tmp_path):
    survey = make_survey("nps")
    path = write(tmp_path, "score,text,when\n9,a,2024-01-05\n8,b,2024-01-13\n7,c,13/01/2024\n6,d,2024-01-20\n")
    result = import_answers(runner, survey, path, "--date-col", "when")
    assert result.exit_code == 1
    assert "line 4: date '13/01/2024' does not match '%Y-%m-%d'" in result.output
    assert "2024-01-05" not in result.output and answers() == []


def test_a_date_column_no_format_fits_names_its_first_line():
    with pytest.raises(ImportError_) as caught:
        parse_feedback_csv(open_csv_text(b"text,when\na,\nb,sometime\n"), text_col="text", scale=(0, 10),
                           date_col="when")
    assert "line 3" in str(caught.value) and "'sometime'" in str(caught.value)


def test_the_contacts_parser_reports_ragged_lines():
    parsed = parse_contacts_csv(io.StringIO("email;name\nann@example.com;Ann\nbob@example.com\n", newline=""))
    assert [row.email for row in parsed.rows] == ["ann@example.com"]
    assert [(p.line, "fewer fields" in p.message) for p in parsed.problems] == [(3, True)]


# -- what careless hands make: encodings and headers ------------------------------------------


def test_a_latin1_file_is_refused_with_its_line_and_utf16_by_its_name(runner, make_survey, tmp_path):
    """The message said "byte 44": no spreadsheet shows bytes. UTF-16 ("Unicode Text") is named."""
    survey = make_survey("nps")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("score,text\n9,fine\n3,caf\xe9 was cold\n".encode("latin-1"))
    result = import_answers(runner, survey, latin)
    assert result.exit_code == 1 and "line 3: not UTF-8 text" in result.output and "byte" not in result.output, \
        result.output
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes("email,name\nann@example.com,Zoë\n".encode("utf-16"))
    result = runner.invoke(args=["contacts", "import", str(utf16)])
    assert result.exit_code == 1 and "the file is UTF-16 text" in result.output \
        and "save it as CSV UTF-8" in result.output, result.output
    assert answers() == [] and contacts() == []
    # Without a byte order mark its Latin letters decode as UTF-8, NULs and all: it read as the
    # header "s\0c\0o\0r\0e" ("no column 'text'; its columns are: s c o r e").
    bare = tmp_path / "u16-no-bom.csv"
    bare.write_bytes("score,text\n9,fine\n".encode("utf-16-le"))
    for args in (["responses", "import", str(bare), "--survey", survey.public_key, "--text-col", "text"],
                 ["contacts", "import", str(bare)], ["codeframe", "import", str(bare), "--survey", survey.public_key]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and "the file is UTF-16 text" in result.output, (args, result.output)
    # UTF-32, with its byte order mark or without, was "UTF-16" or read as text, NULs and all.
    for encoding in ("utf-32", "utf-32-le", "utf-32-be"):
        wide = tmp_path / f"{encoding}.csv"
        wide.write_bytes("score,text\n9,fine\n".encode(encoding))
        for args in (["responses", "import", str(wide), "--survey", survey.public_key, "--text-col", "text"],
                     ["contacts", "import", str(wide)],
                     ["codeframe", "import", str(wide), "--survey", survey.public_key]):
            result = runner.invoke(args=args)
            assert result.exit_code == 1 and "the file is UTF-32 text, not UTF-8; save it as CSV UTF-8" \
                in result.output, (encoding, args, result.output)
    assert answers() == [] and contacts() == []


def _workbook() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", "<Types>" + "<Default Extension='xml'/>" * 40 + "</Types>")
        book.writestr("xl/worksheets/sheet1.xml", "<sheetData>" + "<row><c>9</c></row>" * 40 + "</sheetData>")
    return buffer.getvalue()


@pytest.mark.parametrize("content, said", [
    (_workbook(), "the file is a spreadsheet workbook (.xlsx or .ods), not CSV; open it and save it as CSV UTF-8"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 4,
     "the file is an Excel 97-2003 workbook (.xls), not CSV; open it and save it as CSV UTF-8"),
    (bytes(range(256)) * 4, "the file is not text (binary data), not a CSV file; save the data as CSV UTF-8"),
])
def test_a_workbook_or_binary_file_is_named_not_called_utf16(runner, make_survey, tmp_path, client, content, said):
    """Any NUL byte read as UTF-16: a workbook saved under a .csv name (or picked by mistake) was
    refused as "UTF-16 text (a spreadsheet's 'Unicode Text')", which it is not."""
    survey = make_survey("nps")
    path = tmp_path / "answers.csv"
    path.write_bytes(content)
    result = import_answers(runner, survey, path)
    assert result.exit_code == 1 and said in result.output and "UTF-16" not in result.output, result.output
    result = runner.invoke(args=["contacts", "import", str(path)])
    assert result.exit_code == 1 and said in result.output, result.output
    result = runner.invoke(args=["codeframe", "import", str(path), "--survey", survey.public_key])
    assert result.exit_code == 1 and said in result.output, result.output
    login(client, "admin")
    reply = client.post("/contacts", data={"file": (io.BytesIO(content), "contacts.csv")},
                        content_type="multipart/form-data")
    assert reply.status_code == 422 and said in reply.get_data(as_text=True)
    assert answers() == [] and contacts() == []


def test_a_column_the_import_reads_named_twice_is_refused(runner, make_survey, tmp_path):
    """Lines were read by column name, so the second 'text' silently won over the first."""
    survey = make_survey("nps")
    path = write(tmp_path, "score,text,text\n9,order 4411,quick and friendly\n")
    result = import_answers(runner, survey, path)
    assert result.exit_code == 1 and "line 1: the header has column 'text' 2 times (columns 2 and 3)" \
        in result.output, result.output
    # a column the import does not read may repeat (spreadsheets add blank or copied columns)
    path = write(tmp_path, "score,text,note,note\n9,quick and friendly,a,b\n")
    assert import_answers(runner, survey, path).exit_code == 0
    assert [(a.score, a.comment) for a in answers()] == [(9, "quick and friendly")]


@pytest.mark.parametrize("header", ["email,email,name", "Email,E-mail,name", "email,name,Name"])
def test_two_address_or_name_columns_in_a_contacts_file_are_refused(runner, tmp_path, header):
    """'email,email' silently took the second address; 'Email,E-mail' the first, and kept the
    other as an attribute called 'e-mail'."""
    path = write(tmp_path, f"{header}\nann@example.com,bob@example.com,Ann\n")
    result = runner.invoke(args=["contacts", "import", str(path)])
    assert result.exit_code == 1 and "line 1: the header has 2" in result.output \
        and "nothing was imported" in result.output, result.output
    assert contacts() == []


def test_a_date_format_strptime_cannot_use_is_refused_as_such(runner, make_survey, tmp_path):
    """--date-format '%Q' reported every line as "does not match '%Q', the format of the other dates",
    blaming good dates for a mistyped option that no other line used either."""
    survey = make_survey("nps")
    path = write(tmp_path, "score,text,when\n9,fine,2024-01-05\n3,slow,2024-01-06\n")
    result = import_answers(runner, survey, path, "--date-col", "when", "--date-format", "%Q")
    assert result.exit_code == 1 and "--date-format '%Q' is not a date format" in result.output, result.output
    assert "line 2" not in result.output
    result = import_answers(runner, survey, path, "--date-col", "when", "--date-format", "%d/%m/%Y")
    assert result.exit_code == 1 and "line 2: date '2024-01-05' does not match --date-format '%d/%m/%Y'" \
        in result.output and "the other dates" not in result.output, result.output
    assert answers() == []


# -- a header and nothing under it: exit 0 (a cron job's empty export), said plainly -------------


@pytest.mark.parametrize("what", ["responses", "contacts"])
@pytest.mark.parametrize("as_json", [False, True])
def test_a_header_only_file_imports_nothing_with_exit_0_and_says_so_on_stderr(runner, make_survey, tmp_path,
                                                                             what, as_json):
    extra = ["--json"] if as_json else []
    if what == "responses":
        path = write(tmp_path, "text,score\r\n\r\n", name="empty-export.csv")  # a blank line is no row either
        result = import_answers(runner, make_survey("nps"), path, *extra)
    else:
        path = write(tmp_path, "email,name\n", name="empty-export.csv")
        result = runner.invoke(args=["contacts", "import", str(path), *extra])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"{path} has a header but no rows; nothing imported\n"
    if as_json:
        assert json.loads(result.stdout)["file"] == str(path)  # stdout stays what a script parses
    else:
        assert result.stdout.startswith("imported ")
    assert answers() == [] and contacts() == []


def test_a_file_with_rows_gets_no_header_only_notice(runner, make_survey, tmp_path):
    result = import_answers(runner, make_survey("nps"), write(tmp_path, "text,score\nslow,3\n"))
    assert result.exit_code == 0 and result.stderr == "" and len(answers()) == 1


def test_the_dashboard_upload_of_a_header_only_file_says_so(client):
    login(client, "admin")
    response = client.post("/contacts", data={"file": (io.BytesIO(b"email,name,plan\n"), "contacts.csv")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    assert "contacts.csv has a header but no rows; nothing imported." in response.get_data(as_text=True)
    assert contacts() == []
