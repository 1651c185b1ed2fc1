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
import gc
import multiprocessing
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from analysis.labeller import Labeller

T = TypeVar("T")

#: The labeller children use: set before they are forked, so each inherits it.
_labeller: "Labeller | None" = None

#: ``label(ids, texts, bands, weight, answers)``: a future of the batch's ``response_labels`` rows, encoded
#: for the driver (:func:`survey.labels.encode_label_rows`), and, given ``answers`` (each comment's survey
#: id and score), its clauses packed for the pain points
#: (:meth:`survey.insights.labelled_clauses.LabelledClauses.pack`; None without).
LabelBatch = Callable[[list[int], list[str], list[str | None], float, "list[tuple[int, int | None]] | None"],
                      "Future[tuple[list[tuple], list | None]]"]


def label_batch(labeller: "Labeller", ids: list[int], texts: list[str], bands: list[str | None],
                weight: float) -> tuple[list[tuple], list[tuple]]:
    """One batch's label rows, encoded for storing, and each comment's clause records, the score band
    tipping close calls of comment sentiment; built where the model ran, so the storing process only stores.

    The rows come straight from the model's arrays (:func:`survey.insights.encoded_labels.encoded_batch`),
    equal to ``encode_label_rows(label_rows(version, zip(ids, with_score_bands(labeller.label(texts), bands,
    weight))))``.
    """
    from analysis.score_band import combine
    from survey.insights.encoded_labels import encoded_batch

    if not texts:
        return [], []
    sentiment, theme, clauses = labeller.comment_probs(texts, keep_clauses=True)
    return encoded_batch(labeller.version, ids, combine(sentiment, bands, weight), theme, clauses)


def _label_and_pack(labeller: "Labeller", ids, texts, bands, weight, answers) -> tuple[list[tuple], list | None]:
    from survey.insights.labelled_clauses import LabelledClauses

    rows, clauses = label_batch(labeller, ids, texts, bands, weight)
    return rows, None if answers is None else LabelledClauses.pack(ids, clauses, answers)


def _label_in_child(ids, texts, bands, weight, answers) -> tuple[list[tuple], list | None]:
    return _label_and_pack(_labeller, ids, texts, bands, weight, answers)


@contextlib.contextmanager
def labelling(labeller: "Labeller", workers: int) -> Iterator[LabelBatch]:
    """A function that labels a batch, in ``workers`` child processes (0: here, at once)."""
    global _labeller
    if workers < 1 or sys.platform != "linux":
        def here(ids, texts, bands, weight, answers):
            done: Future = Future()
            done.set_result(_label_and_pack(labeller, ids, texts, bands, weight, answers))
            return done

        yield here
        return
    _labeller = labeller
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            yield lambda *batch: pool.submit(_label_in_child, *batch)
    finally:
        _labeller = None


@contextlib.contextmanager
def in_child(target: Callable[..., T], *args) -> Iterator[Callable[[], T]]:
    """Run ``target(*args)`` in one forked child process while this one goes on.

    Yields a function that waits for the child and returns what ``target``
    returned (it must pickle), or raises :class:`ChildFailed` with the child's
    error. The child dies with this process (``PR_SET_PDEATHSIG``), and is
    killed if this one leaves the block before asking for the result. As with
    the labelling children, only where fork is safe: a single-threaded command.
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_run_in_child, args=(send, target, args), daemon=True)
    child.start()
    send.close()
    outcome: list = []

    def result() -> T:
        if not outcome:
            try:
                outcome.append(receive.recv())
            except EOFError:
                outcome.append((False, f"the child process ended without a result (exit code {child.exitcode})"))
            child.join()
        ok, value = outcome[0]
        if not ok:
            raise ChildFailed(value)
        return value

    try:
        yield result
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()


class ChildFailed(RuntimeError):
    """What went wrong in an :func:`in_child` process (its exception, as text)."""


def _run_in_child(send, target, args) -> None:
    _die_with_parent()
    # What the parent had at fork is left to the collector's permanent generation: collections here
    # would write to every object's header, copying the parent's pages into this process for nothing.
    gc.freeze()
    try:
        send.send((True, target(*args)))
    except BaseException as exc:  # noqa: BLE001 -- every failure goes back to the parent as text
        send.send((False, f"{type(exc).__name__}: {exc}"))
    finally:
        send.close()


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (a killed ``flask analyze`` leaves no orphan)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
