"""CSV cells that a spreadsheet will never run as a formula (plain Python, no Flask).

Excel, LibreOffice and Google Sheets treat a cell starting with ``=``, ``+``,
``-`` or ``@`` as a formula, and tab, carriage return or line feed can smuggle
one past a first-character check, as can spaces (no-break ones too) in front of
it, which spreadsheets skip; a customer's comment must never do that on an
analyst's machine (OWASP "CSV injection", its full list, and the full-width
forms some spreadsheets also read). Such text cells get a leading apostrophe,
which spreadsheets show as text. Numbers are written as numbers:
they cannot hold a formula, and ``-3`` should stay a number.

Every CSV Rapport writes (the dashboard export, ``report.html``'s downloads)
goes through ``safe_cell`` / ``csv_line`` so there is one rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable

# Whitespace (no-break and other Unicode spaces too), zero-width characters a spreadsheet skips, and
# the invisible direction marks, embeddings, overrides and isolates (U+200E/F, U+202A-E, U+2066-9):
# "\u202e=HYPERLINK(…)" shows no character before its "=". A cell is its own paragraph in a
# spreadsheet, so what an override in it reorders ends at the cell's edge; the text stays as given.
_INVISIBLE_LEAD = re.compile(r"^[\s\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]+")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: First character of every CSV Rapport writes for people to open (the dashboard export, the report's
#: responses.csv, the codeframe file): a UTF-8 byte order mark, without which Excel reads the file in
#: the machine's legacy code page and shows "CafÃ©" for "Café". Every reader Rapport has takes it off
#: (``utf-8-sig``), as do pandas, LibreOffice and Google Sheets.
SPREADSHEET_BOM = "\ufeff"
_ZERO_WIDTH = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"


def safe_cell(value: object) -> object:
    """``value`` ready for a CSV cell: text that could start a formula gets a leading ``'``."""
    if type(value) is str and (not value or not (value.startswith(FORMULA_STARTS) or value[0].isspace()
                                                  or value[0] in _ZERO_WIDTH)):
        return value  # the common case, without the regular expression (reports write millions of cells)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS) or _INVISIBLE_LEAD.sub("", text, count=1).startswith(FORMULA_STARTS):
        return "'" + text
    return text


def unsafe_cell(text: str) -> str:
    """The text ``safe_cell`` made ``text`` from, for a file Rapport wrote and reads back (a codeframe).

    Only the apostrophe ``safe_cell`` adds comes off; text that starts with one of its own and no
    formula stays as it is.
    """
    if text.startswith("'") and safe_cell(text[1:]) == text:
        return text[1:]
    return text


def safe_row(values: Iterable[object]) -> list[object]:
    """A record for ``csv.writer`` with every cell made safe."""
    return [safe_cell(value) for value in values]


def csv_line(values: Iterable[object]) -> str:
    """One CSV record (RFC 4180 quoting, ``\\r\\n`` line end) with every cell made safe."""
    return csv_text([values])


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """Several CSV records at once, every cell made safe (for streaming in batches)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(safe_row(values) for values in rows)
    return buffer.getvalue()
