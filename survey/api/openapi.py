"""The OpenAPI 3.1 document served at /api/v1/openapi.json.

It describes this package's read API and the widget's public endpoints
(``survey.widget.openapi.PATHS`` and ``SCHEMAS``, merged path by path). ``tests/test_api_schema.py`` runs schemathesis against it, so
the document and the responses cannot drift apart.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from flask import current_app

from analysis.labels import SENTIMENTS, THEMES
from survey.kinds import BANDS, KINDS
from survey.metrics import METHODS
from survey.models import CHANNELS
from survey.webhooks.models import EVENT_TYPES
from survey.widget import openapi as widget_openapi

BEARER = [{"bearer": []}]
SCHEDULE_STATES = ("open", "closed", "full")  # survey.schedule.state
CLOSED_REASONS = ("closed_by_hand", "close_date_passed", "response_cap_reached")  # representations.schedule_json
NO_CONTROL_CHARACTERS = "^[^\\x00-\\x1f\\x7f]*$"


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:  # a reference has no type to widen: either the referenced object or null
        return {"anyOf": [dict(schema), {"type": "null"}]}
    schema = dict(schema)
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    kind = schema.get("type")
    if kind is not None:
        schema["type"] = [kind, "null"] if isinstance(kind, str) else [*kind, "null"]
    return schema


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": [name for name in properties if name not in optional]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
DATE_TIME = {"type": "string", "format": "date-time"}
DATE = {"type": "string", "format": "date"}

SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": _object({
        "status": INTEGER, "message": STRING, "field": STRING,
    }, optional=("field",))}),
    "Pagination": _object({"page": {"type": "integer", "minimum": 1}, "per_page": {"type": "integer", "minimum": 1},
                           "total": {"type": "integer", "minimum": 0}, "pages": {"type": "integer", "minimum": 1}}),
    "PageLinks": _object({"self": STRING, "next": _nullable(STRING), "prev": _nullable(STRING)}),
    "Survey": _object({
        "key": STRING,
        "kind": {"type": "string", "enum": list(KINDS)},
        "name": STRING,
        "subject": STRING,
        "question": STRING,
        "scale": _object({"low": INTEGER, "high": INTEGER, "low_label": STRING, "high_label": STRING}),
        "followup": _object({"enabled": {"type": "boolean"}, "negative": STRING, "neutral": STRING,
                             "positive": STRING}),
        "thank_you": STRING,
        "is_open": {"type": "boolean"},
        "created_at": DATE_TIME,
        "widget": _object({"origins": {"type": "array", "items": STRING},
                           "cap_days": {"type": "integer", "minimum": 0},
                           "keep_query_string": {"type": "boolean"}}),
        "throttle_days": _nullable({"type": "integer", "minimum": 0}),
        "schedule": {**_object({
            "closes_at": _nullable({**DATE_TIME, "description": "From this moment the survey takes no answers."}),
            "max_responses": _nullable({"type": "integer", "minimum": 1,
                                        "description": "No new answers once it has this many."}),
            "state": {"type": "string", "enum": list(SCHEDULE_STATES),
                      "description": "open; closed (by hand or at its close date); full (its cap is reached)."},
            "closed_reason": _nullable({"type": "string", "enum": list(CLOSED_REASONS),
                                        "description": "Why it takes no answers now; null while open."}),
            "message": _nullable({**STRING, "description": "What customers are told instead of the form."}),
        }), "description": "When the survey stops taking answers (close date, response cap) and whether it has."},
        "responses": {"type": "integer", "minimum": 0, "description": "Number of answers, all time."},
        "score": _nullable({**NUMBER, "description": "The survey's metric over all its answers."}),
        "links": _object({"self": STRING, "metrics": STRING, "responses": STRING,
                          "public": {"type": "string", "description": "The page customers answer on."}}),
    }),
    "SurveyPage": _object({"data": {"type": "array", "items": _ref("Survey")},
                           "pagination": _ref("Pagination"), "links": _ref("PageLinks")}),
    "Metric": {
        **_object({
            "kind": {"type": "string", "enum": list(KINDS)},
            "score": _nullable(NUMBER), "n": {"type": "integer", "minimum": 0}, "se": _nullable(NUMBER),
            "ci_low": _nullable(NUMBER), "ci_high": _nullable(NUMBER), "confidence": NUMBER,
            "method": {"type": "string", "enum": list(METHODS), "description": "How the interval was made: "
                       + "; ".join(f"{name}: {text}" for name, text in METHODS.items())},
            # NPS
            "promoters": INTEGER, "passives": INTEGER, "detractors": INTEGER,
            # CSAT
            "satisfied": INTEGER,
            # CES
            "sd": _nullable(NUMBER), "agree": INTEGER, "agree_share": _nullable(NUMBER),
            "agree_se": _nullable(NUMBER), "agree_ci_low": _nullable(NUMBER), "agree_ci_high": _nullable(NUMBER),
        }, optional=("promoters", "passives", "detractors", "satisfied", "sd", "agree", "agree_share",
                     "agree_se", "agree_ci_low", "agree_ci_high")),
        "description": "NPS: points −100…100 with promoters/passives/detractors; CSAT: percent satisfied "
                       "(4–5) with satisfied; CES: mean 1…7 with sd and the share who agree (5–7). "
                       "Values that cannot be estimated (no answers) are null.",
    },
    "Change": _object({
        "kind": {"type": "string", "enum": list(KINDS)},
        "difference": _nullable(NUMBER), "se": _nullable(NUMBER), "z": _nullable(NUMBER),
        "p_value": _nullable(NUMBER), "ci_low": _nullable(NUMBER), "ci_high": _nullable(NUMBER),
        "significant": {"type": "boolean"}, "confidence": NUMBER, "method": STRING,
        "before_score": _nullable(NUMBER), "after_score": _nullable(NUMBER),
        "before_n": INTEGER, "after_n": INTEGER,
    }),
    "Period": _object({"start": _nullable(DATE), "end": _nullable(DATE)}),
    "Metrics": _object({
        "survey": STRING,
        "kind": {"type": "string", "enum": list(KINDS)},
        "filters": {"type": "object", "additionalProperties": STRING,
                    "description": "The filters in force, as query parameters."},
        "period": _ref("Period"),
        "metric": _ref("Metric"),
        "comparison": _object({"period": _ref("Period"), "previous_period": _ref("Period"),
                               "change": _ref("Change")}),
    }),
    "PainPointTrend": _object({
        "periods": {"type": "array", "items": _object({
            "period_start": DATE, "count": INTEGER, "n": INTEGER, "share": _nullable(NUMBER),
            "ci_low": _nullable(NUMBER), "ci_high": _nullable(NUMBER)})},
        "latest_change": _nullable(_object({
            "from": DATE, "to": DATE, "difference": _nullable(NUMBER), "ci_low": _nullable(NUMBER),
            "ci_high": _nullable(NUMBER), "p_value": _nullable(NUMBER), "significant": {"type": "boolean"},
            "direction": {"type": "string", "enum": ["up", "down", "steady"]}})),
        "confidence": NUMBER,
    }),
    "PainPoints": _object({
        "survey": STRING,
        "run": _nullable(_object({"id": INTEGER, "finished_at": _nullable(DATE_TIME), "model_version": STRING})),
        "pain_points": {"type": "array", "items": _object({
            "id": INTEGER, "rank": INTEGER, "label": STRING, "theme": {"type": "string", "enum": list(THEMES)},
            "source": {"type": "string", "enum": ["discovered", "codeframe", "proposal"]},
            "proposal": {"type": "boolean"}, "count": INTEGER, "share": NUMBER,
            "score_impact": _nullable(NUMBER), "impact": NUMBER, "quotes": {"type": "array", "items": STRING},
            "trend": {"anyOf": [_ref("PainPointTrend"), {"type": "null"}]},
            "merged_since_run": {"type": "array", "items": STRING}})},
    }),
    "Answer": _object({
        "id": INTEGER,
        "score": _nullable(INTEGER),
        "band": _nullable({"type": "string", "enum": list(BANDS)}),
        "comment": _nullable(STRING),
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "created_at": DATE_TIME,
        "updated_at": DATE_TIME,
        "sentiment": _nullable({"type": "string", "enum": list(SENTIMENTS)}),
        "theme": _nullable({"type": "string", "enum": list(THEMES)}),
        "meta": {"type": "object", "additionalProperties": STRING},
        "page_url": _nullable(STRING),
        "referrer_origin": _nullable(STRING),
        "browser": _nullable(STRING),
        "contact": {"oneOf": [{"type": "null"}, _object({
            "email": STRING, "name": _nullable(STRING), "attributes": {"type": "object"},
        })]},
    }),
    "AnswerPage": _object({"data": {"type": "array", "items": _ref("Answer")},
                           "pagination": _ref("Pagination"), "links": _ref("PageLinks")}),
}

SCHEMAS["WebhookEvent"] = _object({
    "id": {**STRING, "description": "The event's id; the same on every retry (`Rapport-Event-Id`)."},
    "type": {"type": "string", "enum": list(EVENT_TYPES)},
    "created_at": DATE_TIME,
    "survey": _object({"key": STRING, "kind": {"type": "string", "enum": list(KINDS)}, "name": STRING}),
    "answer": _nullable({**_object({"public_id": STRING, **SCHEMAS["Answer"]["properties"]}),
                         "description": "The answer as the read API shows it, plus its public id; null for a ping."}),
})

#: What Rapport POSTs to a survey's webhook endpoints (OpenAPI 3.1 ``webhooks``; README "Webhooks").
WEBHOOKS: dict[str, Any] = {
    "answer": {"post": {
        "summary": "A new or changed answer (or a test ping), signed with the endpoint's secret",
        "parameters": [
            {"name": "Rapport-Signature", "in": "header", "required": True, "schema": STRING,
             "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">` (a second `v1=` "
                            "for 24 hours after a rotation)."},
            {"name": "Rapport-Event-Id", "in": "header", "required": True, "schema": STRING,
             "description": "Idempotency id: the same on every retry; equal to the body's `id`."},
            {"name": "Rapport-Event-Type", "in": "header", "required": True,
             "schema": {"type": "string", "enum": list(EVENT_TYPES)}},
            {"name": "Rapport-Delivery-Attempt", "in": "header", "required": True,
             "schema": {"type": "integer", "minimum": 1}},
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("WebhookEvent")}}},
        "responses": {"2XX": {"description": "Delivered. Any other reply (or none within the timeout) is "
                                             "retried with backoff."}},
    }},
}

KEY_PARAMETER = {"name": "public_key", "in": "path", "required": True, "description": "The survey's key.",
                 "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,43}$"}}
PAGE_PARAMETERS = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}},
    {"name": "per_page", "in": "query", "description": "Items per page (default 50, at most API_MAX_PAGE_SIZE).",
     "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
]
FILTER_PARAMETERS = [
    {"name": "start", "in": "query", "description": "First day (UTC), inclusive.", "schema": DATE},
    {"name": "end", "in": "query", "description": "Last day (UTC), inclusive.", "schema": DATE},
    {"name": "channel", "in": "query", "schema": {"type": "string", "enum": list(CHANNELS)}},
    {"name": "band", "in": "query", "description": "Score band (NPS detractors, passives, promoters).",
     "schema": {"type": "string", "enum": list(BANDS)}},
    {"name": "sentiment", "in": "query", "schema": {"type": "string", "enum": list(SENTIMENTS)}},
    {"name": "theme", "in": "query", "schema": {"type": "string", "enum": list(THEMES)}},
    {"name": "pain", "in": "query", "description": "A pain point's id (from the latest analysis): its answers.",
     "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}},
    {"name": "q", "in": "query", "description": "Text the comment contains (case-insensitive).",
     "schema": {"type": "string", "maxLength": 200, "pattern": NO_CONTROL_CHARACTERS}},
]
FILTER_NOTE = (" Any `attr.KEY=value` parameter (e.g. `attr.plan=pro`) keeps answers whose meta field or "
               "contact attribute KEY has that value. Unknown parameters, and values with control characters, "
               "are refused with 400.")


def _responses(ok_schema: str, description: str, not_found: bool = True, bad_request: bool = True) -> dict:
    error = {"content": {"application/json": {"schema": _ref("Error")}}}
    responses = {"200": {"description": description, "content": {"application/json": {"schema": _ref(ok_schema)}}},
                 "401": {"description": "No token, or one that is unknown, revoked, of a deactivated account, or "
                                        "expired (its message then says on which day, e.g. \"This API token expired "
                                        "on 2027-02-25; create a new one on the dashboard's API tokens page.\"). "
                                        "A bad token's WWW-Authenticate says error=\"invalid_token\".", **error}}
    if bad_request:
        responses["400"] = {"description": "A query parameter is not valid (its name is in error.field).", **error}
    if not_found:
        responses["404"] = {"description": "No survey has this key.", **error}
    return responses


PATHS: dict[str, Any] = {
    "/api/v1/surveys": {"get": {
        "operationId": "listSurveys", "summary": "Every survey, oldest first.", "tags": ["surveys"],
        "security": BEARER, "parameters": PAGE_PARAMETERS,
        "responses": _responses("SurveyPage", "One page of surveys.", not_found=False),
    }},
    "/api/v1/surveys/{public_key}": {"get": {
        "operationId": "getSurvey", "summary": "One survey: wording, settings, answer count and score.",
        "tags": ["surveys"], "security": BEARER, "parameters": [KEY_PARAMETER],
        "responses": _responses("Survey", "The survey."),
    }},
    "/api/v1/surveys/{public_key}/metrics": {"get": {
        "operationId": "getMetrics", "tags": ["metrics"], "security": BEARER,
        "summary": "The metric with its 95% interval, and its change against the previous period.",
        "description": "`metric` covers the filtered answers (all time unless `start`/`end` are given). "
                       "`comparison` sets the chosen period (the last 30 days if no `start`) against the "
                       "period of the same length just before it, with a two-sample z test." + FILTER_NOTE,
        "parameters": [KEY_PARAMETER, *FILTER_PARAMETERS],
        "responses": _responses("Metrics", "The metric and its change."),
    }},
    "/api/v1/surveys/{public_key}/responses": {"get": {
        "operationId": "listResponses", "tags": ["responses"], "security": BEARER,
        "summary": "The survey's answers, newest first, with their labels and attributes.",
        "description": "The same filters as the dashboard." + FILTER_NOTE,
        "parameters": [KEY_PARAMETER, *FILTER_PARAMETERS, *PAGE_PARAMETERS],
        "responses": _responses("AnswerPage", "One page of answers."),
    }},
    "/api/v1/surveys/{public_key}/pain-points": {"get": {
        "operationId": "listPainPoints", "tags": ["pain points"], "security": BEARER,
        "summary": "The latest analysis's pain points, each with its share of comments per period.",
        "description": "With a codeframe, its pain points by name (`source: codeframe`) and then the proposals "
                       "found among comments that fit none (`proposal: true`). `trend.periods` is the share of "
                       "the survey's comments per week or month with a 95% Wilson interval; "
                       "`trend.latest_change` tests the last period against the one before. "
                       "The codeframe as it stands now: a pain point renamed since the analysis has its new "
                       "`label`, a hidden one is left out. Pain points merged since are one entry under the "
                       "surviving name, the merged-away names in `merged_since_run`; its `count`, `share`, "
                       "`trend` and `quotes` stay the analysis's until the next run recounts the merged point.",
        "parameters": [KEY_PARAMETER],
        "responses": _responses("PainPoints", "The pain points (an empty list before any analysis)."),
    }},
    "/api/v1/openapi.json": {"get": {
        "operationId": "getOpenApi", "summary": "This document.", "tags": ["meta"], "security": [],
        "responses": {"200": {"description": "The OpenAPI document.",
                              "content": {"application/json": {"schema": {"type": "object"}}}}},
    }},
}


def merge_paths(*parts: dict[str, Any]) -> dict[str, Any]:
    """One path may have operations from two features (GET answers here, POST from the widget)."""
    paths: dict[str, Any] = {}
    for part in parts:
        for path, item in part.items():
            merged = paths.setdefault(path, {})
            for method, operation in item.items():
                if method in merged and merged[method] != operation:
                    raise ValueError(f"two features document {method.upper()} {path} differently")
                merged[method] = deepcopy(operation)
    return paths


def build_document() -> dict[str, Any]:
    per_page = PAGE_PARAMETERS[1]["schema"]
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Rapport API",
            "version": "1",
            "description": "Read surveys, metrics and answers (Bearer token from the dashboard's API tokens page "
                           "or `flask token create`), and the public widget endpoints.",
        },
        "paths": merge_paths(PATHS, widget_openapi.PATHS),
        "webhooks": deepcopy(WEBHOOKS),
        "components": {
            "schemas": {**deepcopy(SCHEMAS), **deepcopy(widget_openapi.SCHEMAS)},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A personal API token, e.g. `rpt_…`. It works until "
                                                          "the end of the lifetime chosen when it was made "
                                                          "(30, 90 or 365 days, or never)."}},
        },
    }
    # The page-size bound is configurable; say what this site allows.
    limit = current_app.config["API_MAX_PAGE_SIZE"]
    for path in ("/api/v1/surveys", "/api/v1/surveys/{public_key}/responses"):
        for parameter in document["paths"][path]["get"]["parameters"]:
            if parameter["name"] == "per_page":
                parameter["schema"] = {**per_page, "maximum": limit,
                                       "default": min(current_app.config["API_PAGE_SIZE"], limit)}
    return document
