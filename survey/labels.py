"""Labels on answers: what models said, what analysts corrected, and which is in force.

The insights service (``survey.insights.service``) stores model labels through
``store_encoded_labels`` (``record_model_labels`` for labels in hand); the dashboard stores corrections through
``correct_label``. Both keep
``Response.sentiment`` / ``Response.theme`` (the labels in force) in step,
and a correction is never overwritten by a later model run.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Iterable

import sqlalchemy as sa

from analysis.labels import SENTIMENTS, THEMES
from survey.db import chunks, db
from survey.models import LabelCorrection, Response, ResponseLabel, User, utcnow

if TYPE_CHECKING:  # the labeller's own result type; importing it would load numpy into every web worker
    from analysis.labeller import CommentLabels


#: An analyst's label still in force: not superseded by the customer rewriting the comment. Every
#: query that shows, counts or trains on analysts' labels selects through this.
IN_FORCE = LabelCorrection.superseded_at.is_(None)


def corrected_fields(response_ids: Iterable[int], confirmations: bool = True) -> dict[int, set[str]]:
    """Which of these responses have an analyst's label (a correction, or a confirmation unless
    ``confirmations`` is false), and for which fields.

    One query over the ids' range, not IN lists: corrections are few (an analyst makes each),
    and a batch of labels is a run of ids, so the range holds little else.
    """
    ids = set(response_ids)
    if not ids:
        return {}
    found: dict[int, set[str]] = {}
    query = (sa.select(LabelCorrection.response_id, LabelCorrection.field)
             .where(LabelCorrection.response_id.between(min(ids), max(ids)), IN_FORCE).distinct())
    if not confirmations:
        query = query.where(LabelCorrection.id.in_(latest_label_ids()), ~LabelCorrection.confirmed)
    rows = db.session.execute(query)
    for response_id, field in rows:
        if response_id in ids:
            found.setdefault(response_id, set()).add(field)
    return found


def record_model_labels(model_version: str, labelled: list[tuple[int, "CommentLabels"]]) -> int:
    """Add one batch of model labels (``(response id, labels)``) and update the labels in force.

    Probabilities are stored to four decimals. The caller commits: a batch is one transaction.
    """
    return store_label_rows(label_rows(model_version, labelled))


def label_rows(model_version: str, labelled: list[tuple[int, "CommentLabels"]]) -> list[dict]:
    """The ``response_labels`` rows of a batch: plain data, so a labelling child process can build them."""
    now = utcnow()
    return [
        {"response_id": response_id, "model_version": model_version, "sentiment": labels.sentiment,
         "sentiment_proba": round(labels.sentiment_proba, 4), "sentiment_probs": _rounded(labels.sentiment_probs),
         "theme": labels.theme, "theme_proba": round(labels.theme_proba, 4), "theme_probs": _rounded(labels.theme_probs),
         "clauses": [{"text": c.text, "sentiment": c.sentiment, "sentiment_probs": _rounded(c.sentiment_probs),
                      "theme": c.theme, "theme_probs": _rounded(c.theme_probs)} for c in labels.clauses],
         "labelled_at": now}
        for response_id, labels in labelled
    ]


def label_rows_from_probs(model_version: str, response_ids: list[int], sentiment, theme, clauses) -> list[dict]:
    """:func:`label_rows` built straight from the labeller's arrays (``Labeller.comment_probs``).

    ``sentiment`` and ``theme`` are (n, 3) comment probabilities (the score band already folded
    into sentiment), ``clauses`` the ``(texts, offsets, sentiment, theme)`` of their clauses.
    The rows are those :func:`label_rows` makes from the same labels, value for value
    (``tests/test_analyze_batches.py``), without a dataclass and two dicts per clause on the
    way: at a million comments that building cost more than the model itself.
    """
    texts, offsets, clause_sentiment, clause_theme = clauses
    s_names, t_names = tuple(SENTIMENTS), tuple(THEMES)

    def rounded(probs) -> list[list[float]]:
        flat = [round(p, 4) for p in probs.ravel().tolist()]  # Python's round, as label_rows
        width = probs.shape[1]
        return [flat[i:i + width] for i in range(0, len(flat), width)]

    s_top, t_top = sentiment.argmax(1).tolist(), theme.argmax(1).tolist()
    s_rows, t_rows = rounded(sentiment), rounded(theme)
    cs_rows, ct_rows = rounded(clause_sentiment), rounded(clause_theme)
    cs_top = clause_sentiment.argmax(1).tolist() if len(clause_sentiment) else []
    ct_top = clause_theme.argmax(1).tolist() if len(clause_theme) else []
    now = utcnow()
    rows = []
    for i, response_id in enumerate(response_ids):
        s, t = s_rows[i], t_rows[i]
        rows.append({
            "response_id": response_id, "model_version": model_version, "sentiment": s_names[s_top[i]],
            "sentiment_proba": s[s_top[i]], "sentiment_probs": dict(zip(s_names, s)),
            "theme": t_names[t_top[i]], "theme_proba": t[t_top[i]], "theme_probs": dict(zip(t_names, t)),
            "clauses": [{"text": texts[j], "sentiment": s_names[cs_top[j]],
                         "sentiment_probs": dict(zip(s_names, cs_rows[j])),
                         "theme": t_names[ct_top[j]], "theme_probs": dict(zip(t_names, ct_rows[j]))}
                        for j in range(offsets[i], offsets[i + 1])],
            "labelled_at": now})
    return rows


#: A stored ``response_labels`` row's columns, in the order of :func:`encode_label_rows`' tuples.
LABEL_COLUMNS = ("response_id", "model_version", "sentiment", "sentiment_proba", "sentiment_probs",
                 "theme", "theme_proba", "theme_probs", "clauses", "labelled_at")


def encode_label_rows(rows: list[dict]) -> list[tuple]:
    """:func:`label_rows` rows as the driver stores them: tuples in :data:`LABEL_COLUMNS` order, the
    JSON columns as the text SQLAlchemy's JSON type writes (``json.dumps``, as psycopg's ``Json`` too).

    Built where the labels are made (a labelling child), so the storing process hands the tuples
    to the driver as they are (:func:`store_encoded_labels`).
    """
    dumps = json.dumps
    return [(row["response_id"], row["model_version"], row["sentiment"], row["sentiment_proba"],
             dumps(row["sentiment_probs"]), row["theme"], row["theme_proba"], dumps(row["theme_probs"]),
             dumps(row["clauses"]), row["labelled_at"]) for row in rows]


def store_label_rows(rows: list[dict]) -> int:
    """Insert :func:`label_rows` rows and put their labels in force where no analyst corrected them."""
    return store_encoded_labels(encode_label_rows(rows))


def store_encoded_labels(rows: list[tuple], index_order: Callable[[int], Any] | None = None) -> int:
    """Insert :func:`encode_label_rows` tuples and put their labels in force where no analyst corrected them.

    One driver executemany per table with the tuples as they are: at a million comments
    SQLAlchemy's per-row parameter processing and JSON encoding cost more CPU than SQLite's
    own work (benchmarks/README.md). The caller commits: a batch is one transaction.

    The labels in force are columns of the date index (``ix_responses_survey_created``), so each
    update moves an entry there. ``index_order(response id)``, if given, is the answer's
    ``(survey id, created_at)``: updating in that order visits each index page once, in turn,
    instead of a batch's answers' random dates sending SQLite back and forth across the index (on
    a generated million, storing 200,000 labels took 22.6 s of CPU in id order, 11.7 s in date order).
    """
    if not rows:
        return 0
    connection = db.session.connection()
    mark = _PLACEHOLDER[connection.dialect.paramstyle]
    labels, responses = ResponseLabel.__table__, Response.__table__
    stamp = _bind_processor(labels.c.labelled_at, connection.dialect)
    stamps = {at: stamp(at) for at in {row[9] for row in rows}}
    connection.exec_driver_sql(
        f"INSERT INTO {labels.name} ({', '.join(LABEL_COLUMNS)}) VALUES ({', '.join([mark] * len(LABEL_COLUMNS))})",
        [row[:9] + (stamps[row[9]],) for row in rows])
    # The labels in force, where no analyst corrected them; updated_at as its onupdate would set it.
    corrected = corrected_fields(row[0] for row in rows)
    now = _bind_processor(responses.c.updated_at, connection.dialect)(utcnow())
    in_force = [row for row in rows if row[0] not in corrected]
    if index_order is not None:
        in_force.sort(key=lambda row: index_order(row[0]))
    if in_force:  # (an empty executemany would run the statement once, without parameters)
        connection.exec_driver_sql(
            f"UPDATE {responses.name} SET sentiment = {mark}, theme = {mark}, label_version = {mark}, "
            f"updated_at = {mark} WHERE id = {mark}",
            [(row[2], row[5], row[1], now, row[0]) for row in in_force])
    for row in rows:
        fields = corrected.get(row[0])
        if fields:  # rare: an analyst corrected one of the two labels before this model saw the comment
            values = {"label_version": row[1], **{field: row[index] for field, index in (("sentiment", 2), ("theme", 5))
                                                  if field not in fields}}
            db.session.execute(sa.update(Response).where(Response.id == row[0]).values(values))
    return len(rows)


#: Where a value goes in driver SQL, per DBAPI paramstyle (sqlite3: qmark; psycopg: pyformat, which takes %s).
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _bind_processor(column: sa.Column, dialect):
    """How the column's type hands a value to this driver (identity where the driver takes it as is)."""
    return column.type.bind_processor(dialect) or (lambda value: value)


def _rounded(probs: dict[str, float]) -> dict[str, float]:
    return {label: round(p, 4) for label, p in probs.items()}


class LabelError(ValueError):
    pass


def forget_model_labels(response: Response) -> None:
    """The comment of ``response`` was rewritten: every label judged the old text, so none stays in force.

    The model's labels go and the next run labels the new text (a run labels only what its model
    has not). An analyst's corrections and confirmations are kept as history, stamped
    ``superseded_at``: no longer in force, shown, counted or trained on, and the comment can come
    back to the label queue. The caller commits.
    """
    db.session.execute(sa.delete(ResponseLabel).where(ResponseLabel.response_id == response.id))
    db.session.execute(sa.update(LabelCorrection)
                       .where(LabelCorrection.response_id == response.id, IN_FORCE)
                       .values(superseded_at=utcnow()))
    response.sentiment = response.theme = response.label_version = None


def correct_labels(response: Response, changes: dict[str, str], user: User | None) -> list[LabelCorrection]:
    """An analyst's labels, stored with who and when and put in force at once; one commit.

    A value equal to the label in force is stored as a confirmation (``confirmed``): the analyst
    agrees with the model. Pass only the labels the analyst changed or confirmed
    (``survey.results.operations.apply_corrections`` decides). Every field is checked before anything is stored, so a bad value stores nothing.
    """
    allowed = {"sentiment": SENTIMENTS, "theme": THEMES}
    for field, value in changes.items():
        if field not in allowed:
            raise LabelError(f"only sentiment and theme can be corrected, not {field!r}")
        if value not in allowed[field]:
            raise LabelError(f"{field} must be one of {', '.join(allowed[field])}")
    corrections = []
    for field, value in changes.items():
        corrections.append(LabelCorrection(response_id=response.id, field=field, value=value,
                                           confirmed=getattr(response, field) == value,
                                           user_id=user.id if user else None))
        setattr(response, field, value)
    db.session.add_all(corrections)
    db.session.commit()
    return corrections


def correct_label(response: Response, field: str, value: str, user: User | None) -> LabelCorrection:
    """One correction; see ``correct_labels``."""
    return correct_labels(response, {field: value}, user)[0]


def latest_label_ids():
    """The ids of each response's latest analyst label per field (the one in force)."""
    return (sa.select(sa.func.max(LabelCorrection.id)).where(IN_FORCE)
            .group_by(LabelCorrection.response_id, LabelCorrection.field))


def corrections_for_training() -> list[tuple[str, str, str]]:
    """``(comment, task, label)`` from each response's latest analyst label per field (corrections and
    confirmations alike: a confirmed uncertain label teaches as much as a changed one)."""
    latest = (
        sa.select(LabelCorrection.response_id, LabelCorrection.field, sa.func.max(LabelCorrection.id).label("id"))
        .where(IN_FORCE).group_by(LabelCorrection.response_id, LabelCorrection.field).subquery()
    )
    rows = db.session.execute(
        sa.select(Response.comment, LabelCorrection.field, LabelCorrection.value)
        .join(latest, latest.c.id == LabelCorrection.id)
        .join(Response, Response.id == LabelCorrection.response_id)
        .where(Response.comment.is_not(None))
        .order_by(LabelCorrection.id)
    )
    return [(comment, field, value) for comment, field, value in rows]
