"""Which web pages may use a survey's widget API, and the CORS headers that say so.

A browser sends an ``Origin`` header with every cross-origin request (and
with same-origin POSTs). It is allowed when it is exactly one of the
survey's listed origins, or this site's own origin (the ``/embed/KEY``
page). A request with no ``Origin`` is not from a web page: reads are
allowed (the question is public anyway), writes only when
``WIDGET_ACCEPT_NO_ORIGIN`` is set (server-to-server use). Everything else
is refused before anything is read or stored, and gets no CORS headers, so
the browser hides even the refusal from the page.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from survey.errors import error_response
from survey.operations import OperationError
from survey.published import Published, published_or_404
from survey.requestinfo import origin_of
from survey.text import as_sentence
from survey.widget.operations import normalise_origin

ALLOWED_HEADERS = "Content-Type"
PREFLIGHT_MAX_AGE = 7200  # Chromium's ceiling; preflights are cached that long per origin and URL


@dataclass(frozen=True)
class OriginCheck:
    allowed: bool
    origin: str | None  # the Origin header as sent (None: absent)
    partner: bool  # a listed partner origin, as opposed to this site or no browser at all
    message: str = ""


def own_origin() -> str | None:
    """This site's origin, from its configured public address (``PUBLIC_BASE_URL``), never from the
    request's Host header, which the sender chooses. Without one, only a loopback address (a
    developer's machine) counts as this site; a public site sets PUBLIC_BASE_URL for its links anyway."""
    configured = current_app.config.get("PUBLIC_BASE_URL")
    if configured:
        return _configured_origin(configured)
    origin = request_origin()
    host = urlsplit(origin).hostname if origin else None
    return origin if host is not None and _is_loopback(host) else None


@functools.lru_cache(maxsize=8)
def _configured_origin(base_url: str) -> str | None:
    """``https://Bücher.example/feedback`` → ``https://xn--bcher-kva.example``, as browsers send it."""
    origin = origin_of(base_url)
    try:
        return normalise_origin(origin) if origin else None
    except OperationError:
        return None


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def request_origin() -> str | None:
    """The origin this request was sent to, from its Host header as sent (punycode stays punycode,
    as in the browser's Origin header; ``request.host_url`` would decode it)."""
    return origin_of(f"{request.scheme}://{request.host}")


def check_origin(published: Published, write: bool) -> OriginCheck:
    origin = request.headers.get("Origin")
    if origin is None:
        if not write or current_app.config["WIDGET_ACCEPT_NO_ORIGIN"]:
            return OriginCheck(True, None, False)
        return OriginCheck(False, None, False, (
            "answers must come from a web page on a site the survey allows (the request had no Origin "
            "header); server-to-server posting is off (WIDGET_ACCEPT_NO_ORIGIN)"))
    if origin == own_origin():
        return OriginCheck(True, origin, False)
    if origin in published.origins:
        return OriginCheck(True, origin, True)
    return OriginCheck(False, origin, False, (
        f"pages on {origin[:255]} may not use this survey; its owner can allow the site in the dashboard "
        f"or with `flask survey origins {published.survey.public_key} add {origin[:255]}`"))


def allow_origin(origin: str | None) -> None:
    """Send CORS headers for ``origin`` on this request's response, whatever its status."""
    g.cors_origin = origin


def add_cors_headers(response):
    """after_request: every API response varies by Origin; allowed ones carry the CORS headers."""
    response.vary.add("Origin")
    origin = g.get("cors_origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After, Location"
    return response


def answer_preflight():
    """before_request (app-wide): answer CORS preflights aimed at the widget API.

    The route is found with the method the browser means to use, because the
    same path may serve another feature's GET (``/api/v1/surveys/KEY/responses``).
    """
    method = request.headers.get("Access-Control-Request-Method")
    if request.method != "OPTIONS" or not method:
        return None
    try:
        endpoint, args = current_app.url_map.bind_to_environ(request.environ).match(method=method.upper())
    except HTTPException:
        return None
    if not endpoint.startswith("widget_api."):
        return None
    published = published_or_404(args.get("public_key", ""))
    check = check_origin(published, write=method.upper() != "GET")
    if check.origin is None:
        return error_response(400, "A CORS preflight needs an Origin header.")
    if not check.allowed:
        response = error_response(403, as_sentence(check.message))
        response.vary.add("Origin")
        return response
    response = current_app.response_class(status=204)
    del response.headers["Content-Type"]
    response.headers["Access-Control-Allow-Origin"] = check.origin
    response.headers["Access-Control-Allow-Methods"] = method.upper()
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    response.vary.add("Origin")
    return response
