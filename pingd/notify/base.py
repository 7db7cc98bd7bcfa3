"""What every channel kind shares: settings schemas, masking, messages and HTTP.

Error messages raised here are stored and shown to users, so they never hold
a URL, a token or a header value: only the kind of failure and the status.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from pingd.errors import InvalidInput
from pingd.textsafe import for_text
from pingd.textsafe import has_unsafe
from pingd.textsafe import one_line

HTTP_TIMEOUT_SECONDS = 10
USER_AGENT = "pingd-notify"
# Never send alerts through a proxy picked up from the environment: a stray
# HTTP_PROXY on a small box would otherwise swallow every alert.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NotifyError(Exception):
    """A delivery failed; the message is safe to store and show."""


@dataclass(frozen=True, slots=True)
class Field:
    """One setting of a channel kind."""

    type: type = str
    required: bool = False
    default: Any = None
    secret: bool = False
    choices: tuple[Any, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    url: bool = False


def validate_settings(fields: dict[str, Field], settings: dict[str, Any]) -> dict[str, Any]:
    """Check settings against a kind's fields; return them with defaults filled in."""
    if not isinstance(settings, dict):
        raise InvalidInput({"settings": "must be a JSON object"})
    problems: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for name, value in settings.items():
        field = fields.get(name)
        if field is None:
            problems[f"settings.{name}"] = "unknown setting"
            continue
        problem = _field_problem(field, value)
        if problem:
            problems[f"settings.{name}"] = problem
        cleaned[name] = value
    for name, field in fields.items():
        if name not in cleaned:
            if field.required:
                problems[f"settings.{name}"] = "is required"
            elif field.default is not None:
                cleaned[name] = field.default
    if problems:
        raise InvalidInput(problems)
    return cleaned


def _field_problem(field: Field, value: Any) -> str | None:
    if field.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if field.minimum is not None and value < field.minimum:
            return f"must be at least {field.minimum}"
        if field.maximum is not None and value > field.maximum:
            return f"must be at most {field.maximum}"
    elif field.type is dict:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return "must be an object of strings"
    elif not isinstance(value, str):
        return "must be a string"
    elif len(value) > 10000:
        return "is too long"
    if field.choices and value not in field.choices:
        return f"must be one of {', '.join(map(str, field.choices))}"
    if field.url and value and not value.startswith(("http://", "https://")):
        return "must be an http:// or https:// URL"
    if (
        (field.url or field.secret)
        and isinstance(value, str)
        and any(ch.isspace() or ord(ch) < 32 for ch in value)
    ):
        return "must not contain spaces or control characters (URL-encode them)"
    if field.required and value in ("", {}):
        return "must not be empty"
    return None


def mask_value(value: Any, *, url: bool = False) -> Any:
    """Shorten a secret so that it can be recognised but not used."""
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if not isinstance(value, str) or not value:
        return value
    if url:
        parts = urllib.parse.urlsplit(value)
        if parts.scheme and parts.hostname:
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{parts.hostname}{port}/…"
    return value[:4] + "…" if len(value) > 8 else "…"


def mask_settings(fields: dict[str, Field], settings: dict[str, Any]) -> dict[str, Any]:
    """Return settings with every secret field masked."""
    masked = {}
    for name, value in settings.items():
        field = fields.get(name)
        secret = field is not None and field.secret
        masked[name] = mask_value(value, url=field.url if field else False) if secret else value
    return masked


@dataclass(frozen=True, slots=True)
class Message:
    """An alert rendered for people: a title, a plain-text body and a link."""

    title: str
    text: str
    status: str
    link: str
    event: dict[str, Any]


def _reason(event: dict[str, Any]) -> str:
    reason = event.get("reason")
    if reason == "timeout":
        return "no ping arrived in time"
    if reason == "fail":
        code = event.get("exit_status")
        return "the job reported failure" + (f" (exit status {code})" if code else "")
    if reason == "test":
        return "this is a test notification"
    if reason == "not started":
        return "no start ping arrived within its start window"
    if event.get("alert") == "late":
        return f"no ping yet: it was expected at {event.get('expected')}"
    return "a success ping arrived"


def _title(event: dict[str, Any]) -> str:
    name = one_line(str(event["name"]))
    if event.get("alert") == "reminder":
        return f'"{name}" is still DOWN (reminder {event.get("reminder")})'
    return f'"{name}" is {str(event["status"]).upper()}'


def _policy_lines(event: dict[str, Any]) -> list[str]:
    """What a reminder, a late notice or an alert a window held back adds to the message."""
    lines = []
    if event.get("alert") == "reminder":
        reminder_for = format_seconds(int(event.get("down_for") or 0))
        lines.append(f"Down for: {reminder_for} (since {event.get('down_since')})")
    if event.get("alert") == "late":
        lines.append(f"Goes down at: {event.get('down_at')}, unless it is pinged")
    if event.get("held"):
        lines.append(f"Held back by a maintenance window since {event.get('held_since')}")
    if event.get("streak", 0) > 1:
        kind = "failures" if event["status"] == "down" else "successes"
        lines.append(f"In a row: {event['streak']} {kind}")
    return lines


def format_seconds(seconds: int) -> str:
    """Render a span for people: ``3h 10m``, ``2d 4h``, ``45s`` (the two largest units)."""
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])


def render_message(event: dict[str, Any], base_url: str) -> Message:
    """Turn an alert event into the message every channel kind sends.

    The name, tags and ping body are outside text: the title is one line, and
    control, escape and bidi characters are shown escaped (see textsafe), so
    no channel gets a line break in a title or a terminal escape in a body.
    ``event`` stays as it was, for webhook placeholders and ``$JSON``.
    """
    status = str(event["status"])
    title = _title(event)
    link = f"{base_url}/checks/{event['uuid']}"  # the dashboard's check page
    lines = [
        title,
        f"Why: {_reason(event)}",
        f"When: {event['time']}",
        *_policy_lines(event),
        f"Last ping: {event.get('last_ping') or 'never'}",
    ]
    if event.get("tags"):
        lines.append(f"Tags: {one_line(str(event['tags']))}")
    if event.get("body"):
        lines += ["Last output:", for_text(str(event["body"]))]
    lines.append(f"Details: {link}")
    return Message(title, "\n".join(lines), status, link, event)


def http_request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = HTTP_TIMEOUT_SECONDS,
) -> int:
    """Send one HTTP request; raise NotifyError unless the answer is 2xx."""
    host = urllib.parse.urlsplit(url).hostname or "the server"
    try:
        request = urllib.request.Request(url, data=body, method=method)
    except ValueError:
        raise NotifyError(f"invalid URL for {host}") from None
    request.add_header("User-Agent", USER_AGENT)
    for name, value in (headers or {}).items():
        # A line break would add a header (http.client refuses only some of
        # them), NUL or an escape would reach the server raw: refuse to send
        # rather than fail later as "could not reach". Outside text arrives
        # here through textsafe.one_line, so only a bad setting can trip this.
        if has_unsafe(name) or has_unsafe(value, allow="\t"):
            raise NotifyError(f"a header for {host} holds a control character")
        # Header values travel as Latin-1; replace what it cannot carry.
        request.add_header(name, value.encode("latin-1", "replace").decode("latin-1"))
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(65536)
            status: int = response.status
    except urllib.error.HTTPError as ex:
        raise NotifyError(f"{host} answered HTTP {ex.code}") from None
    except http.client.HTTPException as ex:  # e.g. InvalidURL, which quotes the URL
        raise NotifyError(f"invalid request to {host}: {type(ex).__name__}") from None
    except TimeoutError:
        raise NotifyError(f"{host} did not answer within {timeout:g} s") from None
    except (urllib.error.URLError, OSError, ValueError) as ex:
        reason = getattr(ex, "reason", ex)
        if isinstance(reason, TimeoutError):
            raise NotifyError(f"{host} did not answer within {timeout:g} s") from None
        raise NotifyError(f"could not reach {host}: {type(reason).__name__}") from None
    if not 200 <= status < 300:
        raise NotifyError(f"{host} answered HTTP {status}")
    return status


def post_json(
    url: str, payload: Any, *, headers: dict[str, str] | None = None, method: str = "POST"
) -> int:
    """POST (or PUT) a JSON payload; raise NotifyError unless the answer is 2xx."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    body = json.dumps(payload).encode("utf-8")
    return http_request(method, url, body=body, headers=all_headers)
