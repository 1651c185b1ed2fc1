"""What an answer records about the request it came with, reduced to what is needed.

We keep the browser family (not the full user-agent), the referrer's origin
(not its path), and a bounded set of ``meta_*`` fields.
"""

from __future__ import annotations

from typing import Mapping
from urllib.parse import urlsplit

from flask import current_app

from survey.textrules import text_problem


class MetaError(ValueError):
    pass


def ua_family(user_agent: str | None) -> str | None:
    if not user_agent:
        return None
    from ua_parser import parse_user_agent  # loads its regexes on first use, not at import

    parsed = parse_user_agent(user_agent[:512])
    return (parsed.family if parsed else "Other")[:64]


def origin_of(url: str | None) -> str | None:
    """``https://example.com:8443/path?q`` -> ``https://example.com:8443``; None if not an http(s) URL."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def page_path(url: str | None, keep_query: bool = False) -> str | None:
    """The page an answer came from: path only, the query string only if the owner opted in."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    path = parts.path or "/"
    if keep_query and parts.query:
        path += "?" + parts.query
    return path[:2000]


def clean_meta(raw: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """Keep ``prefix``-named string fields, bounded in number and length; raise MetaError if too many."""
    limit = current_app.config["META_MAX_FIELDS"]
    max_len = current_app.config["META_MAX_VALUE_LENGTH"]
    meta: dict[str, str] = {}
    for key, value in raw.items():
        if prefix and not key.startswith(prefix):
            continue
        name = key[len(prefix):].strip().lower()
        if not name or len(name) > 64 or not all(c.isalnum() or c in "_-" for c in name):
            raise MetaError(f"meta field name {name[:64]!r} must be letters, digits, '-' or '_' (at most 64)")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise MetaError(f"meta field {name!r} must be a string or number")
        text = str(value)
        problem = text_problem(text)
        if problem is not None:
            raise MetaError(f"meta field {name!r} {problem}")
        if len(text) > max_len:
            raise MetaError(f"meta field {name!r} is longer than {max_len} characters")
        meta[name] = text
        if len(meta) > limit:
            raise MetaError(f"at most {limit} meta fields are kept")
    return meta
