"""Label batches of comments in child processes while this one reads and stores (``flask analyze --workers``).

On a million comments the model and the database each take minutes; with
child processes labelling batch *k + 1* while this process stores batch *k*,
two cores do both at once. The children only run the model: they never touch
the database, so every write (and every commit, one per batch, in order) stays
in the insights service. Labels do not depend on the batch or the process that
computed them (``tests/test_analyze_batches.py``).

Children are forked, so they share the loaded model with this process instead
of loading it again. Fork is only safe where nothing else runs in other
threads: ``flask analyze`` asks for workers, the dashboard's background job
does not. Where fork is unavailable (not Linux), labelling stays in-process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.labeller import Labeller

#: The labeller children use: set before they are forked, so each inherits it.
_labeller: "Labeller | None" = None

#: ``label(ids, texts, bands, weight)``: a future of the batch's ``response_labels`` rows.
LabelBatch = Callable[[list[int], list[str], list[str | None], float], "Future[list[dict]]"]


def label_batch(labeller: "Labeller", ids: list[int], texts: list[str], bands: list[str | None],
                weight: float) -> list[dict]:
    """One batch's label rows (:func:`survey.labels.label_rows`), the score band tipping close calls
    of comment sentiment; built where the model ran, so the storing process only stores.

    The rows come straight from the model's arrays (:func:`survey.labels.label_rows_from_probs`),
    equal to ``label_rows(version, zip(ids, with_score_bands(labeller.label(texts), bands, weight)))``.
    """
    from analysis.score_band import combine
    from survey.labels import label_rows_from_probs

    if not texts:
        return []
    sentiment, theme, clauses = labeller.comment_probs(texts, keep_clauses=True)
    return label_rows_from_probs(labeller.version, ids, combine(sentiment, bands, weight), theme, clauses)


def _label_in_child(ids: list[int], texts: list[str], bands: list[str | None], weight: float) -> list[dict]:
    return label_batch(_labeller, ids, texts, bands, weight)


@contextlib.contextmanager
def labelling(labeller: "Labeller", workers: int) -> Iterator[LabelBatch]:
    """A function that labels a batch, in ``workers`` child processes (0: here, at once)."""
    global _labeller
    if workers < 1 or sys.platform != "linux":
        def here(ids, texts, bands, weight):
            done: Future = Future()
            done.set_result(label_batch(labeller, ids, texts, bands, weight))
            return done

        yield here
        return
    _labeller = labeller
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            yield lambda ids, texts, bands, weight: pool.submit(_label_in_child, ids, texts, bands, weight)
    finally:
        _labeller = None
