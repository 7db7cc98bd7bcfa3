"""What every family of the management API shares: the envelope, JSON bodies, access levels.

Holds the ``/v1`` prefix, the access levels a resource declares, the time
format, the ``{data, requestId}`` answer, the reading of a JSON request body,
the service a request was given, and the resource base class. It must not know
any family (checks, channels, project) and must not import the other modules
of this package; they import it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC
from datetime import datetime
from typing import Any

import falcon

from pingd.errors import BadRequest
from pingd.errors import InvalidInput
from pingd.errors import PayloadTooLarge
from pingd.service import Service

# Every module of the API logs under this one name, which the log lines show.
logger = logging.getLogger("pingd.api")

API_PREFIX = "/v1"

# Access levels a resource declares per method.
NONE, READ, WRITE = "none", "read", "write"

ID_PATTERN = re.compile(r"[0-9]{1,18}")  # ASCII only: str.isdigit() also accepts "٣".


def format_time(value: datetime | None) -> str | None:
    """Format a time as ISO 8601 UTC with offset and without microseconds."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def ok(req: falcon.Request, resp: falcon.Response, data: Any, status: int = 200) -> None:
    resp.status = status
    resp.media = {"data": data, "requestId": req.context.request_id}


def read_json(req: falcon.Request) -> dict[str, Any]:
    length = req.content_length
    limit: int = req.context.max_body
    if length is not None and length > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    raw = req.bounded_stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    if not raw.strip():
        raise BadRequest("the request needs a JSON body", code="MISSING_BODY")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
        field = _field_with_surrogate(data)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the request body is not valid JSON", code="INVALID_JSON") from None
    except RecursionError:  # [[[[…]]]] deeper than Python's stack
        raise BadRequest("the request body is nested too deeply", code="INVALID_JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput({"body": "must be a JSON object"})
    if field is not None:
        raise InvalidInput({field: "must be valid Unicode text (it holds a lone surrogate)"})
    return data


def _field_with_surrogate(value: Any, field: str = "body") -> str | None:
    """Name the first field whose text JSON allows but UTF-8 cannot encode ("\\ud800")."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return field
    elif isinstance(value, dict):
        for key, item in value.items():
            # Name the field in text that can be sent back, even if the key
            # itself is the broken part.
            shown = key.encode("utf-8", "backslashreplace").decode("utf-8")
            name = shown if field == "body" else f"{field}.{shown}"
            found = _field_with_surrogate(key, name) or _field_with_surrogate(item, name)
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            if found := _field_with_surrogate(item, field):
                return found
    return None


def _refuse_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, which are not JSON.
    raise ValueError(f"{name} is not valid JSON")


def service_of(req: falcon.Request) -> Service:
    service: Service = req.context.service
    return service


class Resource:
    access: dict[str, str] = {}
