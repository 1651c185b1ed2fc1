"""Train the sentiment and theme pipelines and save them as a model version.

Procedure (same for both tasks, all seeds fixed):

1. Load the corpus (validated, deduplicated, checksummed).
2. Hold out 20% of the corpus, stratified on sentiment x theme. Extra user
   labels and weak labels only ever go into training, never the held-out part.
3. On the training part, ``GridSearchCV`` over :data:`analysis.pipelines.PARAM_GRID`
   (``step__param`` names) with ``StratifiedKFold(5, shuffle=True, seed)``,
   scored by macro-F1; the one-standard-error rule picks the most regularised
   candidate that scores within one SE of the best (:func:`one_standard_error`).
4. Score the best model once on the held-out part; the scores go into the
   metadata.
5. Refit the chosen parameters on all rows (corpus + extras + weak labels) and
   save. The held-out scores therefore describe the procedure on 80% of the
   data; the shipped model has seen every row.

Weak sentiment labels (e.g. from NPS scores) get a sample weight of
:data:`WEAK_WEIGHT`. Extra hand labels (the team's own: ``train --labels`` and
dashboard corrections) get a weight cross-validated on them
(:mod:`analysis.own_labels`), so a couple of hundred of them move the model.

Run ``python -m analysis.train`` to train the default model into ``models/``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from analysis import model_store
from analysis.corpus import DEFAULT_CORPUS_DIR, load_corpus
from analysis.labels import LABELS, TASKS
from analysis.pipelines import PARAM_GRID, build_pipeline

HELD_OUT = 0.2
WEAK_WEIGHT = 0.3
CV_FOLDS = 5


def library_versions() -> dict[str, str]:
    """Versions that decide whether saved bytes are reproducible."""
    import platform

    import nltk
    import scipy
    import skops
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "nltk": nltk.__version__,
        "skops": skops.__version__,
    }


def _cv(labels, seed: int):
    from sklearn.model_selection import StratifiedKFold

    smallest = min(np.unique(labels, return_counts=True)[1])
    return StratifiedKFold(n_splits=max(2, min(CV_FOLDS, smallest)), shuffle=True,
                           random_state=seed)


def single_threaded_blas():
    """Context: BLAS on one thread while fitting.

    The sigmoid calibration runs thousands of tiny L-BFGS problems; with
    OpenBLAS threads each step pays a thread hand-off that costs far more than
    the maths (7x slower on a busy 2-core machine). Results are identical.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def fit_task(task: str, texts, labels, sample_weight=None, seed: int = 0, grid=None,
             params=None):
    """Grid-search ``build_pipeline(task)`` on the given rows; return (pipeline, info).

    ``grid`` defaults to ``PARAM_GRID[task]``; pass ``{}`` to skip the search
    and fit once with ``params`` (``step__param`` values) instead. The
    returned pipeline is refit on all the given rows with the best params.
    """
    from sklearn.model_selection import GridSearchCV

    texts = list(texts)
    labels = np.asarray(labels)
    grid = PARAM_GRID[task] if grid is None else grid
    fit_params = {} if sample_weight is None else {"clf__sample_weight": np.asarray(sample_weight)}
    pipe = build_pipeline(task, seed=seed).set_params(**(params or {}))
    if not grid:
        with single_threaded_blas():
            pipe.fit(texts, labels, **fit_params)
        return pipe, {"best_params": dict(params or {}), "cv_macro_f1": None}
    cv = _cv(labels, seed)
    search = GridSearchCV(pipe, grid, scoring="f1_macro", cv=cv, n_jobs=1,
                          refit=one_standard_error, error_score="raise")
    with single_threaded_blas():
        search.fit(texts, labels, **fit_params)
    res = search.cv_results_
    info = {
        "best_params": {k: _jsonable(v) for k, v in search.best_params_.items()},
        "cv_macro_f1": round(float(res["mean_test_score"][search.best_index_]), 4),
        "cv_results": [
            {"params": {k: _jsonable(v) for k, v in p.items()},
             "mean_macro_f1": round(float(m), 4), "std": round(float(sd), 4)}
            for p, m, sd in zip(res["params"], res["mean_test_score"], res["std_test_score"])
        ],
        "selection": "one standard error rule (smallest C within 1 SE of the best)",
    }
    return search.best_estimator_, info


def one_standard_error(cv_results) -> int:
    """``refit`` rule for GridSearchCV: the most regularised candidate (smallest
    ``C``) whose mean CV score is within one standard error of the best
    (:func:`simplest_within_one_se`). Falls back to the best score when the
    grid has no ``C``.
    """
    scores = np.asarray(cv_results["mean_test_score"], dtype=float)
    c_keys = [k for k in cv_results if k.startswith("param_") and k.endswith("__C")]
    if not c_keys:
        return int(np.argmax(scores))
    n_splits = sum(1 for k in cv_results if k.startswith("split") and k.endswith("_test_score"))
    ses = np.asarray(cv_results["std_test_score"], dtype=float) / np.sqrt(max(n_splits, 1))
    return simplest_within_one_se(scores, ses, np.asarray(cv_results[c_keys[0]], dtype=float))


def simplest_within_one_se(means, standard_errors, complexity) -> int:
    """Index of the least complex candidate whose mean score is at least the
    best mean less the best's standard error (ties on the best mean go to the
    less complex candidate).

    Why: the corpus is written for this project, real feedback is not; of
    models that score alike in cross-validation, the simpler one transfers
    better (Hastie, Tibshirani and Friedman, ESL 7.10). Used for the
    regularisation grid and for the weight of a team's own labels.
    """
    means = np.asarray(means, dtype=float)
    complexity = np.asarray(complexity, dtype=float)
    best = max(range(len(means)), key=lambda i: (means[i], -complexity[i]))
    ok = np.flatnonzero(means >= means[best] - float(standard_errors[best]) - 1e-9)
    return int(ok[np.argmin(complexity[ok])])


def _jsonable(v):
    return v.item() if hasattr(v, "item") else v


def choose_weight_for(task: str, corpus_texts, corpus_labels, own_texts, own_labels,
                      seed: int) -> tuple[float, dict]:
    """Sample weight of the own labels of ``task``, cross-validated on them
    (:func:`analysis.own_labels.choose_own_weight`); ``(1.0, {})`` without own labels."""
    from analysis.own_labels import choose_own_weight, fit_features

    if not own_texts:
        return 1.0, {}
    pipe = build_pipeline(task, seed=seed)
    return choose_own_weight(pipe, fit_features(pipe, corpus_texts), corpus_labels,
                             fit_features(pipe, own_texts), own_labels, seed=seed)


def _split(corpus, seed: int):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(corpus))
    strata = np.array([f"{s}/{t}" for s, t in zip(corpus.sentiment, corpus.theme)])
    counts = np.unique(strata, return_counts=True)[1]
    if min(counts) < 2 or np.ceil(HELD_OUT * len(idx)) < len(counts):
        strata = np.array(corpus.sentiment)  # small corpus: stratify on one label only
    if len(idx) < 10:
        raise ValueError(f"the corpus has {len(idx)} rows; training needs at least 10")
    try:
        return train_test_split(idx, test_size=HELD_OUT, stratify=strata, random_state=seed)
    except ValueError:  # a label with a single row cannot be stratified
        return train_test_split(idx, test_size=HELD_OUT, random_state=seed)


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()


def _check_labels(extra_labeled, weak_sentiment):
    extra = []
    for item in extra_labeled:
        text, task, label = item
        if task not in TASKS:
            raise ValueError(f"extra label task {task!r} not in {TASKS}")
        if label not in LABELS[task]:
            raise ValueError(f"extra {task} label {label!r} not in {LABELS[task]}")
        extra.append((str(text), task, label))
    weak = []
    for text, label in weak_sentiment:
        if label not in LABELS["sentiment"]:
            raise ValueError(f"weak sentiment label {label!r} not in {LABELS['sentiment']}")
        weak.append((str(text), label))
    return extra, weak


def train_models(corpus_paths=DEFAULT_CORPUS_DIR, extra_labeled=(), weak_sentiment=(),
                 out_dir=None, seed: int = 0, fixed_params: dict | None = None) -> str:
    """Train both tasks, save them in ``out_dir`` (default: ``models/``), return the version.

    ``extra_labeled``: ``(text, task, label)`` rows a user labelled (``train --labels``).
    ``weak_sentiment``: ``(text, label)`` rows with weaker sentiment labels.
    ``fixed_params``: ``{task: {step__param: value}}`` to reuse (e.g. the model in use's
    ``best_params``) instead of the grid search; a retrain from the dashboard takes
    a fraction of the time this way.
    """
    from analysis.evaluate import evaluate_predictions

    started = time.perf_counter()
    out_dir = Path(out_dir) if out_dir is not None else model_store.DEFAULT_MODEL_DIR
    corpus = load_corpus(corpus_paths)
    extra, weak = _check_labels(extra_labeled, weak_sentiment)
    train_idx, test_idx = _split(corpus, seed)

    params = {task: {k: [_jsonable(x) for x in v] for k, v in PARAM_GRID[task].items()}
              for task in TASKS}
    pipelines, metrics = {}, {}
    for task in TASKS:
        y = np.array(corpus.labels(task))
        x = np.array(corpus.texts, dtype=object)
        ex_t = [t for t, k, _ in extra if k == task]
        ex_y = [lab for _, k, lab in extra if k == task]
        wk_t = [t for t, _ in weak] if task == "sentiment" else []
        wk_y = [lab for _, lab in weak] if task == "sentiment" else []

        own_weight, own_cv = choose_weight_for(task, x[train_idx], y[train_idx], ex_t, ex_y, seed)

        def rows(idx):
            texts = list(x[idx]) + ex_t + wk_t
            labels = list(y[idx]) + ex_y + wk_y
            weights = None
            if wk_t or ex_t:
                weights = ([1.0] * len(idx) + [own_weight] * len(ex_t)
                           + [WEAK_WEIGHT] * len(wk_t))
            return texts, labels, weights

        texts, labels, weights = rows(train_idx)
        if fixed_params and task in fixed_params:
            model, info = fit_task(task, texts, labels, weights, seed=seed, grid={},
                                   params=fixed_params[task])
        else:
            model, info = fit_task(task, texts, labels, weights, seed=seed)
        held = evaluate_predictions(list(y[test_idx]), list(model.predict(list(x[test_idx]))),
                                    task)
        texts, labels, weights = rows(np.arange(len(corpus)))
        final, _ = fit_task(task, texts, labels, weights, seed=seed, grid={},
                            params=info["best_params"])
        pipelines[task] = final
        metrics[task] = {"held_out": held, **info,
                         "train_rows": len(texts), "held_out_rows": len(test_idx),
                         "own_weight": own_weight if ex_t else None, "own_weight_cv": own_cv}

    digest = _digest(corpus.checksum, sorted(extra), sorted(weak), params, seed,
                     {t: metrics[t]["best_params"] for t in TASKS},
                     {t: _describe(build_pipeline(t, seed=seed)) for t in TASKS})
    version = model_store.make_version(_dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d"),
                                       digest)
    metadata = {
        # to the microsecond: the dashboard counts corrections made after it, even in the same second
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds"),
        "corpus": {
            "files": corpus.files,
            "checksum": corpus.checksum,
            "rows": len(corpus),
            "rows_per_file": corpus.rows_per_file,
            "rows_per_label": corpus.counts(),
            "duplicates_dropped": corpus.duplicates_dropped,
            "duplicate_label_conflicts": corpus.conflicts,
        },
        "extra_labeled_rows": {t: sum(1 for _, k, _ in extra if k == t) for t in TASKS},
        "weak_sentiment_rows": len(weak),
        "weak_weight": WEAK_WEIGHT,
        "seed": seed,
        "held_out_fraction": HELD_OUT,
        "param_grid": params,
        "pipeline": {t: _describe(pipelines[t]) for t in TASKS},
        "metrics": metrics,
        "libraries": library_versions(),
        "training_seconds": None,
    }
    metadata["training_seconds"] = round(time.perf_counter() - started, 1)
    model_store.save_version(out_dir, version, pipelines, metadata)
    return version


def _describe(pipeline) -> dict:
    """Step names and the non-default-looking parameters, for the metadata."""
    out = {}
    for name, step in pipeline.steps:
        params = {k: v for k, v in step.get_params(deep=True).items()
                  if isinstance(v, (int, float, str, bool, tuple, type(None)))}
        out[name] = {"class": type(step).__name__,
                     "params": {k: list(v) if isinstance(v, tuple) else v
                                for k, v in sorted(params.items())}}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=[str(DEFAULT_CORPUS_DIR)],
                        help="corpus CSV files or directories (default: models/corpus)")
    parser.add_argument("--out", default=str(model_store.DEFAULT_MODEL_DIR),
                        help="model directory to write (default: models/)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    version = train_models(args.corpus, out_dir=args.out, seed=args.seed)
    meta = model_store.find_version([args.out], version).metadata
    print(f"version {version} written to {args.out} in {time.perf_counter() - t0:.1f}s")
    for task in TASKS:
        m = meta["metrics"][task]
        print(f"  {task}: held-out accuracy {m['held_out']['accuracy']:.3f} "
              f"macro-F1 {m['held_out']['macro_f1']:.3f}; best {m['best_params']} "
              f"(cv macro-F1 {m['cv_macro_f1']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
