"""Parse historical feedback from a CSV file into rows ready to store.

Pure functions (no database): ``parse_feedback_csv`` returns the good rows and
a list of problems with their line numbers; the caller decides whether a file
with problems loads anything.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Iterable, TextIO

from survey.textrules import check_text, comment_text

# Formats tried when the user gives none. Day-first and month-first both stay
# in: the importer only picks one when it is the single format that parses
# every date, and refuses the file when several do.
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y",
    "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d-%m-%Y", "%m-%d-%Y",
    "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d, %Y",
    "iso8601",
)
#: ``--date-format iso8601``: any ISO 8601 date or time, with ``T``, fractions of a second
#: and an offset or ``Z`` (``2024-01-05T10:00:00+01:00``, ``2024-01-05T09:00:00.123Z``).
ISO_8601 = "iso8601"
#: Spreadsheets export with these; the header line decides which one a file uses.
DELIMITERS = (",", ";", "\t", "|")


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


def header_only_notice(name: str, parsed) -> str | None:
    """What to say of a file with a header and not one line under it (a ``ParsedFile`` or contacts file with
    no rows and no bad lines); None for any other. Not an error: a cron job's empty export imports nothing."""
    if parsed.rows or parsed.problems:
        return None
    return f"{name} has a header but no rows; nothing imported"


def sniff_delimiter(text: str) -> str:
    """The separator that splits the header line into the most columns (a comma when none does)."""
    first_line = re.split(r"[\r\n]", text, maxsplit=1)[0]
    counts = {d: len(next(csv.reader([first_line], delimiter=d), [])) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equals: the comma
    return best if counts[best] > 1 else ","


def read_records(stream: TextIO) -> tuple[list[str], list[tuple[int, dict[str, str]]], list[Problem]]:
    """The header, ``(line number, record)`` pairs and the ragged lines as problems.

    Line numbers count the header as 1 and name the line a record starts on (a
    quoted field may span several). The separator is sniffed from the header.
    A file that cannot be read as CSV at all (a quote never closed, a field
    over the csv module's 128 KiB) raises ImportError_ naming the line: in
    such a file any later line may be misread, so none is imported.
    """
    text = stream.read()
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    records: list[tuple[int, dict[str, str]]] = []
    problems: list[Problem] = []
    line = 1
    try:
        for fields in reader:
            if header is None:
                header = fields
            elif fields:  # a blank line is no record
                if len(fields) != len(header):
                    problems.append(Problem(line, _ragged(len(fields), len(header), delimiter)))
                else:
                    records.append((line, dict(zip(header, fields))))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ImportError_(_unreadable(line, reader.line_num, str(exc))) from None
    return header or [], records, problems


def _ragged(found: int, expected: int, delimiter: str) -> str:
    name = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "'|'"}[delimiter]
    more = "more" if found > expected else "fewer"
    return (f"the line has {found} field(s): {more} fields than the header ({expected}, separated by {name}s); "
            "is a separator missing or extra, or a field with a separator not quoted?")


def _unreadable(start: int, at: int, reason: str) -> str:
    return f"line {start}: {unreadable_csv(reason, at)}; nothing was imported"


def unreadable_csv(reason: str, at: int) -> str:
    """Why a (``strict``) CSV reader stopped, for a person: ``reason`` is its csv.Error, ``at`` its line_num.

    Every CSV file Rapport reads says this the same way, after "line N: " (the line the record starts on).
    """
    if "field larger than field limit" in reason:
        return (f"a field is longer than {csv.field_size_limit() // 1024} KiB; no answer is that long, "
                "so a quote was probably left open there or above")
    if "unexpected end of data" in reason:
        return ('a quoted field starts here and its closing quote (") is missing, so the rest of the file '
                f"(to line {at}) would be read as one field")
    return (f"the CSV is malformed ({reason}): a field holding a quote, a separator or a line break must be "
            'enclosed in double quotes, with each quote inside doubled ("")')


def require_columns(header: list[str], **columns: str | None) -> None:
    for option, name in columns.items():
        if name is not None and name not in header:
            raise ImportError_(
                f"the file has no column {name!r} (given as --{option.replace('_', '-')}); "
                f"its columns are: {', '.join(header) or '(none: is the file empty?)'}"
            )
        if name is not None:
            refuse_twice(header, name)


def refuse_twice(header: list[str], name: str) -> None:
    """ImportError_ when the column a command reads is in the header more than once.

    Each line is read by column name, so only one of the two would be read, and
    which one the person meant cannot be told.
    """
    places = [str(number) for number, column in enumerate(header, 1) if column == name]
    if len(places) > 1:
        raise ImportError_(f"line 1: the header has column {name!r} {len(places)} times (columns "
                           f"{' and '.join(places)}); rename or delete all but one")


def parse_datetime(value: str, fmt: str) -> dt.datetime:
    """A naive UTC datetime; an offset (or ``Z``) in the value is applied, not dropped."""
    value = value.strip()
    if fmt == ISO_8601:
        # Python 3.10's fromisoformat knows neither Z nor every fraction length; 3.11's does.
        parsed = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value[-1:] in "Zz" else value)
    else:
        parsed = dt.datetime.strptime(value, fmt)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _parses(value: str, fmt: str) -> dt.datetime | None:
    try:
        return parse_datetime(value, fmt)
    except ValueError:
        return None


def detect_date_format(values: Iterable[str], formats: Iterable[str] = DATE_FORMATS) -> str:
    """The one format that parses every value; ImportError_ if none or several do."""
    dated = [(None, v) for v in values]
    fmt, misfits = pick_date_format(dated, formats)
    if misfits:
        raise ImportError_(f"no known date format fits every date (for example {misfits[0][1]!r}); "
                           "give one with --date-format, e.g. --date-format '%d/%m/%Y %H:%M'")
    return fmt


def pick_date_format(dated: Iterable[tuple[int | None, str]],
                     formats: Iterable[str] = DATE_FORMATS) -> tuple[str, list[tuple[int | None, str]]]:
    """The format most ``(line, value)`` dates fit, and the dates it does not fit.

    Formats that read every date alike (``%Y-%m-%dT%H:%M:%S`` and ISO 8601)
    are one choice; formats that fit equally many dates but read them
    differently (04/05: April or May?) make the file ambiguous (ImportError_).
    None fitting any date is an ImportError_ that names the first line.
    """
    dated = [(line, v) for line, v in dated if v and v.strip()]
    if not dated:
        raise ImportError_("the date column is empty")
    readings = {fmt: [_parses(value, fmt) for _, value in dated] for fmt in formats}
    fits = {fmt: sum(r is not None for r in read) for fmt, read in readings.items()}
    most = max(fits.values())
    if most == 0:
        line, value = dated[0]
        where = f"line {line}: " if line is not None else ""
        raise ImportError_(f"{where}no known date format fits the date {value!r}; give one with --date-format, "
                           "e.g. --date-format '%d/%m/%Y %H:%M' (or iso8601)")
    best = [fmt for fmt in readings if fits[fmt] == most]
    if any(readings[fmt] != readings[best[0]] for fmt in best[1:]):
        differing = [fmt for fmt in best if readings[fmt] != readings[best[0]]]
        raise ImportError_(
            "the dates are ambiguous: " + ("every one" if most == len(dated) else f"{most} of them")
            + " parse as " + " and as ".join(repr(f) for f in [best[0], *differing][:3])
            + " (is 04/05 April or May?); say which with --date-format")
    chosen = best[0]
    return chosen, [pair for pair, reading in zip(dated, readings[chosen]) if reading is None]


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
    header, records, ragged = read_records(stream)
    require_columns(header, text_col=text_col, score_col=score_col, date_col=date_col, id_col=id_col)
    result = ParsedFile(problems=ragged)
    if date_format:
        check_date_format(date_format)
    if date_col and records:
        # Lines whose date does not fit the format most dates use are reported one by one below.
        result.date_format = date_format or pick_date_format((line, r[date_col]) for line, r in records)[0]
    seen_ids: dict[str, int] = {}
    for line, record in records:
        try:
            row = _parse_record(line, record, text_col, scale, score_col, date_col, result.date_format,
                                id_col, max_text, format_given=bool(date_format))
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
    result.problems.sort(key=lambda problem: problem.line)
    return result


def check_date_format(date_format: str) -> None:
    """ImportError_ for a --date-format strptime cannot use (``%Q``, a stray ``%``): otherwise every
    line would be reported as not matching it, as if the dates were wrong."""
    if date_format == ISO_8601:
        return
    try:
        dt.datetime.strptime("", date_format)
    except ValueError as exc:
        if "directive" in str(exc) or "stray %" in str(exc):
            raise ImportError_(f"--date-format {date_format!r} is not a date format ({exc}); write it with "
                               "strptime codes, e.g. '%d/%m/%Y %H:%M', or iso8601") from None


def _parse_record(line, record, text_col, scale, score_col, date_col, date_format, id_col, max_text,
                  format_given=False):
    text = comment_text(record.get(text_col))
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
            if format_given:
                raise ValueError(f"date {raw!r} does not match --date-format {date_format!r}") from None
            raise ValueError(f"date {raw!r} does not match {date_format!r}, the format of the other dates; "
                             "correct it, or pass --date-format") from None
    external_id = None
    if id_col:
        external_id = (record.get(id_col) or "").strip() or None
        if external_id is None:
            raise ValueError("the id is empty")
        if len(external_id) > 200:
            raise ValueError("the id is longer than 200 characters")
    return FeedbackRow(line=line, text=text, score=score, created_at=created_at, external_id=external_id)


#: How much of a file's start tells what kind of file it is (a workbook's signature, UTF-16/32's NULs).
HEAD_BYTES = 4096


def open_csv_text(data: bytes) -> TextIO:
    """An uploaded file as a CSV reader's stream (see :func:`csv_text`)."""
    return io.StringIO(csv_text(data), newline="")


def csv_text(data: bytes) -> str:
    """Decode a file read whole: UTF-8 (with or without BOM), else :class:`ImportError_` saying why,
    naming the line where a line is to blame."""
    head = data[:HEAD_BYTES]
    refuse_unless_text(head)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportError_(not_utf8(head, first_line_not_utf8(data.split(b"\n")))) from None


def refuse_unless_text(head: bytes) -> None:
    """Raise :class:`ImportError_` when a file's first bytes (``head``, :data:`HEAD_BYTES` of them) show
    it is no UTF-8 text although it may decode as UTF-8: a workbook, UTF-16 or UTF-32 (Latin letters
    in them decode, NULs and all, into a header like "s c o r e"). Every command and upload that reads
    a CSV file checks this first, whether it reads the whole file or streams it."""
    problem = not_text(head)
    if problem:
        raise ImportError_(problem)


def not_text(head: bytes) -> str | None:
    """Why a file whose first bytes are ``head`` is not text Rapport reads, told by its kind, or None.

    Every file Rapport reads says this the same way, with what a spreadsheet user does
    about it. UTF-16 (a spreadsheet's "Unicode Text") and UTF-32 are named: their first line
    is already unreadable, and "line 1" alone would puzzle.
    """
    if head.startswith(b"PK\x03\x04"):  # a ZIP, as every .xlsx and .ods is
        return ("the file is a spreadsheet workbook (.xlsx or .ods), not CSV; open it and save it as CSV UTF-8")
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # the container of Excel 97-2003's .xls
        return "the file is an Excel 97-2003 workbook (.xls), not CSV; open it and save it as CSV UTF-8"
    if looks_utf32(head):  # before UTF-16: UTF-32's little-endian BOM starts as UTF-16's does
        return "the file is UTF-32 text, not UTF-8; save it as CSV UTF-8"
    if looks_utf16(head):
        return "the file is UTF-16 text (a spreadsheet's 'Unicode Text'), not UTF-8; save it as CSV UTF-8"
    return None


def not_utf8(head: bytes, line: int | None) -> str:
    """Why a file is refused whose first bytes are ``head`` and whose first line that is not UTF-8 is ``line``."""
    problem = not_text(head)
    if problem:
        return problem
    if b"\x00" in head:  # a NUL in a file that is UTF-8 goes to the text rule instead, with its line
        return "the file is not text (binary data), not a CSV file; save the data as CSV UTF-8"
    where = f"line {line}: " if line else ""
    return (f"{where}not UTF-8 text (perhaps Latin-1 or Windows-1252, an older spreadsheet's default); "
            "save the file as CSV UTF-8")


def looks_utf16(head: bytes) -> bool:
    """UTF-16 by its byte order mark, or without one by its NUL bytes: text of Latin letters is every
    other byte NUL, all on one side (a workbook or other binary file has NULs anywhere)."""
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return True
    even, odd = head[0::2], head[1::2]
    if len(odd) < 2:
        return False
    shares = sorted((even.count(0) / len(even), odd.count(0) / len(odd)))
    return shares[1] > 0.3 and shares[0] < 0.05


def looks_utf32(head: bytes) -> bool:
    """UTF-32 by its byte order mark, or without one by its NUL bytes: every character below U+10000
    (all text a survey sees) has its two high bytes NUL, the last two of four (little-endian) or the
    first two (big-endian)."""
    if head[:4] in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE):
        return True
    whole = head[:len(head) - len(head) % 4]
    if len(whole) < 8:
        return False
    columns = [whole[k::4] for k in range(4)]
    nul = [column.count(0) == len(column) for column in columns]
    return (nul[2] and nul[3] and not nul[0]) or (nul[0] and nul[1] and not nul[3])


def first_line_not_utf8(lines: Iterable[bytes]) -> int | None:
    """The number of the first of ``lines`` (a file's raw lines) that is not UTF-8."""
    for number, raw in enumerate(lines, 1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return number
    return None
