"""The one tuning/test split of each shared labelled set, defined once.

``../shared/data/nps_verbatims_labeled.csv`` and ``airline_tweets_labeled.csv``
(250 rows each) are split into a **tuning half** and a **test half**:

* by ``id`` only: within each gold ``sentiment/theme`` stratum the rows are
  ordered by SHA-256 of ``"<SPLIT_SEED>:<id>"`` and dealt alternately to
  tuning and test, so the split does not depend on row order, keeps the rare
  classes (NPS has 24 neutral and 30 care rows) in both halves, and is the
  same on every machine;
* the corpus, features and parameters may only change while looking at the
  tuning half; the test half is for the numbers in ``models/MODEL_CARD.md``.

Every script that scores the test half calls :func:`record_test_look`, which
appends a line to ``benchmarks/test_half_looks.jsonl`` (kept in git), so the
model card can say how often the test half was looked at.

Nothing here copies text from the shared data: rows are read by path.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
LABELLED_SETS = ("nps_verbatims_labeled.csv", "airline_tweets_labeled.csv")
SPLIT_SEED = 20261206
LOOKS_FILE = REPO / "benchmarks" / "test_half_looks.jsonl"


def read_rows(name: str, data_dir: Path = DATA) -> list[dict]:
    with open(Path(data_dir) / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _order_key(row_id: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{row_id}".encode("utf-8")).hexdigest()


def split_rows(rows: list[dict], seed: int = SPLIT_SEED) -> tuple[list[dict], list[dict]]:
    """``(tuning, test)``: stratified on ``sentiment/theme``, decided by id hash only."""
    strata: dict[str, list[dict]] = {}
    for row in rows:
        strata.setdefault(f"{row['sentiment']}/{row['theme']}", []).append(row)
    tuning, test = [], []
    offset = 0  # alternate the first pick across strata so odd strata even out
    for key in sorted(strata):
        ordered = sorted(strata[key], key=lambda r: _order_key(r["id"], seed))
        for k, row in enumerate(ordered):
            (tuning if (k + offset) % 2 == 0 else test).append(row)
        offset += len(ordered) % 2
    by_id = lambda r: r["id"]  # noqa: E731
    return sorted(tuning, key=by_id), sorted(test, key=by_id)


def load_split(name: str, half: str, data_dir: Path = DATA) -> list[dict]:
    """Rows of ``half`` ("tuning", "test" or "all") of the labelled set ``name``."""
    if name not in LABELLED_SETS:
        raise ValueError(f"{name!r} is not one of the labelled sets {LABELLED_SETS}")
    rows = read_rows(name, data_dir)
    if half == "all":
        return rows
    tuning, test = split_rows(rows)
    if half == "tuning":
        return tuning
    if half == "test":
        return test
    raise ValueError(f"half must be 'tuning', 'test' or 'all', not {half!r}")


def dev_tweets(n: int, data_dir: Path = DATA) -> list[dict]:
    """``n`` tweets of ``airline_tweets_dev.csv`` outside the labelled set (seeded draw).

    Crowd sentiment, no theme: a sentiment sample far larger than a 125-row
    half, never used for tuning, so a gain seen on the tuning half can be
    checked on other tweets of the same source.
    """
    import random

    labelled = {r["id"] for r in read_rows("airline_tweets_labeled.csv", data_dir)}
    dev = [r for r in read_rows("airline_tweets_dev.csv", data_dir) if r["id"] not in labelled]
    random.Random(0).shuffle(dev)
    return dev[:n]


def record_test_look(purpose: str, model_version: str | None = None) -> int:
    """Append one look at the test halves to the log; return how many there have been."""
    entry = {"when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
             "purpose": purpose, "model_version": model_version}
    with open(LOOKS_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")
    return test_looks()


def test_looks() -> int:
    if not LOOKS_FILE.exists():
        return 0
    return sum(1 for line in LOOKS_FILE.read_text(encoding="utf-8").splitlines() if line.strip())


if __name__ == "__main__":
    for name in LABELLED_SETS:
        if not DATA.is_dir():
            print(f"SKIP: {DATA} is absent")
            break
        tuning, test = split_rows(read_rows(name))
        print(f"{name}: tuning {len(tuning)}, test {len(test)}; test looks so far: {test_looks()}")
