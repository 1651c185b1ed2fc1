"""The benchmarks' draw of other dev tweets (benchmarks/splits.py), on made-up files.

``dev_tweets`` is the check that a tuning-half gain carries to other tweets, so it must never
hand back a labelled tweet and must draw the same rows on every run; no shared data is read here.
"""

from __future__ import annotations

import csv

from benchmarks.splits import dev_tweets


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "sentiment", "text"])
        w.writeheader()
        w.writerows(rows)


def test_other_dev_tweets_leave_the_labelled_ones_out_and_are_the_same_every_time(tmp_path):
    rows = [{"id": str(k), "sentiment": "negative", "text": f"tweet {k}"} for k in range(50)]
    _write(tmp_path / "airline_tweets_dev.csv", rows)
    _write(tmp_path / "airline_tweets_labeled.csv", rows[:10])
    drawn = dev_tweets(30, tmp_path)
    ids = [r["id"] for r in drawn]
    assert len(ids) == 30 == len(set(ids))
    assert not set(ids) & {str(k) for k in range(10)}
    assert ids != sorted(ids, key=int)  # a shuffled draw, not the file's first rows
    assert [r["id"] for r in dev_tweets(30, tmp_path)] == ids
    # asking for more than there are gives every unlabelled tweet once
    assert sorted(int(r["id"]) for r in dev_tweets(500, tmp_path)) == list(range(10, 50))
    # a larger draw starts with the smaller one, so results at 3,000 and 4,000 nest
    assert [r["id"] for r in dev_tweets(40, tmp_path)][:30] == ids
