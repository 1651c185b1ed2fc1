"""Built-in configuration defaults.

Order of precedence (lowest first): these defaults, ``instance/config.py``,
``RAPPORT_*`` environment variables, then ``test_config`` passed to
``create_app``. Nothing secret lives here: ``SECRET_KEY`` is generated into
the instance folder on first start when none is configured.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def base_url_problem(url: object) -> str | None:
    """Why ``url`` cannot be the site's public address (``PUBLIC_BASE_URL``, ``--base-url``), or None.

    Links are built on it, so it is a scheme and a host (and maybe a path), nothing else:
    ``feedback.example.com`` alone made every dashboard snippet a relative link.
    """
    problem = f"{url!r} must look like https://surveys.example.com"
    if not isinstance(url, str):
        return problem
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is no number
    except ValueError:
        return problem
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return problem
    return None


#: A configured ``SECRET_KEY`` (or fallback) needs at least this many characters, of at least
#: SECRET_KEY_MIN_DISTINCT different ones: session cookies, CSRF tokens, unsubscribe links and
#: bounce tags are signed with it, and a short or repetitive key can be guessed offline from any
#: one of them. ``secrets.token_hex(32)`` (what Rapport generates) gives 64.
SECRET_KEY_MIN_LENGTH = 32
SECRET_KEY_MIN_DISTINCT = 8
SECRET_KEY_RECIPE = "python3 -c 'import secrets; print(secrets.token_hex(32))'"


def secret_key_problem(key: object) -> str | None:
    """Why ``key`` is too weak to sign sessions and links with, or None."""
    if not isinstance(key, (str, bytes)):
        return f"must be text, not {type(key).__name__}"
    if len(key) < SECRET_KEY_MIN_LENGTH:
        return f"is {len(key)} characters long; it needs at least {SECRET_KEY_MIN_LENGTH}"
    if len(set(key)) < SECRET_KEY_MIN_DISTINCT:
        return (f"uses only {len(set(key))} different characters; a random key has at least "
                f"{SECRET_KEY_MIN_DISTINCT}")
    return None


class Defaults:
    # Database: None means "SQLite file in the instance folder" (resolved in create_app).
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLITE_BUSY_TIMEOUT_MS = 5000
    SQLITE_SYNCHRONOUS = "FULL"  # or NORMAL: faster, may lose the last commits on power loss
    # PostgreSQL's lock_timeout for every statement: a request that would wait longer
    # for a lock (a long migration, a stuck script) fails with 503 and stores nothing
    # instead of hanging until gunicorn kills the worker. None: wait forever.
    POSTGRES_LOCK_TIMEOUT_MS: int | None = 5000
    # A pooled PostgreSQL connection idle this long is checked (one round trip) before
    # use, so one cut meanwhile (a restart, a firewall) is replaced unseen.
    DATABASE_PING_AFTER_IDLE_SECONDS = 10.0

    # Forms and sessions
    WTF_CSRF_TIME_LIMIT = None  # a customer may leave the page open for hours
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PREFERRED_URL_SCHEME = "http"
    # Requests larger than this are refused before the body is read (413).
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = 256 * 1024

    # Answers
    COMMENT_MAX_LENGTH = 5000
    META_MAX_FIELDS = 20
    META_MAX_VALUE_LENGTH = 200
    # An answer may be changed (its score, its comment) this long after it was first sent,
    # whatever its channel: the answer page, the widget (its edit token) or an invitation link.
    ANSWER_EDIT_WINDOW_SECONDS = 24 * 3600
    # The answer page (/s/KEY): posts per client address (IPv6: per /64) per survey, and per
    # survey from everyone ("30/minute", "100 per hour"; None: no limit), counted in the database.
    ANSWER_RATE_LIMIT = "30/minute"
    ANSWER_SURVEY_RATE_LIMIT = "600/minute"
    # Posts sent sooner than this after the page was shown are bots: counted, not stored (0: off).
    ANSWER_MIN_FILL_MS = 1200
    # Each web process re-reads a survey's wording, open flag and widget origins at most
    # this often (survey.published); changes made elsewhere reach answers this much later.
    SURVEY_CACHE_SECONDS = 5.0

    # Public base URL for links in e-mails and snippets (None: taken from the request).
    PUBLIC_BASE_URL: str | None = None

    # Invitations and e-mail (Flask-Mail's familiar key names)
    # "smtp" (through MAIL_SERVER) or "file" (.eml files under instance/outbox, for demos and
    # trials; nothing leaves the machine). None: SMTP; without a MAIL_SERVER delivery refuses.
    MAIL_TRANSPORT: str | None = None
    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_DEFAULT_SENDER = "Rapport <surveys@localhost>"
    MAIL_TIMEOUT = 30
    INVITATION_EXPIRY_DAYS = 30
    THROTTLE_DAYS = 90
    # -- e-mail invitations (survey.invites) --
    # mailto: half of List-Unsubscribe; None: the sender's own address.
    MAIL_UNSUBSCRIBE_MAILTO: str | None = None
    # Envelope sender for bounces, e.g. "bounces@example.com": each message then
    # leaves from bounces+<signed tag>@example.com, and `flask invite bounces`
    # reads what comes back. None: the From: address, as before.
    MAIL_BOUNCE_ADDRESS: str | None = None
    # Delivery worker: messages per batch (one SMTP connection each), how long a
    # claim holds before another worker may take the batch over, and retries:
    # a temporary failure is retried after RETRY_BASE * 2**(attempt-1) seconds,
    # at most MAX_ATTEMPTS tries in all, then the message is failed.
    # A batch is also what a crash can leave of unknown fate (see survey.invites.delivery):
    # 200 was measured in benchmarks/README.md to be past the point where larger batches pay.
    MAIL_BATCH_SIZE = 200
    MAIL_CLAIM_SECONDS = 600
    MAIL_MAX_ATTEMPTS = 10  # 1, 2, 4 … 256 minutes apart: about 8.5 hours in all
    MAIL_RETRY_BASE_SECONDS = 60
    MAIL_RETRY_MAX_SECONDS = 6 * 3600
    # Messages per minute to one receiving domain (the part after "@"), counted over
    # all workers: None for no limit. MAIL_DOMAIN_RATES sets it per domain, e.g.
    # {"gmail.com": 3000, "yahoo.com": 1200} (RAPPORT_MAIL_DOMAIN_RATES as JSON).
    MAIL_DOMAIN_RATE_PER_MINUTE: int | None = None
    MAIL_DOMAIN_RATES: dict = {}
    # Webhooks (survey.webhooks): each try waits at most TIMEOUT seconds in all; a failed
    # try is retried after RETRY_BASE * 2**(attempt-1) seconds (at most RETRY_MAX), until
    # MAX_ATTEMPTS tries or GIVE_UP seconds after the event, then the delivery is failed.
    WEBHOOK_TIMEOUT_SECONDS = 10
    WEBHOOK_MAX_ATTEMPTS = 10  # 30 s, 1, 2, 4 … 60 minutes apart: about 4.5 hours in all
    WEBHOOK_RETRY_BASE_SECONDS = 30
    WEBHOOK_RETRY_MAX_SECONDS = 3600
    WEBHOOK_GIVE_UP_SECONDS = 24 * 3600
    WEBHOOK_BATCH_SIZE = 20  # deliveries a worker claims at a time
    # Each scan for changed answers starts this far before the previous one ended, so an
    # answer whose transaction committed late (a lock wait, clocks of several hosts) is seen.
    WEBHOOK_SCAN_OVERLAP_SECONDS = 300
    # True: endpoints may be on private, loopback and link-local addresses, and plain
    # http:// to loopback. Off in production (server-side request forgery); tests turn it on.
    WEBHOOK_ALLOW_LOCAL_TARGETS = False
    # Different score links of one e-mail confirmed within this many seconds of
    # each other are a link scanner fanning out, not a person: none of them counts.
    INVITE_CLICK_BURST_SECONDS = 10

    # -- owner e-mails (survey.alerts) --
    # Low-score alerts: at most one e-mail per owner per survey per this many minutes, listing
    # every low score since the last one (the first ALERT_MAX_ITEMS, and how many more). Only
    # answers of the last ALERT_LOOKBACK_HOURS are alerted (an old import is not news).
    ALERT_BATCH_MINUTES = 15
    ALERT_MAX_ITEMS = 20
    ALERT_LOOKBACK_HOURS = 24
    # The weekly digest of the last ISO week goes out from this weekday (0 = Monday) and hour (UTC).
    DIGEST_WEEKDAY = 0
    DIGEST_HOUR = 8

    # Results: below this many answers a score (or a change, or a trend period) is
    # shown as "too few answers", not as a number; its interval is still given.
    MIN_ANSWERS = 10

    # Analysis
    ANALYSIS_MODEL_VERSION: str | None = None  # None: the newest model found
    # `flask analyze` keeps this many runs (with their pain points) per scope; older ones are deleted.
    ANALYSIS_KEEP_RUNS = 20
    # Corpus a dashboard retrain learns from besides the corrections (CSV files or folders); None: models/corpus
    ANALYSIS_CORPUS: list[str] | str | None = None
    # Exponent of the score-band prior on comment sentiment (analysis.score_band); None: its measured default, 0: off
    ANALYSIS_SCORE_WEIGHT: float | None = None

    # Logging in: failures per e-mail address as typed (known or not, so nothing tells them apart).
    LOGIN_MAX_FAILURES = 5  # from one client network per LOGIN_LOCKOUT_SECONDS
    LOGIN_LOCKOUT_SECONDS = 300
    # From all networks together per window; the owner's networks (a sign-in there within
    # LOGIN_KNOWN_NETWORK_DAYS) are not held, so nobody can lock an owner out.
    LOGIN_ACCOUNT_MAX_FAILURES = 50
    LOGIN_ACCOUNT_WINDOW_SECONDS = 3600
    LOGIN_KNOWN_NETWORK_DAYS = 30
    # -- dashboard accounts and API (survey.auth, survey.api) --
    # Each client address gets this many sign-in attempts per window (survey.ratelimit).
    LOGIN_ATTEMPTS_PER_IP = 30
    LOGIN_ATTEMPT_WINDOW_SECONDS = 900
    LOGIN_SESSION_HOURS = 12  # a sign-in lasts this long, then the password is asked again
    PASSWORD_MIN_LENGTH = 10
    # The session cookie is always HttpOnly and SameSite=Lax, and Secure on HTTPS requests;
    # set SESSION_COOKIE_SECURE = True (or PREFERRED_URL_SCHEME = "https") to insist on it.
    # A new API token lasts this many days unless its maker chooses otherwise (30, 90, 365 or
    # never on the tokens page, any number with `flask token create --days`); None: never expires.
    API_TOKEN_DEFAULT_DAYS: int | None = 90
    API_PAGE_SIZE = 50
    API_MAX_PAGE_SIZE = 500

    # -- embeddable widget and its public API (survey.widget) --
    # Per client address (IPv6: per /64) per survey; text like "30/minute", "100 per hour"; None: no limit.
    WIDGET_RATE_LIMIT = "30/minute"  # answers and their edits (POST, PATCH)
    WIDGET_CONFIG_RATE_LIMIT = "120/minute"  # widget loads (GET …/widget)
    WIDGET_MIN_ANSWER_MS = 1200  # faster answers are counted as bots and not stored
    WIDGET_MAX_BODY_BYTES = 64 * 1024  # larger answer bodies get 413 before they are read
    WIDGET_ACCEPT_NO_ORIGIN = False  # True: accept answers sent without an Origin (server to server)
    WIDGET_SCRIPT_MAX_AGE = 3600  # seconds browsers may reuse /widget.js before revalidating it
