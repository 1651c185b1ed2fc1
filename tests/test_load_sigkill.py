"""A web worker killed mid-load loses nothing it acknowledged and half-writes nothing.

gunicorn runs two workers; while answers pour in (through the answer form
and the widget API), one worker and then the
other is killed with SIGKILL (no chance to clean up). The master starts new
ones. Every answer the client saw acknowledged must be stored exactly once;
an answer whose connection broke may be stored or not, but only whole. Then
the client does what a browser's retry does — sends the broken ones again
with the same submission_key — and every answer ends up stored exactly once.
"""

import os
import signal
import threading
import time

import pytest

from survey.widget.operations import add_origins
from tests.load_support import (
    PARTNER_ORIGIN, make_submissions, problems_with, run_submissions, serve_app, stored_answers,
)

pytestmark = pytest.mark.slow

ANSWERS = 1200
CUSTOMERS = 16


def test_sigkilled_workers_lose_no_acknowledged_answer(app, make_survey, tmp_path):
    survey = make_survey("ces")
    add_origins(survey, [PARTNER_ORIGIN])
    submissions = make_submissions(ANSWERS, survey.scale, tag="kill", widget_every=4)
    progress = {"done": 0}
    kills: list[int] = []

    with serve_app(app, tmp_path, workers=2, threads=4) as server:
        originals = server.worker_pids()

        def killer():
            # Kill each of the two original workers once, a third and two thirds into the load.
            for victim, fraction in zip(originals, (1 / 3, 2 / 3)):
                deadline = time.monotonic() + 60
                while progress["done"] < ANSWERS * fraction and time.monotonic() < deadline:
                    time.sleep(0.01)
                os.kill(victim, signal.SIGKILL)
                kills.append(victim)
                server.wait_for_workers(2, exclude=set(kills))

        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        result = run_submissions(server.port, survey.public_key, submissions, concurrency=CUSTOMERS,
                                 posts_per_page=3, deadline=90,
                                 on_progress=lambda n: progress.__setitem__("done", n))
        print(result.summary())
        thread.join(30)
        assert len(kills) == 2, f"the workers were not both killed: {kills}; {server.log_tail()}"
        workers_after = server.worker_pids()
        assert len(workers_after) == 2 and not set(workers_after) & set(kills), "the master did not replace them"

        assert not result.unsent, f"the load did not finish in time: {result.summary()}"
        broken = {key: o for key, o in result.outcomes.items() if not o.acknowledged}
        # Only broken connections may go unacknowledged: no 5xx, no refusals.
        assert all(o.status is None for o in broken.values()), result.summary()
        assert broken, f"no request was cut off, so the kills did not hit the load: {result.summary()}"

        stored = stored_answers([sub.key for sub in submissions])
        assert result.acknowledged <= set(stored), (
            f"{len(result.acknowledged - set(stored))} acknowledged answers were lost; {result.summary()}")
        # Cut-off answers are stored whole or not at all; nothing appears twice.
        assert problems_with(stored, submissions, survey.id) == []

        # The customer's retry: the same answer, the same submission_key, a fresh page load.
        retries = [sub for sub in submissions if sub.key in broken]
        retried = run_submissions(server.port, survey.public_key, retries, concurrency=4, deadline=30)
        assert retried.acknowledged == {sub.key for sub in retries}, retried.summary()

    stored = stored_answers([sub.key for sub in submissions])
    assert set(stored) == {sub.key for sub in submissions}
    assert problems_with(stored, submissions, survey.id) == []
