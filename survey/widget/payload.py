"""Parsing and checking the widget API's JSON bodies; no database, no request.

Every problem raises ``PayloadError`` with a message a developer can act on,
the offending ``field`` and the HTTP status: 400 when the body is not what
the API takes (not JSON, wrong types, unknown fields), 422 when it is well
formed but not an acceptable answer (score off the scale, comment too long).
Meta fields are checked by ``survey.requestinfo.clean_meta``, whose limits
come from the app's configuration, so parsing needs an app context.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from survey.requestinfo import MetaError, clean_meta
from survey.textrules import comment_text, text_problem

PAGE_URL_MAX_LENGTH = 4096
TOKEN_MAX_LENGTH = 128
TOKEN_MISMATCH = "this edit token does not match the answer"
HONEYPOT_FIELD = "website"
_SUBMISSION_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

PREVIEW_FIELD = "preview"  # only the dashboard's widget preview sends it (survey.widget.preview)
PREVIEW_MAX_LENGTH = 200  # its tokens are about 100 characters
NEW_ANSWER_FIELDS = ("score", "comment", "meta", "page_url", "elapsed_ms", "submission_key", HONEYPOT_FIELD,
                     PREVIEW_FIELD)
UPDATE_FIELDS = ("score", "comment", "edit_token", HONEYPOT_FIELD)


class PayloadError(ValueError):
    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


@dataclass(frozen=True)
class Scale:
    low: int
    high: int
    comment_max_length: int


@dataclass
class NewAnswer:
    score: int | None
    comment: str | None
    elapsed_ms: int
    meta: dict[str, str] = field(default_factory=dict)
    page_url: str | None = None
    submission_key: str | None = None
    honeypot_filled: bool = False
    preview: str | None = None


@dataclass
class AnswerUpdate:
    edit_token: str
    score: int | None = None
    comment: str | None = None
    honeypot_filled: bool = False


def decode_json(data: bytes) -> Any:
    """The body as JSON, or PayloadError(400) saying why not."""
    if not data.strip():
        raise PayloadError("the request body is empty; send the answer as a JSON object")
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise PayloadError("the request body is not UTF-8 text") from None
    except ValueError as exc:
        raise PayloadError(f"the request body is not valid JSON ({exc})") from None
    except RecursionError:
        raise PayloadError("the request body is nested too deeply") from None


def parse_new_answer(body: Any, scale: Scale) -> NewAnswer:
    """Check a POST body: a score and/or a comment, timing, meta and where it was given."""
    body = _object(body, NEW_ANSWER_FIELDS)
    score = _score(body.get("score"), scale)
    comment = _comment(body.get("comment"), scale)
    if score is None and comment is None:
        raise PayloadError("an answer needs a score or a comment", "score", 422)
    elapsed = body.get("elapsed_ms")
    if elapsed is None:
        raise PayloadError("elapsed_ms is required: the milliseconds between showing the question and "
                           "this answer", "elapsed_ms")
    if isinstance(elapsed, bool) or not isinstance(elapsed, int) or not 0 <= elapsed <= 10**12:
        raise PayloadError("elapsed_ms must be a whole number of milliseconds, 0 or more", "elapsed_ms")
    meta_raw = body.get("meta")
    if meta_raw is None:
        meta: dict[str, str] = {}
    elif not isinstance(meta_raw, dict):
        raise PayloadError("meta must be an object of names to strings or numbers", "meta")
    else:
        for name, value in meta_raw.items():
            _text(name, "meta")
            if isinstance(value, str):
                _text(value, "meta")
        try:
            meta = clean_meta(meta_raw)
        except MetaError as exc:
            raise PayloadError(str(exc), "meta", 422) from None
    page_url = body.get("page_url")
    if page_url is not None:
        _text(page_url, "page_url")
        if len(page_url) > PAGE_URL_MAX_LENGTH:
            raise PayloadError(f"page_url is longer than {PAGE_URL_MAX_LENGTH} characters", "page_url")
    key = body.get("submission_key")
    if key is not None and (not isinstance(key, str) or not _SUBMISSION_KEY.match(key)):
        raise PayloadError("submission_key must be 16 to 64 letters, digits, '-' or '_' (a fresh random "
                           "value per answer)", "submission_key")
    preview = body.get(PREVIEW_FIELD)
    if preview is not None and (not isinstance(preview, str) or len(preview) > PREVIEW_MAX_LENGTH):
        raise PayloadError("preview must be the mark the dashboard's widget preview gives (leave it out on "
                           "other pages)", PREVIEW_FIELD)
    return NewAnswer(score=score, comment=comment, elapsed_ms=elapsed, meta=meta, page_url=page_url or None,
                     submission_key=key, honeypot_filled=_honeypot(body), preview=preview)


def parse_answer_update(body: Any, scale: Scale) -> AnswerUpdate:
    """Check a PATCH body: the edit token and a new score and/or comment."""
    body = _object(body, UPDATE_FIELDS)
    token = body.get("edit_token")
    if not isinstance(token, str) or not token:
        raise PayloadError("edit_token is required: the token the first answer returned", "edit_token")
    if len(token) > TOKEN_MAX_LENGTH:  # sent, but longer than any token we issue: a wrong one, not a missing one
        raise PayloadError(TOKEN_MISMATCH, "edit_token", 403)
    score = _score(body.get("score"), scale)
    comment = _comment(body.get("comment"), scale)
    if score is None and comment is None:
        raise PayloadError("send a score or a non-empty comment to change", "comment", 422)
    return AnswerUpdate(edit_token=token, score=score, comment=comment, honeypot_filled=_honeypot(body))


def bot_reason(honeypot_filled: bool, elapsed_ms: int | None, min_answer_ms: int) -> str | None:
    """Which bot trap a submission fell into, if any (see survey.widget.models.BOT_REASONS)."""
    if honeypot_filled:
        return "honeypot"
    if elapsed_ms is not None and elapsed_ms < min_answer_ms:
        return "too_fast"
    return None


def _object(body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise PayloadError("the request body must be a JSON object")
    for name in body:
        if name not in allowed:
            raise PayloadError(f"unknown field {name[:64]!r}; this call takes {', '.join(allowed)}", name[:64])
    return body


def _score(value: Any, scale: Scale) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"score must be a whole number from {scale.low} to {scale.high}", "score")
    if not scale.low <= value <= scale.high:
        raise PayloadError(f"score must be from {scale.low} to {scale.high}", "score", 422)
    return value


def _comment(value: Any, scale: Scale) -> str | None:
    if value is None:
        return None
    _text(value, "comment")
    text = comment_text(value) or ""
    if len(text) > scale.comment_max_length:
        raise PayloadError(f"comment is longer than {scale.comment_max_length} characters "
                           f"(it has {len(text)})", "comment", 422)
    return text or None


def _text(value: Any, name: str) -> str:
    """A string that passes the text rule every channel shares (survey.textrules)."""
    if not isinstance(value, str):
        raise PayloadError(f"{name} must be a string", name)
    problem = text_problem(value)
    if problem is not None:
        raise PayloadError(f"{name} {problem}", name)
    return value


def _honeypot(body: dict[str, Any]) -> bool:
    return body.get(HONEYPOT_FIELD) not in (None, "")
