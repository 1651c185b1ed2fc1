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


def build(kind: str, out: Path) -> Path:
    """Build through .ci/build-dist, as CI does: from a clean copy, so no test writes build/ into the tree."""
    subprocess.run(["bash", str(REPO / ".ci" / "build-dist"), kind, str(out), sys.executable],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("rapport-*.whl" if kind == "wheel" else "rapport-*.tar.gz")
    return built


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    """The wheel and the sdist, built once for this module's tests (each build takes a good 10 s),
    and ``"left"``: the names building them added to the source tree."""
    before = {p.name for p in REPO.iterdir()}
    out = tmp_path_factory.mktemp("dist")
    made = {"wheel": build("wheel", out / "wheel"), "sdist": build("sdist", out / "sdist")}
    made["left"] = {p.name for p in REPO.iterdir()} - before
    return made


@pytest.fixture(scope="module")
def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return config


def test_wheel_carries_models_corpus_and_data_files(built):
    wheel = built["wheel"]
    check = subprocess.run([sys.executable, str(REPO / ".ci" / "wheel-contents"), str(wheel), str(REPO)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr[:3000]
    inside = set(zipfile.ZipFile(wheel).namelist())
    assert any(name.startswith("rapport_models/corpus/") and name.endswith(".csv") for name in inside)
    assert "rapport_models/facets/complaint_facets.csv" in inside
    assert any(name.endswith("/licenses/LICENSE") or name.endswith("/LICENSE") for name in inside)


def test_sdist_carries_models_deploy_and_the_licence(built):
    sdist = built["sdist"]
    with tarfile.open(sdist) as tar:
        inside = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for name in ("LICENSE", "setup.py", "setup.cfg", "instance/config.py.example", "deploy/compose.yaml",
                 "models/MODEL_CARD.md", "models/corpus/survey_answers.csv"):
        assert name in inside, name
    models = {p.relative_to(REPO).as_posix() for p in (REPO / "models").rglob("*") if p.is_file()}
    assert models <= inside


def test_building_leaves_no_build_folder_or_egg_info_in_the_tree(built):
    """An in-place build's build/ and *.egg-info were shared with every later or concurrent build."""
    assert not built["left"], built["left"]


def test_the_contents_check_names_what_a_wheel_lacks(tmp_path):
    """What CI prints when a wheel comes out without a package: the missing files and the wheel's list."""
    wheel = tmp_path / "rapport-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as out:
        out.writestr("survey/__init__.py", "")
    check = subprocess.run([sys.executable, str(REPO / ".ci" / "wheel-contents"), str(wheel), str(REPO)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 1
    assert "analysis/__init__.py" in check.stderr and "the wheel's 1 files" in check.stderr


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


def test_the_readme_names_the_python_the_package_requires(setup_cfg):
    """A fresh machine's first question: which Python. The README says it once; the metadata decides."""
    minimum = setup_cfg["options"]["python_requires"].removeprefix(">=")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    setup_section = readme.split("## Set-up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    assert f"Python {minimum} or newer" in setup_section and "python3-venv" in setup_section
