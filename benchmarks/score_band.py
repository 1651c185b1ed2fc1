"""How much the NPS score band helps sentiment (analysis.score_band), on the NPS labelled set.

``--half tuning`` (default): sentiment macro-F1 of the newest model's comment labels
with the band folded in at each exponent of ``--weights`` (0 = text alone), on the
tuning half; :data:`analysis.score_band.SCORE_WEIGHT` is picked from this table.
``--half test``: text alone against the shipped exponent only, with 95% bootstrap
intervals, logged as a look at the test half. Rows without a score stay text-only.

    .venv/bin/python benchmarks/score_band.py [--half tuning|test] [--model-dir models]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.splits import DATA, load_split, record_test_look  # noqa: E402

NPS = "nps_verbatims_labeled.csv"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("tuning", "test"), default="tuning")
    parser.add_argument("--weights", type=float, nargs="+", default=[0, 0.25, 0.5, 0.75, 1.0, 1.5])
    parser.add_argument("--model-dir", default=str(REPO / "models"))
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"SKIP: real data folder {DATA} is absent; nothing to measure.")
        return 0

    from analysis.evaluate import bootstrap_macro_f1, evaluate_predictions
    from analysis.labeller import Labeller
    from analysis.score_band import SCORE_WEIGHT, combined_labels

    labeller = Labeller.load([Path(args.model_dir)])
    rows = load_split(NPS, args.half)
    bands = []
    for r in rows:  # NPS bands: 0-6 detractor, 7-8 passive, 9-10 promoter
        raw = r["nps_score"].strip()
        bands.append(None if not raw else "negative" if int(raw) <= 6 else
                     "neutral" if int(raw) <= 8 else "positive")
    gold = [r["sentiment"] for r in rows]
    labels = labeller.label([r["text"] for r in rows])
    weights = args.weights
    if args.half == "test":
        record_test_look("benchmarks/score_band.py --half test", labeller.version)
        weights = [0.0, SCORE_WEIGHT]
    print(f"model {labeller.version}; {NPS} {args.half} half, n={len(rows)}, "
          f"{sum(b is not None for b in bands)} with a score")
    for w in weights:
        pred = combined_labels(labels, bands, w)
        m = evaluate_predictions(gold, pred, "sentiment")
        ci = ""
        if args.half == "test":
            low, high = bootstrap_macro_f1(gold, pred, "sentiment")
            ci = f" [{low:.3f}, {high:.3f}]"
        print(f"  weight {w:<5} sentiment macro-F1 {m['macro_f1']:.3f}{ci}  accuracy {m['accuracy']:.3f}"
              + ("  (text alone)" if w == 0 else "  (shipped)" if w == SCORE_WEIGHT else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
