"""Which comments an analyst should label next: the ones the model is least sure of.

Uncertainty sampling (Lewis and Gale 1994) with the *margin* measure: a
comment whose top two probabilities are close is where a label teaches the
model most. A comment's uncertainty is the larger of its sentiment and theme
uncertainties (``1 - (p_top - p_second)``, 0 = sure, 1 = a tie).

Taking the top ``k`` straight away would fill the queue with one kind of
comment (often one survey's one theme, e.g. short tweets about delays);
:func:`pick` therefore deals round-robin from buckets of (survey, theme),
most uncertain first within each bucket and the buckets ordered by their most
uncertain comment, so the queue is spread over themes and surveys.

Plain data in, plain data out: the dashboard reads the stored probabilities
of the labels in force and passes them here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """One labelled comment as stored: ids, its theme in force and the model's probabilities."""

    response_id: int
    survey: str
    theme: str
    sentiment_probs: dict[str, float]
    theme_probs: dict[str, float]


def margin_uncertainty(probs: dict[str, float]) -> float:
    """``1 - (top - second)`` of a probability dict (1.0 for fewer than two classes' worth of data)."""
    values = sorted((float(p) for p in probs.values()), reverse=True)
    if len(values) < 2:
        return 1.0
    return round(1.0 - (values[0] - values[1]), 6)


def uncertainty(candidate: Candidate) -> float:
    """The larger of the sentiment and theme margin uncertainties."""
    return max(margin_uncertainty(candidate.sentiment_probs), margin_uncertainty(candidate.theme_probs))


def pick(candidates, k: int) -> list[tuple[Candidate, float]]:
    """Up to ``k`` ``(candidate, uncertainty)``, the least certain first, spread over (survey, theme).

    Deterministic: ties are broken by response id.
    """
    if k < 1:
        return []
    buckets: dict[tuple[str, str], list[tuple[float, int, Candidate]]] = defaultdict(list)
    for c in candidates:
        buckets[(c.survey, c.theme)].append((-uncertainty(c), c.response_id, c))
    queues = [sorted(items) for items in buckets.values()]
    queues.sort(key=lambda q: (q[0][0], q[0][1]))
    picked: list[tuple[Candidate, float]] = []
    depth = 0
    while len(picked) < k and any(depth < len(q) for q in queues):
        layer = [q[depth] for q in queues if depth < len(q)]
        for neg_u, _, c in sorted(layer, key=lambda t: (t[0], t[1])):
            picked.append((c, -neg_u))
            if len(picked) == k:
                break
        depth += 1
    return picked
