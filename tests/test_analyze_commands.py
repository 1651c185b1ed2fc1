"""``flask analyze classify`` / ``evaluate`` / ``train``."""

from __future__ import annotations

import csv
import json

import pytest

from analysis.model_store import list_versions
from survey.labels import correct_label
from tests.analyze_support import CORPUS, NPS_ANSWERS, add_answers, analysis_app, tiny_model  # noqa: F401

pytestmark = pytest.mark.usefixtures("analysis_app")


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_classify_adds_four_columns_and_keeps_the_rest(runner, tmp_path):
    src = write_csv(tmp_path / "in.csv", ["id", "text", "extra"],
                    [[i, text, f"x{i}"] for i, (_, text) in enumerate(NPS_ANSWERS) if text] + [[99, "", "empty"]])
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["analyze", "classify", "--in", str(src), "--text-col", "text", "--out", str(out),
                                 "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert "labelled 14 row(s)" in result.output
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["id", "text", "extra", "sentiment", "sentiment_proba", "theme", "theme_proba"]
    assert [r["extra"] for r in rows][-1] == "empty" and len(rows) == 14
    for row in rows:
        assert row["sentiment"] in ("negative", "neutral", "positive")
        assert row["theme"] in ("service", "care", "other")
        assert 1 / 3 - 1e-3 <= float(row["sentiment_proba"]) <= 1
    assert not list(tmp_path.glob(".out.csv.*")), "no temporary file left behind"


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_classify_writes_a_bom_when_the_file_it_labels_had_one(runner, tmp_path, bom):
    """A file saved by Excel as "CSV UTF-8" has a BOM: the labelled copy keeps it, so it opens there with its
    accents as the original did; a file without one gets none."""
    src = tmp_path / "in.csv"
    src.write_bytes(bom + "id,text\n1,le café était froid\n".encode("utf-8"))
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["analyze", "classify", str(src), "--text-col", "text", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(bom + b"id,text,sentiment,") and not data[len(bom):].startswith(b"\xef\xbb\xbf")
    assert "le café était froid".encode() in data


def read_rows(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_classify_keeps_the_users_label_columns(runner, tmp_path):
    """A labelled file keeps its own sentiment/theme; the model's go beside them under model_*."""
    src = write_csv(tmp_path / "in.csv", ["text", "sentiment", "theme"],
                    [["on hold for an hour and nobody called back", "negative", "care"],
                     ["lovely engineer, fixed it in ten minutes", "positive", "service"],
                     ["short row"]])  # ragged: fewer cells than the header
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["analyze", "classify", "--in", str(src), "--text-col", "text", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert list(rows[0]) == ["text", "sentiment", "theme", "model_sentiment", "model_sentiment_proba",
                             "model_theme", "model_theme_proba"]
    assert [(r["sentiment"], r["theme"]) for r in rows] == [("negative", "care"), ("positive", "service"), ("", "")]
    assert all(r["model_sentiment"] in ("negative", "neutral", "positive") for r in rows)
    assert all(r["model_theme"] in ("service", "care", "other") for r in rows)


def test_classify_refuses_when_every_name_is_taken(runner, tmp_path):
    header = ["text", "theme", "model_theme"]
    src = write_csv(tmp_path / "in.csv", header, [["slow refund", "service", "x"]])
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["analyze", "classify", "--in", str(src), "--text-col", "text", "--out", str(out)])
    assert result.exit_code != 0
    assert "already has column(s) theme, model_theme" in result.output and "--prefix" in result.output
    assert not out.exists() and not list(tmp_path.glob(".out.csv.*"))
    # an explicit prefix that collides is refused too; a free one works
    result = runner.invoke(args=["analyze", "classify", "--in", str(src), "--text-col", "text", "--out", str(out),
                                 "--prefix", "model_"])
    assert result.exit_code != 0 and "model_theme" in result.output and not out.exists()
    result = runner.invoke(args=["analyze", "classify", "--in", str(src), "--text-col", "text", "--out", str(out),
                                 "--prefix", "pred_"])
    assert result.exit_code == 0, result.output
    assert list(read_rows(out)[0]) == header + ["pred_sentiment", "pred_sentiment_proba", "pred_theme",
                                                "pred_theme_proba"]
    assert read_rows(out)[0]["model_theme"] == "x"


@pytest.mark.parametrize("make_args, message", [
    (lambda src, tmp: ["--text-col", "comment", "--out", str(tmp / "o.csv")], "no column 'comment'; the columns are: text"),
    (lambda src, tmp: ["--text-col", "text", "--out", str(src)], "--out must be a different file"),
    (lambda src, tmp: ["--text-col", "text", "--out", str(tmp / "no" / "o.csv")], "does not exist"),
    (lambda src, tmp: ["--text-col", "text"], "Missing option '--out'"),
])
def test_classify_bad_options(runner, tmp_path, make_args, message):
    src = write_csv(tmp_path / "in.csv", ["text"], [["on hold for ages"]])
    result = runner.invoke(args=["analyze", "classify", "--in", str(src), *make_args(src, tmp_path)])
    assert result.exit_code != 0 and message in result.output
    assert src.read_text(encoding="utf-8").startswith("text")  # never overwritten
    assert not (tmp_path / "o.csv").exists()


def test_classify_refuses_non_utf8_and_missing_files(runner, tmp_path):
    src = tmp_path / "latin.csv"
    src.write_bytes("text\ncaf\xe9 was cold\n".encode("latin-1"))
    result = runner.invoke(args=["analyze", "classify", "--in", str(src), "--text-col", "text",
                                 "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 1 and "not UTF-8" in result.output and not (tmp_path / "o.csv").exists()
    result = runner.invoke(args=["analyze", "classify", "--in", str(tmp_path / "missing.csv"), "--text-col", "t",
                                 "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_a_file_that_is_not_utf8_is_refused_with_the_line_by_classify_evaluate_and_train(runner, tmp_path):
    """train --labels read its header outside the error handling: a traceback; none of the three said where."""
    src = tmp_path / "latin.csv"
    src.write_bytes(("text,sentiment\n" + "fine,neutral\n" * 3000 + "caf\xe9 was cold,negative\n").encode("latin-1"))
    line = "line 3002: not UTF-8 text (perhaps Latin-1 or Windows-1252, an older spreadsheet's default); save the file as CSV UTF-8"
    for args in (["classify", str(src), "--text-col", "text", "--out", str(tmp_path / "o.csv")],
                 ["evaluate", str(src), "--text-col", "text", "--label-col", "sentiment", "--task", "sentiment"],
                 ["train", "--labels", str(src)]):
        result = runner.invoke(args=["analyze", *args])
        assert result.exit_code == 1 and line in result.output and result.exception.__class__ is SystemExit, \
            (args[0], result.output, result.exception)
    assert not (tmp_path / "o.csv").exists()
    small = tmp_path / "small.csv"
    small.write_bytes("text,sentiment\ncaf\xe9 was cold,negative\n".encode("latin-1"))
    result = runner.invoke(args=["analyze", "train", "--labels", str(small)])
    assert result.exit_code == 1 and "line 2: not UTF-8 text" in result.output, result.output


def test_an_unclosed_quote_in_a_labels_file_is_named_by_its_line_not_taken_for_no_labels(runner, tmp_path):
    """evaluate and train read the rest of the file as one cell and said there were no labelled rows."""
    src = tmp_path / "gold.csv"
    src.write_text('text,sentiment\nfine,neutral\n"on hold for hours,negative\nrude staff,negative\n',
                   encoding="utf-8")
    for args in (["evaluate", str(src), "--text-col", "text", "--label-col", "sentiment", "--task", "sentiment"],
                 ["train", "--labels", str(src)]):
        result = runner.invoke(args=["analyze", *args])
        assert result.exit_code == 1 and "line 3: a quoted field starts here and its closing quote" in result.output, \
            (args[0], result.output)
    src.write_text("text,sentiment\nfine,neutral\n" + '"' + "x" * 200_000 + '",negative\n', encoding="utf-8")
    result = runner.invoke(args=["analyze", "train", "--labels", str(src)])
    assert result.exit_code == 1 and "line 3: a field is longer than 128 KiB" in result.output, result.output


def test_semicolon_files_are_read_by_classify_evaluate_and_train_like_every_import(runner, tmp_path, monkeypatch):
    """Spreadsheets in many locales save with semicolons. Imports sniffed the separator; the analyze
    commands read the whole header as one column named 'text;sentiment' and refused the file."""
    import survey.insights.service

    src = tmp_path / "gold.csv"
    src.write_text("\ufefftext;sentiment\non hold for two hours, then cut off;negative\nthe staff were kind;positive\n",
                   encoding="utf-8")
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["analyze", "classify", str(src), "--text-col", "text", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8-sig").splitlines()  # the BOM kept (test_classify_writes_a_bom_…)
    assert lines[0] == "text;sentiment;model_sentiment;model_sentiment_proba;model_theme;model_theme_proba"
    assert lines[1].startswith("on hold for two hours, then cut off;negative;")  # the comma is the text's own
    result = runner.invoke(args=["analyze", "evaluate", str(src), "--text-col", "text", "--label-col", "sentiment",
                                 "--task", "sentiment", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["n"] == 2, result.output
    seen = {}

    def read_only(own, **kwargs):  # what train read is all this test needs; training takes minutes
        seen["own"] = own
        raise survey.insights.service.AnalysisError("stopped after reading")

    monkeypatch.setattr(survey.insights.service, "training_data", read_only)
    result = runner.invoke(args=["analyze", "train", "--labels", str(src)])
    assert "stopped after reading" in result.output, result.output
    assert seen["own"] == [("on hold for two hours, then cut off", "sentiment", "negative"),
                           ("the staff were kind", "sentiment", "positive")]


def test_a_column_named_twice_is_refused_by_classify_evaluate_and_train(runner, tmp_path):
    """Rows are read by column name, so one of the two was silently read (evaluate and train took the
    last 'text', classify the first): the person's labels were scored or learnt against the wrong text."""
    src = write_csv(tmp_path / "gold.csv", ["text", "text", "sentiment"], [["order id 4411", "rude staff", "negative"]])
    out = tmp_path / "o.csv"
    for args in (["classify", str(src), "--text-col", "text", "--out", str(out)],
                 ["evaluate", str(src), "--text-col", "text", "--label-col", "sentiment", "--task", "sentiment"],
                 ["train", "--labels", str(src)]):
        result = runner.invoke(args=["analyze", *args])
        assert result.exit_code == 1 and "line 1: the header has column 'text' 2 times (columns 1 and 2)" \
            in result.output and result.exception.__class__ is SystemExit, (args[0], result.output)
    assert not out.exists()
    labels = write_csv(tmp_path / "labels.csv", ["text", "sentiment", "sentiment"], [["rude staff", "negative", ""]])
    result = runner.invoke(args=["analyze", "train", "--labels", str(labels)])
    assert result.exit_code == 1 and "column 'sentiment' 2 times (columns 2 and 3)" in result.output, result.output


def test_classify_names_the_line_of_an_unclosed_quote_and_writes_nothing(runner, tmp_path):
    """classify's reader was not strict: the rest of the file became one comment, labelled and written,
    exit 0; a field over the csv limit was a message without a line."""
    src = tmp_path / "in.csv"
    src.write_text('text,id\nfine,1\n"on hold for hours,2\nrude staff,3\n', encoding="utf-8")
    out = tmp_path / "o.csv"
    result = runner.invoke(args=["analyze", "classify", str(src), "--text-col", "text", "--out", str(out)])
    assert result.exit_code == 1 and "line 3: a quoted field starts here and its closing quote" in result.output, \
        result.output
    assert not out.exists() and not list(tmp_path.glob(".o.csv.*"))
    src.write_text("text\nfine\n" + '"' + "x" * 200_000 + '"\n', encoding="utf-8")
    result = runner.invoke(args=["analyze", "classify", str(src), "--text-col", "text", "--out", str(out)])
    assert result.exit_code == 1 and "line 3: a field is longer than 128 KiB" in result.output, result.output
    assert not out.exists()


def _workbook() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as book:  # stored: its text decodes as UTF-8
        book.writestr("xl/worksheets/sheet1.xml", "<sheetData><row><c>rude staff</c></row></sheetData>")
    return buffer.getvalue()


LABELLED = "text,sentiment,theme\nrude staff,negative,service\nvery helpful,positive,care\n"


@pytest.mark.parametrize("content, said", [
    (LABELLED.encode("utf-16"), "the file is UTF-16 text"),
    # Without a byte order mark Latin letters decode as UTF-8, NULs and all: classify and evaluate
    # read their own stream and said "no column 'text'; the columns are: t e x t".
    (LABELLED.encode("utf-16-le"), "the file is UTF-16 text"),
    (LABELLED.encode("utf-16-be"), "the file is UTF-16 text"),
    (LABELLED.encode("utf-32"), "the file is UTF-32 text"),
    (LABELLED.encode("utf-32-le"), "the file is UTF-32 text"),
    (LABELLED.encode("utf-32-be"), "the file is UTF-32 text"),
    (_workbook(), "the file is a spreadsheet workbook (.xlsx or .ods), not CSV"),
], ids=["utf16", "utf16le", "utf16be", "utf32", "utf32le", "utf32be", "workbook"])
def test_files_of_another_kind_are_named_as_the_imports_name_them_and_nothing_is_written(runner, tmp_path, app,
                                                                                        content, said):
    """classify, evaluate and train check a file's kind where every import does (survey.importer),
    before streaming it: the message names the kind, the exit code is 1 and no output file is left."""
    src = tmp_path / "in.csv"
    src.write_bytes(content)
    out = tmp_path / "o.csv"
    models = list_versions([f"{app.instance_path}/models"])
    for args in (["classify", str(src), "--text-col", "text", "--out", str(out)],
                 ["evaluate", str(src), "--text-col", "text", "--label-col", "sentiment", "--task", "sentiment",
                  "--out", str(out)],
                 ["train", "--labels", str(src)],
                 ["train", "--corpus", str(src)]):
        result = runner.invoke(args=["analyze", *args])
        assert result.exit_code == 1 and f"{src}: {said}" in result.output \
            and "save it as CSV UTF-8" in result.output and "nothing was done" in result.output, \
            (args[0], result.output)
        assert not out.exists() and not list(tmp_path.glob(".o.csv.*")), args[0]
    assert list_versions([f"{app.instance_path}/models"]) == models


def test_an_output_file_that_cannot_be_written_is_a_message_not_a_traceback(runner, tmp_path, monkeypatch):
    """A folder without write permission (or a full disk) ended classify and evaluate in an OSError traceback."""
    import tempfile

    src = write_csv(tmp_path / "gold.csv", ["text", "sentiment"], [["rude staff", "negative"]])
    out = tmp_path / "o.csv"
    out.write_text("the team's earlier file\n", encoding="utf-8")

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    result = runner.invoke(args=["analyze", "classify", str(src), "--text-col", "text", "--out", str(out)])
    assert result.exit_code == 1 and f"cannot write {out}: Permission denied; it is unchanged" in result.output, \
        result.output
    result = runner.invoke(args=["analyze", "evaluate", str(src), "--text-col", "text", "--label-col", "sentiment",
                                 "--task", "sentiment", "--out", str(tmp_path / "e.json")])
    assert result.exit_code == 1 and "Permission denied; nothing was written" in result.output, result.output
    assert out.read_text(encoding="utf-8") == "the team's earlier file\n"


def test_ctrl_c_in_the_middle_of_classify_leaves_the_previous_output_as_it_was(runner, tmp_path, monkeypatch):
    from analysis.labeller import Labeller

    src = write_csv(tmp_path / "in.csv", ["text"], [[f"on hold for {i} hours"] for i in range(20)])
    out = tmp_path / "o.csv"
    out.write_text("last week's labelled file\n", encoding="utf-8")
    real_probs, calls = Labeller.comment_probs, []

    def interrupted(self, texts, keep_clauses=False):
        calls.append(len(texts))
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C with the first batch already written to disk
        return real_probs(self, texts, keep_clauses)

    monkeypatch.setattr(Labeller, "comment_probs", interrupted)
    result = runner.invoke(args=["analyze", "classify", str(src), "--text-col", "text", "--out", str(out),
                                 "--batch-size", "5"])
    assert result.exit_code != 0 and calls == [5, 5]
    assert out.read_text(encoding="utf-8") == "last week's labelled file\n"
    assert not list(tmp_path.glob(".o.csv.*")), "no temporary file left behind"


def test_evaluate_out_in_a_missing_folder_is_refused_before_the_work(runner, tmp_path, monkeypatch):
    """It evaluated every row first and then ended in a FileNotFoundError traceback."""
    import analysis.evaluate

    src = write_csv(tmp_path / "gold.csv", ["text", "gold"], [["on hold for hours", "negative"]])
    monkeypatch.setattr(analysis.evaluate, "evaluate", lambda *a, **k: pytest.fail("evaluated before refusing"))
    result = runner.invoke(args=["analyze", "evaluate", str(src), "--text-col", "text", "--label-col", "gold",
                                 "--task", "sentiment", "--out", str(tmp_path / "no" / "such.json")])
    assert result.exit_code == 2 and "--out: folder" in result.output and "does not exist" in result.output, \
        result.output


def test_evaluate_prints_the_table_and_writes_json(runner, tmp_path):
    src = write_csv(tmp_path / "gold.csv", ["text", "gold"],
                    [["I was on hold for two hours", "negative"], ["the staff were kind", "Positive"],
                     ["the price is fair", "positive"], ["the engineer is booked for tuesday", "neutral"],
                     ["no label here", ""]])
    out = tmp_path / "eval.json"
    result = runner.invoke(args=["analyze", "evaluate", "--in", str(src), "--text-col", "text", "--label-col", "gold",
                                 "--task", "sentiment", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "accuracy=" in result.output and "macro-F1=" in result.output and "confusion matrix" in result.output
    assert "(1 unlabelled row(s) skipped)" in result.output
    data = json.loads(out.read_text())
    assert data["n"] == 4 and data["labels"] == ["negative", "neutral", "positive"]
    assert set(data["per_class"]["negative"]) >= {"precision", "recall"}
    assert sum(map(sum, data["confusion_matrix"])) == 4 and 0 <= data["macro_f1"] <= 1
    as_json = runner.invoke(args=["analyze", "evaluate", "--in", str(src), "--text-col", "text", "--label-col", "gold",
                                  "--task", "sentiment", "--json"])
    assert json.loads(as_json.output)["accuracy"] == data["accuracy"]


def test_evaluate_with_the_score_band(runner, tmp_path):
    rows = [["I was on hold for two hours", "negative", "2"], ["the staff were kind", "positive", "10"],
            ["the engineer is booked for tuesday", "neutral", "7"], ["price went up again", "negative", ""]]
    src = write_csv(tmp_path / "gold.csv", ["text", "gold", "nps"], rows)
    base = ["analyze", "evaluate", "--in", str(src), "--text-col", "text", "--label-col", "gold"]
    result = runner.invoke(args=[*base, "--task", "sentiment", "--score-col", "nps", "--kind", "nps", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["n"] == 4 and data["with_score"] == 3 and "macro_f1" in data["text_only"]
    table = runner.invoke(args=[*base, "--task", "sentiment", "--score-col", "nps", "--kind", "nps"])
    assert "with the score band (3 of 4 rows scored" in table.output and "text alone:" in table.output


@pytest.mark.parametrize("extra, message", [
    (["--task", "sentiment", "--score-col", "nps"], "--score-col and --kind go together"),
    (["--task", "theme", "--score-col", "nps", "--kind", "nps"], "only changes sentiment"),
    (["--task", "sentiment", "--score-col", "score", "--kind", "nps"], "no column 'score'"),
    (["--task", "sentiment", "--score-col", "nps", "--kind", "csat"], "line 3: nps '10' is not a whole number from 1 to 5"),
])
def test_evaluate_score_options_are_checked(runner, tmp_path, extra, message):
    src = write_csv(tmp_path / "gold.csv", ["text", "gold", "nps"],
                    [["slow", "negative", "2"], ["kind staff", "positive", "10"], ["ok", "neutral", "seven"]])
    result = runner.invoke(args=["analyze", "evaluate", "--in", str(src), "--text-col", "text", "--label-col", "gold",
                                 *extra])
    assert result.exit_code != 0 and message in result.output, result.output
    if extra[-1] == "csat":
        assert "line 4: nps 'seven' is not a number" in result.output and "nothing was done" in result.output


def test_evaluate_bad_input(runner, tmp_path):
    src = write_csv(tmp_path / "gold.csv", ["text", "gold"], [["a", "angry"], ["b", "care"], ["c", "service"]])
    base = ["analyze", "evaluate", "--in", str(src), "--text-col", "text"]
    result = runner.invoke(args=[*base, "--label-col", "gold", "--task", "sentiment"])
    assert result.exit_code == 1 and "3 bad label(s)" in result.output and "line 2: sentiment 'angry'" in result.output
    result = runner.invoke(args=[*base, "--label-col", "label", "--task", "theme"])
    assert result.exit_code == 1 and "no column 'label'" in result.output
    result = runner.invoke(args=[*base, "--label-col", "gold", "--task", "mood"])
    assert result.exit_code == 2 and "'mood' is not one of" in result.output


@pytest.mark.slow
def test_train_uses_own_labels_corrections_and_scores(runner, make_survey, make_response, tmp_path, app,
                                                       analysis_app):
    survey, responses = add_answers(make_survey, make_response)
    correct_label(responses[-1], "theme", "other", None)
    labels = write_csv(tmp_path / "mine.csv", ["text", "sentiment", "theme"],
                       [["the modem light blinks red, reach me at bo@example.com", "negative", "other"],
                        ["the courier was polite", "positive", ""]])
    result = runner.invoke(args=["analyze", "train", "--corpus", str(CORPUS), "--labels", str(labels),
                                 "--from-scores", "--survey", survey.public_key])
    assert result.exit_code == 0, result.output
    versions = list_versions([f"{app.instance_path}/models"])
    new = [v for v in versions if v.version != analysis_app]
    assert len(new) == 1 and f"model {new[0].version} saved" in result.output
    meta = new[0].metadata
    # 3 rows from --labels, 1 correction; weak rows: answers in the negative or positive band with a comment
    assert meta["extra_labeled_rows"] == {"sentiment": 2, "theme": 2}
    weak = sum(1 for score, text in NPS_ANSWERS if text and (score <= 6 or score >= 9))
    assert meta["weak_sentiment_rows"] == weak
    assert "held-out accuracy" in result.output
    # nothing personal inside the model files
    for path in new[0].path("sentiment").parent.glob(f"*{new[0].version}*"):
        assert b"bo@example.com" not in path.read_bytes() and b"ana.lopez" not in path.read_bytes()
    # the pinned version still wins until the pin is lifted; then the newest is used
    app.config["ANALYSIS_MODEL_VERSION"] = None
    run = runner.invoke(args=["analyze", "--out", str(tmp_path / "r")])
    assert f"Model {new[0].version}: labelled 13 new comment(s)" in run.output


def test_train_bad_options(runner, make_survey, tmp_path):
    labels = write_csv(tmp_path / "l.csv", ["text", "mood"], [["x", "y"]])
    result = runner.invoke(args=["analyze", "train", "--labels", str(labels)])
    assert result.exit_code == 1 and "needs a 'sentiment' or a 'theme' column" in result.output
    labels = write_csv(tmp_path / "l.csv", ["text", "sentiment"], [["fine", "great"], ["", "negative"]])
    result = runner.invoke(args=["analyze", "train", "--labels", str(labels)])
    assert result.exit_code == 1 and "line 2: sentiment 'great' is not one of" in result.output
    assert "line 3: a sentiment label but no text" in result.output
    result = runner.invoke(args=["analyze", "train", "--survey", "abc"])
    assert result.exit_code == 2 and "--survey only applies together with --from-scores" in result.output
    survey = make_survey("nps")
    result = runner.invoke(args=["analyze", "train", "--from-scores", "--survey", survey.public_key])
    assert result.exit_code == 1 and "no comment with a score" in result.output
    assert not (tmp_path / "instance" / "models").exists() or len(list_versions([tmp_path / "instance" / "models"])) == 1
