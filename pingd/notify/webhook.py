"""Webhook: any HTTP request, with separate method, URL, headers and body for down and up.

Placeholders ``$NAME $SLUG $UUID $CODE $STATUS $NOW $TAGS $BODY $EXITSTATUS``
are replaced in the URL (URL-encoded), the headers (as one line, with control
characters escaped: a name cannot add a header) and the body (as they are);
each also has a ``_JSON`` form (``$NAME_JSON``) that is a complete JSON
string, quotes included, for building JSON bodies safely. ``$JSON`` is the
whole event as a JSON object.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from pingd.notify.base import Field
from pingd.notify.base import Message
from pingd.notify.base import NotifyError
from pingd.notify.base import http_request
from pingd.textsafe import has_unsafe
from pingd.textsafe import one_line

METHODS = ("GET", "POST", "PUT")
FIELDS = {
    f"{part}_{status}": field
    for status in ("down", "up")
    for part, field in (
        ("url", Field(secret=True, url=True, default="")),
        ("method", Field(choices=METHODS, default="POST")),
        ("body", Field(default="")),
        ("headers", Field(type=dict, secret=True, default={})),
    )
}
_PLACEHOLDER = re.compile(r"\$(NAME|SLUG|UUID|CODE|STATUS|NOW|TAGS|BODY|EXITSTATUS|JSON)(_JSON)?")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token


def placeholders(message: Message) -> dict[str, str]:
    """Return the value of every placeholder for one alert."""
    event = message.event
    exit_status = event.get("exit_status")
    return {
        "NAME": str(event["name"]),
        "SLUG": str(event["slug"]),
        "UUID": str(event["uuid"]),
        "CODE": str(event["uuid"]),
        "STATUS": message.status,
        "NOW": str(event["time"]),
        "TAGS": str(event.get("tags") or ""),
        "BODY": str(event.get("body") or ""),
        "EXITSTATUS": "" if exit_status is None else str(exit_status),
        "ALERT": str(event.get("alert") or "change"),  # change, reminder or late
        "REMINDER": str(event.get("reminder") or ""),
        "JSON": json.dumps(event),
    }


def expand(
    template: str, values: dict[str, str], *, in_url: bool = False, in_header: bool = False
) -> str:
    """Replace placeholders in one template, in a single pass."""

    def replace(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        if match.group(2):
            value = json.dumps(value)  # ASCII: every control character is escaped
        elif in_header:
            value = one_line(value)
        return urllib.parse.quote(value, safe="") if in_url else value

    return _PLACEHOLDER.sub(replace, template)


def validate(settings: dict[str, Any]) -> str | None:
    """Return a problem with a webhook beyond field types, if any."""
    if not settings.get("url_down") and not settings.get("url_up"):
        return "give url_down, url_up or both"
    for status in ("down", "up"):
        for name, value in (settings.get(f"headers_{status}") or {}).items():
            if not _HEADER_NAME.fullmatch(name):
                return f"headers_{status}: a header name must be letters, digits or -_.!#$%&'*+^`|~"
            if has_unsafe(value, allow="\t"):
                return f"headers_{status}: the value of {name} holds a control character"
    return None


def send(settings: dict[str, Any], message: Message, **_: Any) -> None:
    """Send the request configured for this alert's status (nothing if it has none)."""
    status = "up" if message.status == "up" else "down"
    url = settings.get(f"url_{status}") or ""
    if not url:
        if message.status == "test":
            raise NotifyError("this webhook has no URL to test")
        return
    values = placeholders(message)
    body = expand(settings.get(f"body_{status}") or "", values)
    headers = {
        k: expand(v, values, in_header=True)
        for k, v in (settings.get(f"headers_{status}") or {}).items()
    }
    method = settings.get(f"method_{status}") or "POST"
    http_request(
        method,
        expand(url, values, in_url=True),
        body=body.encode("utf-8") if method != "GET" else None,
        headers=headers,
    )
