"""Combine the answer's score band with the text's sentiment probabilities, carefully.

A score band is a noisy sentiment label: a passive's comment is often a
complaint, a promoter may add one, a detractor may thank a kind agent (the
codebook labels what the text says). So the band is not trusted as a label;
it enters as a tempered prior, a product of experts::

    p(s | text, band)  ∝  p(s | text) · P(s | band) ** SCORE_WEIGHT

with :data:`BAND_SENTIMENT` a deliberately soft table (how often each band's
comments read negative / neutral / positive, written from the codebook's
warnings, not fitted to any data set) and :data:`SCORE_WEIGHT` the exponent
chosen on the tuning half of the NPS labelled set (``benchmarks/score_band.py``;
0 means the band is ignored). Only the comment-level sentiment moves: clause
labels stay text-only, so a promoter's one complaint still counts as a
negative clause (and a pain point).
"""

from __future__ import annotations

import numpy as np

from analysis.labels import LABELS

#: P(sentiment | band), columns in ``LABELS["sentiment"]`` order (negative, neutral, positive).
BAND_SENTIMENT = {
    "negative": (0.75, 0.15, 0.10),
    "neutral": (0.50, 0.30, 0.20),
    "positive": (0.15, 0.20, 0.65),
}
#: Exponent of the band prior (see module docstring); set from the tuning-half measurement.
SCORE_WEIGHT = 0.25


def combine(sent_probs, bands, weight: float = SCORE_WEIGHT) -> np.ndarray:
    """Sentiment probabilities (n, 3) with each row's band (``None``: no score) folded in."""
    probs = np.array(sent_probs, dtype=float, copy=True)
    bands = list(bands)
    if probs.shape != (len(bands), len(LABELS["sentiment"])):
        raise ValueError(f"{probs.shape[0]} probability rows but {len(bands)} bands")
    if weight == 0:
        return probs
    for i, band in enumerate(bands):
        if band is None:
            continue
        if band not in BAND_SENTIMENT:
            raise ValueError(f"unknown score band {band!r}; expected one of {tuple(BAND_SENTIMENT)}")
        row = probs[i] * np.power(BAND_SENTIMENT[band], weight)
        probs[i] = row / row.sum()
    return probs


def combined_labels(comment_labels, bands, weight: float = SCORE_WEIGHT) -> list[str]:
    """Comment sentiment labels of :class:`analysis.labeller.CommentLabels` with the bands folded in."""
    names = LABELS["sentiment"]
    probs = np.array([[c.sentiment_probs[n] for n in names] for c in comment_labels]).reshape(-1, len(names))
    return [names[k] for k in combine(probs, bands, weight).argmax(1)]


def with_score_bands(comment_labels, bands, weight: float = SCORE_WEIGHT) -> list:
    """Copies of :class:`analysis.labeller.CommentLabels` whose comment-level sentiment has the
    band folded in; theme and every clause's labels are left as the text gave them."""
    import dataclasses

    names = LABELS["sentiment"]
    comment_labels = list(comment_labels)
    if not comment_labels:
        return []
    probs = combine([[c.sentiment_probs[n] for n in names] for c in comment_labels], bands, weight)
    out = []
    for c, row in zip(comment_labels, probs.tolist()):
        k = max(range(len(names)), key=row.__getitem__)
        out.append(dataclasses.replace(c, sentiment=names[k], sentiment_proba=row[k],
                                       sentiment_probs=dict(zip(names, row))))
    return out
