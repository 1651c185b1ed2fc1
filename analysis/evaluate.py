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


def evaluate(texts, gold, task: str, labeller) -> dict:
    """Label ``texts`` with ``labeller`` and score the comment-level ``task`` labels."""
    if task not in LABELS:
        raise ValueError(f"unknown task {task!r}; expected one of {tuple(LABELS)}")
    labels = labeller.label(list(texts))
    pred = [getattr(c, task) for c in labels]
    result = evaluate_predictions(gold, pred, task)
    result["model_version"] = getattr(labeller, "version", None)
    return result


def format_report(result: dict) -> str:
    """Plain-text rendering of an :func:`evaluate` result."""
    labels = result["labels"]
    width = max(12, *(len(lab) + 2 for lab in labels))
    lines = [
        f"{result['task']}: n={result['n']}  accuracy={result['accuracy']:.3f}  "
        f"macro-F1={result['macro_f1']:.3f}",
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
