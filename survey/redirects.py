"""The one check every redirect to a client-supplied address (``next``) goes through.

Only a path of this site is followed; anything else (another host, a scheme,
``//host``, ``/\\host``, control characters that browsers drop or that would
break the Location header) falls back to a page the caller names.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//") or len(target) > 2000:
        return None
    # Browsers read "/\evil.example" as "//evil.example" and drop tabs and newlines ("/\t/evil.example").
    if "\\" in target or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def safe_next(target: str | None, fallback: str, avoid: tuple[str, ...] = ()) -> str:
    """``target`` if it is a path on this site that starts with none of ``avoid``, else ``fallback``."""
    path = local_path(target)
    if path is None or any(path.startswith(prefix) for prefix in avoid):
        return fallback
    return path
