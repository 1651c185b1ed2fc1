"""Allowed origins: what counts as one, and `flask survey origins KEY add|remove|list`."""

import json

import pytest

from survey.operations import OperationError
from survey.widget.operations import add_origins, list_origins, normalise_origin, remove_origins


@pytest.mark.parametrize("text, origin", [
    ("https://www.example.com", "https://www.example.com"),
    ("  HTTPS://Shop.Example.COM/ ", "https://shop.example.com"),
    ("https://shop.example.com:443", "https://shop.example.com"),
    ("http://shop.example.com:80", "http://shop.example.com"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://localhost:3000", "http://localhost:3000"),
    ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
    ("https://bücher.example", "https://xn--bcher-kva.example"),
])
def test_origins_are_normalised_as_browsers_send_them(text, origin):
    assert normalise_origin(text) == origin


@pytest.mark.parametrize("text, reason", [
    ("", "cannot be empty"),
    ("www.example.com", "must start with https://"),
    ("ftp://example.com", "must start with https://"),
    ("https://example.com/shop", "without a path"),
    ("https://example.com?x=1", "without a path"),
    ("https://example.com#top", "without a path"),
    ("https://user:pw@example.com", "user name or password"),
    ("https://*.example.com", "wildcards"),
    ("https://example.com:99999", "port"),
    ("https://example.com:0", "port"),
    ("https://exa mple.com", "not a valid host name"),
    ("https://-bad-.example.com", "not a valid host name"),
    ("https://", "no host name"),
    ("null", "must start with https://"),
])
def test_anything_else_is_refused_with_the_reason(text, reason):
    with pytest.raises(OperationError, match=reason):
        normalise_origin(text)


def test_add_is_idempotent_and_all_or_nothing(make_survey):
    survey = make_survey("nps")
    assert add_origins(survey, ["https://a.example", "https://A.example/"]) == ["https://a.example"]
    assert add_origins(survey, ["https://a.example", "https://b.example"]) == ["https://b.example"]
    with pytest.raises(OperationError):
        add_origins(survey, ["https://c.example", "not an origin"])
    assert list_origins(survey) == ["https://a.example", "https://b.example"]
    assert [o.origin for o in survey.origins] == ["https://a.example", "https://b.example"]
    with pytest.raises(OperationError, match="not on the list"):
        remove_origins(survey, ["https://a.example", "https://zzz.example"])
    assert list_origins(survey) == ["https://a.example", "https://b.example"]
    assert remove_origins(survey, ["https://A.example"]) == ["https://a.example"]
    assert list_origins(survey) == ["https://b.example"]


def test_cli_add_list_remove(runner, make_survey):
    survey = make_survey("csat")
    key = survey.public_key
    added = runner.invoke(args=["survey", "origins", key, "add", "https://Shop.example.com/", "http://localhost:8000"])
    assert added.exit_code == 0, added.output
    assert added.output.splitlines() == ["added https://shop.example.com", "added http://localhost:8000"]
    again = runner.invoke(args=["survey", "origins", key, "add", "https://shop.example.com"])
    assert again.output.strip() == "https://shop.example.com was already allowed"
    listed = runner.invoke(args=["survey", "origins", key, "list"])
    assert listed.exit_code == 0 and listed.stdout.splitlines() == ["http://localhost:8000", "https://shop.example.com"]
    as_json = runner.invoke(args=["survey", "origins", key, "list", "--json"])
    assert json.loads(as_json.stdout) == ["http://localhost:8000", "https://shop.example.com"]
    removed = runner.invoke(args=["survey", "origins", key, "remove", "http://localhost:8000"])
    assert removed.exit_code == 0 and removed.stdout.strip() == "removed http://localhost:8000"
    runner.invoke(args=["survey", "origins", key, "remove", "https://shop.example.com"])
    empty = runner.invoke(args=["survey", "origins", key, "list"])
    assert empty.exit_code == 0 and empty.stdout == "" and "accepted on no site" in empty.stderr


def test_cli_takes_keys_that_begin_with_a_dash(runner, make_survey):
    key = make_survey("nps", public_key="-Yx9dash-first_key").public_key
    added = runner.invoke(args=["survey", "origins", key, "add", "https://shop.example.com"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(args=["survey", "origins", key, "list"])
    assert listed.stdout.splitlines() == ["https://shop.example.com"]
    assert runner.invoke(args=["survey", "origins", "--help"]).exit_code == 0


def test_cli_errors_say_what_is_wrong(runner, make_survey):
    key = make_survey("nps").public_key
    bad = runner.invoke(args=["survey", "origins", key, "add", "https://example.com/path"])
    assert bad.exit_code == 2 and "without a path" in bad.stderr
    missing = runner.invoke(args=["survey", "origins", key, "remove", "https://example.com"])
    assert missing.exit_code == 1 and "not on the list" in missing.stderr
    unknown = runner.invoke(args=["survey", "origins", "no-such-key", "list"])
    assert unknown.exit_code == 1 and "no survey has the key" in unknown.stderr
    no_origin = runner.invoke(args=["survey", "origins", key, "add"])
    assert no_origin.exit_code == 2
    no_action = runner.invoke(args=["survey", "origins", key, "replace", "https://x.example"])
    assert no_action.exit_code == 2 and "No such command" in no_action.stderr
