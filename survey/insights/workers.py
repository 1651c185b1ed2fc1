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
    from analysis.labeller import CommentLabels, Labeller

#: The labeller children use: set before they are forked, so each inherits it.
_labeller: "Labeller | None" = None

#: ``label(texts, bands, weight)``: a future of the batch's labels, score bands folded in.
LabelBatch = Callable[[list[str], list[str | None], float], "Future[list[CommentLabels]]"]


def label_batch(labeller: "Labeller", texts: list[str], bands: list[str | None], weight: float):
    """One batch's labels, with the score band tipping close calls of comment sentiment."""
    from analysis.score_band import with_score_bands

    return with_score_bands(labeller.label(texts), bands, weight)


def _label_in_child(texts: list[str], bands: list[str | None], weight: float):
    return label_batch(_labeller, texts, bands, weight)


@contextlib.contextmanager
def labelling(labeller: "Labeller", workers: int) -> Iterator[LabelBatch]:
    """A function that labels a batch, in ``workers`` child processes (0: here, at once)."""
    global _labeller
    if workers < 1 or sys.platform != "linux":
        def here(texts, bands, weight):
            done: Future = Future()
            done.set_result(label_batch(labeller, texts, bands, weight))
            return done

        yield here
        return
    _labeller = labeller
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            yield lambda texts, bands, weight: pool.submit(_label_in_child, texts, bands, weight)
    finally:
        _labeller = None
