"""Imports go one way (README, "How the code is laid out"): checked on the source, not by convention."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SURVEY = REPO / "survey"
BLUEPRINTS = ("public", "widget", "invites", "auth", "admin", "results", "api", "followup", "alerts")
#: Modules that hold a blueprint's views.
VIEWS = ("routes", "api")
#: Core modules that knowingly reach into features (see the README).
CORE_EXCEPTIONS = {"models_all.py", "demo.py"}


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def test_no_blueprint_imports_another_blueprints_views():
    offending = []
    for package in BLUEPRINTS:
        for path in sorted((SURVEY / package).rglob("*.py")):
            for line, name in imports(path):
                parts = name.split(".")
                if (len(parts) >= 3 and parts[0] == "survey" and parts[1] in BLUEPRINTS and parts[1] != package
                        and parts[2] in VIEWS):
                    offending.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert offending == []


def test_core_modules_import_no_feature():
    offending = []
    for path in sorted(SURVEY.glob("*.py")):
        if path.name in CORE_EXCEPTIONS:
            continue
        for line, name in imports(path):
            parts = name.split(".")
            if len(parts) >= 2 and parts[0] == "survey" and parts[1] in (*BLUEPRINTS, "insights"):
                offending.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert offending == []
