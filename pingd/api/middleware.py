"""What happens around every management API request, before and after its resource.

Request ids, the presented API key and its authentication, the rate limit,
each resource's access level, the real or the developer-mode service, the
answer to OPTIONS, and the one log line. It must not parse bodies, serialise
or know any resource or family: resources declare ``access`` and it reads that.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from typing import Protocol

import falcon

from pingd.api.common import API_PREFIX
from pingd.api.common import NONE
from pingd.api.common import READ
from pingd.api.common import WRITE
from pingd.api.common import logger
from pingd.domain.transport import clear_key_message
from pingd.domain.transport import key_sent_in_clear
from pingd.errors import Forbidden
from pingd.errors import HttpsRequired
from pingd.errors import RateLimited
from pingd.ratelimit import RateLimiter
from pingd.service import Service

MAX_API_BODY_BYTES = 65536


def is_api_path(path: str) -> bool:
    """Tell whether a request path belongs to the management API."""
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


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
        require_https: str = "auto",
    ) -> None:
        self._service = service
        self._require_https = require_https
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
        req.context.api_key = None
        client = req.remote_addr or ""
        if presented and key_sent_in_clear(self._require_https, req.scheme, client):
            raise HttpsRequired(clear_key_message(client, presented))
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
