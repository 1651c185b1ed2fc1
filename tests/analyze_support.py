"""Helpers for the ``flask analyze`` tests: one small model, apps that use it, data.

The model is trained once per test session on ``tests/fixtures/analyze_corpus.csv``
(our own sentences), so the tests never depend on the shipped model's quality.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = FIXTURES / "analyze_corpus.csv"

# (score, comment) answers for an NPS survey: complaints that repeat, praise, a
# promoter's one complaint inside praise, PII, and a score-only answer.
NPS_ANSWERS = [
    (0, "I was on hold for two hours before anyone answered. Call me on 07700 900123."),
    (2, "on hold for two hours and then cut off"),
    (1, "on hold for two hours, nobody kept me informed"),
    (3, "waited on hold for two hours to change my address"),
    (4, "the engineer never turned up and nobody called me back"),
    (2, "engineer never turned up for the installation"),
    (5, "the engineer never turned up, write to ana.lopez@example.com"),
    (9, "the engineer was lovely but it took three months to get connected"),
    (10, "the engineer fixed it in under an hour, great value for the price"),
    (9, "friendly staff and the installation went smoothly"),
    (10, "=HYPERLINK(\"http://evil.example\",\"click\") staff were kind"),
    (8, None),
    (7, "the price is fair"),
    (6, "the app crashes whenever I open it"),
]


# Each test module that imports the fixture gets its own copy of it, so the
# model itself is kept here: trained once per test session, not once per module.
_TRAINED: dict[str, tuple[Path, str]] = {}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> tuple[Path, str]:
    """``(folder, version)`` of a model trained on the fixture corpus."""
    from analysis.train import train_models

    if "model" not in _TRAINED:
        folder = tmp_path_factory.mktemp("analyze-models")
        _TRAINED["model"] = folder, train_models([CORPUS], out_dir=folder, seed=0)
    return _TRAINED["model"]


@pytest.fixture
def analysis_app(tiny_model, app_config, tmp_path, monkeypatch):
    """The ``app`` fixture with the tiny model installed in its instance folder and pinned."""
    folder, version = tiny_model
    models = tmp_path / "instance" / "models"
    models.mkdir(parents=True, exist_ok=True)
    for path in folder.glob(f"*{version}*"):
        shutil.copy(path, models / path.name)
    app_config["ANALYSIS_MODEL_VERSION"] = version
    return version


def add_answers(make_survey, make_response, answers=NPS_ANSWERS, kind="nps", start=dt.datetime(2024, 1, 1)):
    """A survey with ``answers``, one a day from ``start``; returns ``(survey, [responses])``."""
    survey = make_survey(kind)
    responses = [
        make_response(survey, score=score, comment=comment, created_at=start + dt.timedelta(days=i))
        for i, (score, comment) in enumerate(answers)
    ]
    return survey, responses


def read_report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text(encoding="utf-8"))
