"""A/B of the word-vector feature block against today's features, tuning halves only.

For each ``--weights`` value (0 = today's features: hashed word and char
n-grams plus the lexicon block) the sentiment and theme pipelines are trained
on the shipped corpus with the ``C`` of the model in ``--model-dir``, the
word-vector block (:class:`analysis.features.WordVectorMeans`, mean of the
pretrained vectors in ``models/word_vectors``) added at that weight, and the
tuning half of each labelled set (``benchmarks/splits.py``) is labelled with
the comment-level rule. Printed: sentiment macro-F1 and its margin over VADER,
theme macro-F1, per set (``--dev-tweets N``: also sentiment on N other tweets
of the same source). The features of the corpus are computed once; only
the classifiers are refit per weight. Never reads the test halves.

Usage::

    nice -n 10 .venv/bin/python benchmarks/word_vector_block.py --weights 0 0.5 1 2
    # another vector table (analysis.distill_vectors --out DIR --corpus-vocabulary):
    nice -n 10 .venv/bin/python benchmarks/word_vector_block.py --vectors DIR --weights 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.output import write_result  # noqa: E402
from benchmarks.splits import DATA, LABELLED_SETS, load_split  # noqa: E402


def pipeline_with_block(task: str, params: dict, weight: float, dims: int, negation: str,
                        clusters: int = 0, norm: str = "l2"):
    """``build_pipeline(task)`` with the word-vector block at ``weight`` (0: left out):
    mean vectors, or with ``clusters`` a bag of that many word clusters."""
    from analysis.vector_features import WordClusters
    from analysis.pipelines import build_features, build_pipeline

    pipe = build_pipeline(task).set_params(**params)
    if clusters:
        union = build_features(None)
        if weight:
            union.transformer_list.append(("clusters", WordClusters(clusters, weight)))
        pipe.steps[1] = ("features", union)
    else:
        pipe.steps[1] = ("features", build_features(weight or None, dims, negation))
        if weight:
            pipe.set_params(features__vectors__norm=norm)
    return pipe


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0])
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--negation", choices=("drop", "split"), default="split",
                        help="negated words: left out of the block's meaning, or a second copy")
    parser.add_argument("--clusters", type=int, default=0,
                        help="a bag of this many word clusters instead of the mean vector")
    parser.add_argument("--norm", choices=("l2", "mean"), default="l2")
    parser.add_argument("--dev-tweets", type=int, default=0,
                        help="also sentiment on this many tweets of airline_tweets_dev.csv "
                             "(seeded draw, the 250 labelled tweets left out): a larger "
                             "sample than a 125-row half, crowd labels")
    parser.add_argument("--tasks", nargs="+", default=["sentiment", "theme"],
                        help="the pipelines that get the block (the others keep today's features)")
    parser.add_argument("--vectors", default=None,
                        help="a Model2Vec folder to use instead of models/word_vectors "
                             "(e.g. one made by analysis.distill_vectors --out DIR)")
    parser.add_argument("--model-dir", default=str(REPO / "models"))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" /
                                             "word_vector_block.json"))
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"SKIP: real data folder {DATA} is absent; nothing to measure.")
        return 0

    import scipy.sparse as sp

    from analysis import model_store, word_vectors

    if args.vectors:  # read at first use, so setting it before any lookup swaps the table
        # Checked before the swap: a refused folder must not stay the table of the process.
        if not (Path(args.vectors) / "model.safetensors").is_file():
            parser.error(f"--vectors {args.vectors}: no model.safetensors there")
        word_vectors.VECTORS_DIR = Path(args.vectors)
    from analysis.corpus import load_corpus
    from analysis.evaluate import evaluate_predictions
    from analysis.features import Tokenizer
    from analysis.vector_features import WordClusters, WordVectorMeans
    from analysis.labeller import Labeller
    from analysis.own_labels import fit_classifier_on_features, fit_features
    from analysis.pipelines import TASKS, build_features
    from benchmarks.accuracy import vader_predict

    found = model_store.find_version([Path(args.model_dir)])
    params = {t: found.metadata["metrics"][t]["best_params"] for t in TASKS}
    corpus = load_corpus()
    tokens = Tokenizer().transform(corpus.texts)
    X_base = build_features(None).fit_transform(tokens)
    block = (WordClusters(args.clusters) if args.clusters
             else WordVectorMeans(weight=1.0, dims=args.dims, negation=args.negation,
                                 norm=args.norm))
    X_vec = block.fit().transform(tokens)
    sets = {name: load_split(name, "tuning") for name in LABELLED_SETS}
    if args.dev_tweets:
        from benchmarks.splits import dev_tweets

        sets["airline_tweets_dev.csv"] = dev_tweets(args.dev_tweets)
    vader = {name: vader_predict([r["text"] for r in rows]) for name, rows in sets.items()}
    print(f"corpus {len(corpus)} rows; C from model {found.version}: {params}", flush=True)
    result = {"model_version": found.version, "dims": args.dims, "negation": args.negation,
              "clusters": args.clusters, "tasks": args.tasks,
              "norm": args.norm, "vectors": args.vectors or "models/word_vectors",
              "half": "tuning", "runs": {}}
    for w in args.weights:
        t0 = time.perf_counter()
        pipes = {}
        for task in TASKS:
            w_task = w if task in args.tasks else 0.0
            X = sp.hstack([X_base, X_vec * w_task], format="csr") if w_task else X_base
            pipes[task] = pipeline_with_block(task, params[task], w_task, args.dims,
                                              args.negation, args.clusters, args.norm)
            fit_features(pipes[task], ["warm"])
            fit_classifier_on_features(pipes[task], X, corpus.labels(task))
        labeller = Labeller(pipes, version=f"vectors-{w}")
        run = {}
        for name, rows in sets.items():
            labels = labeller.label([r["text"] for r in rows])
            m = {}
            for task in [t for t in TASKS if t in rows[0]]:  # the dev tweets have no theme
                m[task] = evaluate_predictions([r[task] for r in rows],
                                               [getattr(c, task) for c in labels], task)["macro_f1"]
            v = evaluate_predictions([r["sentiment"] for r in rows], vader[name],
                                     "sentiment")["macro_f1"]
            m["margin_over_vader"] = round(m["sentiment"] - v, 4)
            run[name] = m
            theme = f"  theme {m['theme']:.3f}" if "theme" in m else ""
            print(f"weight {w:4.2f} {name:28s} sentiment {m['sentiment']:.3f} "
                  f"(margin {m['margin_over_vader']:+.3f}){theme}", flush=True)
        print(f"  ({time.perf_counter() - t0:.0f}s)", flush=True)
        result["runs"][str(w)] = run
    write_result(Path(args.out), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
