"""The management API under ``/v1``: JSON in and out, in the ``{data, requestId}`` envelope.

``ApiMiddleware`` gives every request a requestId, identifies the API key,
applies the rate limit, checks each resource's access level, picks the real or
the developer-mode service, and writes one log line. Resources only parse,
call the service and serialise; errors are raised and rendered by app.py.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC
from datetime import datetime
from typing import Any
from typing import Protocol

import falcon

from pingd import __version__
from pingd import domain
from pingd.domain import Channel
from pingd.domain import Check
from pingd.domain import Flip
from pingd.domain import Ping
from pingd.errors import BadRequest
from pingd.errors import ChannelNotFound
from pingd.errors import CheckNotFound
from pingd.errors import Forbidden
from pingd.errors import InvalidInput
from pingd.errors import NotFound
from pingd.errors import PayloadTooLarge
from pingd.errors import PingdError
from pingd.errors import RateLimited
from pingd.ratelimit import RateLimiter
from pingd.service import Service

logger = logging.getLogger(__name__)

API_PREFIX = "/v1"
MAX_API_BODY_BYTES = 65536
COMPUTED_STATUSES = ("new", "up", "grace", "down", "paused", "started")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# Access levels a resource declares per method.
NONE, READ, WRITE = "none", "read", "write"


def is_api_path(path: str) -> bool:
    """Tell whether a request path belongs to the management API."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def format_time(value: datetime | None) -> str | None:
    """Format a time as ISO 8601 UTC with offset and without microseconds."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def _presented_key(req: falcon.Request) -> str | None:
    key = req.get_header("X-Api-Key")
    if key:
        return key.strip()
    auth = req.get_header("Authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class SandboxProvider(Protocol):
    """Gives the developer-mode service of an API key (see pingd.sandbox)."""

    def for_key(self, key_id: int) -> Service:
        """Return the sandbox service of one API key."""


class ApiMiddleware:
    """Request ids, authentication, rate limiting, developer mode and the log line."""

    def __init__(
        self,
        service: Service,
        sandboxes: SandboxProvider,
        limiter: RateLimiter,
        *,
        max_request_body: int,
    ) -> None:
        self._service = service
        self._sandboxes = sandboxes
        self._limiter = limiter
        # API bodies are capped at 64 KiB, or lower if the server's limit is.
        self._max_body = min(MAX_API_BODY_BYTES, max_request_body)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not is_api_path(req.path):
            return
        req.context.request_id = str(uuid.uuid4())
        req.context.started = time.perf_counter()
        req.context.max_body = self._max_body
        req.context.dev = (req.get_header("X-Developer-Mode") or "").strip().lower() == "true"
        presented = _presented_key(req)
        req.context.presented_key = presented
        key = self._service.authenticate(presented) if presented else None
        req.context.api_key = key
        identity = f"key:{key.id}" if key else f"addr:{req.remote_addr}"
        wait = self._limiter.acquire(identity)
        if wait:
            raise RateLimited(wait)
        # Developer mode never writes the real database, not even last-used.
        if key is not None and not req.context.dev:
            self._service.record_key_use(key.id)

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        if resource is None or not is_api_path(req.path):
            return
        # OPTIONS (a CORS preflight, or a client asking what it may do) carries
        # no key and reveals nothing beyond the Allow header.
        needed = NONE if req.method == "OPTIONS" else resource.access.get(req.method, READ)
        key = req.context.api_key
        if needed != NONE:
            if req.context.presented_key is None:
                raise Forbidden("missing API key: send it in the X-Api-Key header")
            if key is None:
                raise Forbidden("wrong API key")
            if needed == WRITE and key.read_only:
                raise Forbidden("this API key is read-only")
        dev = req.context.dev and key is not None
        req.context.service = self._sandboxes.for_key(key.id) if dev else self._service

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        request_id = getattr(req.context, "request_id", None)
        if request_id is None or not is_api_path(req.path):
            return
        resp.set_header("X-Request-Id", request_id)
        if req.method == "OPTIONS" and req_succeeded and resp.media is None and not resp.text:
            allowed = [m.strip() for m in (resp.get_header("Allow") or "").split(",") if m]
            resp.media = {"data": {"allow": allowed}, "requestId": request_id}
            resp.content_type = falcon.MEDIA_JSON
        if req.context.dev:
            resp.set_header("X-Developer-Mode", "true")
        key = req.context.api_key
        logger.info(
            "api %s %s status=%s ms=%.1f requestId=%s key=%s%s",
            req.method,
            req.path,
            resp.status_code,
            (time.perf_counter() - req.context.started) * 1000,
            request_id,
            f"{key.prefix}…" if key else "-",
            " dev" if req.context.dev else "",
        )


def _ok(req: falcon.Request, resp: falcon.Response, data: Any, status: int = 200) -> None:
    resp.status = status
    resp.media = {"data": data, "requestId": req.context.request_id}


def _read_json(req: falcon.Request) -> dict[str, Any]:
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


def _service(req: falcon.Request) -> Service:
    service: Service = req.context.service
    return service


class _Serializer:
    def __init__(self, base_url: str) -> None:
        self._base_url = base_url

    def check(
        self, check: Check, now: datetime, ping_key: str, channel_ids: list[int]
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "uuid": check.uuid,
            "name": check.name,
            "slug": check.slug,
            "tags": check.tags,
            "desc": check.desc,
            "status": domain.status_at(check, now),
            "started": check.last_start is not None,
        }
        if check.is_cron:
            data.update(schedule=check.schedule, tz=check.tz)
        else:
            data["timeout"] = check.timeout
        duration = None if check.last_duration is None else round(check.last_duration)
        data.update(
            grace=check.grace,
            n_pings=check.n_pings,
            last_ping=format_time(check.last_ping),
            next_ping=None
            if check.status == "paused"
            else format_time(domain.next_expected_ping(check)),
            last_duration=duration,
            manual_resume=check.manual_resume,
            methods=check.methods,
            filter_body=check.filter_body,
            filter_default_fail=check.filter_default_fail,
            success_kw=check.success_kw,
            failure_kw=check.failure_kw,
            start_kw=check.start_kw,
            channels=channel_ids,
            created=format_time(check.created),
            ping_url=f"{self._base_url}/ping/{check.uuid}",
            slug_url=f"{self._base_url}/ping/{ping_key}/{check.slug}",
        )
        return data

    def ping(self, check: Check, ping: Ping, duration: float | None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "n": ping.n,
            "type": ping.kind,
            "date": format_time(ping.created),
            "scheme": ping.scheme,
            "remote_addr": ping.remote_addr,
            "method": ping.method,
            "ua": ping.ua,
            "rid": ping.rid,
            "exit_status": ping.exit_status,
        }
        if duration is not None:
            data["duration"] = round(duration, 3)
        body_url = f"{self._base_url}{API_PREFIX}/checks/{check.uuid}/pings/{ping.n}/body"
        data.update(body_size=ping.body_size, body_url=body_url if ping.body else None)
        return data

    @staticmethod
    def flip(flip: Flip) -> dict[str, Any]:
        return {
            "timestamp": format_time(flip.created),
            "old_status": flip.old_status,
            "new_status": flip.new_status,
            "reason": flip.reason,
        }


def _find(req: falcon.Request, check_uuid: str) -> Check:
    if not _UUID.fullmatch(check_uuid):
        raise CheckNotFound()
    return _service(req).get_check(check_uuid)


class _Resource:
    access: dict[str, str] = {}

    def __init__(self, serializer: _Serializer) -> None:
        self._serialize = serializer

    def _checks_json(self, req: falcon.Request, checks: list[Check]) -> list[dict[str, Any]]:
        # What every check's JSON needs is read once, however many checks.
        service = _service(req)
        channels = service.channel_ids_by_check()
        now, ping_key = service.now(), service.project().ping_key
        return [
            self._serialize.check(check, now, ping_key, channels.get(check.id, []))
            for check in checks
        ]

    def _check_json(self, req: falcon.Request, check: Check) -> dict[str, Any]:
        return self._checks_json(req, [check])[0]


class StatusResource(_Resource):
    access = {"GET": NONE}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            _service(req).check_database()
        except Exception as ex:
            logger.exception("status: the database did not answer")
            raise PingdError("the database is not answering") from ex
        _ok(req, resp, {"status": "ok", "version": __version__})


class ProjectResource(_Resource):
    access = {"GET": READ}

    def __init__(self, serializer: _Serializer, base_url: str) -> None:
        super().__init__(serializer)
        self._base_url = base_url

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        project = _service(req).project()
        data = {
            "name": project.name,
            "ping_key": project.ping_key,
            "ping_url_base": f"{self._base_url}/ping/",
        }
        _ok(req, resp, data)


class ChecksResource(_Resource):
    access = {"GET": READ, "POST": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        status = req.get_param("status")
        if status is not None and status not in COMPUTED_STATUSES:
            raise InvalidInput({"status": f"must be one of {', '.join(COMPUTED_STATUSES)}"})
        checks = _service(req).list_checks(
            tags=req.get_param_as_list("tag") or (), slug=req.get_param("slug"), status=status
        )
        _ok(req, resp, self._checks_json(req, checks))

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = _read_json(req)
        unique = data.pop("unique", [])
        if not isinstance(unique, list) or not all(
            isinstance(name, str) and name in domain.UNIQUE_FIELDS for name in unique
        ):
            raise InvalidInput({"unique": f"must be a list of {', '.join(domain.UNIQUE_FIELDS)}"})
        check, created = _service(req).upsert_check(data, unique)
        _ok(req, resp, self._check_json(req, check), 201 if created else 200)


class CheckResource(_Resource):
    access = {"GET": READ, "PATCH": WRITE, "DELETE": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        _ok(req, resp, self._check_json(req, _find(req, check_uuid)))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = _find(req, check_uuid)
        updated = _service(req).update_check(check.id, _read_json(req))
        _ok(req, resp, self._check_json(req, updated))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = _find(req, check_uuid)
        data = self._check_json(req, check)
        _service(req).delete_check(check.id)
        _ok(req, resp, data)


class PauseResource(_Resource):
    access = {"POST": WRITE}

    def on_post(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = _service(req).pause_check(_find(req, check_uuid).id)
        _ok(req, resp, self._check_json(req, check))


class ResumeResource(_Resource):
    access = {"POST": WRITE}

    def on_post(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = _service(req).resume_check(_find(req, check_uuid).id)
        _ok(req, resp, self._check_json(req, check))


class PingsResource(_Resource):
    access = {"GET": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = _find(req, check_uuid)
        pings = _service(req).list_pings(check.id)
        durations = domain.pair_durations(pings)
        data = [self._serialize.ping(check, ping, durations.get(ping.n)) for ping in pings]
        _ok(req, resp, data)


class PingBodyResource(_Resource):
    access = {"GET": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str, n: str) -> None:
        check = _find(req, check_uuid)
        if not _ID.fullmatch(n):
            raise NotFound("no such ping")
        resp.data = _service(req).get_ping_body(check.id, int(n))
        resp.content_type = "text/plain; charset=utf-8"


class FlipsResource(_Resource):
    access = {"GET": READ}

    def on_get(self, req: falcon.Request, resp: falcon.Response, check_uuid: str) -> None:
        check = _find(req, check_uuid)
        _ok(req, resp, [self._serialize.flip(flip) for flip in _service(req).list_flips(check.id)])


_ID = re.compile(r"[0-9]{1,18}")  # ASCII only: str.isdigit() also accepts "٣".


def _channel_id(channel_id: str) -> int:
    if not _ID.fullmatch(channel_id):
        raise ChannelNotFound()
    return int(channel_id)


def _channel_json(
    service: Service, channel: Channel, *, with_deliveries: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": channel.id,
        "kind": channel.kind,
        "name": channel.name,
        "settings": service.masked_settings(channel),
        "created": format_time(channel.created),
    }
    if with_deliveries:
        data["deliveries"] = [
            {
                "id": delivery.id,
                "check": delivery.event.get("uuid"),
                "status": delivery.event.get("status"),
                "state": delivery.state,
                "attempts": [
                    {**attempt, "time": format_time(attempt["time"])} for attempt in attempts
                ],
                "next_attempt": format_time(delivery.next_attempt),
                "created": format_time(delivery.created),
            }
            for delivery, attempts in service.channel_deliveries(channel.id)
        ]
    return data


_CHANNEL_CREATE_FIELDS = {"kind", "name", "settings", "all_checks"}
_CHANNEL_PATCH_FIELDS = {"name", "settings"}


def _channel_input(data: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    problems = {name: "unknown field" for name in data if name not in allowed}
    for name, kind, text in (
        ("kind", str, "must be a string"),
        ("name", str, "must be a string"),
        ("settings", dict, "must be a JSON object"),
        ("all_checks", bool, "must be true or false"),
    ):
        if name in data and not isinstance(data[name], kind):
            problems[name] = text
    if problems:
        raise InvalidInput(problems)
    return data


class ChannelsResource(_Resource):
    access = {"GET": WRITE, "POST": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = _service(req)
        _ok(req, resp, [_channel_json(service, channel) for channel in service.list_channels()])

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = _channel_input(_read_json(req), _CHANNEL_CREATE_FIELDS)
        if "kind" not in data:
            raise InvalidInput({"kind": "is required"})
        service = _service(req)
        channel = service.create_channel(
            data["kind"],
            data.get("name", ""),
            data.get("settings", {}),
            attach_all=data.get("all_checks", False),
        )
        _ok(req, resp, _channel_json(service, channel), 201)


class ChannelResource(_Resource):
    access = {"GET": WRITE, "PATCH": WRITE, "DELETE": WRITE}

    def on_get(self, req: falcon.Request, resp: falcon.Response, channel_id: str) -> None:
        service = _service(req)
        channel = service.get_channel(_channel_id(channel_id))
        _ok(req, resp, _channel_json(service, channel, with_deliveries=True))

    def on_patch(self, req: falcon.Request, resp: falcon.Response, channel_id: str) -> None:
        data = _channel_input(_read_json(req), _CHANNEL_PATCH_FIELDS)
        service = _service(req)
        channel = service.update_channel(
            _channel_id(channel_id), name=data.get("name"), settings=data.get("settings")
        )
        _ok(req, resp, _channel_json(service, channel))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, channel_id: str) -> None:
        service = _service(req)
        channel = service.delete_channel(_channel_id(channel_id))
        _ok(req, resp, _channel_json(service, channel))


class ChannelTestResource(_Resource):
    access = {"POST": WRITE}

    def on_post(self, req: falcon.Request, resp: falcon.Response, channel_id: str) -> None:
        outcome = _service(req).test_channel(_channel_id(channel_id))
        data = {"ok": outcome.ok, "error": outcome.error, "duration_ms": outcome.duration_ms}
        _ok(req, resp, data)


class OpenApiResource(_Resource):
    access = {"GET": NONE}

    def __init__(self, serializer: _Serializer, document: dict[str, Any]) -> None:
        super().__init__(serializer)
        self._document = document

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._document


def add_api_routes(app: falcon.App[Any, Any], base_url: str, document: dict[str, Any]) -> None:
    """Mount every management API resource on the app."""
    serializer = _Serializer(base_url)
    routes: list[tuple[str, _Resource]] = [
        ("/status", StatusResource(serializer)),
        ("/project", ProjectResource(serializer, base_url)),
        ("/checks", ChecksResource(serializer)),
        ("/checks/{check_uuid}", CheckResource(serializer)),
        ("/checks/{check_uuid}/pause", PauseResource(serializer)),
        ("/checks/{check_uuid}/resume", ResumeResource(serializer)),
        ("/checks/{check_uuid}/pings", PingsResource(serializer)),
        ("/checks/{check_uuid}/pings/{n}/body", PingBodyResource(serializer)),
        ("/checks/{check_uuid}/flips", FlipsResource(serializer)),
        ("/channels", ChannelsResource(serializer)),
        ("/channels/{channel_id}", ChannelResource(serializer)),
        ("/channels/{channel_id}/test", ChannelTestResource(serializer)),
        ("/openapi.json", OpenApiResource(serializer, document)),
    ]
    for path, resource in routes:
        app.add_route(API_PREFIX + path, resource)
