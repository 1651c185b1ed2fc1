"""The clauses of the comments a run labels, kept on the way for its pain points.

The pain points need every labelled comment's clauses: the negative ones to
group, the others as background (``survey.insights.queries.negative_clauses``).
Read back from the stored labels, that was a pass over a million JSON documents
after labelling (about a minute). The labelling process has each batch's
clauses in hand as it stores them, so it keeps what the grouping needs here:
per comment ``(response id, score, ((text, sentiment, theme, negativity), ...))``,
in blocks compressed into an unnamed temporary file, per survey, in id order.
Only labels stored before the run are then read from the database.

Whether that is complete is checked, not assumed: if the stored labels of the
scope are not exactly those from before the run plus those kept here (another
run stored some meanwhile, answers were deleted), the reading falls back to
the database for everything.
"""

from __future__ import annotations

import pickle
import tempfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping

#: ``(response id, score, ((text, sentiment, theme, negativity), ...))``: one labelled comment's clauses.
ClauseRecord = tuple[int, "int | None", tuple[tuple[str, str, str, float], ...]]


class LabelledClauses:
    """Clause records of the comments labelled in this run, per survey, in the order they were stored."""

    def __init__(self) -> None:
        self.before_id: int | None = None  # the highest label id before the run (labels above are this run's)
        self.whole = True  # False once a batch was stored only in part: then the database has the say
        self.counts: Counter[int] = Counter()  # survey id -> comments kept
        self._file = tempfile.TemporaryFile()
        self._blocks: dict[int, list[tuple[int, int]]] = defaultdict(list)  # survey id -> (offset, length)

    @staticmethod
    def pack(response_ids: list[int], clauses: list[tuple[tuple[str, str, str, float], ...]],
             answers: list[tuple[int, int | None]]) -> list[tuple[int, int, bytes]]:
        """A batch's clause records, per survey: ``(survey id, how many, compressed records)``.

        ``clauses`` are each comment's ``(text, sentiment, theme, negativity)``, ``answers`` its
        ``(survey id, score)``. Runs where the batch was labelled (a labelling child), so the
        storing process only appends bytes.
        """
        by_survey: dict[int, list[ClauseRecord]] = defaultdict(list)
        for response_id, records, (survey_id, score) in zip(response_ids, clauses, answers):
            by_survey[survey_id].append((response_id, score, records))
        return [(survey_id, len(records), zlib.compress(pickle.dumps(records, pickle.HIGHEST_PROTOCOL), 1))
                for survey_id, records in by_survey.items()]

    def add(self, packed: list[tuple[int, int, bytes]]) -> None:
        """Keep a stored batch's records (:meth:`pack`)."""
        for survey_id, count, data in packed:
            self._file.seek(0, 2)
            self._blocks[survey_id].append((self._file.tell(), len(data)))
            self._file.write(data)
            self.counts[survey_id] += count

    def records(self, survey_id: int) -> Iterator[ClauseRecord]:
        """The survey's records, in id order (labelling stores in id order)."""
        for offset, length in self._blocks.get(survey_id, ()):
            self._file.seek(offset)
            yield from pickle.loads(zlib.decompress(self._file.read(length)))

    def close(self) -> None:
        self._file.close()


def negativity(probs: Mapping[str, float] | None) -> float:
    """A clause's probability of being negative (1 when an analyst said so against the model)."""
    probs = probs or {}
    p = float(probs.get("negative", 1.0))
    return p if max(probs.values(), default=0.0) == p else 1.0
