"""The filtered answers as CSV, produced in batches so any size streams in bounded memory."""

from __future__ import annotations

import json
from collections.abc import Iterator

import sqlalchemy as sa

from survey.csvsafe import csv_line, csv_text
from survey.db import db
from survey.labels import corrected_fields
from survey.models import Contact, Response, ResponseLabel
from survey.results.filters import ResponseFilter

BATCH = 2000
FIXED_COLUMNS = [
    "id", "external_id", "created_at", "channel", "score", "band", "comment",
    "sentiment", "theme", "sentiment_proba", "theme_proba", "sentiment_corrected", "theme_corrected",
    "model_version", "contact_email",
]
# Plain columns, not ORM objects: nothing piles up in the session however many rows pass.
_COLUMNS = (
    Response.id, Response.external_id, Response.created_at, Response.channel, Response.score, Response.comment,
    Response.sentiment, Response.theme, ResponseLabel.sentiment_proba, ResponseLabel.theme_proba,
    Response.label_version, Contact.email, Response.meta, Contact.attributes,
)


def attribute_keys(flt: ResponseFilter) -> tuple[list[str], list[str]]:
    """Every meta key and contact attribute key among the filtered answers (one pass over two columns)."""
    meta_keys: set[str] = set()
    contact_keys: set[str] = set()
    query = flt.apply(
        sa.select(Response.meta, Contact.attributes).outerjoin(Contact, Contact.id == Response.contact_id)
    ).execution_options(yield_per=BATCH)
    for meta, attributes in db.session.execute(query):
        if isinstance(meta, dict):
            meta_keys.update(meta)
        if isinstance(attributes, dict):
            contact_keys.update(attributes)
    return sorted(meta_keys), sorted(contact_keys)


def csv_lines(flt: ResponseFilter) -> Iterator[str]:
    """The header, then the answers oldest first, a batch of lines at a time; every cell is spreadsheet-safe."""
    meta_keys, contact_keys = attribute_keys(flt)
    yield csv_line(FIXED_COLUMNS + [f"meta.{k}" for k in meta_keys] + [f"contact.{k}" for k in contact_keys])
    spec = flt.survey.spec
    # Keyset pagination: each batch starts after the last (created_at, id) of the one before.
    after: tuple | None = None
    while True:
        query = (
            sa.select(*_COLUMNS)
            .outerjoin(Contact, Contact.id == Response.contact_id)
            .outerjoin(ResponseLabel, (ResponseLabel.response_id == Response.id)
                       & (ResponseLabel.model_version == Response.label_version))
            .where(*flt.conditions())
            .order_by(Response.created_at, Response.id)
            .limit(BATCH)
        )
        if after is not None:
            query = query.where(sa.tuple_(Response.created_at, Response.id) > sa.tuple_(*after))
        batch = db.session.execute(query).all()
        if not batch:
            return
        corrected = corrected_fields((row.id for row in batch), confirmations=False)  # a confirmation changed nothing
        lines = []
        for row in batch:
            fields = corrected.get(row.id, set())
            meta = row.meta if isinstance(row.meta, dict) else {}
            attributes = row.attributes if isinstance(row.attributes, dict) else {}
            lines.append([
                row.id, row.external_id, row.created_at.isoformat(sep=" ", timespec="seconds"), row.channel,
                row.score, None if row.score is None else spec.band(row.score), row.comment,
                row.sentiment, row.theme, _rounded(row.sentiment_proba), _rounded(row.theme_proba),
                "sentiment" in fields, "theme" in fields, row.label_version, row.email,
                *[_cell(meta.get(k)) for k in meta_keys],
                *[_cell(attributes.get(k)) for k in contact_keys],
            ])
        yield csv_text(lines)
        after = (batch[-1].created_at, batch[-1].id)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _cell(value: object) -> object:
    # Nested JSON (a list or object in an attribute) is written as its text.
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value
