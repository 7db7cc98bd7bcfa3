"""The OpenAPI 3.1 document of the management API, served at ``/v1/openapi.json``.

Written by hand to describe what api.py does; tests/test_openapi.py runs
Schemathesis against the app with this document to keep the two honest.
"""

from __future__ import annotations

from typing import Any

from pingd import __version__
from pingd.domain import CHANNEL_KINDS
from pingd.domain import MAX_NAME_LENGTH
from pingd.domain import MAX_PERIOD_SECONDS
from pingd.domain import MAX_TEXT_LENGTH
from pingd.domain import MIN_PERIOD_SECONDS
from pingd.domain import UNIQUE_FIELDS

ERROR_CODES = (
    "INVALID_JSON", "MISSING_BODY", "BAD_REQUEST", "FORBIDDEN", "NOT_FOUND", "CHECK_NOT_FOUND",
    "CHANNEL_NOT_FOUND", "METHOD_NOT_ALLOWED", "CONFLICT", "AMBIGUOUS_SLUG", "CHECK_NOT_PAUSED",
    "DUPLICATE", "PAYLOAD_TOO_LARGE", "INVALID_INPUT", "RATE_LIMITED", "INTERNAL_SERVER_ERROR",
    "STORAGE_FULL", "STORAGE_UNAVAILABLE",
)  # fmt: skip
STATUSES = ("new", "up", "grace", "down", "paused", "started")

_TIME = {"type": ["string", "null"], "format": "date-time"}
_PERIOD = {"type": "integer", "minimum": MIN_PERIOD_SECONDS, "maximum": MAX_PERIOD_SECONDS}
_TEXT = {"type": "string", "maxLength": MAX_TEXT_LENGTH}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "requestId"],
        "properties": {"data": data, "requestId": {"type": "string", "format": "uuid"}},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
        "content": {"application/json": {"schema": schema}},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    descriptions = {
        400: "Malformed JSON or a missing body (INVALID_JSON, MISSING_BODY)",
        403: "Missing or wrong API key, or a read-only key on a write (FORBIDDEN)",
        404: "No such check or route (CHECK_NOT_FOUND, NOT_FOUND)",
        405: "Method not allowed on this path (METHOD_NOT_ALLOWED)",
        409: "Conflict (AMBIGUOUS_SLUG, CHECK_NOT_PAUSED, DUPLICATE)",
        413: "Request body larger than 64 KiB (PAYLOAD_TOO_LARGE)",
        422: "Invalid input; `fields` names each problem (INVALID_INPUT)",
        429: "Rate limited; see Retry-After (RATE_LIMITED)",
        500: "Unexpected error; details are in the server log under the requestId",
        503: "Nothing was written: the disk is full (STORAGE_FULL), or the database file was"
        " removed or replaced under pingd (STORAGE_UNAVAILABLE); retry after Retry-After",
    }
    responses = {}
    for status in (*statuses, 405, 429, 500, 503):
        response = _json(_ref("Error"), descriptions[status])
        if status in (429, 503):
            response["headers"]["Retry-After"] = {
                "description": "Whole seconds to wait, at least 1",
                "schema": {"type": "integer", "minimum": 1},
            }
        responses[str(status)] = response
    return responses


def _check_input(*, with_unique: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "name": {"type": "string", "maxLength": MAX_NAME_LENGTH},
        "tags": {**_TEXT, "description": "Space-separated tags"},
        "desc": _TEXT,
        "timeout": {**_PERIOD, "description": "Period in seconds; makes it a simple check"},
        "grace": _PERIOD,
        "schedule": {"type": "string", "description": "5-field cron expression; a cron check"},
        "tz": {"type": "string", "description": "IANA time zone of the schedule"},
        "methods": {"type": "string", "enum": ["", "POST"]},
        "manual_resume": {"type": "boolean"},
        "filter_body": {"type": "boolean"},
        "filter_default_fail": {"type": "boolean"},
        "success_kw": _TEXT,
        "failure_kw": _TEXT,
        "start_kw": _TEXT,
    }
    properties["channels"] = {
        "description": 'Channels this check alerts: "*" for all, or a list of channel ids',
        "oneOf": [{"const": "*"}, {"type": "array", "items": {"type": "integer"}}],
    }
    if with_unique:
        properties["unique"] = {
            "type": "array",
            "items": {"type": "string", "enum": list(UNIQUE_FIELDS)},
            "description": "Update the one check whose fields equal these instead of creating",
        }
    return {"type": "object", "additionalProperties": False, "properties": properties}


def _schemas() -> dict[str, Any]:
    check_properties: dict[str, Any] = {
        "uuid": {"type": "string", "format": "uuid"},
        "name": {"type": "string"},
        "slug": {"type": "string"},
        "tags": {"type": "string"},
        "desc": {"type": "string"},
        "status": {"type": "string", "enum": list(STATUSES)},
        "started": {"type": "boolean"},
        "timeout": {"type": "integer", "description": "Present on simple checks"},
        "schedule": {"type": "string", "description": "Present on cron checks"},
        "tz": {"type": "string", "description": "Present on cron checks"},
        "grace": {"type": "integer"},
        "n_pings": {"type": "integer"},
        "last_ping": _TIME,
        "next_ping": _TIME,
        "last_duration": {"type": ["integer", "null"], "description": "Seconds"},
        "manual_resume": {"type": "boolean"},
        "methods": {"type": "string", "enum": ["", "POST"]},
        "filter_body": {"type": "boolean"},
        "filter_default_fail": {"type": "boolean"},
        "success_kw": {"type": "string"},
        "failure_kw": {"type": "string"},
        "start_kw": {"type": "string"},
        "channels": {"type": "array", "items": {"type": "integer"}},
        "created": {"type": "string", "format": "date-time"},
        "ping_url": {"type": "string", "format": "uri"},
        "slug_url": {"type": "string", "format": "uri"},
    }
    always = [name for name in check_properties if name not in ("timeout", "schedule", "tz")]
    return {
        "Error": {
            "type": "object",
            "required": ["error", "errorCode", "requestId"],
            "properties": {
                "error": {"type": "string"},
                "errorCode": {"type": "string", "enum": list(ERROR_CODES)},
                "requestId": {"type": "string", "format": "uuid"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "Check": {
            "type": "object",
            "required": always,
            "properties": check_properties,
            "oneOf": [{"required": ["timeout"]}, {"required": ["schedule", "tz"]}],
        },
        "CheckCreate": _check_input(with_unique=True),
        "CheckPatch": _check_input(with_unique=False),
        "Ping": {
            "type": "object",
            "required": [
                "n",
                "type",
                "date",
                "scheme",
                "remote_addr",
                "method",
                "ua",
                "rid",
                "exit_status",
                "body_size",
                "body_url",
            ],
            "properties": {
                "n": {"type": "integer"},
                "type": {"type": "string", "enum": ["success", "start", "fail", "log", "ign"]},
                "date": {"type": "string", "format": "date-time"},
                "scheme": {"type": "string"},
                "remote_addr": {"type": "string"},
                "method": {"type": "string"},
                "ua": {"type": "string"},
                "rid": {"type": ["string", "null"], "format": "uuid"},
                "exit_status": {"type": ["integer", "null"]},
                "duration": {"type": "number", "description": "Seconds since the paired start"},
                "body_size": {"type": "integer"},
                "body_url": {"type": ["string", "null"], "format": "uri"},
            },
        },  # fmt: skip
        "Flip": {
            "type": "object",
            "required": ["timestamp", "old_status", "new_status", "reason"],
            "properties": {
                "timestamp": {"type": "string", "format": "date-time"},
                "old_status": {"type": "string"},
                "new_status": {"type": "string"},
                "reason": {"type": "string", "enum": ["", "fail", "timeout"]},
            },
        },
        "Project": {
            "type": "object",
            "required": ["name", "ping_key", "ping_url_base"],
            "properties": {
                "name": {"type": "string"},
                "ping_key": {"type": "string", "pattern": "^[a-z0-9]{22}$"},
                "ping_url_base": {"type": "string", "format": "uri"},
            },
        },
        "Channel": {
            "type": "object",
            "required": ["id", "kind", "name", "settings", "created"],
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string", "enum": list(CHANNEL_KINDS)},
                "name": {"type": "string"},
                "settings": {"type": "object", "description": "Secrets are shown masked"},
                "created": {"type": "string", "format": "date-time"},
                "deliveries": {"type": "array", "items": _ref("Delivery")},
            },
        },
        "Delivery": {
            "type": "object",
            "required": ["id", "check", "status", "state", "attempts", "next_attempt", "created"],
            "properties": {
                "id": {"type": "integer"},
                "check": {"type": "string", "format": "uuid"},
                "status": {"type": "string"},
                "state": {"type": "string", "enum": ["pending", "sent", "failed"]},
                "attempts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["time", "ok", "error", "duration_ms"],
                        "properties": {
                            "time": {"type": "string", "format": "date-time"},
                            "ok": {"type": "boolean"},
                            "error": {"type": "string"},
                            "duration_ms": {"type": "integer"},
                        },
                    },
                },
                "next_attempt": _TIME,
                "created": {"type": "string", "format": "date-time"},
            },
        },  # fmt: skip
        "ChannelCreate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind"],
            "properties": {
                "kind": {"type": "string", "enum": list(CHANNEL_KINDS)},
                "name": {"type": "string", "maxLength": MAX_NAME_LENGTH},
                "settings": {"type": "object", "description": "Per kind; see the README"},
                "all_checks": {"type": "boolean", "description": "Make every check alert it"},
            },
        },
        "ChannelPatch": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "maxLength": MAX_NAME_LENGTH},
                "settings": {"type": "object", "description": "Only the given keys change"},
            },
        },
        "TestOutcome": {
            "type": "object",
            "required": ["ok", "error", "duration_ms"],
            "properties": {
                "ok": {"type": "boolean"},
                "error": {"type": "string"},
                "duration_ms": {"type": "integer"},
            },
        },
        "Status": {
            "type": "object",
            "required": ["status", "version"],
            "properties": {"status": {"const": "ok"}, "version": {"type": "string"}},
        },
    }


def _operation(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, **extra}


def _paths() -> dict[str, Any]:
    check = {"$ref": "#/components/parameters/check_uuid"}
    channel = {"name": "channel_id", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 1}}  # fmt: skip
    one_check = _envelope(_ref("Check"))
    public: list[dict[str, Any]] = [{}]
    body = {
        "CheckCreate": {"required": True, "content": {"application/json": {
            "schema": _ref("CheckCreate")}}},
        "CheckPatch": {"required": True, "content": {"application/json": {
            "schema": _ref("CheckPatch")}}},
    }  # fmt: skip
    return {
        "/v1/status": {"get": _operation(
            "Health: answers after a database round trip",
            {"200": _json(_envelope(_ref("Status")), "The server and database answer"),
             **_errors()},
            security=public)},
        "/v1/project": {"get": _operation(
            "The project: its ping key and the base of its ping URLs",
            {"200": _json(_envelope(_ref("Project")), "The project"), **_errors(403)})},
        "/v1/checks": {
            "get": _operation(
                "List checks",
                {"200": _json(_envelope({"type": "array", "items": _ref("Check")}), "Checks"),
                 **_errors(403, 422)},
                parameters=[
                    {"name": "tag", "in": "query", "schema": {"type": "string"},
                     "description": "Only checks with this tag; repeat to require several"},
                    {"name": "slug", "in": "query", "schema": {"type": "string"}},
                    {"name": "status", "in": "query",
                     "schema": {"type": "string", "enum": list(STATUSES)}},
                ]),
            "post": _operation(
                "Create a check, or update the one that matches `unique`",
                {"200": _json(one_check, "An existing check matched `unique` and was updated"),
                 "201": _json(one_check, "Created"), **_errors(400, 403, 409, 413, 422)},
                requestBody=body["CheckCreate"]),
        },
        "/v1/checks/{check_uuid}": {
            "parameters": [check],
            "get": _operation("One check", {"200": _json(one_check, "The check"),
                                            **_errors(403, 404)}),
            "patch": _operation(
                "Change the given fields", {"200": _json(one_check, "The changed check"),
                                            **_errors(400, 403, 404, 413, 422)},
                requestBody=body["CheckPatch"]),
            "delete": _operation("Delete a check", {"200": _json(one_check, "The deleted check"),
                                                    **_errors(403, 404)}),
        },
        "/v1/checks/{check_uuid}/pause": {"parameters": [check], "post": _operation(
            "Pause (idempotent)", {"200": _json(one_check, "The paused check"),
                                   **_errors(403, 404)})},
        "/v1/checks/{check_uuid}/resume": {"parameters": [check], "post": _operation(
            "Resume a paused check", {"200": _json(one_check, "The resumed check (status new)"),
                                      **_errors(403, 404, 409)})},
        "/v1/checks/{check_uuid}/pings": {"parameters": [check], "get": _operation(
            "The check's kept pings, newest first (read-write key)",
            {"200": _json(_envelope({"type": "array", "items": _ref("Ping")}), "Pings"),
             **_errors(403, 404)})},
        "/v1/checks/{check_uuid}/pings/{n}/body": {
            "parameters": [check, {"name": "n", "in": "path", "required": True,
                                   "schema": {"type": "integer", "minimum": 1}}],
            "get": _operation(
                "A ping's stored body, as raw bytes (read-write key)",
                {"200": {"description": "The body",
                         "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
                         "content": {"text/plain": {"schema": {"type": "string"}}}},
                 **_errors(403, 404)}),
        },
        "/v1/checks/{check_uuid}/flips": {"parameters": [check], "get": _operation(
            "The check's status changes, newest first",
            {"200": _json(_envelope({"type": "array", "items": _ref("Flip")}), "Flips"),
             **_errors(403, 404)})},
        "/v1/channels": {
            "get": _operation(
                "List notification channels (read-write key)",
                {"200": _json(_envelope({"type": "array", "items": _ref("Channel")}),
                              "Channels"), **_errors(403)}),
            "post": _operation(
                "Create a notification channel",
                {"201": _json(_envelope(_ref("Channel")), "Created"),
                 **_errors(400, 403, 413, 422)},
                requestBody={"required": True, "content": {"application/json": {
                    "schema": _ref("ChannelCreate")}}}),
        },
        "/v1/channels/{channel_id}": {
            "parameters": [channel],
            "get": _operation("One channel with its recent deliveries and their attempts",
                              {"200": _json(_envelope(_ref("Channel")), "The channel"),
                               **_errors(403, 404)}),
            "patch": _operation(
                "Rename a channel or change some settings",
                {"200": _json(_envelope(_ref("Channel")), "The changed channel"),
                 **_errors(400, 403, 404, 413, 422)},
                requestBody={"required": True, "content": {"application/json": {
                    "schema": _ref("ChannelPatch")}}}),
            "delete": _operation("Delete a channel and its queued deliveries",
                                 {"200": _json(_envelope(_ref("Channel")), "The deleted channel"),
                                  **_errors(403, 404)}),
        },
        "/v1/channels/{channel_id}/test": {"parameters": [channel], "post": _operation(
            "Send a test notification now; the outcome is in the answer",
            {"200": _json(_envelope(_ref("TestOutcome")), "The outcome"), **_errors(403, 404)})},
        "/v1/openapi.json": {"get": _operation(
            "This document",
            {"200": {"description": "The OpenAPI document",
                     "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
                     "content": {"application/json": {"schema": {"type": "object"}}}},
             **_errors()},
            security=public)},
    }  # fmt: skip


def build_document(base_url: str) -> dict[str, Any]:
    """Return the OpenAPI document describing /v1."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pingd management API",
            "version": __version__,
            "description": (
                "Manage checks and read their history. Send the API key in `X-Api-Key` "
                "(or `Authorization: Bearer`). Add `x-developer-mode: true` to work on a "
                "private in-memory sandbox of fake checks instead of real data."
            ),
        },
        "servers": [{"url": base_url}],
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
            "headers": {
                "X-Request-Id": {
                    "description": "The requestId of the body, to quote when asking for help",
                    "schema": {"type": "string", "format": "uuid"},
                }
            },
            "parameters": {
                "check_uuid": {
                    "name": "check_uuid",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                }
            },
            "schemas": _schemas(),
        },
    }
