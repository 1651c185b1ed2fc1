"""Rapport: self-hosted CSAT, NPS and CES surveys with offline ML insights.

Importing the package does no work and pulls in no Flask, so scripts and
benchmarks can use ``survey.metrics`` and ``survey.kinds`` without an app.
Imports go one way: ``survey`` uses ``analysis`` (the ML), never the reverse.
"""

from __future__ import annotations

import os
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

# Each feature package exposes init_app(app): its blueprints, commands and hooks.
FEATURES = (
    "survey.db",
    "survey.errors",
    "survey.display",
    "survey.security",
    "survey.health",
    "survey.published",
    "survey.public",
    "survey.invites",
    "survey.cli",
    "survey.auth",
    "survey.admin",
    "survey.api",
    "survey.results",
    "survey.codeframe",
    "survey.widget",
    "survey.insights",
    "survey.followup",
    "survey.campaigns",
    "survey.labelling",
    "survey.alerts",
    "survey.webhooks",
)


def create_app(test_config: dict | None = None) -> "Flask":
    """Application factory.

    Configuration is layered: built-in defaults, ``instance/config.py``,
    ``RAPPORT_*`` environment variables, then ``test_config``.
    ``RAPPORT_INSTANCE_PATH`` moves the whole instance folder. Nothing is
    written here: the instance folder and its secret key are made when first
    needed (survey.instance). A setting it cannot start with is a ConfigError: one line, never a
    traceback (in a command, exit 1 even for ``flask --help``).
    """
    from survey.instance import config_errors_end_a_command

    with config_errors_end_a_command():
        return _create_app(test_config)


def _create_app(test_config: dict | None) -> "Flask":
    from survey.config import Defaults
    from survey.instance import RapportFlask, defer_secret_key, keep_text_settings_text, read_config_file

    instance_path = os.environ.get("RAPPORT_INSTANCE_PATH")
    app = RapportFlask(
        __name__,
        instance_relative_config=True,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
    )
    app.config.from_object(Defaults)
    read_config_file(app.config, Path(app.instance_path) / "config.py")
    app.config.from_prefixed_env("RAPPORT")
    keep_text_settings_text(app.config, Defaults)
    if os.environ.get("DATABASE_URL") and not os.environ.get("RAPPORT_SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if test_config:
        app.config.from_mapping(test_config)

    _check_public_base_url(app)
    _check_secret_key(app)
    defer_secret_key(app)
    _bounded_ids(app)  # before any feature adds its routes: a rule takes its converter when added
    for name in FEATURES:
        import_module(name).init_app(app)
    from survey.cli import explain_database_errors

    explain_database_errors(app)  # after every feature has added its commands
    _favicon(app)
    if app.config.get("MAX_CONTENT_LENGTH"):
        from survey.bodies import SizedBodies

        app.wsgi_app = SizedBodies(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])
    _trust_proxies(app)
    return app


def _check_public_base_url(app: "Flask") -> None:
    """Every link and snippet is built on PUBLIC_BASE_URL: one that is no address (``feedback.example.com``
    without its scheme) made the dashboard offer partners a relative script link, so it stops the start."""
    from survey.config import base_url_problem
    from survey.instance import ConfigError

    value = app.config.get("PUBLIC_BASE_URL")
    problem = value and base_url_problem(value)
    if problem:
        raise ConfigError(f"the site's public address (RAPPORT_PUBLIC_BASE_URL, or PUBLIC_BASE_URL in config.py) "
                          f"{problem}: its scheme and host, as customers reach the site")


def _check_secret_key(app: "Flask") -> None:
    """Session cookies and signed links are only as safe as the key: a configured one that is short or
    repetitive (``changeme``, ``secret``) stops the start instead of being used silently, and so does
    such an old key in SECRET_KEY_FALLBACKS (it still signs in). An unset or empty SECRET_KEY is
    generated into the instance folder when first needed (survey.instance)."""
    from survey.config import SECRET_KEY_RECIPE, secret_key_problem
    from survey.instance import ConfigError

    def refuse(setting: str, problem: str, remedy: str) -> None:
        raise ConfigError(f"{setting} (RAPPORT_{setting}, or in config.py) {problem}: {remedy}")

    key = dict.get(app.config, "SECRET_KEY")  # dict.get: a missing key is not generated here
    problem = key and secret_key_problem(key)
    if problem:
        refuse("SECRET_KEY", problem, f"make one with {SECRET_KEY_RECIPE}, or leave it unset and Rapport "
                                      f"generates one into the instance folder")
    fallbacks = app.config.get("SECRET_KEY_FALLBACKS") or ()
    if isinstance(fallbacks, (str, bytes)):  # Flask would take each character for a key
        refuse("SECRET_KEY_FALLBACKS", "must be a list of old keys", '["the old key"]')
    for old in fallbacks:
        problem = secret_key_problem(old)
        if problem:
            refuse("SECRET_KEY_FALLBACKS", f"holds an old key that {problem}",
                   "remove it (who signed in with it signs in again)")


def _bounded_ids(app: "Flask") -> None:
    """``<int:…>`` in a URL matches only ids a database can hold: a bigger one is a 404 (no such row),
    not an OverflowError from the driver (a 500)."""
    from werkzeug.routing import IntegerConverter

    from survey.db import ROW_ID_MAX

    class RowIdConverter(IntegerConverter):
        def __init__(self, url_map, fixed_digits=0, min=None, max=ROW_ID_MAX, signed=False):
            super().__init__(url_map, fixed_digits, min, max, signed)

    app.url_map.converters["int"] = RowIdConverter


def _favicon(app: "Flask") -> None:
    """/favicon.ico, which browsers and readers ask for on every site whatever the page says."""

    def favicon():
        from flask import send_from_directory

        return send_from_directory(app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                                   max_age=86400)

    app.add_url_rule("/favicon.ico", "favicon", favicon)


def _trust_proxies(app: "Flask") -> None:
    """Behind a reverse proxy, take the client's address and scheme from its headers.

    Only as many proxies as configured are trusted (0 by default): trusting
    forwarded headers that no proxy set would let clients fake their address.
    """
    counts = {key: int(app.config.get(f"PROXY_FIX_X_{key.upper()}", 0) or 0)
              for key in ("for", "proto", "host", "prefix")}
    if any(counts.values()):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=counts["for"], x_proto=counts["proto"],
                                x_host=counts["host"], x_prefix=counts["prefix"])
