"""One set of command-line habits: singular group names (old plural names still work), input files
as arguments, ``--survey KEY`` everywhere, ``--json`` where a script reads the result,
``rapport --version`` saying Rapport's version, and bad values naming their option."""

from __future__ import annotations

import json
import sys
from importlib.metadata import version

import click
import pytest

from survey.auth.operations import create_api_token
from tests.analyze_support import add_answers, analysis_app, tiny_model  # noqa: F401  (fixtures)
from tests.dashboard_support import make_user
from tests.invites_support import add_contacts

GROUPS = {"survey": "surveys", "response": "responses", "contact": "contacts", "invite": "invites",
          "user": "users", "token": "tokens"}


def walk(group: click.Group, path=()):
    for name, command in group.commands.items():
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from walk(command, path + (name,))


def test_groups_are_singular_and_the_old_names_still_work(app, runner, tmp_path):
    visible = {name for name, command in app.cli.commands.items() if not command.hidden}
    assert {"survey", "response", "contact", "invite", "user", "token"} <= visible
    assert not visible & {"responses", "contacts", "users", "tokens", "surveys"}
    for new, old in GROUPS.items():
        if old in app.cli.commands:
            assert app.cli.commands[old].commands is app.cli.commands[new].commands
    path = tmp_path / "c.csv"
    path.write_text("email\nann@example.com\n")
    assert runner.invoke(args=["contacts", "import", str(path)]).exit_code == 0  # the old name
    assert runner.invoke(args=["contact", "import", str(path)]).exit_code == 0


def test_survey_is_always_shown_as_key_and_input_files_are_arguments(app):
    seen = 0
    for path, command in walk(app.cli):
        for param in command.params:
            if isinstance(param, click.Option) and "--survey" in param.opts:
                seen += 1
                assert param.metavar == "KEY", " ".join(path)
            if isinstance(param, click.Option) and not param.hidden:
                assert "--in" not in param.opts, f"{' '.join(path)}: input files are arguments"
    assert seen >= 6


def test_json_where_scripts_read_the_result(app, runner, make_survey, tmp_path):
    user = make_user("admin")
    create_api_token(user, "ci")
    tokens = json.loads(runner.invoke(args=["token", "list", user.email, "--json"]).output)
    assert [(t["name"], t["status"]) for t in tokens] == [("ci", "active")]

    survey = make_survey("nps")
    answers = tmp_path / "a.csv"
    answers.write_text("score,text\n9,good\n3,slow\n")
    imported = runner.invoke(args=["response", "import", str(answers), "--survey", survey.public_key,
                                   "--text-col", "text", "--score-col", "score", "--json"])
    assert json.loads(imported.output) == {"file": str(answers), "survey": survey.public_key, "imported": 2,
                                           "already_there": 0, "bad_lines": [], "date_format": None}
    bad = tmp_path / "bad.csv"
    bad.write_text("score,text\n9,good\n42,too high\n")
    refused = runner.invoke(args=["response", "import", str(bad), "--survey", survey.public_key,
                                  "--text-col", "text", "--score-col", "score", "--json"])
    assert refused.exit_code == 1
    body = refused.stdout if hasattr(refused, "stdout") else refused.output
    assert json.loads(body[:body.rindex("}") + 1])["bad_lines"][0]["line"] == 3

    contacts = tmp_path / "c.csv"
    contacts.write_text("email,name\nann@example.com,Ann\nbob@example.com,Bob\n")
    result = json.loads(runner.invoke(args=["contact", "import", str(contacts), "--json"]).output)
    assert (result["added"], result["updated"], result["bad_lines"]) == (2, 0, [])

    add_contacts(2, start=10)
    assert runner.invoke(args=["invite", "send", "--survey", survey.public_key,
                               "--base-url", "http://rapport.test"]).exit_code == 0
    delivered = runner.invoke(args=["invite", "deliver", "--json"])
    assert delivered.exit_code == 0, delivered.output
    report = json.loads([line for line in delivered.output.splitlines() if line.startswith("{")][-1])
    assert report["sent"] == 4 and report["failed"] == 0
    outbox = json.loads(runner.invoke(args=["invite", "outbox", "--json"]).output)
    assert outbox["counts"]["sent"] == 4 and outbox["messages"] == []


def test_a_bad_duration_names_its_option(runner):
    result = runner.invoke(args=["invite", "remind", "--after", "3x"])
    assert result.exit_code == 2 and "Invalid value for '--after'" in result.output and "'3x'" in result.output


def test_rapport_version_is_rapports(tmp_path, monkeypatch, capsys):
    """The ``rapport`` console script (survey.cli.main) in this process: a new one only imported the app again."""
    from survey.cli import main

    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "i"))
    monkeypatch.setattr(sys, "argv", ["rapport", "--version"])
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code == 0 and capsys.readouterr().out.strip() == f"Rapport {version('rapport')}"


def test_analyze_prints_its_summary_as_json(runner, make_survey, make_response, tmp_path, analysis_app):
    survey, responses = add_answers(make_survey, make_response)
    out = tmp_path / "report"
    result = runner.invoke(args=["analyze", "--survey", survey.public_key, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model_version"] == analysis_app, result.output
    assert summary["totals"]["labelled_now"] == len([r for r in responses if r.comment]), summary["totals"]
    assert [s["key"] for s in summary["surveys"]] == [survey.public_key]
    assert summary["report_html"] == str(out / "report.html") and (out / "report.html").exists()
    assert isinstance(summary["pain_points"], list)
    misplaced = runner.invoke(args=["analyze", "--json", "classify", "x.csv"])
    assert misplaced.exit_code == 2 and "--json" in misplaced.output, misplaced.output


def test_classify_and_evaluate_take_the_file_as_an_argument(runner, tmp_path, analysis_app):
    src = tmp_path / "in.csv"
    src.write_text("text,gold\nthe agent was rude to me,negative\nquick fix thanks,positive\n")
    out = tmp_path / "out.csv"
    result = runner.invoke(args=["analyze", "classify", str(src), "--text-col", "text", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0].startswith("text,gold,sentiment")
    scored = runner.invoke(args=["analyze", "evaluate", str(src), "--text-col", "text", "--label-col", "gold",
                                 "--task", "sentiment", "--json"])
    assert scored.exit_code == 0 and "accuracy" in json.loads(scored.stdout)
    assert "missing the input CSV FILE" in runner.invoke(
        args=["analyze", "classify", "--text-col", "text", "--out", str(out)]).output
    twice = runner.invoke(args=["analyze", "classify", str(src), "--in", str(src), "--text-col", "text",
                                "--out", str(out)])
    assert twice.exit_code == 2 and "once" in twice.output


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_that_cannot_exist_is_refused_before_anything_is_set_up(runner, port):
    """`flask demo --port 99999` was an OverflowError traceback from bind (after nothing else)."""
    result = runner.invoke(args=["demo", "--port", port, "--no-serve"])
    assert result.exit_code == 2 and "--port" in result.output and "1<=x<=65535" in result.output, result.output


@pytest.mark.parametrize("command", [["invite", "deliver"], ["webhook", "deliver"]])
def test_a_worker_command_gives_back_the_signal_handlers_it_borrowed(runner, command):
    """The workers stop on SIGTERM/Ctrl-C by handlers of their own; once done, the caller's are back."""
    import signal

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    result = runner.invoke(args=command)
    assert result.exit_code == 0, result.output
    assert {signum: signal.getsignal(signum) for signum in before} == before
