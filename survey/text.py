"""Small text helpers every feature uses: messages as sentences, literal LIKE patterns."""

from __future__ import annotations


def as_sentence(message: str) -> str:
    """``"no such thing"`` → ``"No such thing."``: operation errors read as sentences on pages."""
    message = message.strip()
    if not message:
        return message
    message = message[0].upper() + message[1:]
    return message if message[-1] in ".!?" else message + "."


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards and the escape character itself taken literally (use ``escape="\\\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
