"""The Pinging API: one router for every URL under ``/ping/``.

Falcon's ``:uuid`` converter accepts undashed and braced UUIDs, and Falcon
cannot hold ``/ping/{uuid}/{action}`` beside ``/ping/{key}/{slug}``, so a single
sink classifies the path segments with strict regexes and hands one parsed
``PingRequest`` to the service. Replies are plain text, byte-compatible with
Healthchecks; errors are raised and rendered by ``render_ping_error``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import falcon

from pingd.errors import InvalidUrl
from pingd.errors import InvalidUuid
from pingd.errors import MethodNotAllowed
from pingd.errors import NotFound
from pingd.errors import PayloadTooLarge
from pingd.errors import PingdError
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.service.pings import PingResult

PING_PREFIX = re.compile(r"^/ping(?=/|$)")
PING_METHODS = ("GET", "HEAD", "POST", "PUT")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SLUG_LIKE = re.compile(r"[a-zA-Z0-9_-]+")
_ACTION = re.compile(r"start|fail|log|[0-9]+")
_READ_CHUNK_BYTES = 65536
MAX_EXIT_STATUS = 255
CACHE_CONTROL = "no-cache, no-store, must-revalidate, max-age=0"
# The WSGI environ key under which the ping lane (pingd.server) hands the app
# a ping it has already recorded. Clients cannot set it: the environ keys a
# request's headers become all start with HTTP_.
COMMITTED = "pingd.committed"


@dataclass(frozen=True, slots=True)
class Committed:
    """A ping recorded before the app answers it: the result, or the error to answer."""

    result: PingResult | None
    error: BaseException | None


def set_ping_headers(resp: falcon.Response) -> None:
    """Set the headers every Pinging API response carries."""
    resp.content_type = "text/plain; charset=utf-8"
    resp.set_header("Access-Control-Allow-Origin", "*")
    resp.set_header("Cache-Control", CACHE_CONTROL)


def render_ping_error(resp: falcon.Response, ex: PingdError) -> None:
    """Render a domain error as the Pinging API's plain-text reply."""
    set_ping_headers(resp)
    resp.status = ex.status
    resp.text = ex.ping_text
    if isinstance(ex, MethodNotAllowed):
        resp.set_header("Allow", ", ".join((*PING_METHODS, "OPTIONS")))
    retry_after = getattr(ex, "retry_after_seconds", None)
    if retry_after is not None:
        resp.set_header("Retry-After", str(retry_after))


def _parse_action(segment: str) -> tuple[str, int | None, PingdError | None]:
    """Split an action segment into (action, exit status, deferred error)."""
    if not _ACTION.fullmatch(segment):
        raise NotFound()
    if not segment.isdigit():
        return segment, None, None
    digits = segment.lstrip("0") or "0"
    # Compare lengths first: int() refuses strings of over 4,300 digits.
    if len(digits) > 3 or int(digits) > MAX_EXIT_STATUS:
        return "fail", None, InvalidUrl()
    exit_status = int(digits)
    return ("fail" if exit_status > 0 else "success"), exit_status, None


def _check_slug(segment: str) -> str:
    if not _SLUG_LIKE.fullmatch(segment):
        raise NotFound()
    if segment != segment.lower():
        raise InvalidUrl()
    return segment


def parse_ping_path(path: str) -> dict[str, object]:
    """Classify the segments after ``/ping/`` into the fields of a PingRequest."""
    segments = path.split("/")[2:]
    if not segments or not all(segments) or len(segments) > 3:
        raise NotFound()
    fields: dict[str, object] = {"action": "success"}
    if _UUID.fullmatch(segments[0]):
        fields["uuid"] = segments[0].lower()
        rest = segments[1:]
        if len(rest) > 1:
            raise NotFound()
    else:
        if len(segments) < 2 or not _SLUG_LIKE.fullmatch(segments[0]):
            raise NotFound()
        fields["ping_key"] = segments[0]
        fields["slug"] = _check_slug(segments[1])
        rest = segments[2:]
    if rest:
        action, exit_status, deferred = _parse_action(rest[0])
        fields.update(action=action, exit_status=exit_status, deferred_error=deferred)
    return fields


def _parse_rid(req: falcon.Request) -> tuple[str | None, PingdError | None]:
    rid = req.get_param("rid")
    if rid is None:
        return None, None
    # \Z, not $: "$" would let a trailing newline through.
    if re.fullmatch(_UUID.pattern + r"\Z", rid) is None:
        return None, InvalidUuid()
    return rid.lower(), None


class PingRouter:
    """The Falcon sink behind ``/ping/``."""

    def __init__(self, service: Service, *, body_limit: int, max_request_body: int) -> None:
        self._service = service
        self._body_limit = body_limit
        self._max_request_body = max_request_body

    def __call__(self, req: falcon.Request, resp: falcon.Response, **_: str) -> None:
        committed: Committed | None = req.env.get(COMMITTED)
        if committed is not None:
            # The ping lane recorded this request already: answer its outcome.
            if committed.error is not None:
                raise committed.error
            assert committed.result is not None
            result = committed.result
        else:
            fields = parse_ping_path(req.path)
            if req.method == "OPTIONS":
                self._preflight(resp)
                return
            result = self._service.record_ping(self.parse(req, fields))
        # The lane replays this answer (pingd.server.SuccessAnswers): it must
        # depend on nothing but result.created (and HEAD, which Falcon handles).
        set_ping_headers(resp)
        resp.set_header("Ping-Body-Limit", str(self._body_limit))
        resp.status = falcon.HTTP_201 if result.created else falcon.HTTP_200
        resp.text = "Created" if result.created else "OK"

    def parse(self, req: falcon.Request, fields: dict[str, object] | None = None) -> PingRequest:
        """Read a ping request (path, query, headers and body) into a PingRequest.

        Raises the PingdError to answer instead, for a bad path, method or body.
        """
        if fields is None:
            fields = parse_ping_path(req.path)
        if req.method not in PING_METHODS:
            raise MethodNotAllowed()
        rid, rid_error = _parse_rid(req)
        body, body_size = self._read_body(req)
        ping = PingRequest(
            method=req.method,
            scheme=req.scheme,
            remote_addr=req.remote_addr or "",
            ua=req.user_agent or "",
            body=body,
            body_size=body_size,
            rid=rid,
            create=bool(fields.get("slug")) and req.get_param("create") == "1",
            **fields,  # type: ignore[arg-type]
        )
        if rid_error is not None and ping.deferred_error is None:
            ping = dataclasses.replace(ping, deferred_error=rid_error)
        return ping

    def _preflight(self, resp: falcon.Response) -> None:
        set_ping_headers(resp)
        resp.status = falcon.HTTP_204
        resp.set_header("Access-Control-Allow-Methods", ", ".join((*PING_METHODS, "OPTIONS")))
        resp.set_header("Access-Control-Allow-Headers", "*")
        resp.set_header("Access-Control-Max-Age", "86400")

    def _read_body(self, req: falcon.Request) -> tuple[bytes, int]:
        """Read the body: keep the first ``body_limit`` bytes, count and drop the rest."""
        length = req.content_length
        if not length:
            return b"", 0  # Falcon reads no body without a Content-Length.
        if length > self._max_request_body:
            raise PayloadTooLarge()
        stream = req.bounded_stream
        body = stream.read(self._body_limit) if self._body_limit else b""
        size = len(body)
        while chunk := stream.read(_READ_CHUNK_BYTES):
            size += len(chunk)
            if size > self._max_request_body:
                raise PayloadTooLarge()
        if size > self._max_request_body:
            raise PayloadTooLarge()
        return body, size
