"""The maintenance windows family of the OpenAPI document: ``/v1/windows``.

Describes the paths and the ``Window`` and ``WindowCreate`` schemas, as
pingd.api.windows answers them. It must not import the other family modules
of this package.
"""

from __future__ import annotations

from typing import Any

from pingd.domain.checks import MAX_NAME_LENGTH
from pingd.domain.windows import MAX_WINDOW_SECONDS
from pingd.openapi.common import TIME
from pingd.openapi.common import answer
from pingd.openapi.common import envelope
from pingd.openapi.common import errors
from pingd.openapi.common import operation
from pingd.openapi.common import ref

_NULLABLE_TEXT = {"type": ["string", "null"]}


def schemas() -> dict[str, Any]:
    """The windows family's schemas, in the order the document lists them."""
    properties: dict[str, Any] = {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "check": {**_NULLABLE_TEXT, "format": "uuid", "description": "The check it covers"},
        "tag": {**_NULLABLE_TEXT, "description": "Or: every check with this tag"},
        "schedule": {**_NULLABLE_TEXT, "description": "Recurring: when each occurrence starts"},
        "tz": _NULLABLE_TEXT,
        "duration": {"type": ["integer", "null"], "description": "Seconds each occurrence lasts"},
        "starts": {**TIME, "description": "One-off: from"},
        "ends": {**TIME, "description": "One-off: until"},
        "active": {"type": "boolean", "description": "In effect now"},
        "next_start": {**TIME, "description": "The occurrence in effect now, else the next"},
        "next_end": TIME,
        "declared": {"type": "boolean", "description": "From the config files"},
        "created": {"type": "string", "format": "date-time"},
    }
    return {
        "Window": {"type": "object", "required": list(properties), "properties": properties},
        "WindowCreate": {
            "type": "object",
            "additionalProperties": False,
            "description": "check or tag; schedule and duration (and tz), or starts and ends",
            "properties": {
                "name": {"type": "string", "maxLength": MAX_NAME_LENGTH},
                "check": {"type": "string", "format": "uuid"},
                "tag": {"type": "string"},
                "schedule": {"type": "string", "description": "5-field cron expression"},
                "tz": {"type": "string", "description": "IANA time zone of the schedule"},
                "duration": {"type": "integer", "minimum": 60, "maximum": MAX_WINDOW_SECONDS},
                "starts": {"type": "string", "format": "date-time"},
                "ends": {"type": "string", "format": "date-time"},
            },
        },
    }


def paths() -> dict[str, Any]:
    """The ``/v1/windows`` paths."""
    one = envelope(ref("Window"))
    window_id = {"name": "window_id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1}}  # fmt: skip
    return {
        "/v1/windows": {
            "get": operation("List maintenance windows", {
                "200": answer(envelope({"type": "array", "items": ref("Window")}), "Windows"),
                **errors(403)}),
            "post": operation(
                "Create a maintenance window",
                {"201": answer(one, "Created"), **errors(400, 403, 413, 422)},
                requestBody={"required": True, "content": {"application/json": {
                    "schema": ref("WindowCreate")}}}),
        },
        "/v1/windows/{window_id}": {
            "parameters": [window_id],
            "get": operation("One window", {"200": answer(one, "The window"), **errors(403, 404)}),
            "delete": operation("Delete a window (held alerts are settled at the next tick)",
                                {"200": answer(one, "The deleted window"), **errors(403, 404)}),
        },
    }  # fmt: skip
