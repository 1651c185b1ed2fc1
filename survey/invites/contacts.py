"""Parse a contacts CSV file into rows ready to store (pure: no database, no network).

The file needs an ``email`` column; ``name`` is optional; every further column
becomes an attribute for segmenting (``plan``, ``region``, ``journey stage``...).
Addresses are checked for syntax with ``email-validator`` (no DNS look-ups)
and lower-cased, so ``Ann@Example.com`` and ``ann@example.com`` are one
contact: later lines of the same address are merged into the first, a later
non-empty value winning. Every bad line is reported with its line number; the
caller decides whether a file with problems loads anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TextIO

from survey import text
from survey.importer import ImportError_, Problem, read_records

EMAIL_HEADERS = ("email", "e-mail", "email address", "e-mail address", "mail")
NAME_HEADERS = ("name", "full name", "full_name")
ATTRIBUTE_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
MAX_NAME = 200


@dataclass
class ContactRow:
    line: int
    email: str
    name: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class ParsedContacts:
    rows: list[ContactRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    merged: int = 0  # lines folded into an earlier line with the same address


def normalise_email(value: str) -> str:
    """The stored form of an address: syntax-checked, Unicode-normalised, lower-cased.

    Raises ValueError with the validator's explanation.
    """
    if not (value or "").strip():
        raise ValueError("the e-mail address is empty")
    return text.normalise_email(value)


def clean_text(value: str) -> str | None:
    """One line of printable text: control characters dropped, runs of spaces folded."""
    printable = "".join(c if c.isprintable() or c.isspace() else " " for c in value)
    return " ".join(printable.split()) or None


def attribute_key(header: str) -> str:
    """``Journey Stage`` -> ``journey_stage``: the name segments and answer meta use."""
    return re.sub(r"[\s.]+", "_", header.strip().lower())


def parse_contacts_csv(stream: TextIO, *, max_attributes: int = 20, max_value: int = 200) -> ParsedContacts:
    """Read every line; return the good contacts (merged by address) and the problems."""
    header, records, ragged = read_records(stream)
    email_col, name_col, attribute_cols = _columns(header, max_attributes)
    result = ParsedContacts(problems=ragged)
    by_email: dict[str, ContactRow] = {}
    for line, record in records:
        try:
            row = _parse_record(line, record, email_col, name_col, attribute_cols, max_value)
        except ValueError as exc:
            result.problems.append(Problem(line, str(exc)))
            continue
        first = by_email.get(row.email)
        if first is None:
            by_email[row.email] = row
            result.rows.append(row)
        else:
            first.name = row.name or first.name
            first.attributes.update(row.attributes)
            result.merged += 1
    result.problems.sort(key=lambda problem: problem.line)
    return result


def parse_attribute_lines(text: str, *, max_attributes: int = 20, max_value: int = 200) -> dict[str, str]:
    """Attributes typed one per line as ``plan: pro`` (or ``plan = pro``), checked like a CSV file's columns.

    Raises ValueError naming the line at fault. A line without a value is refused, not read as "erase".
    """
    attributes: dict[str, str] = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        split = min((line.find(mark) for mark in ":=" if mark in line), default=-1)
        if split < 0:
            raise ValueError(f"line {number}: write the attribute as name: value, e.g. plan: pro")
        key, value = attribute_key(line[:split]), clean_text(line[split + 1:])
        if not ATTRIBUTE_NAME.match(key) or key in ("email", "name"):
            raise ValueError(f"line {number}: {line[:split].strip()!r} cannot be an attribute name: use letters, "
                             "digits, spaces, '-' or '_' (at most 64; not email or name)")
        if not value:
            raise ValueError(f"line {number}: {key!r} has no value; delete the line to remove the attribute")
        if len(value) > max_value:
            raise ValueError(f"line {number}: {key!r} is longer than {max_value} characters")
        if key in attributes:
            raise ValueError(f"line {number}: {key!r} appears twice")
        attributes[key] = value
    if len(attributes) > max_attributes:
        raise ValueError(f"{len(attributes)} attributes; at most {max_attributes} are kept")
    return attributes


def _columns(header: list[str], max_attributes: int) -> tuple[str, str | None, dict[str, str]]:
    if not header:
        raise ImportError_("the file is empty: it needs a header line with an 'email' column")
    lowered = {h.strip().lower(): h for h in header}
    email_col = next((lowered[h] for h in EMAIL_HEADERS if h in lowered), None)
    if email_col is None:
        raise ImportError_(f"the file has no 'email' column; its columns are: {', '.join(header)}")
    name_col = next((lowered[h] for h in NAME_HEADERS if h in lowered), None)
    for names, what in ((EMAIL_HEADERS, "e-mail address"), (NAME_HEADERS, "name")):
        # "email" and "E-mail", or "email" twice: only one would be read, and which was meant cannot be told
        found = [f"{column!r} (column {number})" for number, column in enumerate(header, 1)
                 if column.strip().lower() in names]
        if len(found) > 1:
            raise ImportError_(f"line 1: the header has {len(found)} {what} columns, {' and '.join(found)}; "
                               "keep one (rename or delete the others); nothing was imported")
    attribute_cols: dict[str, str] = {}
    for column in header:
        if column in (email_col, name_col):
            continue
        key = attribute_key(column)
        if not ATTRIBUTE_NAME.match(key):
            raise ImportError_(
                f"column {column!r} cannot be an attribute name: use letters, digits, spaces, '-' or '_' "
                "(at most 64)"
            )
        if key in attribute_cols.values() or key in ("email", "name"):
            raise ImportError_(f"column {column!r} appears twice (as {key!r})")
        attribute_cols[column] = key
    if len(attribute_cols) > max_attributes:
        raise ImportError_(f"the file has {len(attribute_cols)} attribute columns; at most {max_attributes} are kept")
    return email_col, name_col, attribute_cols


def _parse_record(line, record, email_col, name_col, attribute_cols, max_value) -> ContactRow:
    email = normalise_email(record.get(email_col) or "")
    name = clean_text(record.get(name_col) or "") if name_col else None
    if name and len(name) > MAX_NAME:
        raise ValueError(f"the name is longer than {MAX_NAME} characters")
    attributes = {}
    for column, key in attribute_cols.items():
        value = clean_text(record.get(column) or "")
        if not value:
            continue  # a blank cell says nothing; it never erases a known value
        if len(value) > max_value:
            raise ValueError(f"{column!r} is longer than {max_value} characters")
        attributes[key] = value
    return ContactRow(line=line, email=email, name=name, attributes=attributes)
