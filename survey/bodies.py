"""Request bodies sent without a Content-Length (HTTP/1.1 chunked) get one before the app reads them.

Werkzeug enforces ``MAX_CONTENT_LENGTH`` (and the widget API its smaller
``WIDGET_MAX_BODY_BYTES``) on a chunked body by reading up to the limit and
stopping there: the rest is silently cut off. An oversized widget answer then
reached the JSON parser truncated ("not valid JSON") and an oversized form its
validators, instead of being refused with 413 as the same body with a
Content-Length is. Read here, at most one byte past the site's limit, such a
body reaches the app sized, so every limit is the one check on Content-Length.
"""

from __future__ import annotations

import io
from typing import Any, Callable, Iterable

READ_SIZE = 64 * 1024


class SizedBodies:
    """WSGI middleware: a chunked request body becomes a sized one of at most ``max_bytes + 1`` bytes."""

    def __init__(self, wsgi_app: Callable, max_bytes: int):
        self.wsgi_app, self.max_bytes = wsgi_app, max_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if not environ.get("CONTENT_LENGTH") and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = read_at_most(environ["wsgi.input"], self.max_bytes + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))  # over the limit by one byte if there was more: a 413
            del environ["HTTP_TRANSFER_ENCODING"]  # werkzeug takes a chunked request's length as unknown
        return self.wsgi_app(environ, start_response)


def read_at_most(stream, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream`` (less if it ends first)."""
    parts, size = [], 0
    while size < limit:
        part = stream.read(min(READ_SIZE, limit - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)
