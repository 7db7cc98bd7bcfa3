"""The channels family of the OpenAPI document: notification channels and their deliveries.

Describes the ``/v1/channels`` paths and the ``Channel``, ``Delivery``,
``ChannelCreate``, ``ChannelPatch`` and ``TestOutcome`` schemas, as
pingd.api.channels answers them. It must not describe checks or the project,
nor import the other family modules of this package.
"""

from __future__ import annotations

from typing import Any

from pingd.domain.alerts import CHANNEL_KINDS
from pingd.domain.checks import MAX_NAME_LENGTH
from pingd.domain.checks import MAX_PERIOD_SECONDS
from pingd.domain.checks import MIN_PERIOD_SECONDS
from pingd.openapi.common import TIME
from pingd.openapi.common import answer
from pingd.openapi.common import envelope
from pingd.openapi.common import errors
from pingd.openapi.common import operation
from pingd.openapi.common import ref


def _delivery_schema() -> dict[str, Any]:
    return {
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
            "next_attempt": TIME,
            "created": {"type": "string", "format": "date-time"},
        },
    }  # fmt: skip


_REMIND = {
    "type": "integer",
    "minimum": 0,
    "maximum": MAX_PERIOD_SECONDS,
    "description": "Seconds between reminders while a check it alerts stays down (0: none, "
    f"else at least {MIN_PERIOD_SECONDS}); a check's own remind_every wins",
}


_LATE = {"type": "boolean", "description": "Also alert when a check turns late"}


def _channel_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": [
            "id",
            "uuid",
            "kind",
            "name",
            "settings",
            "remind_every",
            "notify_late",
            "created",
        ],  # fmt: skip
        "properties": {
            "id": {"type": "integer"},
            "uuid": {
                "type": "string",
                "format": "uuid",
                "description": "The channel's id in the Healthchecks-compatible API",
            },
            "kind": {"type": "string", "enum": list(CHANNEL_KINDS)},
            "name": {"type": "string"},
            "settings": {"type": "object", "description": "Secrets are shown masked"},
            "remind_every": _REMIND,
            "notify_late": _LATE,
            "created": {"type": "string", "format": "date-time"},
            "deliveries": {"type": "array", "items": ref("Delivery")},
        },
    }


def schemas() -> dict[str, Any]:
    """The channels family's schemas, in the order the document lists them."""
    return {
        "Channel": _channel_schema(),
        "Delivery": _delivery_schema(),
        "ChannelCreate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind"],
            "properties": {
                "kind": {"type": "string", "enum": list(CHANNEL_KINDS)},
                "name": {"type": "string", "maxLength": MAX_NAME_LENGTH},
                "settings": {"type": "object", "description": "Per kind; see the README"},
                "all_checks": {"type": "boolean", "description": "Make every check alert it"},
                "remind_every": _REMIND,
                "notify_late": _LATE,
            },
        },
        "ChannelPatch": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "maxLength": MAX_NAME_LENGTH},
                "settings": {"type": "object", "description": "Only the given keys change"},
                "remind_every": _REMIND,
                "notify_late": _LATE,
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
    }


def paths() -> dict[str, Any]:
    """The ``/v1/channels`` paths, in the order the document lists them."""
    channel = {"name": "channel_id", "in": "path", "required": True,
               "schema": {"type": "integer", "minimum": 1}}  # fmt: skip
    return {
        "/v1/channels": {
            "get": operation(
                "List notification channels (read-write key)",
                {"200": answer(envelope({"type": "array", "items": ref("Channel")}),
                               "Channels"), **errors(403)}),
            "post": operation(
                "Create a notification channel",
                {"201": answer(envelope(ref("Channel")), "Created"),
                 **errors(400, 403, 413, 422)},
                requestBody={"required": True, "content": {"application/json": {
                    "schema": ref("ChannelCreate")}}}),
        },
        "/v1/channels/{channel_id}": {
            "parameters": [channel],
            "get": operation("One channel with its recent deliveries and their attempts",
                             {"200": answer(envelope(ref("Channel")), "The channel"),
                              **errors(403, 404)}),
            "patch": operation(
                "Rename a channel or change some settings",
                {"200": answer(envelope(ref("Channel")), "The changed channel"),
                 **errors(400, 403, 404, 413, 422)},
                requestBody={"required": True, "content": {"application/json": {
                    "schema": ref("ChannelPatch")}}}),
            "delete": operation("Delete a channel and its queued deliveries",
                                {"200": answer(envelope(ref("Channel")), "The deleted channel"),
                                 **errors(403, 404)}),
        },
        "/v1/channels/{channel_id}/test": {"parameters": [channel], "post": operation(
            "Send a test notification now; the outcome is in the answer",
            {"200": answer(envelope(ref("TestOutcome")), "The outcome"), **errors(403, 404)})},
    }  # fmt: skip
