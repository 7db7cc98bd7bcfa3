"""The checks family of the OpenAPI document: checks, pause and resume, pings and flips.

Describes the ``/v1/checks`` paths, the ``check_uuid`` path parameter, and the
``Check``, ``CheckCreate``, ``CheckPatch``, ``Ping`` and ``Flip`` schemas, as
pingd.api.checks answers them. It must not describe channels or the project,
nor import the other family modules of this package.
"""

from __future__ import annotations

from typing import Any

from pingd.domain.check_input import MAX_TEXT_LENGTH
from pingd.domain.check_input import UNIQUE_FIELDS
from pingd.domain.checks import MAX_NAME_LENGTH
from pingd.domain.checks import MAX_PERIOD_SECONDS
from pingd.domain.checks import MAX_THRESHOLD
from pingd.domain.checks import MIN_PERIOD_SECONDS
from pingd.openapi.common import TIME
from pingd.openapi.common import answer
from pingd.openapi.common import envelope
from pingd.openapi.common import errors
from pingd.openapi.common import operation
from pingd.openapi.common import ref

STATUSES = ("new", "up", "grace", "down", "paused", "started")

_PERIOD = {"type": "integer", "minimum": MIN_PERIOD_SECONDS, "maximum": MAX_PERIOD_SECONDS}
_TEXT = {"type": "string", "maxLength": MAX_TEXT_LENGTH}
_OPTIONAL_PERIOD = {"type": "integer", "minimum": 0, "maximum": MAX_PERIOD_SECONDS}
_THRESHOLD = {"type": "integer", "minimum": 1, "maximum": MAX_THRESHOLD}
POLICY_INPUT: dict[str, Any] = {
    "failure_threshold": {**_THRESHOLD, "description": "Failures in a row before it goes down"},
    "success_threshold": {**_THRESHOLD, "description": "Successes in a row to be up again"},
    "remind_every": {**_OPTIONAL_PERIOD, "description": "Seconds between reminders while down "
                     f"(0: none, else at least {MIN_PERIOD_SECONDS}); wins over the channel's"},
    "start_window": {**_OPTIONAL_PERIOD, "description": "Seconds after the expected time within "
                     "which a start ping must come, else down with reason `not started` (0: none)"},
}  # fmt: skip


def _check_input(*, with_unique: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "name": {"type": "string", "maxLength": MAX_NAME_LENGTH},
        "slug": {
            "type": "string",
            "pattern": "^[a-z0-9_-]{0,100}$",
            "description": "Set by itself; otherwise a new name sets it (slugified)",
        },
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
        **POLICY_INPUT,
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


def _check_schema() -> dict[str, Any]:
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
        "last_ping": TIME,
        "last_success": {**TIME, "description": "The newest success among the kept pings"},
        "next_ping": TIME,
        "last_duration": {"type": ["integer", "null"], "description": "Seconds"},
        "manual_resume": {"type": "boolean"},
        "methods": {"type": "string", "enum": ["", "POST"]},
        "filter_body": {"type": "boolean"},
        "filter_default_fail": {"type": "boolean"},
        "success_kw": {"type": "string"},
        "failure_kw": {"type": "string"},
        "start_kw": {"type": "string"},
        **{name: {"type": "integer"} for name in POLICY_INPUT},
        "fail_streak": {"type": "integer", "description": "Failures in a row, to now"},
        "success_streak": {"type": "integer", "description": "Successes in a row, to now"},
        "quiet_until": {
            **TIME,
            "description": "While a maintenance window covers the check: "
            "when it ends (alerts are held until then)",
        },
        "channels": {"type": "array", "items": {"type": "integer"}},
        "created": {"type": "string", "format": "date-time"},
        "ping_url": {"type": "string", "format": "uri"},
        "slug_url": {"type": "string", "format": "uri"},
        "badge_url": {
            "type": "string",
            "format": "uri",
            "description": "The check's two-state SVG badge; /b/3/… for three states, "
            ".json or .shields for the other formats",
        },
    }
    always = [name for name in check_properties if name not in ("timeout", "schedule", "tz")]
    return {
        "type": "object",
        "required": always,
        "properties": check_properties,
        "oneOf": [{"required": ["timeout"]}, {"required": ["schedule", "tz"]}],
    }


def schemas() -> dict[str, Any]:
    """The checks family's schemas, in the order the document lists them."""
    return {
        "Check": _check_schema(),
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
                "repeat",
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
                "repeat": {
                    "type": "boolean",
                    "description": "A client's retry of the previous "
                    "ping (identical, within 30 s): stored, but it changed nothing",
                },
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
                "reason": {"type": "string", "enum": ["", "fail", "timeout", "not started"]},
            },
        },
    }


def parameters() -> dict[str, Any]:
    """The path parameter every ``/v1/checks/{check_uuid}`` path refers to."""
    return {
        "check_uuid": {
            "name": "check_uuid",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
    }


def paths() -> dict[str, Any]:
    """The ``/v1/checks`` paths, in the order the document lists them."""
    return {**_check_paths(), **_history_paths()}


def _check_paths() -> dict[str, Any]:
    check = {"$ref": "#/components/parameters/check_uuid"}
    one_check = envelope(ref("Check"))
    body = {
        "CheckCreate": {"required": True, "content": {"application/json": {
            "schema": ref("CheckCreate")}}},
        "CheckPatch": {"required": True, "content": {"application/json": {
            "schema": ref("CheckPatch")}}},
    }  # fmt: skip
    return {
        "/v1/checks": {
            "get": operation(
                "List checks",
                {"200": answer(envelope({"type": "array", "items": ref("Check")}), "Checks"),
                 **errors(403, 422)},
                parameters=[
                    {"name": "tag", "in": "query", "schema": {"type": "string"},
                     "description": "Only checks with this tag; repeat to require several"},
                    {"name": "slug", "in": "query", "schema": {"type": "string"}},
                    {"name": "status", "in": "query",
                     "schema": {"type": "string", "enum": list(STATUSES)}},
                ]),
            "post": operation(
                "Create a check, or update the one that matches `unique`",
                {"200": answer(one_check, "An existing check matched `unique` and was updated"),
                 "201": answer(one_check, "Created"), **errors(400, 403, 409, 413, 422)},
                requestBody=body["CheckCreate"]),
        },
        "/v1/checks/{check_uuid}": {
            "parameters": [check],
            "get": operation("One check", {"200": answer(one_check, "The check"),
                                           **errors(403, 404)}),
            "patch": operation(
                "Change the given fields", {"200": answer(one_check, "The changed check"),
                                            **errors(400, 403, 404, 413, 422)},
                requestBody=body["CheckPatch"]),
            "delete": operation("Delete a check", {"200": answer(one_check, "The deleted check"),
                                                   **errors(403, 404)}),
        },
        "/v1/checks/{check_uuid}/pause": {"parameters": [check], "post": operation(
            "Pause (idempotent); with `until`, hold its alerts until then instead",
            {"200": answer(one_check, "The paused check, or the check whose alerts are held"),
             **errors(400, 403, 404, 413, 422)},
            requestBody={"required": False, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "required": ["until"],
                "properties": {"until": {"type": "string", "format": "date-time"}}}}}})},
        "/v1/checks/{check_uuid}/resume": {"parameters": [check], "post": operation(
            "Resume a paused check, or end the hold of its alerts",
            {"200": answer(one_check, "The resumed check (status new)"),
             **errors(403, 404, 409)})},
    }  # fmt: skip


def _history_paths() -> dict[str, Any]:
    check = {"$ref": "#/components/parameters/check_uuid"}
    return {
        "/v1/checks/{check_uuid}/pings": {"parameters": [check], "get": operation(
            "The check's kept pings, newest first (read-write key)",
            {"200": answer(envelope({"type": "array", "items": ref("Ping")}), "Pings"),
             **errors(403, 404)})},
        "/v1/checks/{check_uuid}/pings/{n}/body": {
            "parameters": [check, {"name": "n", "in": "path", "required": True,
                                   "schema": {"type": "integer", "minimum": 1}}],
            "get": operation(
                "A ping's stored body, as raw bytes (read-write key)",
                {"200": {"description": "The body",
                         "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
                         "content": {"text/plain": {"schema": {"type": "string"}}}},
                 **errors(403, 404)}),
        },
        "/v1/checks/{check_uuid}/flips": {"parameters": [check], "get": operation(
            "The check's status changes, newest first",
            {"200": answer(envelope({"type": "array", "items": ref("Flip")}), "Flips"),
             **errors(403, 404)})},
    }  # fmt: skip
