"""What an operator installs: the wheel and the sdist carry the models, the corpus and every data file.

`.ci/wheel-check` (run by `.ci/test`) goes further: it installs the wheel into a
fresh venv outside the source tree and runs `rapport analyze` and `classify` there.
"""

from __future__ import annotations

import configparser
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED = ("survey", "analysis", "models")


def shipped_files() -> set[str]:
    """Every file of the packages and of models/, as it is named inside a wheel."""
    names = set()
    for top in SHIPPED:
        for path in (REPO / top).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                name = path.relative_to(REPO).as_posix()
                names.add("rapport_models" + name[len("models"):] if top == "models" else name)
    return names


@pytest.fixture(scope="module")
def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return config


def test_wheel_carries_models_corpus_and_data_files(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("rapport-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    missing = shipped_files() - inside
    assert not missing, f"not in the wheel: {sorted(missing)[:20]}"
    assert any(name.startswith("rapport_models/corpus/") and name.endswith(".csv") for name in inside)
    assert any(name.endswith("/licenses/LICENSE") or name.endswith("/LICENSE") for name in inside)


def test_sdist_carries_models_deploy_and_the_licence(tmp_path):
    subprocess.run([sys.executable, "setup.py", "--quiet", "sdist", "--dist-dir", str(tmp_path)],
                   cwd=REPO, check=True, capture_output=True, timeout=300)
    (sdist,) = tmp_path.glob("rapport-*.tar.gz")
    with tarfile.open(sdist) as tar:
        inside = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for name in ("LICENSE", "setup.py", "setup.cfg", "instance/config.py.example", "deploy/compose.yaml",
                 "models/MODEL_CARD.md", "models/corpus/survey_answers.csv"):
        assert name in inside, name
    models = {p.relative_to(REPO).as_posix() for p in (REPO / "models").rglob("*") if p.is_file()}
    assert models <= inside


def test_dependencies_are_declared_where_they_are_used(setup_cfg):
    requires = setup_cfg["options"]["install_requires"]
    assert "threadpoolctl" in requires  # imported by analysis.train and analysis.painpoints
    assert "flufl.bounce" in requires
    extras = setup_cfg["options.extras_require"]
    assert "vaderSentiment" not in extras["test"]  # only benchmarks/accuracy.py uses it
    assert "vaderSentiment" in extras["bench"]


def test_licence_file_matches_the_metadata(setup_cfg):
    assert setup_cfg["metadata"]["license"] == "MIT"
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Rapport contributors" in text
