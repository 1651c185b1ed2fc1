"""Where a benchmark's numbers go: one JSON file, written the same way by every benchmark."""

from __future__ import annotations

import json
from pathlib import Path


def write_result(out: Path | str, result: dict) -> Path:
    """Write ``result`` as indented JSON to ``out`` (its folder made if needed) and say where."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return out
