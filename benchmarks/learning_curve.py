"""Learning curve: macro-F1 against the number of the team's own labels.

For each shared labelled set and each number ``n`` of own labels, repeated
``--repeats`` times with different draws (seeded): train both pipelines on the
shipped corpus plus ``n`` labelled rows of that set (own weight cross-validated
on those ``n`` rows, :mod:`analysis.own_labels`), label the scored rows with
the comment-level rule, and report mean and standard deviation of the
sentiment and theme macro-F1 over the repeats.

Which rows are own labels and which are scored (``--mode``):

* ``tuning`` (default, for development): both come from the tuning half
  (``benchmarks/splits.py``), so ``n`` must stay below 125;
* ``test``: scored rows always come from the test half. Own labels are drawn
  from the tuning half first and, past its 125 rows, from the test half
  (those rows are then not scored): ``n = 200`` is scored on the remaining 50
  test rows. Logged as a look at the test half;
* ``tuning-folds`` (for development, less noisy): the tuning half is cut into
  5 stratified folds; each fold is scored by a model whose ``n`` own labels
  are drawn from the other four (so ``n`` ≤ 100), and the five folds' labels
  are pooled, so every repeat scores all 125 tuning rows instead of ``125 - n``;
* ``all``: the plain version, train on ``n`` random rows of the whole set and
  score the other ``250 - n`` (rows of the tuning half included).

The classifier's ``C`` comes from the model in ``--model-dir`` (newest
version). With ``--method neighbours`` or ``fold`` the tasks in ``--beside-tasks``
keep the corpus model (trained once) and only the own rows' part is new per fold
(:func:`analysis.own_labels.with_own_neighbours`,
:func:`analysis.own_labels.fold_own_model`), so such a run takes a minute or two; ``--own-label-tasks theme`` leaves sentiment without own labels, so that
variants of the theme method are compared on the same sentiment model (the
comment-level theme depends on sentiment through the clause weights). Usage::

    nice -n 10 .venv/bin/python benchmarks/learning_curve.py --mode test --sizes 0 50 100 200
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.output import write_result  # noqa: E402

from analysis.own_labels import PRIOR_INTERCEPTS  # noqa: E402
from benchmarks.splits import DATA, LABELLED_SETS, load_split, record_test_look  # noqa: E402


FOLDS = 5
#: ``--neighbour-similarity``: the leading feature blocks the own rows are compared on.
SIMILARITY_BLOCKS = {"ngrams": ("words", "chars"), "words": ("words",)}


def parts(mode: str, tuning: list[dict], test: list[dict], n: int, rng) -> list[tuple[list, list]]:
    """``[(own rows, scored rows), ...]`` for one repeat: one pair, or one per
    fold in ``tuning-folds`` mode (the scored rows of the pairs then cover the half)."""
    if mode != "tuning-folds":
        return [draws(mode, tuning, test, n, rng)]
    from sklearn.model_selection import StratifiedKFold

    strata = [f"{r['sentiment']}/{r['theme']}" for r in tuning]
    counts = {k: strata.count(k) for k in strata}
    strata = [k if counts[k] >= FOLDS else "rare" for k in strata]
    cv = StratifiedKFold(FOLDS, shuffle=True, random_state=int(rng.integers(2**31)))
    out = []
    for rest, fold in cv.split(tuning, strata):
        if n > len(rest):
            raise SystemExit(f"--mode tuning-folds: at most {len(rest)} own labels")
        own = rng.permutation(rest)[:n]
        out.append(([tuning[i] for i in own], [tuning[i] for i in fold]))
    return out


def draws(mode: str, tuning: list[dict], test: list[dict], n: int, rng) -> tuple[list, list]:
    """``(own rows, scored rows)`` for one repeat."""
    if mode == "tuning":
        if n >= len(tuning):
            raise SystemExit(f"--mode tuning: {n} own labels leave no tuning row to score")
        order = rng.permutation(len(tuning))
        return [tuning[i] for i in order[:n]], [tuning[i] for i in order[n:]]
    if mode == "all":
        rows = tuning + test
        order = rng.permutation(len(rows))
        return [rows[i] for i in order[:n]], [rows[i] for i in order[n:]]
    order_tu = rng.permutation(len(tuning))
    own = [tuning[i] for i in order_tu[:n]]
    extra = max(0, n - len(tuning))
    if extra >= len(test):
        raise SystemExit(f"--mode test: {n} own labels leave no test row to score")
    order_te = rng.permutation(len(test))
    own += [test[i] for i in order_te[:extra]]
    return own, [test[i] for i in order_te[extra:]]


def _scale(text: str) -> float:
    """``--augment-scale``: a number above 0 (0 would drop the own-domain copy)."""
    try:
        scale = float(text)
    except ValueError:
        scale = float("nan")
    if not scale > 0 or scale == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number above 0")
    return scale


def _share(text: str) -> float:
    """``--neighbour-share``: a number above 0 and at most 1."""
    share = _scale(text)
    if share > 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1")
    return share


def fold_by_rule(pipeline, own_texts, own_labels, args) -> str:
    """Fold the own rows' SVM into ``pipeline`` by ``--fold-rule``; what was done, for the log."""
    from analysis.own_labels import choose_fold, fold_own_model

    n = len(own_texts)
    if args.fold_rule == "residual":
        from analysis.own_labels import fold_own_residual

        folded = fold_own_residual(pipeline, own_texts, own_labels, C=args.fold_c)
        return f"residual C {args.fold_c:g}" if folded else "none (a class missing)"
    if args.fold_rule == "prior":
        from analysis.own_labels import fold_own_prior

        folded = fold_own_prior(pipeline, own_texts, own_labels, C=args.fold_c,
                                intercept=args.fold_intercept)
        return f"prior C {args.fold_c:g}" if folded else "none (a class missing)"
    if args.fold_rule == "fixed":
        candidate = (args.fold_alpha, args.fold_c)
    else:
        if args.fold_rule == "paired":
            candidates = [(a, c) for a in args.fold_alphas for c in args.fold_cs]
        else:  # shrink, shrink-paired: alpha = n / (n + k), fixed beforehand
            candidates = [(round(n / (n + args.fold_prior_rows), 4), args.fold_c)]
        if args.fold_rule == "shrink":
            candidate = candidates[0]
        else:
            X_own = pipeline[:-1].transform(list(own_texts))
            candidate, info = choose_fold(pipeline, X_own, own_labels, candidates,
                                           level=args.fold_level, repeats=args.fold_cv_repeats)
            if candidate is None:
                if "gain" not in info:
                    return f"none ({info['reason']})"
                best = max(info["gain"], key=info["gain"].get)
                return (f"none (best {best}: gain {info['gain'][best]:+.3f}, "
                        f"p {info['p'][best]:.3f})")
    extra = None
    if args.fold_corpus_neighbours:
        from analysis.own_labels import _ngram_columns, nearest_rows

        X_corpus, y_corpus = args.corpus_rows
        near = nearest_rows(pipeline[:-1].transform(list(own_texts)), X_corpus,
                            args.fold_corpus_neighbours, _ngram_columns(pipeline))
        extra = (X_corpus[near], np.asarray(y_corpus)[near])
    folded = fold_own_model(pipeline, own_texts, own_labels, *candidate,
                            blocks=SIMILARITY_BLOCKS[args.fold_blocks] if args.fold_blocks else None,
                            extra_rows=extra, min_class_rows=args.fold_min_class_rows,
                            intercept=not args.fold_no_intercept)
    return f"fold {candidate[0]:g}/{candidate[1]:g}" if folded else "none (a class missing)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("tuning", "tuning-folds", "test", "all"), default="tuning")
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 25, 50, 100])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weight", type=float, default=None,
                        help="fix the own-label weight instead of cross-validating it")
    parser.add_argument("--method", choices=("weight", "augment", "cv", "neighbours", "fold"),
                        default="weight",
                        help="own labels as weighted rows (default), as a second domain "
                             "by feature augmentation (Daume 2007), either, chosen by "
                             "cross-validation on the own rows, or as neighbours voting "
                             "beside the corpus model, or as a model of their own folded "
                             "into the corpus model's SVM (--beside-tasks; the other task keeps "
                             "weights)")
    parser.add_argument("--own-label-tasks", nargs="+", choices=("sentiment", "theme"),
                        default=["sentiment", "theme"],
                        help="tasks trained with the own labels; the others keep the corpus "
                             "model (isolates one task's method: theme depends on sentiment "
                             "through the clause weights)")
    parser.add_argument("--neighbour-share", type=_share, default=0.1,
                        help="with --method neighbours: share of the neighbours' vote")
    parser.add_argument("--beside-tasks", nargs="+", choices=("sentiment", "theme"),
                        default=["theme"],
                        help="with --method neighbours or fold: the tasks whose own rows act "
                             "beside the corpus model (the others keep cross-validated weights)")
    parser.add_argument("--fold-alpha", type=_scale, default=1.0,
                        help="with --method fold: weight of the own rows' SVM")
    parser.add_argument("--fold-c", type=_scale, default=0.1,
                        help="with --method fold: C of the own rows' SVM")
    parser.add_argument("--fold-rule",
                        choices=("fixed", "paired", "shrink", "shrink-paired", "residual", "prior"),
                        default="fixed",
                        help="with --method fold: how alpha and C are set: fixed (--fold-alpha, "
                             "--fold-c); paired (the best of --fold-alphas x --fold-cs by "
                             "repeated CV on the own rows, folded only if its gain over not "
                             "folding passes the corrected paired t-test); shrink (alpha = "
                             "n / (n + --fold-prior-rows), C --fold-c); shrink-paired (that "
                             "setting, folded only if it passes the test); residual (a model of "
                             "the corpus model's errors on the own rows, C --fold-c, folded "
                             "whole: Daume's PRED); prior (the corpus SVM refit on the own rows "
                             "with its weights as the prior mean, C --fold-c: Chelba & Acero 2006)")
    parser.add_argument("--fold-blocks", choices=tuple(SIMILARITY_BLOCKS), default=None,
                        help="with --method fold: the own SVM sees only these leading feature "
                             "blocks (default: all features)")
    parser.add_argument("--fold-corpus-neighbours", type=int, default=0,
                        help="with --method fold: the own SVM also trains on each own row's "
                             "K nearest corpus rows (their corpus labels)")
    parser.add_argument("--fold-min-class-rows", type=int, default=0,
                        help="with --method fold: fold only the classes with at least this "
                             "many own rows")
    parser.add_argument("--fold-no-intercept", action="store_true",
                        help="with --method fold (not --fold-rule prior/residual): add only the "
                             "own SVM's weights, not its intercepts")
    parser.add_argument("--fold-intercept", choices=PRIOR_INTERCEPTS, default="penalised",
                        help="with --fold-rule prior: the intercept shift penalised like a "
                             "weight (as LinearSVC), free, or fixed at the corpus's")
    parser.add_argument("--fold-alphas", type=_scale, nargs="+", default=[0.3, 1.0, 2.0])
    parser.add_argument("--fold-cs", type=_scale, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--fold-prior-rows", type=_scale, default=100.0,
                        help="with --fold-rule shrink*: k in alpha = n / (n + k)")
    parser.add_argument("--fold-level", type=_share, default=0.05,
                        help="with --fold-rule *paired: one-sided level of the test")
    parser.add_argument("--fold-cv-repeats", type=int, default=10,
                        help="with --fold-rule *paired: repeats of the 5-fold CV on the own rows")
    parser.add_argument("--neighbour-similarity", choices=tuple(SIMILARITY_BLOCKS), default="ngrams",
                        help="with --method neighbours: the feature blocks similarity is measured "
                             "on (word and character n-grams, or word n-grams only)")
    parser.add_argument("--neighbour-unsure-only", action="store_true",
                        help="with --method neighbours: search neighbours only for texts whose "
                             "label the vote can change")
    parser.add_argument("--augment-scale", type=_scale, default=1.0,
                        help="with --method augment: scale of the own-domain copy")
    parser.add_argument("--model-dir", default=str(REPO / "models"))
    parser.add_argument("--sets", nargs="+", default=list(LABELLED_SETS))
    parser.add_argument("--word-vector-weight", type=float, default=None,
                        help="add the word-vector block at this weight (0: leave it out); "
                             "default: the pipeline's own setting")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"SKIP: real data folder {DATA} is absent; nothing to measure.")
        return 0

    from analysis import model_store
    from analysis.corpus import load_corpus
    from analysis.evaluate import evaluate_predictions
    from analysis.labeller import Labeller
    from analysis.own_labels import fit_features, train_with_own, with_own_neighbours
    from analysis import pipelines as pipelines_module
    from analysis.pipelines import TASKS, build_pipeline

    if args.word_vector_weight is not None:
        pipelines_module.WORD_VECTOR_WEIGHT = args.word_vector_weight or None
    found = model_store.find_version([Path(args.model_dir)])
    params = {t: found.metadata["metrics"][t]["best_params"] for t in TASKS}
    if args.mode == "test":
        looks = record_test_look(f"benchmarks/learning_curve.py --mode test {args.sizes}",
                                 found.version)
        print(f"test halves looked at {looks} time(s) so far")
    corpus = load_corpus()
    X_corpus = fit_features(build_pipeline("sentiment"), corpus.texts)
    print(f"corpus {len(corpus)} rows; C from model {found.version}: {params}", flush=True)
    base_pipes = {task: train_with_own(task, X_corpus, corpus.labels(task), [], [],
                                       params[task])[0] for task in TASKS}
    cache = {(task, 0): base_pipes[task] for task in TASKS}  # n = 0: the same model every time
    result = {"mode": args.mode, "method": args.method,
              "neighbour_share": args.neighbour_share if args.method == "neighbours" else None,
              "own_label_tasks": args.own_label_tasks,
              "beside_tasks": args.beside_tasks if args.method in ("neighbours", "fold") else None,
              "fold_alpha": args.fold_alpha if args.method == "fold" else None,
              "fold_c": args.fold_c if args.method == "fold" else None,
              "fold_rule": args.fold_rule if args.method == "fold" else None,
              "fold_no_intercept": args.fold_no_intercept if args.method == "fold" else None,
              "fold_intercept": args.fold_intercept if args.method == "fold" else None,
              "fold_blocks": args.fold_blocks if args.method == "fold" else None,
              "fold_corpus_neighbours": args.fold_corpus_neighbours if args.method == "fold"
              else None,
              "fold_min_class_rows": args.fold_min_class_rows if args.method == "fold" else None,
              "fold_alphas": args.fold_alphas if args.method == "fold" else None,
              "fold_cs": args.fold_cs if args.method == "fold" else None,
              "fold_prior_rows": args.fold_prior_rows if args.method == "fold" else None,
              "fold_level": args.fold_level if args.method == "fold" else None,
              "fold_cv_repeats": args.fold_cv_repeats if args.method == "fold" else None,
              "neighbour_similarity": args.neighbour_similarity if args.method == "neighbours"
              else None,
              "neighbour_unsure_only": args.neighbour_unsure_only if args.method == "neighbours"
              else None,
              "model_version": found.version,
              "word_vector_weight": pipelines_module.WORD_VECTOR_WEIGHT,
              "repeats": args.repeats,
              "seed": args.seed, "sets": {}}
    for name in args.sets:
        tuning, test = load_split(name, "tuning"), load_split(name, "test")
        per_n = {}
        for n in args.sizes:
            rng = np.random.default_rng(args.seed)
            scores = {t: [] for t in TASKS}
            base = {t: [] for t in TASKS}  # the no-own-label model on the same scored rows
            weights = {t: [] for t in TASKS}
            t0 = time.perf_counter()
            for _ in range(args.repeats if n else 1):
                scored, labels, base_labels = [], [], []
                for own, scored_part in parts(args.mode, tuning, test, n, rng):
                    pipes = {}
                    for task in TASKS:
                        key = (task, 0) if n == 0 or task not in args.own_label_tasks else None
                        if key in cache:
                            pipes[task] = cache[key]
                            continue
                        if args.method in ("neighbours", "fold") and task in args.beside_tasks:
                            # the classifier is the corpus's, as at n = 0: only the own part is new
                            pipes[task] = copy.deepcopy(base_pipes[task])
                            own_texts, own_labels = [r["text"] for r in own], [r[task] for r in own]
                            if args.method == "fold":
                                args.corpus_rows = (X_corpus, corpus.labels(task))
                                weights[task].append(fold_by_rule(pipes[task], own_texts,
                                                                  own_labels, args))
                                continue
                            with_own_neighbours(pipes[task], own_texts, own_labels,
                                                args.neighbour_share,
                                                blocks=SIMILARITY_BLOCKS[args.neighbour_similarity],
                                                unsure_only=args.neighbour_unsure_only)
                            weights[task].append(f"neighbours {args.neighbour_share:g}")
                            continue
                        pipes[task], info = train_with_own(
                            task, X_corpus, corpus.labels(task), [r["text"] for r in own],
                            [r[task] for r in own], params[task], weight=args.weight,
                            augment="cv" if args.method == "cv" else args.method == "augment",
                            augment_scale=args.augment_scale)
                        weights[task].append(
                            info["own_weight"] if not info["augment"]
                            else f"augment {info['augment_scale']:g}")
                        if key:
                            cache[key] = pipes[task]
                    texts = [r["text"] for r in scored_part]
                    scored += scored_part
                    labels += Labeller(pipes, version="learning-curve").label(texts)
                    if n:
                        base_labels += Labeller(base_pipes, version="no-own").label(texts)
                for task in TASKS:
                    m = evaluate_predictions([r[task] for r in scored],
                                             [getattr(c, task) for c in labels], task)
                    scores[task].append(m["macro_f1"])
                    if n:
                        b = evaluate_predictions([r[task] for r in scored],
                                                 [getattr(c, task) for c in base_labels], task)
                        base[task].append(b["macro_f1"])
                    else:
                        base[task].append(m["macro_f1"])
            per_n[n] = {t: {"mean": round(float(np.mean(scores[t])), 4),
                            "std": round(float(np.std(scores[t])), 4), "runs": scores[t],
                            "no_own_labels_same_rows": round(float(np.mean(base[t])), 4),
                            "gain": round(float(np.mean(scores[t]) - np.mean(base[t])), 4),
                            "own_weights": weights[t]} for t in TASKS}
            line = "  ".join(f"{t} {per_n[n][t]['mean']:.3f} ± {per_n[n][t]['std']:.3f} "
                             f"(no own labels {per_n[n][t]['no_own_labels_same_rows']:.3f}, "
                             f"gain {per_n[n][t]['gain']:+.3f}, weights {weights[t]})"
                             for t in TASKS)
            print(f"{name:28s} n={n:3d}  {line} ({time.perf_counter() - t0:.0f}s)", flush=True)
        result["sets"][name] = per_n
    write_result(Path(args.out or REPO / "benchmarks" / "results" / f"learning_curve-{args.mode}-{args.method}.json"), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
