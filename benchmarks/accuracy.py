"""Accuracy of the default model on the real feedback in ../shared/data.

Prints a table and writes JSON (default ``benchmarks/results/accuracy.json``):

* sentiment accuracy and macro-F1 of the model's comment labels on
  ``airline_tweets_dev.csv`` and ``nps_verbatims_labeled.csv``, beside the
  VADER lexicon baseline on the same rows (NLTK's ``SentimentIntensityAnalyzer``
  with the lexicon from the ``vaderSentiment`` package; compound >= 0.05
  positive, <= -0.05 negative, else neutral);
* theme macro-F1 on ``nps_verbatims_labeled.csv`` and ``airline_tweets_labeled.csv``;
* 5-fold cross-validated accuracy on ``airline_tweets_dev.csv`` of the sentiment
  pipeline trained on the corpus plus the airline training folds, i.e. what
  ``train --labels`` does (grid search included; only with ``--airline-cv``);
* with ``--dev-tweets N``: sentiment and the VADER margin on N other tweets of
  ``airline_tweets_dev.csv`` (outside the labelled set), a check that a gain
  on the 125-row tuning half is not that half's own.

The data folder is resolved as ``<repo>/../shared/data``; when it is absent the
script says so and exits 0. The VADER baseline needs the ``bench`` extra
(``.venv/bin/pip install -e '.[bench]'``). Usage::

    .venv/bin/python benchmarks/accuracy.py [--model-dir models] [--dev-tweets 4000] [--airline-cv]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.output import write_result  # noqa: E402

DATA = REPO.parent / "shared" / "data"
TARGETS = {"sentiment_f1_margin_over_vader": 0.18, "theme_macro_f1": 0.75,
           "cv_airline_accuracy": 0.80}


def read_rows(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def vader_predict(texts: list[str]) -> list[str]:
    """The VADER baseline through NLTK, with the lexicon of the vaderSentiment package."""
    import importlib.util

    import nltk
    from nltk.sentiment.vader import SentimentIntensityAnalyzer

    spec = importlib.util.find_spec("vaderSentiment")
    if spec is None:
        raise SystemExit("the VADER baseline needs the vaderSentiment package "
                         "(pip install -e '.[test]')")
    folder = list(spec.submodule_search_locations)[0]
    if folder not in nltk.data.path:
        nltk.data.path.append(folder)
    sia = SentimentIntensityAnalyzer(lexicon_file="file:" + os.path.join(folder, "vader_lexicon.txt"))
    out = []
    for t in texts:
        c = sia.polarity_scores(t)["compound"]
        out.append("positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral")
    return out


def cross_validate_airline(labeller, rows: list[dict], folds: int = 5, seed: int = 0) -> dict:
    """Per fold: sentiment pipeline on corpus + airline training folds, scored on the rest."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    from analysis.corpus import load_corpus
    from analysis.evaluate import evaluate_predictions
    from analysis.labeller import Labeller
    from analysis.train import fit_task

    corpus = load_corpus()
    texts = np.array([r["text"] for r in rows], dtype=object)
    gold = np.array([r["sentiment"] for r in rows])
    accs, f1s, secs = [], [], []
    for k, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed)
                                 .split(texts, gold)):
        t0 = time.perf_counter()
        pipe, info = fit_task("sentiment", corpus.texts + list(texts[tr]),
                              corpus.sentiment + list(gold[tr]), seed=seed)
        fold_labeller = Labeller({"sentiment": pipe, "theme": labeller.pipelines["theme"]},
                                 version=f"cv-fold-{k}")
        pred = [c.sentiment for c in fold_labeller.label(list(texts[te]))]
        m = evaluate_predictions(list(gold[te]), pred, "sentiment")
        accs.append(m["accuracy"])
        f1s.append(m["macro_f1"])
        secs.append(round(time.perf_counter() - t0, 1))
        print(f"  fold {k}: accuracy {m['accuracy']:.3f} macro-F1 {m['macro_f1']:.3f} "
              f"({info['best_params']}, {secs[-1]}s)", flush=True)
    return {"folds": folds, "seed": seed, "accuracy_per_fold": accs,
            "accuracy": round(float(np.mean(accs)), 4),
            "macro_f1": round(float(np.mean(f1s)), 4), "seconds_per_fold": secs}


def score_set(labeller, rows: list[dict], with_ci: bool) -> dict:
    """Sentiment (model and VADER) and theme macro-F1 of ``labeller`` on ``rows``."""
    from analysis.evaluate import bootstrap_macro_f1, evaluate_predictions

    texts = [r["text"] for r in rows]
    labels = labeller.label(texts)
    out = {"n": len(rows)}
    for task in ("sentiment", "theme"):
        gold = [r[task] for r in rows]
        pred = [getattr(c, task) for c in labels]
        out[task] = evaluate_predictions(gold, pred, task)
        if with_ci:
            out[task]["macro_f1_ci95"] = bootstrap_macro_f1(gold, pred, task)
    gold = [r["sentiment"] for r in rows]
    vader_pred = vader_predict(texts)
    out["vader"] = evaluate_predictions(gold, vader_pred, "sentiment")
    if with_ci:
        out["vader"]["macro_f1_ci95"] = bootstrap_macro_f1(gold, vader_pred, "sentiment")
        out["margin_ci95"] = bootstrap_margin(gold, [getattr(c, "sentiment") for c in labels],
                                              vader_pred)
    out["margin"] = round(out["sentiment"]["macro_f1"] - out["vader"]["macro_f1"], 4)
    return out


def bootstrap_margin(gold, model_pred, vader_pred, n_boot: int = 2000, seed: int = 0):
    """95% paired bootstrap interval of (model macro-F1 - VADER macro-F1)."""
    import numpy as np
    from sklearn.metrics import f1_score

    gold, a, b = map(np.asarray, (gold, model_pred, vader_pred))
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        i = rng.integers(0, len(gold), len(gold))
        diffs.append(f1_score(gold[i], a[i], average="macro", zero_division=0)
                     - f1_score(gold[i], b[i], average="macro", zero_division=0))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def _count(text: str) -> int:
    """``--dev-tweets``: a whole number, 0 or more."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of tweets (0 or more)")
    return int(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=str(REPO / "models"))
    parser.add_argument("--version", default=None, help="model version (default: newest)")
    parser.add_argument("--half", choices=("tuning", "test"), default="tuning",
                        help="which half of each labelled set (benchmarks/splits.py) to score; "
                             "'test' is logged in benchmarks/test_half_looks.jsonl")
    parser.add_argument("--purpose", default="",
                        help="with --half test: why the test half is looked at (goes in the log)")
    parser.add_argument("--out", default=None,
                        help="JSON output (default benchmarks/results/accuracy-<half>.json)")
    parser.add_argument("--dev-tweets", type=_count, default=0,
                        help="also sentiment on this many other tweets of airline_tweets_dev.csv "
                             "(seeded draw, the 250 labelled tweets left out), beside VADER")
    parser.add_argument("--airline-cv", action="store_true",
                        help="also the 5-fold CV on airline_tweets_dev.csv (about 8 minutes)")
    args = parser.parse_args(argv)

    if not DATA.is_dir():
        print(f"SKIP: real data folder {DATA} is absent (it is not part of a clone); "
              "nothing to measure.")
        return 0

    from analysis.labeller import Labeller
    from benchmarks.splits import LABELLED_SETS, load_split, record_test_look

    labeller = Labeller.load([Path(args.model_dir)], args.version)
    with_ci = args.half == "test"
    print(f"model {labeller.version} from {args.model_dir}; {args.half} halves")
    if with_ci:
        looks = record_test_look(args.purpose or "benchmarks/accuracy.py --half test",
                                 labeller.version)
        print(f"test halves looked at {looks} time(s) so far (benchmarks/test_half_looks.jsonl)")
    result = {"model_version": labeller.version, "data_dir": "../shared/data", "half": args.half,
              "targets": TARGETS, "sets": {}}
    ok = True
    for name in LABELLED_SETS:
        rows = load_split(name, args.half)
        r = score_set(labeller, rows, with_ci)
        r["margin_met"] = r["margin"] >= TARGETS["sentiment_f1_margin_over_vader"]
        r["theme_met"] = r["theme"]["macro_f1"] >= TARGETS["theme_macro_f1"]
        ok &= r["margin_met"] and r["theme_met"]
        result["sets"][name] = r
        ci = (lambda d: f" [{d['macro_f1_ci95'][0]:.3f}, {d['macro_f1_ci95'][1]:.3f}]") if with_ci \
            else (lambda d: "")
        print(f"{name:28s} n={r['n']:4d}  sentiment F1 {r['sentiment']['macro_f1']:.3f}"
              f"{ci(r['sentiment'])} | VADER {r['vader']['macro_f1']:.3f}{ci(r['vader'])} | "
              f"margin {r['margin']:+.3f}"
              + (f" [{r['margin_ci95'][0]:+.3f}, {r['margin_ci95'][1]:+.3f}]" if with_ci else "")
              + f" ({'MET' if r['margin_met'] else 'NOT MET'}) | theme F1 "
              f"{r['theme']['macro_f1']:.3f}{ci(r['theme'])} "
              f"({'MET' if r['theme_met'] else 'NOT MET'})")

    if args.dev_tweets:
        from analysis.evaluate import evaluate_predictions
        from benchmarks.splits import dev_tweets

        rows = dev_tweets(args.dev_tweets)
        texts, gold = [r["text"] for r in rows], [r["sentiment"] for r in rows]
        model = evaluate_predictions(gold, [c.sentiment for c in labeller.label(texts)], "sentiment")
        vader = evaluate_predictions(gold, vader_predict(texts), "sentiment")
        dev = {"n": len(rows), "sentiment": model, "vader": vader,
               "margin": round(model["macro_f1"] - vader["macro_f1"], 4)}
        result["dev_tweets"] = dev
        print(f"{'other dev tweets':28s} n={len(rows):4d}  sentiment F1 {model['macro_f1']:.3f} | "
              f"VADER {vader['macro_f1']:.3f} | margin {dev['margin']:+.3f} (not a target: a check)")

    if args.airline_cv:
        print("5-fold CV, sentiment pipeline on corpus + airline training folds:")
        cv = cross_validate_airline(labeller, read_rows("airline_tweets_dev.csv"))
        cv["target_met"] = cv["accuracy"] >= TARGETS["cv_airline_accuracy"]
        result["cv_airline"] = cv
        print(f"cv        airline_tweets_dev.csv      accuracy {cv['accuracy']:.3f} "
              f"(target {TARGETS['cv_airline_accuracy']:.2f}) "
              f"{'MET' if cv['target_met'] else 'NOT MET'}")

    result["all_targets_met"] = bool(ok)
    write_result(Path(args.out or REPO / "benchmarks" / "results" / f"accuracy-{args.half}.json"), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
