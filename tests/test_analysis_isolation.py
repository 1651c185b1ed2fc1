"""``analysis/`` is the ML only: none of its modules imports Flask or ``survey``.

Two checks: every module imports in a fresh interpreter in which ``flask``
(and ``flask_*``) and ``survey`` cannot be imported at all; and no module
names either of them in any import statement, including the imports inside
functions that an import alone would not run.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import analysis

REPO = Path(__file__).resolve().parent.parent
ANALYSIS = Path(analysis.__file__).resolve().parent
BLOCKED = ("flask", "survey")


def analysis_modules() -> list[str]:
    names = ["analysis"] + [m.name for m in pkgutil.walk_packages([str(ANALYSIS)], prefix="analysis.")]
    assert len(names) > 10, names  # the walk found the package, not nothing
    return sorted(names)


def test_every_module_of_analysis_imports_with_flask_and_survey_blocked():
    modules = analysis_modules()
    code = f"""
import importlib, importlib.abc, json, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        root = name.split(".")[0]
        if root in {BLOCKED!r} or root.startswith("flask_"):
            raise ImportError(f"blocked: {{name}}")
        return None

sys.meta_path.insert(0, Block())
failed = {{}}
for name in {modules!r}:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{{type(exc).__name__}}: {{exc}}"
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {BLOCKED!r} or m.startswith("flask_"))
print(json.dumps({{"failed": failed, "loaded": loaded}}))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"failed": {}, "loaded": []}


def test_no_module_of_analysis_names_flask_or_survey_in_an_import():
    offending = []
    for path in sorted(ANALYSIS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                if root in BLOCKED or root.startswith("flask_"):
                    offending.append(f"{path.relative_to(REPO)}:{node.lineno} imports {name}")
    assert offending == []


def test_the_web_app_starts_without_nltk():
    """nltk's package import loads scipy.stats and scikit-learn (about a second of CPU and a thousand
    modules): every web worker and test process paid it for the tokenizer and the duration words,
    which need none of it. The pipelines import it at their first stem."""
    code = """
import json, sys
from survey import create_app
create_app({"TESTING": True, "SECRET_KEY": "isolation-test-0123456789abcdefghij", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
print(json.dumps(sorted(m for m in ("nltk", "scipy.stats", "sklearn") if m in sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_duration_words_are_known_by_their_written_forms_before_any_other_word():
    """They were stemmed at import, so their shortest written form ("hour") named a stem before any text's
    ("hours"); stemmed at the first stem now, that must still hold."""
    code = """
from analysis import complaint_terms as terms
terms.stem("hours")
print(terms.surface(terms.stem("hours")), terms.is_duration_only(terms.stem("hours")))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["hour", "True"]
