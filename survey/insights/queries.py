"""What the insights service reads from the database: the answers, labels and scores in a run's scope.

Read-only; every query is limited to the surveys in scope and, with ``since``,
to answers given on or after that moment. Large results stream
(``yield_per``) so memory stays flat on big surveys.
"""

from __future__ import annotations

import datetime as dt
import heapq
import operator
import sys
import zlib
from collections import defaultdict
from collections.abc import Iterator

import sqlalchemy as sa

from analysis.labels import SENTIMENTS, THEMES
from analysis.painpoints import NegativeClause
from survey.db import db
from survey.insights.findings import SurveyPainPoint
from survey.insights.labelled_clauses import ClauseRecord, LabelledClauses, negativity
from survey.kinds import KINDS
from survey.labels import IN_FORCE, latest_label_ids
from survey.models import LabelCorrection, Response, ResponseLabel, Survey

#: Rows fetched at a time from the big streaming queries.
STREAM_ROWS = 2000


def scoped(query: sa.Select, survey_ids: list[int], since: dt.datetime | None) -> sa.Select:
    """``query`` limited to the answers of these surveys given on or after ``since``."""
    query = query.where(Response.survey_id.in_(survey_ids))
    return query.where(Response.created_at >= since) if since is not None else query


def count_comments(survey_ids: list[int], since: dt.datetime | None) -> int:
    if not survey_ids:
        return 0
    return db.session.scalar(scoped(sa.select(sa.func.count(Response.id)).where(Response.comment.is_not(None)),
                                    survey_ids, since))


def count_answers(survey_ids: list[int], since: dt.datetime | None) -> int:
    return db.session.scalar(scoped(sa.select(sa.func.count(Response.id)), survey_ids, since))


def surveys_with_answers(since: dt.datetime | None) -> list[Survey]:
    has_answers = sa.select(Response.id).where(Response.survey_id == Survey.id)
    if since is not None:
        has_answers = has_answers.where(Response.created_at >= since)
    return list(db.session.scalars(sa.select(Survey).where(sa.exists(has_answers)).order_by(Survey.id)))


def negative_clauses(survey_ids: list[int], since: dt.datetime | None, version: str,
                     background: "list[str] | TextSpool | None" = None,
                     comments: dict[int, str] | None = None,
                     labelled: LabelledClauses | None = None) -> Iterator[NegativeClause]:
    """Negative clauses from the stored labels of ``version``.

    A one-clause comment follows an analyst's correction, so a correction of its sentiment or
    theme also moves it in or out of the pain points. Otherwise the clause keeps
    the text's own label: the score band may tip the comment's sentiment
    (``analysis.score_band``), never its clauses, so a promoter's one complaint
    still counts.
    The texts of the other clauses are appended to ``background`` when given
    (a :class:`TextSpool` keeps a million of them small): the pain-point grouping
    weighs words by how much more complaints say them.
    With ``comments``, each comment that has a negative clause also gets its
    whole (masked) text there, all clauses joined: the codeframe sorts whole
    comments, whose other clauses often name what went wrong.
    With ``labelled``, the clauses of the comments this run labelled come from there
    instead of the database (:mod:`survey.insights.labelled_clauses`), in the same order.
    """
    corrections = _corrections(survey_ids, since)
    for response_id, score, clauses in _clause_records(survey_ids, since, version, labelled):
        if len(clauses) == 1 and response_id in corrections:
            (text, sentiment, theme, negativity), = clauses
            fixed_sentiment, fixed_theme = corrections[response_id]
            clauses = ((text, fixed_sentiment or sentiment, fixed_theme or theme, negativity),)
        if comments is not None and any(clause[1] == "negative" for clause in clauses):
            comments[response_id] = " ".join(clause[0] for clause in clauses)
        for text, sentiment, theme, negativity in clauses:
            if sentiment == "negative":
                # Interned theme: a million clauses share three strings instead of holding one each.
                yield NegativeClause(response_id, text, sys.intern(theme), score, negativity)
            elif background is not None:
                background.append(text)


class TextSpool:
    """Texts appended one by one and read back in order, kept small.

    :func:`negative_clauses` fills one with the other clauses in the same pass
    over the labels, so their JSON is read and decoded once (a second pass
    cost about as much CPU again as the first). A million short ``str``
    objects take about twice their text's size; here blocks of texts are
    joined by line breaks and compressed (zlib's fastest level: ~30 MB for a
    million answers' clauses, and a few seconds). A block with a text that
    holds a line break itself (clauses never do: they are split there) stays
    a list.
    """

    BLOCK = 10_000

    def __init__(self) -> None:
        self._blocks: list[bytes | list[str]] = []
        self._open: list[str] = []

    def append(self, text: str) -> None:
        self._open.append(text)
        if len(self._open) >= self.BLOCK:
            self._close()

    def _close(self) -> None:
        joined = "\n".join(self._open)
        if joined.count("\n") == len(self._open) - 1:
            self._blocks.append(zlib.compress(joined.encode("utf-8"), 1))
        else:
            self._blocks.append(self._open)
        self._open = []

    def __iter__(self) -> Iterator[str]:
        for block in self._blocks:
            yield from (zlib.decompress(block).decode("utf-8").split("\n") if isinstance(block, bytes)
                        else block)
        yield from self._open


def _clause_records(survey_ids: list[int], since: dt.datetime | None, version: str,
                    labelled: LabelledClauses | None) -> Iterator[ClauseRecord]:
    """Every comment's clause record in scope, by id: this run's from ``labelled`` when it has them all."""
    if labelled is None or not _complete(labelled, survey_ids, since, version):
        return _stored_records(survey_ids, since, version)
    kept = [labelled.records(survey_id) for survey_id in survey_ids]
    if labelled.before_id is not None:
        kept.append(_stored_records(survey_ids, since, version, up_to_id=labelled.before_id))
    return heapq.merge(*kept, key=operator.itemgetter(0))


def _complete(labelled: LabelledClauses, survey_ids: list[int], since: dt.datetime | None, version: str) -> bool:
    """Whether the stored labels in scope are those from before the run plus exactly those kept in ``labelled``."""
    if not labelled.whole:
        return False
    before = ResponseLabel.id <= labelled.before_id if labelled.before_id is not None else sa.false()
    total, older = db.session.execute(
        scoped(sa.select(sa.func.count(ResponseLabel.id), sa.func.count(ResponseLabel.id).filter(before))
               .join(Response, Response.id == ResponseLabel.response_id)
               .where(ResponseLabel.model_version == version), survey_ids, since)).one()
    return total == older + sum(labelled.counts[survey_id] for survey_id in survey_ids)


def _stored_records(survey_ids: list[int], since: dt.datetime | None, version: str,
                    up_to_id: int | None = None) -> Iterator[ClauseRecord]:
    """Clause records of the stored labels of ``version`` in scope (with ``up_to_id``: labels up to that id)."""
    query = (sa.select(ResponseLabel.response_id, ResponseLabel.clauses, Response.score)
             .join(Response, Response.id == ResponseLabel.response_id)
             .where(ResponseLabel.model_version == version))
    if up_to_id is not None:
        query = query.where(ResponseLabel.id <= up_to_id)
    rows = db.session.execute(scoped(query, survey_ids, since).order_by(ResponseLabel.response_id)
                              .execution_options(yield_per=STREAM_ROWS))
    for response_id, clauses, score in rows:
        yield response_id, score, tuple((clause["text"], clause["sentiment"], clause["theme"],
                                         negativity(clause.get("sentiment_probs"))) for clause in clauses)


def _corrections(survey_ids: list[int], since: dt.datetime | None) -> dict[int, tuple[str | None, str | None]]:
    """Answer id -> (sentiment, theme) an analyst put in force (None where that field was not corrected)."""
    rows = db.session.execute(
        scoped(sa.select(Response.id, LabelCorrection.field, Response.sentiment, Response.theme)
               .join(LabelCorrection, LabelCorrection.response_id == Response.id).where(IN_FORCE),
               survey_ids, since).distinct())
    fixed: dict[int, tuple[str | None, str | None]] = {}
    for response_id, field, sentiment, theme in rows:
        was_sentiment, was_theme = fixed.get(response_id, (None, None))
        fixed[response_id] = (sentiment if field == "sentiment" else was_sentiment,
                              theme if field == "theme" else was_theme)
    return fixed


def pain_point_names(pain_points: list[SurveyPainPoint]) -> dict[int, list[str]]:
    """Answer id -> the names of the pain points it is in, in the report's order."""
    in_points: dict[int, list[str]] = defaultdict(list)
    for found in pain_points:
        for response_id in found.point.response_ids:
            in_points[response_id].append(found.point.label)
    return in_points


def response_rows(survey_ids: list[int], since: dt.datetime | None, version: str,
                  pain_points: list[SurveyPainPoint]) -> Iterator[dict]:
    """responses.csv lines, streamed: every answer in scope with its labels and probabilities."""
    in_points = pain_point_names(pain_points)
    corrected: dict[int, set[str]] = defaultdict(set)
    for response_id, field in db.session.execute(
        scoped(sa.select(LabelCorrection.response_id, LabelCorrection.field)
               .join(Response, Response.id == LabelCorrection.response_id)
               .where(LabelCorrection.id.in_(latest_label_ids()), ~LabelCorrection.confirmed),
               survey_ids, since).distinct()
    ):  # a confirmation (the analyst chose the model's label) changed nothing
        corrected[response_id].add(field)
    keys = dict(db.session.execute(sa.select(Survey.id, Survey.public_key).where(Survey.id.in_(survey_ids))).all())
    kinds = dict(db.session.execute(sa.select(Survey.id, Survey.kind).where(Survey.id.in_(survey_ids))).all())
    # Each probability read by the database's own JSON function (SQLite json_extract, PostgreSQL ->>):
    # decoding two JSON documents per answer in Python was most of the time of a million-line CSV.
    probabilities = [ResponseLabel.sentiment_probs[label].as_float().label(f"p_{label}") for label in SENTIMENTS] + \
        [ResponseLabel.theme_probs[label].as_float().label(f"p_{label}") for label in THEMES]
    rows = db.session.execute(
        scoped(sa.select(Response.id, Response.survey_id, Response.external_id, Response.created_at,
                         Response.channel, Response.score, Response.sentiment, Response.theme, Response.comment,
                         ResponseLabel.sentiment_proba, ResponseLabel.theme_proba, ResponseLabel.model_version,
                         *probabilities)
               .outerjoin(ResponseLabel, (ResponseLabel.response_id == Response.id)
                          & (ResponseLabel.model_version == version)), survey_ids, since)
        .order_by(Response.id)
        .execution_options(yield_per=STREAM_ROWS)
    )
    names = [column.name for column in probabilities]
    bands: dict[tuple[int, int], str] = {}  # (survey, score) -> band name: a few dozen, a million answers
    for (response_id, survey_id, external_id, created_at, channel, score, sentiment, theme, comment,
         sentiment_proba, theme_proba, model_version, *probs) in rows:
        band = None
        if score is not None:
            band = bands.get((survey_id, score))
            if band is None:
                band = bands[survey_id, score] = KINDS[kinds[survey_id]].band_name(score)
        line = {
            "response_id": response_id, "survey": keys[survey_id], "external_id": external_id,
            "created_at": created_at.replace(microsecond=0).isoformat(), "channel": channel,
            "score": score, "band": band,
            "sentiment": sentiment, "sentiment_proba": sentiment_proba,
            "theme": theme, "theme_proba": theme_proba,
        }
        line.update(zip(names, probs))
        line["corrected"] = sorted(corrected.get(response_id, ()))
        line["model_version"] = model_version
        line["pain_points"] = in_points.get(response_id, [])
        line["comment"] = comment
        yield line


def pending_labelling(version: str, survey_id: int | None, since: dt.datetime | None) -> sa.Select:
    """``(id, comment, score, kind, survey_id, created_at)`` of the comments in scope that ``version`` has not
    labelled, by id."""
    done = sa.select(ResponseLabel.id).where(ResponseLabel.response_id == Response.id,
                                             ResponseLabel.model_version == version)
    query = (sa.select(Response.id, Response.comment, Response.score, Survey.kind, Response.survey_id,
                       Response.created_at)
             .join(Survey, Survey.id == Response.survey_id)
             .where(Response.comment.is_not(None), ~sa.exists(done)))
    if survey_id is not None:
        # "+ 0" keeps the planner off the indexes that lead with survey_id: none can walk ids in
        # order, so SQLite read and sorted all of the survey's answers for every keyset page
        # (1.4 s a page at a million: quadratic). The primary key walks on from the last id and
        # stops after a page (15 ms).
        query = query.where(Response.survey_id + 0 == survey_id)
    if since is not None:
        query = query.where(Response.created_at >= since)
    return query.order_by(Response.id)


def still_unlabelled(version: str, response_ids: list[int]) -> set[int]:
    """Which of these answers still exist and have no labels from ``version``."""
    return set(db.session.scalars(
        sa.select(Response.id).where(
            Response.id.in_(response_ids),
            ~sa.exists().where(ResponseLabel.response_id == Response.id, ResponseLabel.model_version == version),
        )
    ))


def weak_labels(survey: Survey | None) -> list[tuple[str, str]]:
    """Comments whose score is in the negative or positive band, with that band as a sentiment label."""
    query = (sa.select(Response.comment, Response.score, Survey.kind).join(Survey, Survey.id == Response.survey_id)
             .where(Response.comment.is_not(None), Response.score.is_not(None)).order_by(Response.id))
    if survey is not None:
        query = query.where(Response.survey_id == survey.id)
    weak = []
    for comment, score, kind in db.session.execute(query.execution_options(yield_per=STREAM_ROWS)):
        band = KINDS[kind].band(score)
        if band != "neutral" and comment.strip():
            weak.append((comment, band))
    return weak
