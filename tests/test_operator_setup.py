"""What an operator meets first: nothing written by merely loading the app, the key made when
first needed (and a clear message when it cannot be read), HTTPS settings that hold."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from survey import create_app
from survey.db import db
from survey.instance import InstanceError
from tests.conftest import REPO
from tests.dashboard_support import PASSWORD, make_user


def flask_cli(*args: str, instance, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "RAPPORT_INSTANCE_PATH": str(instance),
           **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "survey", *args], env=env, cwd=instance.parent,
                          capture_output=True, text=True, timeout=120)


LOADING_ONLY = [("--help",), ("survey", "--help"), ("invite", "send", "--help"), ("routes",)]
# Runs `flask --app survey ARGS` for each of LOADING_ONLY, one after the other in one fresh process
# (a process each only imported the app again), each with an instance folder of its own; prints, per
# command, its exit status and whether its instance folder exists afterwards.
EACH_IN_TURN = """
import json, os, sys
from flask.cli import cli

done = []
for args, instance in json.loads(sys.argv[1]):
    os.environ["RAPPORT_INSTANCE_PATH"] = instance
    try:
        cli.main(args=["--app", "survey", *args], prog_name="flask")
        status = 0
    except SystemExit as exit:
        status = exit.code or 0
    done.append([status, os.path.exists(instance)])
print(json.dumps(done))
"""


@pytest.fixture(scope="module")
def loaded_only(tmp_path_factory) -> tuple[dict[tuple[str, ...], tuple[int, bool]], str]:
    """``args -> (exit status, instance folder exists)`` for each of LOADING_ONLY, and the process's stderr."""
    root = tmp_path_factory.mktemp("loading")
    plan = [[list(args), str(root / f"instance-{n}")] for n, args in enumerate(LOADING_ONLY)]
    result = subprocess.run([sys.executable, "-c", EACH_IN_TURN, json.dumps(plan)], cwd=root, capture_output=True,
                            text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    return ({args: tuple(done) for args, done in zip(LOADING_ONLY, json.loads(result.stdout.splitlines()[-1]))},
            result.stderr)


@pytest.mark.parametrize("args", LOADING_ONLY)
def test_loading_the_app_writes_nothing(loaded_only, args):
    done, stderr = loaded_only
    status, instance_made = done[args]
    assert status == 0, stderr
    assert not instance_made


def test_the_folder_comes_with_the_database_and_the_key_with_the_first_signature(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    result = flask_cli("db", "upgrade", instance=instance)
    assert result.returncode == 0, result.stderr
    assert (instance / "rapport.db").exists() and not (instance / "secret_key").exists()
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("RAPPORT_SECRET_KEY", raising=False)
    app = create_app()
    assert not (instance / "secret_key").exists()
    assert app.test_client().get("/login").status_code == 200  # the form's CSRF token signs
    key = (instance / "secret_key").read_text().strip()
    assert len(key) == 64 and app.secret_key == key and app.config.get("SECRET_KEY") == key
    assert oct((instance / "secret_key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("made_by", ["secret key", "database"])
def test_the_instance_folder_rapport_makes_is_not_for_every_user(tmp_path, monkeypatch, made_by):
    """mkdir's default (0755 under the usual umask) let every local user list the instance folder and read
    the reports and .eml files written into it; it is now 0750, as deploy/ makes it."""
    import os

    instance = tmp_path / "instance"
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("RAPPORT_SECRET_KEY", raising=False)
    old_umask = os.umask(0o022)
    try:
        app = create_app()
        if made_by == "secret key":
            app.secret_key  # noqa: B018
        else:
            with app.app_context():
                db.engine.connect().close()
    finally:
        os.umask(old_umask)
    assert oct(instance.stat().st_mode & 0o777) == "0o750"


def test_an_unreadable_key_says_what_to_do(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    (instance / "secret_key").mkdir(parents=True)  # unreadable as a file, even for root
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("RAPPORT_SECRET_KEY", raising=False)
    app = create_app()
    with pytest.raises(InstanceError) as caught:
        app.secret_key  # noqa: B018
    message = caught.value.format_message()
    assert str(instance / "secret_key") in message and "chown" in message and "RAPPORT_SECRET_KEY" in message
    with pytest.raises(InstanceError):
        app.config["SECRET_KEY"]  # noqa: B018
    app.testing = False
    response = app.test_client().get("/login")
    assert response.status_code == 500 and b"secret_key" not in response.data


def test_https_scheme_from_the_environment_makes_the_session_cookie_secure(app_config, tmp_path, monkeypatch):
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "https-site"))
    monkeypatch.setenv("RAPPORT_PREFERRED_URL_SCHEME", "https")
    app_config.pop("PREFERRED_URL_SCHEME", None)
    app = create_app(app_config)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    with app.app_context():
        import survey.models_all  # noqa: F401

        db.create_all()
        user = make_user("analyst")
        # Plain http on purpose: the cookie must be Secure because of the setting, not the request.
        response = app.test_client().post("http://localhost/login",
                                          data={"email": user.email, "password": PASSWORD})
        cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
        assert cookies and "Secure" in cookies[-1]
        db.session.remove()
        db.drop_all()


def test_the_demo_says_how_to_pick_another_port_when_its_port_is_busy(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = flask_cli("demo", "--port", str(port), instance=tmp_path / "instance")
    assert result.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr and f"--port {port + 1}" in result.stderr
    assert "Traceback" not in result.stderr
