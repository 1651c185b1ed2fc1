"""Accuracy metrics for a labeller against gold labels, as JSON-able dicts.

:func:`evaluate` labels texts with a :class:`~analysis.labeller.Labeller` (the
comment-level labels users see, clause rule included) and scores them;
:func:`evaluate_predictions` scores predictions made any other way (training
uses it for the held-out split, the benchmarks for baselines);
:func:`format_report` renders either as plain text.
"""

from __future__ import annotations

from analysis.labels import LABELS


def evaluate_predictions(gold, pred, task: str) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Classes are in the codebook order ``LABELS[task]`` (rows of the confusion
    matrix are gold labels, columns predictions). Floats are rounded to 4 places.
    """
    from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                                 precision_recall_fscore_support)

    labels = list(LABELS[task])
    gold, pred = list(gold), list(pred)
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    unknown = sorted(set(gold) - set(labels))
    if unknown:
        raise ValueError(f"gold {task} labels {unknown} not in {labels}")
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    return {
        "task": task,
        "n": len(gold),
        "labels": labels,
        "accuracy": round(float(accuracy_score(gold, pred)), 4) if gold else 0.0,
        "macro_f1": round(float(f1_score(gold, pred, labels=labels, average="macro",
                                         zero_division=0)), 4),
        "per_class": {
            lab: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4),
                  "f1": round(float(f[i]), 4), "support": int(s[i])}
            for i, lab in enumerate(labels)
        },
        "confusion_matrix": confusion_matrix(gold, pred, labels=labels).tolist(),
    }


def evaluate(texts, gold, task: str, labeller, bands=None) -> dict:
    """Label ``texts`` with ``labeller`` and score the comment-level ``task`` labels.

    ``bands`` (sentiment only): each answer's score band (``None`` without a
    score), folded into the sentiment as :mod:`analysis.score_band` does; the
    text-only scores are then reported under ``"text_only"`` for comparison.
    """
    if task not in LABELS:
        raise ValueError(f"unknown task {task!r}; expected one of {tuple(LABELS)}")
    labels = labeller.label(list(texts))
    pred = [getattr(c, task) for c in labels]
    if bands is None:
        result = evaluate_predictions(gold, pred, task)
    else:
        from analysis.score_band import SCORE_WEIGHT, combined_labels

        if task != "sentiment":
            raise ValueError("the score band only changes sentiment; evaluate theme without it")
        result = evaluate_predictions(gold, combined_labels(labels, bands), task)
        text_only = evaluate_predictions(gold, pred, task)
        result["text_only"] = {k: text_only[k] for k in ("accuracy", "macro_f1", "per_class")}
        result["score_weight"] = SCORE_WEIGHT
        result["with_score"] = sum(b is not None for b in bands)
    result["model_version"] = getattr(labeller, "version", None)
    return result


def format_report(result: dict) -> str:
    """Plain-text rendering of an :func:`evaluate` result."""
    labels = result["labels"]
    width = max(12, *(len(lab) + 2 for lab in labels))
    lines = [
        f"{result['task']}: n={result['n']}  accuracy={result['accuracy']:.3f}  "
        f"macro-F1={result['macro_f1']:.3f}",
    ]
    if "text_only" in result:
        lines.append(f"with the score band ({result['with_score']} of {result['n']} rows scored, "
                     f"weight {result['score_weight']}); text alone: "
                     f"accuracy={result['text_only']['accuracy']:.3f}  "
                     f"macro-F1={result['text_only']['macro_f1']:.3f}")
    lines += [
        "",
        f"{'':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for lab in labels:
        c = result["per_class"][lab]
        lines.append(f"{lab:<{width}}{c['precision']:>10.3f}{c['recall']:>10.3f}"
                     f"{c['f1']:>10.3f}{c['support']:>10d}")
    lines += ["", "confusion matrix (rows: gold, columns: predicted)",
              f"{'':<{width}}" + "".join(f"{lab:>10}" for lab in labels)]
    for lab, row in zip(labels, result["confusion_matrix"]):
        lines.append(f"{lab:<{width}}" + "".join(f"{v:>10d}" for v in row))
    return "\n".join(lines)


def bootstrap_macro_f1(gold, pred, task: str, n_boot: int = 2000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of macro-F1 (rows resampled with replacement, fixed seed).

    With 125-row test halves the interval is wide (about ±0.07); it is what
    says whether two numbers differ at all.
    """
    import numpy as np
    from sklearn.metrics import f1_score

    labels = list(LABELS[task])
    gold, pred = np.asarray(list(gold)), np.asarray(list(pred))
    if len(gold) != len(pred) or not len(gold):
        raise ValueError("gold and predictions must be non-empty and of the same length")
    rng = np.random.default_rng(seed)
    scores = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, len(gold), len(gold))
        scores[b] = f1_score(gold[idx], pred[idx], labels=labels, average="macro", zero_division=0)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return round(float(low), 4), round(float(high), 4)
