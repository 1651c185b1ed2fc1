"""Small text helpers every feature uses: messages as sentences, e-mail addresses, literal LIKE patterns."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def as_sentence(message: str) -> str:
    """``"no such thing"`` → ``"No such thing."``: operation errors read as sentences on pages.

    A message that starts with a name a client must send as written (``per_page``, ``edit_token``,
    ``meta.plan``) keeps it as it is: "Per_page must be …" names no parameter the API takes.
    """
    message = message.strip()
    if not message:
        return message
    first = message.split(maxsplit=1)[0]
    if not any(mark in first for mark in "_."):
        message = message[0].upper() + message[1:]
    return message if message[-1] in ".!?" else message + "."


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards and the escape character itself taken literally (use ``escape="\\\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def normalise_email(value: str) -> str:
    """The stored form of an address: syntax-checked, Unicode-normalised, lower-cased.

    Raises ValueError with the validator's explanation (callers turn it into their own error).
    """
    value = (value or "").strip()
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{value!r} is not a valid e-mail address: {exc}") from None
    return checked.normalized.lower()
