"""deploy/: the systemd units, the compose file, the image and the example configuration hold together."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from gunicorn import config as gunicorn_config

from survey.config import Defaults
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service")) + sorted((DEPLOY / "systemd").glob("*.timer"))
VENV_BIN = "/srv/rapport/venv/bin/"


def exec_start(unit: Path) -> list[str]:
    text = unit.read_text().replace("\\\n", " ")
    (line,) = [l for l in text.splitlines() if l.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def test_every_service_has_its_timer_and_the_web_and_worker_run_for_good():
    names = {unit.name for unit in UNITS}
    assert {"rapport-web.service", "rapport-worker.service"} <= names
    for job in ("analyze", "remind", "bounces"):
        assert {f"rapport-{job}.service", f"rapport-{job}.timer"} <= names
        assert "Type=oneshot" in (DEPLOY / "systemd" / f"rapport-{job}.service").read_text()


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(tmp_path):
    # verify insists that ExecStart's program exists: point the units at this venv's.
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "rapport").exists() or not (bin_dir / "gunicorn").exists():
        pytest.skip(f"{bin_dir} has no rapport or gunicorn script (not installed with pip install -e .)")
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text().replace(VENV_BIN, f"{bin_dir}/"))
    result = subprocess.run(["systemd-analyze", "verify", *sorted(p.name for p in tmp_path.iterdir())],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@pytest.mark.parametrize("unit", [u for u in UNITS if u.suffix == ".service" and u.name != "rapport-web.service"],
                         ids=lambda u: u.stem)
def test_each_unit_runs_a_real_command(unit, tmp_path, monkeypatch, capsys):
    """The unit's arguments, with --help, given to the ``rapport`` console script (in this process:
    a process per unit only imported the app again, ~4 s of CPU each)."""
    from survey.cli import main

    argv = exec_start(unit)
    assert argv[0] == VENV_BIN + "rapport"
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path / "i"))
    monkeypatch.setattr(sys, "argv", ["rapport", *argv[1:], "--help"])
    with pytest.raises(SystemExit) as ended:
        main()
    out, err = capsys.readouterr()
    assert ended.value.code == 0, err
    assert "Usage:" in out


def test_the_web_unit_serves_the_factory_on_loopback():
    argv = exec_start(DEPLOY / "systemd" / "rapport-web.service")
    assert argv[0] == VENV_BIN + "gunicorn" and argv[-1] == "survey:create_app()"
    assert argv[argv.index("--bind") + 1].startswith("127.0.0.1:")


@pytest.mark.skipif(not hasattr(gunicorn_config, "ControlSocket"), reason="gunicorn before 25.1 has no control socket")
def test_the_web_unit_gives_gunicorn_a_writable_place_for_its_control_socket(tmp_path):
    """Under ProtectSystem=strict the home (/srv/rapport) is read-only: gunicorn's control socket,
    in ~/.gunicorn by default, logged an error at every start. The unit's runtime directory takes it."""
    text = (DEPLOY / "systemd" / "rapport-web.service").read_text()
    (runtime,) = re.findall(r"^RuntimeDirectory=(\S+)$", text, re.M)
    assert f"Environment=XDG_RUNTIME_DIR=%t/{runtime}" in text.splitlines()
    run_dir = tmp_path / runtime  # %t is /run for a system service
    run_dir.mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "RAPPORT_INSTANCE_PATH": str(tmp_path / "i"),
           "HOME": "/proc/no-home",  # like the read-only /srv/rapport: nothing can be made there, even by root
           "XDG_RUNTIME_DIR": str(run_dir)}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
                               "--graceful-timeout", "1", "survey:create_app()"],
                              env=env, stderr=subprocess.PIPE, text=True)
    threading.Timer(60, server.terminate).start()  # a gunicorn that never says ends the loop below
    try:
        control = ""
        for line in server.stderr:
            if "ontrol s" in line:  # "Control socket listening at …", or "Control server error: …"
                control = line
                break
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert control.rstrip().endswith(f"[INFO] Control socket listening at {run_dir / 'gunicorn.ctl'}"), control


def test_compose_starts_postgres_then_migrates_once_then_web_and_worker():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "migrate", "web", "worker"}
    assert services["db"]["image"].startswith("postgres:") and services["db"]["healthcheck"]["test"]
    assert services["migrate"]["command"] == ["rapport", "db", "upgrade"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    build = services["migrate"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
    for name in ("web", "worker"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert services[name]["image"] == services["migrate"]["image"]
        env = services[name]["environment"]
        assert env["RAPPORT_SQLALCHEMY_DATABASE_URI"].startswith("postgresql://rapport:${POSTGRES_PASSWORD")
        assert "@db:5432/rapport" in env["RAPPORT_SQLALCHEMY_DATABASE_URI"]
    assert services["worker"]["command"][:3] == ["rapport", "invite", "deliver"]
    assert set(compose["volumes"]) == {"pgdata", "instance"}
    example = dict(line.split("=", 1) for line in (DEPLOY / "env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    required = set(re.findall(r"\$\{(\w+):\?", (DEPLOY / "compose.yaml").read_text()))
    assert required <= set(example), required - set(example)


def test_the_image_installs_the_wheel_and_checks_health():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "pip wheel" in dockerfile and "pip install /wheels/*.whl" in dockerfile
    assert "/healthz" in dockerfile and "USER rapport" in dockerfile


def docker_daemon() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not docker_daemon(), reason="no Docker daemon on this machine (the client alone cannot build)")
def test_the_image_builds():
    result = subprocess.run(["docker", "build", "-f", "deploy/Dockerfile", "-t", "rapport:test", "."], cwd=REPO,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]


def example_settings() -> dict[str, str]:
    text = (REPO / "instance" / "config.py.example").read_text()
    return dict(re.findall(r"^# ?([A-Z][A-Z0-9_]+) = (.+?)(?:[ \t]+#.*)?$", text, re.MULTILINE))


def test_the_example_configuration_explains_every_setting():
    documented = example_settings()
    settings = {name for name in vars(Defaults) if name.isupper()}
    settings |= {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "SESSION_COOKIE_SECURE"}
    settings |= {f"PROXY_FIX_X_{part}" for part in ("FOR", "PROTO", "HOST", "PREFIX")}
    assert not settings - set(documented), sorted(settings - set(documented))


def test_the_example_configuration_shows_the_real_defaults(tmp_path, monkeypatch):
    shown = example_settings()
    for name in vars(Defaults):
        if name.isupper():
            assert eval(shown[name]) == getattr(Defaults, name), name  # noqa: S307 (our own file)
    # Uncommented as a whole, it is a config.py the app loads.
    (tmp_path / "config.py").write_text("\n".join(f"{k} = {v}" for k, v in shown.items()) + "\n")
    monkeypatch.setenv("RAPPORT_INSTANCE_PATH", str(tmp_path))
    from survey import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    assert app.config["MAIL_BATCH_SIZE"] == Defaults.MAIL_BATCH_SIZE


def test_every_units_documentation_file_is_put_there_by_the_readme_steps():
    """rapport-web.service named /srv/rapport/README.md, which no install step put there."""
    readme = (REPO / "README.md").read_text()
    for unit in sorted((REPO / "deploy" / "systemd").glob("*.service")):
        for path in re.findall(r"^Documentation=file://(\S+)$", unit.read_text(), flags=re.M):
            assert re.search(rf"^install [^\n]* {re.escape(path)}\b", readme, flags=re.M), (unit.name, path)
