"""Parse historical feedback from a CSV file into rows ready to store.

Pure functions (no database): ``parse_feedback_csv`` returns the good rows and
a list of problems with their line numbers; the caller decides whether a file
with problems loads anything.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Iterable, TextIO

from survey.textrules import check_text

# Formats tried when the user gives none. Day-first and month-first both stay
# in: the importer only picks one when it is the single format that parses
# every date, and refuses the file when several do.
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y",
    "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y",
    "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d, %Y",
)


class ImportError_(ValueError):
    """The file as a whole cannot be imported (missing column, ambiguous dates...)."""


@dataclass
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class FeedbackRow:
    line: int
    text: str | None
    score: int | None = None
    created_at: dt.datetime | None = None
    external_id: str | None = None


@dataclass
class ParsedFile:
    rows: list[FeedbackRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    date_format: str | None = None


def read_records(stream: TextIO) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Return the header and ``(line number, record)`` pairs; line numbers count the header as 1."""
    reader = csv.DictReader(stream)
    header = reader.fieldnames or []
    records = []
    line = reader.line_num + 1
    for record in reader:
        records.append((line, record))
        line = reader.line_num + 1  # a quoted field may span several physical lines
    return header, records


def require_columns(header: list[str], **columns: str | None) -> None:
    for option, name in columns.items():
        if name is not None and name not in header:
            raise ImportError_(
                f"the file has no column {name!r} (given as --{option.replace('_', '-')}); "
                f"its columns are: {', '.join(header) or '(none: is the file empty?)'}"
            )


def parse_datetime(value: str, fmt: str) -> dt.datetime:
    parsed = dt.datetime.strptime(value.strip(), fmt)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def detect_date_format(values: Iterable[str], formats: Iterable[str] = DATE_FORMATS) -> str:
    """The one format that parses every value; ImportError_ if none or several do."""
    values = [v for v in values if v.strip()]
    if not values:
        raise ImportError_("the date column is empty")
    fitting = []
    for fmt in formats:
        try:
            for value in values:
                parse_datetime(value, fmt)
        except ValueError:
            continue
        fitting.append(fmt)
    if not fitting:
        raise ImportError_(
            f"no known date format fits every date (for example {values[0]!r}); "
            "give one with --date-format, e.g. --date-format '%d/%m/%Y %H:%M'"
        )
    if len(fitting) > 1:
        raise ImportError_(
            "the dates are ambiguous: every one of them parses as " + " and as ".join(repr(f) for f in fitting[:3])
            + " (is 04/05 April or May?); say which with --date-format"
        )
    return fitting[0]


def parse_score(value: str, low: int, high: int) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        score = int(value)
    except ValueError:
        raise ValueError(f"score {value!r} is not a whole number") from None
    if not low <= score <= high:
        raise ValueError(f"score {score} is outside {low}–{high}")
    return score


def parse_feedback_csv(
    stream: TextIO,
    *,
    text_col: str,
    scale: tuple[int, int],
    score_col: str | None = None,
    date_col: str | None = None,
    date_format: str | None = None,
    id_col: str | None = None,
    max_text: int = 5000,
) -> ParsedFile:
    header, records = read_records(stream)
    require_columns(header, text_col=text_col, score_col=score_col, date_col=date_col, id_col=id_col)
    result = ParsedFile()
    if date_col and records:
        result.date_format = date_format or detect_date_format(r[date_col] or "" for _, r in records)
    seen_ids: dict[str, int] = {}
    for line, record in records:
        try:
            row = _parse_record(line, record, text_col, scale, score_col, date_col, result.date_format,
                                id_col, max_text)
        except ValueError as exc:
            result.problems.append(Problem(line, str(exc)))
            continue
        if row.external_id is not None:
            if row.external_id in seen_ids:
                result.problems.append(
                    Problem(line, f"id {row.external_id!r} already appears on line {seen_ids[row.external_id]}")
                )
                continue
            seen_ids[row.external_id] = line
        result.rows.append(row)
    return result


def _parse_record(line, record, text_col, scale, score_col, date_col, date_format, id_col, max_text):
    if None in record:
        raise ValueError("the line has more fields than the header")
    text = (record.get(text_col) or "").strip() or None
    if text is not None:
        check_text(text, "the text")  # the rule every channel shares; TextError is a ValueError
    if text and len(text) > max_text:
        raise ValueError(f"the text is longer than {max_text} characters")
    score = parse_score(record.get(score_col) or "", *scale) if score_col else None
    if text is None and score is None:
        raise ValueError("neither a text nor a score")
    created_at = None
    if date_col:
        raw = (record.get(date_col) or "").strip()
        if not raw:
            raise ValueError("the date is empty")
        try:
            created_at = parse_datetime(raw, date_format)
        except ValueError:
            raise ValueError(f"date {raw!r} does not match {date_format!r}") from None
    external_id = None
    if id_col:
        external_id = (record.get(id_col) or "").strip() or None
        if external_id is None:
            raise ValueError("the id is empty")
        if len(external_id) > 200:
            raise ValueError("the id is longer than 200 characters")
    return FeedbackRow(line=line, text=text, score=score, created_at=created_at, external_id=external_id)


def open_csv_text(data: bytes) -> TextIO:
    """Decode an uploaded file: UTF-8 (with or without BOM), else a clear error."""
    try:
        return io.StringIO(data.decode("utf-8-sig"), newline="")
    except UnicodeDecodeError as exc:
        raise ImportError_(f"the file is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8") from None
