"""OpenAPI 3.1 description of the widget's public endpoints (``PATHS`` and ``SCHEMAS``).

``survey.api.openapi.build_document`` merges these into /api/v1/openapi.json.
The answers path is shared with the read API's ``GET …/responses``: this
module documents only the widget's methods on it, and the merge, path by
path, keeps both. It imports nothing from the read API (imports go api → widget).
"""

from __future__ import annotations

from typing import Any

from survey.kinds import KINDS
from survey.widget.payload import (HONEYPOT_FIELD, PAGE_URL_MAX_LENGTH, PREVIEW_FIELD, PREVIEW_MAX_LENGTH,
                                    TOKEN_MAX_LENGTH)

TAG = "widget"
STRING = {"type": "string"}
INTEGER = {"type": "integer"}
PUBLIC_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$",
             "description": "The answer's opaque public id (random, not a row number)."}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": [name for name in properties if name not in optional], **extra}


SCHEMAS: dict[str, Any] = {
    "WidgetError": _object({"error": _object({
        "status": INTEGER, "message": STRING,
        "field": {"type": "string", "description": "The body field at fault, when there is one."},
    }, optional=("field",))}),
    "WidgetConfig": _object({
        "key": STRING,
        "kind": {"type": "string", "enum": list(KINDS)},
        "question": STRING,
        "scale": _object({
            "low": INTEGER, "high": INTEGER, "low_label": STRING, "high_label": STRING,
            "negative_max": {"type": "integer", "description": "Scores up to this are the negative band."},
            "positive_min": {"type": "integer", "description": "Scores from this are the positive band."},
        }),
        "followup": {"oneOf": [{"type": "null"}, _object({"negative": STRING, "neutral": STRING,
                                                          "positive": STRING})],
                     "description": "The follow-up question per score band; null when the survey asks none."},
        "thank_you": STRING,
        "cap_days": {"type": "integer", "minimum": 0,
                     "description": "Days the widget stays hidden for a visitor who answered or closed it "
                                    "(0: shown every time)."},
        "comment_max_length": {"type": "integer", "minimum": 1},
    }),
    "NewWidgetAnswer": _object({
        "score": {"type": ["integer", "null"], "description": "On the survey's scale."},
        "comment": {"type": ["string", "null"], "description": "At most COMMENT_MAX_LENGTH characters."},
        "elapsed_ms": {"type": "integer", "minimum": 0,
                       "description": "Milliseconds between showing the question and this answer; answers "
                                      "faster than WIDGET_MIN_ANSWER_MS are treated as a bot's."},
        "meta": {"type": ["object", "null"], "additionalProperties": {"type": ["string", "number"]},
                 "description": "Hidden fields (customer id, plan, page section): at most META_MAX_FIELDS "
                                "names of letters, digits, '-' or '_'."},
        "page_url": {"type": ["string", "null"], "maxLength": PAGE_URL_MAX_LENGTH,
                     "description": "The page the answer was given on; only its path is kept (and its query "
                                    "string if the survey keeps them)."},
        "submission_key": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9_-]{16,64}$",
                           "description": "A fresh random value per answer: sending it again revises that "
                                          "answer instead of adding a second one."},
        HONEYPOT_FIELD: {"type": ["string", "null"],
                         "description": "Must stay empty (a trap for bots: filled in, nothing is stored)."},
        PREVIEW_FIELD: {"type": ["string", "null"], "maxLength": PREVIEW_MAX_LENGTH,
                        "description": "Sent only by the dashboard's widget preview (its page's signed mark): "
                                       "the answer is checked and answered but not stored. It counts only from "
                                       "this site's own origin; from a partner page it is ignored."},
    }, optional=("score", "comment", "meta", "page_url", "submission_key", HONEYPOT_FIELD, PREVIEW_FIELD),
        description="A score, a comment or both."),
    "WidgetAnswerCreated": _object({
        "id": {**PUBLIC_ID, "description": "The answer's opaque id, for PATCH."},
        "edit_token": {"type": "string", "description": "Authorises PATCH on this answer; shown only now."},
        "edit_until": {"type": "string", "format": "date-time", "description": "PATCH is accepted until then."},
    }),
    "WidgetAnswerUpdate": _object({
        "edit_token": {"type": "string", "minLength": 1, "maxLength": TOKEN_MAX_LENGTH},
        "score": {"type": ["integer", "null"]},
        "comment": {"type": ["string", "null"]},
        HONEYPOT_FIELD: {"type": ["string", "null"]},
    }, optional=("score", "comment", HONEYPOT_FIELD)),
    "WidgetAnswer": _object({"id": PUBLIC_ID, "score": {"type": ["integer", "null"]},
                             "comment": {"type": ["string", "null"]}}),
}

KEY = {"name": "public_key", "in": "path", "required": True, "description": "The survey's key.",
       "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,43}$"}}
RESPONSE_ID = {"name": "response_id", "in": "path", "required": True, "description": "The id POST returned.",
               "schema": PUBLIC_ID}
ORIGIN_NOTE = (" Browsers send an Origin header: it must be one of the survey's origins (or this site's). "
               "Writes without an Origin are refused unless WIDGET_ACCEPT_NO_ORIGIN is set.")


def _error(description: str, retry_after: bool = False) -> dict[str, Any]:
    error = {"description": description, "content": {"application/json": {"schema": _ref("WidgetError")}}}
    if retry_after:
        error["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": INTEGER}}
    return error


def _errors(write: bool) -> dict[str, Any]:
    errors = {
        "403": _error("The request's origin may not use this survey, or (PATCH) the edit token does not match."),
        "404": _error("No survey has this key (or, for PATCH, it has no such answer)."),
        "410": _error("The survey is closed."),
        "429": _error("Too many requests from this client for this survey.", retry_after=True),
    }
    if write:
        errors.update({
            "400": _error("The body is not JSON or a field has the wrong type or is unknown (see error.field)."),
            "409": _error("The answer can no longer be changed, or the submission_key belongs to another answer."),
            "413": _error("The body is larger than WIDGET_MAX_BODY_BYTES."),
            "415": _error("The body is not sent as application/json."),
            "422": _error("The answer is not acceptable: score off the scale, comment too long, nothing to store."),
        })
    return errors


def _json_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


ANSWERS_PATH = "/api/v1/surveys/{public_key}/responses"

PATHS: dict[str, Any] = {
    "/api/v1/surveys/{public_key}/widget": {"get": {
        "operationId": "getWidgetConfig", "tags": [TAG], "security": [],
        "summary": "What the widget shows: question, scale and end labels, follow-ups, thank-you, cap.",
        "description": "Public; cached for 60 s." + ORIGIN_NOTE,
        "parameters": [KEY],
        "responses": {"200": {"description": "The widget's configuration.",
                              "content": {"application/json": {"schema": _ref("WidgetConfig")}}},
                      **_errors(write=False)},
    }},
    ANSWERS_PATH: {"post": {
        "operationId": "createWidgetAnswer", "tags": [TAG], "security": [],
        "summary": "Store a widget answer (channel widget); returns its id and an edit token.",
        "description": "Submissions caught by the bot traps (honeypot filled in, answered faster than "
                       "WIDGET_MIN_ANSWER_MS) get the same 201 but are only counted, not stored." + ORIGIN_NOTE,
        "parameters": [KEY],
        "requestBody": _json_body("NewWidgetAnswer"),
        "responses": {
            "201": {"description": "Stored.", "headers": {"Location": {"schema": STRING}},
                    "content": {"application/json": {"schema": _ref("WidgetAnswerCreated")}}},
            "200": {"description": "A repeat of an earlier submission_key: that answer was revised, with a new "
                                   "edit token.", "headers": {"Location": {"schema": STRING}},
                    "content": {"application/json": {"schema": _ref("WidgetAnswerCreated")}}},
            **_errors(write=True),
        },
    }},
    ANSWERS_PATH + "/{response_id}": {"patch": {
        "operationId": "updateWidgetAnswer", "tags": [TAG], "security": [],
        "summary": "Add the comment (or change the score) of a widget answer, with its edit token.",
        "description": "Accepted for ANSWER_EDIT_WINDOW_SECONDS after the answer." + ORIGIN_NOTE,
        "parameters": [KEY, RESPONSE_ID],
        "requestBody": _json_body("WidgetAnswerUpdate"),
        "responses": {"200": {"description": "Updated.",
                              "content": {"application/json": {"schema": _ref("WidgetAnswer")}}},
                      **_errors(write=True)},
    }},
}
