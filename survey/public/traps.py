"""The answer page's defences against floods and bots, as the widget API has them.

- Rate limits per client network and survey (``ANSWER_RATE_LIMIT``) and per
  survey from everyone (``ANSWER_SURVEY_RATE_LIMIT``), counted in the shared
  database table (``survey.ratelimit``), so every web process and host agrees.
  Every post counts, invalid and trapped ones too.
- A honeypot field people never see, and a minimum time between showing the
  page and sending it (``ANSWER_MIN_FILL_MS``), measured from a time stamp the
  page carries, signed with the secret key so a bot cannot back-date it. A
  trapped post is answered as if it was stored (the thank-you page), and only
  counted (``survey.widget.models.BotCatch``, the same counts the widget keeps).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import current_app

from survey.models import Survey
from survey.operations import first_refusal
from survey.ratelimit import RateLimit, RateResult, client_key, parse_rate

HONEYPOT_FIELD = "website"


def _signature(survey: Survey, shown_ms: int) -> str:
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, f"answer-shown:{survey.public_key}:{shown_ms}".encode(), hashlib.sha256).hexdigest()[:20]


def shown_stamp(survey: Survey, now: float | None = None) -> str:
    """What the page carries: when it was shown (ms since the epoch), signed."""
    shown_ms = int((time.time() if now is None else now) * 1000)
    return f"{shown_ms}.{_signature(survey, shown_ms)}"


def fill_ms(survey: Survey, stamp: str | None, now: float | None = None) -> int | None:
    """Milliseconds since the page carrying ``stamp`` was shown; None if it is missing or forged."""
    shown, _, signature = (stamp or "").partition(".")
    if not shown.isdigit() or len(shown) > 15:
        return None
    if not hmac.compare_digest(signature.encode(), _signature(survey, int(shown)).encode()):
        return None
    return int((time.time() if now is None else now) * 1000) - int(shown)


def bot_trap(survey: Survey, honeypot: str | None, stamp: str | None) -> str | None:
    """Which trap a post fell into ("honeypot", "too_fast"), or None for a person."""
    if honeypot:
        return "honeypot"
    minimum = current_app.config["ANSWER_MIN_FILL_MS"]
    if minimum:
        elapsed = fill_ms(survey, stamp)
        if elapsed is None or elapsed < minimum:
            return "too_fast"
    return None


def answer_limits(survey: Survey) -> list[RateLimit]:
    """What a post of the answer page counts against: its client network's limit, and the survey's."""
    config = current_app.config
    return [RateLimit(f"answer:{survey.id}:{client_key()}", parse_rate(config["ANSWER_RATE_LIMIT"])),
            RateLimit(f"answer-all:{survey.id}", parse_rate(config["ANSWER_SURVEY_RATE_LIMIT"]))]


def count_answer_post(survey: Survey) -> RateResult | None:
    """Count a post that stores nothing (invalid or trapped) against both limits; the refusal, or None."""
    return first_refusal([limit.hit() for limit in answer_limits(survey)])
