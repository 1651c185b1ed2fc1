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
  ``train --labels`` does (grid search included; ``--skip-cv`` to leave out).

The data folder is resolved as ``<repo>/../shared/data``; when it is absent the
script says so and exits 0. The VADER baseline needs the ``bench`` extra
(``.venv/bin/pip install -e '.[bench]'``). Usage::

    .venv/bin/python benchmarks/accuracy.py [--model-dir models] [--skip-cv]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data"
TARGETS = {"sentiment_f1_margin_over_vader": 0.15, "theme_macro_f1": 0.70,
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=str(REPO / "models"))
    parser.add_argument("--version", default=None, help="model version (default: newest)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "accuracy.json"))
    parser.add_argument("--skip-cv", action="store_true", help="leave out the 5-fold airline CV")
    args = parser.parse_args(argv)

    if not DATA.is_dir():
        print(f"SKIP: real data folder {DATA} is absent (it is not part of a clone); "
              "nothing to measure.")
        return 0

    from analysis.evaluate import evaluate_predictions
    from analysis.labeller import Labeller

    labeller = Labeller.load([Path(args.model_dir)], args.version)
    print(f"model {labeller.version} from {args.model_dir}")
    result = {"model_version": labeller.version, "data_dir": "../shared/data",
              "targets": TARGETS, "sentiment": {}, "theme": {}}
    ok = True

    for name in ("airline_tweets_dev.csv", "nps_verbatims_labeled.csv"):
        rows = read_rows(name)
        texts, gold = [r["text"] for r in rows], [r["sentiment"] for r in rows]
        model = evaluate_predictions(gold, [c.sentiment for c in labeller.label(texts)],
                                     "sentiment")
        vader = evaluate_predictions(gold, vader_predict(texts), "sentiment")
        margin = round(model["macro_f1"] - vader["macro_f1"], 4)
        met = margin >= TARGETS["sentiment_f1_margin_over_vader"]
        ok &= met
        result["sentiment"][name] = {"model": model, "vader": vader,
                                     "macro_f1_margin": margin, "target_met": met}
        print(f"sentiment {name:28s} n={len(rows):5d}  model acc {model['accuracy']:.3f} "
              f"F1 {model['macro_f1']:.3f} | VADER acc {vader['accuracy']:.3f} "
              f"F1 {vader['macro_f1']:.3f} | margin {margin:+.3f} "
              f"(target +{TARGETS['sentiment_f1_margin_over_vader']:.2f}) "
              f"{'MET' if met else 'NOT MET'}")

    for name in ("nps_verbatims_labeled.csv", "airline_tweets_labeled.csv"):
        rows = read_rows(name)
        texts, gold = [r["text"] for r in rows], [r["theme"] for r in rows]
        model = evaluate_predictions(gold, [c.theme for c in labeller.label(texts)], "theme")
        met = model["macro_f1"] >= TARGETS["theme_macro_f1"]
        ok &= met
        result["theme"][name] = {"model": model, "target_met": met}
        print(f"theme     {name:28s} n={len(rows):5d}  model acc {model['accuracy']:.3f} "
              f"F1 {model['macro_f1']:.3f} (target {TARGETS['theme_macro_f1']:.2f}) "
              f"{'MET' if met else 'NOT MET'}")

    if not args.skip_cv:
        print("5-fold CV, sentiment pipeline on corpus + airline training folds:")
        cv = cross_validate_airline(labeller, read_rows("airline_tweets_dev.csv"))
        cv["target_met"] = cv["accuracy"] >= TARGETS["cv_airline_accuracy"]
        ok &= cv["target_met"]
        result["cv_airline"] = cv
        print(f"cv        airline_tweets_dev.csv      accuracy {cv['accuracy']:.3f} "
              f"(target {TARGETS['cv_airline_accuracy']:.2f}) "
              f"{'MET' if cv['target_met'] else 'NOT MET'}")

    result["all_targets_met"] = bool(ok)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
