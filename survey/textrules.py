"""The one rule for text a customer or a file gives Rapport (plain Python, no Flask).

Every channel (the answer page, e-mail answers, the widget API, meta fields)
and every importer checks text with ``text_problem`` / ``check_text``, so a
comment refused on one way in is refused on all of them. Refused: NUL (no
database stores it), lone surrogates (not Unicode), and the other control
characters (C0 and C1, DEL), which start terminal escape sequences and hide
text in logs and CSV files. Tab, line feed and carriage return are text.
"""

from __future__ import annotations

import re
import unicodedata

_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class TextError(ValueError):
    """Text that breaks the rule; the message names the problem for a person."""


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable text, or None if it is."""
    if "\x00" in value:
        return "contains a NUL character"
    match = _FORBIDDEN.search(value)
    if match:
        return f"contains a control character (U+{ord(match.group()):04X}) that is not text"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text (a lone surrogate)"
    return None


def check_text(value: str, name: str) -> str:
    """``value`` unchanged if acceptable; TextError("<name> …") otherwise."""
    problem = text_problem(value)
    if problem is not None:
        raise TextError(f"{name} {problem}")
    return value


def comment_text(value: str | None) -> str | None:
    """A comment as stored: trimmed, or None when nothing in it can be seen.

    Whitespace and format characters alone (zero-width spaces and joiners, word joiners,
    direction marks, soft hyphens: Unicode category Cf) are no comment: stored, they counted as
    one in every metric and the model labelled an invisible text.
    """
    text = (value or "").strip()
    if not text or unicodedata.category(text[0]) != "Cf":
        return text or None  # the common case: a visible first character
    return text if any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text) else None
