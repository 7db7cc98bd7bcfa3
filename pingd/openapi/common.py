"""What every family of the OpenAPI document shares: references, the envelope, error answers.

Holds the error codes and the ``Error`` schema, the ``{data, requestId}``
envelope, a JSON answer with its X-Request-Id header, the error answers every
operation lists, and the shape of an operation. It must not describe any
family's paths or schemas (checks, channels, project) and must not import the
other modules of this package; they import it.
"""

from __future__ import annotations

from typing import Any

ERROR_CODES = (
    "INVALID_JSON", "MISSING_BODY", "BAD_REQUEST", "FORBIDDEN", "NOT_FOUND", "CHECK_NOT_FOUND",
    "CHANNEL_NOT_FOUND", "METHOD_NOT_ALLOWED", "CONFLICT", "AMBIGUOUS_SLUG", "CHECK_NOT_PAUSED",
    "DUPLICATE", "PAYLOAD_TOO_LARGE", "INVALID_INPUT", "RATE_LIMITED", "INTERNAL_SERVER_ERROR",
    "STORAGE_FULL", "STORAGE_UNAVAILABLE", "HTTPS_REQUIRED",
)  # fmt: skip

TIME = {"type": ["string", "null"], "format": "date-time"}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data", "requestId"],
        "properties": {"data": data, "requestId": {"type": "string", "format": "uuid"}},
    }


def answer(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
        "content": {"application/json": {"schema": schema}},
    }


def errors(*statuses: int) -> dict[str, Any]:
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
        response = answer(ref("Error"), descriptions[status])
        if status in (429, 503):
            response["headers"]["Retry-After"] = {
                "description": "Whole seconds to wait, at least 1",
                "schema": {"type": "integer", "minimum": 1},
            }
        responses[str(status)] = response
    return responses


def operation(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": responses, **extra}


def schemas() -> dict[str, Any]:
    """The schema every family shares: ``Error``."""
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
    }
