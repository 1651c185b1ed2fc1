"""A labelled batch encoded for storing, straight from the model's arrays (in a labelling child).

At a million comments, turning the model's probabilities into ``response_labels``
rows cost more CPU than the model itself: a Python ``round`` per probability, a
dict per clause, then ``json.dumps`` of each dict again in the storing process.
Here every probability is rounded once, as an integer count of ten-thousandths
(vectorised), and the JSON text comes from a table of the 10,001 numbers that
can occur. The tuples are those :func:`survey.labels.encode_label_rows` makes
from :func:`survey.labels.label_rows_from_probs`, byte for byte
(``tests/test_analyze_batches.py``); where a probability is not one the table
holds (not finite, outside [0, 1]) the batch takes that slower way instead.

The same pass gives the pain points their clause records
(:class:`survey.insights.labelled_clauses.LabelledClauses`).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii  # how json.dumps writes a str (ensure_ascii)

import numpy as np

from analysis.labels import SENTIMENTS, THEMES
from survey.labels import encode_label_rows, label_rows_from_probs
from survey.insights.labelled_clauses import negativity
from survey.models import utcnow

_STEPS = 10_000
#: ``round(p, 4)`` for the ``k`` with ``round(p, 4) == k / 10000``: Python's division is correctly
#: rounded, as ``round`` is, so both give the float nearest to the decimal.
_FLOATS = [k / _STEPS for k in range(_STEPS + 1)]
_JSON_FLOATS = [json.dumps(value) for value in _FLOATS]
_NEGATIVE = SENTIMENTS.index("negative")


def _json_object(names: tuple[str, ...]) -> str:
    """``json.dumps({name: number, ...})`` with ``%s`` for each number."""
    return "{" + ", ".join(f"{json.dumps(name)}: %s" for name in names) + "}"


_SENTIMENT_PROBS, _THEME_PROBS = _json_object(SENTIMENTS), _json_object(THEMES)
_CLAUSE = ('{"text": %s, "sentiment": %s, "sentiment_probs": %s, "theme": %s, "theme_probs": %s}')


def ten_thousandths(probs: np.ndarray) -> np.ndarray | None:
    """``k`` (int) with ``round(p, 4) == k / 10000`` for every ``p``; None if one is not in [0, 1].

    ``p * 10000`` is off by at most a few 1e-12; where that could flip the rounding (within
    1e-6 of a half) Python's own ``round`` decides.
    """
    if probs.size == 0:
        return probs.astype(np.int64)
    if not np.isfinite(probs).all() or probs.min() < 0 or probs.max() > 1:
        return None
    scaled = probs * _STEPS
    steps = np.rint(scaled)
    flat_probs, flat_steps = probs.ravel(), steps.reshape(-1)
    for i in np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5).ravel() < 1e-6).tolist():
        flat_steps[i] = round(round(float(flat_probs[i]), 4) * _STEPS)
    return flat_steps.reshape(probs.shape).astype(np.int64)


def encoded_batch(model_version: str, response_ids: list[int], sentiment, theme,
                  clauses) -> tuple[list[tuple], list[tuple]]:
    """The batch's :func:`survey.labels.encode_label_rows` tuples and, per comment, its clause records
    ``((text, sentiment, theme, negativity), ...)`` for the pain points.

    Arguments as :func:`survey.labels.label_rows_from_probs` takes them.
    """
    texts, offsets, clause_sentiment, clause_theme = clauses
    steps = [ten_thousandths(probs) for probs in (sentiment, theme, clause_sentiment, clause_theme)]
    if any(step is None for step in steps):
        return _slow_batch(model_version, response_ids, sentiment, theme, clauses)
    s_steps, t_steps, cs_steps, ct_steps = steps
    floats, number = _FLOATS, _JSON_FLOATS.__getitem__
    s_names, t_names = SENTIMENTS, THEMES
    s_json, t_json = [json.dumps(name) for name in s_names], [json.dumps(name) for name in t_names]

    # Clauses: their labels, JSON objects and negativity (of the rounded probabilities, as stored).
    cs_top = clause_sentiment.argmax(1).tolist() if len(texts) else []
    ct_top = clause_theme.argmax(1).tolist() if len(texts) else []
    clause_json = [
        _CLAUSE % (encode_basestring_ascii(text), s_json[s], _SENTIMENT_PROBS % tuple(map(number, sp)),
                   t_json[t], _THEME_PROBS % tuple(map(number, tp)))
        for text, s, sp, t, tp in zip(texts, cs_top, cs_steps.tolist(), ct_top, ct_steps.tolist())]
    negative = cs_steps[:, _NEGATIVE] if len(texts) else np.zeros(0, np.int64)
    clause_negativity = (np.where(negative == cs_steps.max(1), negative / _STEPS, 1.0).tolist()
                         if len(texts) else [])
    cs_names, ct_names = [s_names[s] for s in cs_top], [t_names[t] for t in ct_top]

    s_top, t_top = sentiment.argmax(1).tolist(), theme.argmax(1).tolist()
    now = utcnow()
    rows, records = [], []
    for i, (response_id, sp, tp) in enumerate(zip(response_ids, s_steps.tolist(), t_steps.tolist())):
        start, end = offsets[i], offsets[i + 1]
        rows.append((response_id, model_version, s_names[s_top[i]], floats[sp[s_top[i]]],
                     _SENTIMENT_PROBS % tuple(map(number, sp)), t_names[t_top[i]], floats[tp[t_top[i]]],
                     _THEME_PROBS % tuple(map(number, tp)), "[" + ", ".join(clause_json[start:end]) + "]",
                     now))
        records.append(tuple(zip(texts[start:end], cs_names[start:end], ct_names[start:end],
                                 clause_negativity[start:end])))
    return rows, records


def _slow_batch(model_version, response_ids, sentiment, theme, clauses) -> tuple[list[tuple], list[tuple]]:
    """:func:`encoded_batch` through the dict rows, for probabilities the table does not hold."""
    rows = label_rows_from_probs(model_version, response_ids, sentiment, theme, clauses)
    records = [tuple((clause["text"], clause["sentiment"], clause["theme"], negativity(clause["sentiment_probs"]))
                     for clause in row["clauses"]) for row in rows]
    return encode_label_rows(rows), records
