"""The one wiring point: ``create_app`` builds the Falcon app from its collaborators.

It also owns the mapping from errors to responses, so that each surface has
exactly one error shape: plain text under ``/ping/`` (and anywhere outside the
API), the JSON envelope under ``/v1/``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import falcon

from pingd import dbfile
from pingd import migrate
from pingd import openapi
from pingd.api.middleware import ApiMiddleware
from pingd.api.middleware import is_api_path
from pingd.api.routes import add_api_routes
from pingd.clock import utc_now
from pingd.config import Config
from pingd.dashboard.routes import add_dashboard_routes
from pingd.errors import BadRequest
from pingd.errors import MethodNotAllowed
from pingd.errors import NotFound
from pingd.errors import PayloadTooLarge
from pingd.errors import PingdError
from pingd.errors import StorageFull
from pingd.errors import StorageUnavailable
from pingd.errors import is_storage_full
from pingd.hcapi.common import HcMiddleware
from pingd.hcapi.common import is_hc_path
from pingd.hcapi.common import render_hc_error
from pingd.hcapi.project import add_hc_routes
from pingd.notify import Notifier
from pingd.ping_routes import PING_PREFIX
from pingd.ping_routes import PingRouter
from pingd.ping_routes import render_ping_error
from pingd.ratelimit import RateLimiter
from pingd.sandbox import DryRunNotifier
from pingd.sandbox import Sandboxes
from pingd.service import Service
from pingd.service.core import Notifier as ServiceNotifier
from pingd.writer.connection import DatabaseReplaced
from pingd.writer.connection import connect
from pingd.writer.store import Store

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def open_store(config: Config) -> Store:
    """Create or migrate the configured database and open it.

    Raise DatabaseUnusable (one line naming the path) when the file or its
    folder cannot be used, or MigrationError for a database from a newer pingd.
    """
    path = config.storage.path
    dbfile.check_path(path)
    try:
        conn = connect(path)
        try:
            migrate.migrate(conn)
        finally:
            conn.close()
        return Store(path, ping_log_limit=config.storage.ping_log_limit)
    except sqlite3.Error as ex:
        raise dbfile.explain(path, ex) from ex


def make_notifier(config: Config) -> Notifier:
    """Build the notifier that sends alerts for every channel kind."""
    return Notifier(base_url=config.server.base_url, smtp=config.smtp)


def make_service(
    config: Config,
    store: Store,
    clock: Clock = utc_now,
    *,
    notifier: ServiceNotifier | None = None,
) -> Service:
    """Build the service layer for a config, store, clock and notifier."""
    return Service(
        store,
        clock,
        # The store prunes to its own limit; listing must agree with it.
        ping_log_limit=store.ping_log_limit,
        max_checks=config.limits.max_checks,
        notifier=notifier,
    )


def make_ping_router(config: Config, service: Service) -> PingRouter:
    """Build the router that answers every URL under ``/ping/``."""
    return PingRouter(
        service,
        body_limit=config.storage.ping_body_limit,
        max_request_body=config.server.max_request_body,
    )


def _render_api_error(req: falcon.Request, resp: falcon.Response, ex: PingdError) -> None:
    request_id = getattr(req.context, "request_id", None) or str(uuid.uuid4())
    req.context.request_id = request_id
    body: dict[str, Any] = {"error": ex.message, "errorCode": ex.code, "requestId": request_id}
    fields = getattr(ex, "fields", None)
    if fields is not None:
        body["fields"] = fields
    resp.status = ex.status
    resp.content_type = falcon.MEDIA_JSON
    resp.media = body
    resp.set_header("X-Request-Id", request_id)
    retry_after = getattr(ex, "retry_after_seconds", None)
    if retry_after is not None:
        resp.set_header("Retry-After", str(retry_after))


def _render(req: falcon.Request, resp: falcon.Response, ex: PingdError) -> None:
    if is_api_path(req.path):
        _render_api_error(req, resp, ex)
    elif is_hc_path(req.path):
        render_hc_error(resp, ex)
    else:
        render_ping_error(resp, ex)
        if not PING_PREFIX.match(req.path):
            resp.delete_header("Access-Control-Allow-Origin")


def _from_http_error(ex: falcon.HTTPError) -> PingdError:
    """Translate Falcon's own errors (no route, bad header, …) into domain errors."""
    status = ex.status_code
    if status == 404:
        return NotFound()
    if status == 405:
        return MethodNotAllowed()
    if status == 413:
        return PayloadTooLarge()
    if status == 400:
        return BadRequest(ex.description or ex.title)
    error = PingdError(ex.description or ex.title)
    error.status = status
    error.code = (ex.title or "ERROR").upper().replace(" ", "_")
    return error


def _handle_pingd_error(
    req: falcon.Request, resp: falcon.Response, ex: PingdError, params: Any
) -> None:
    _render(req, resp, ex)


def _handle_http_error(
    req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: Any
) -> None:
    _render(req, resp, _from_http_error(ex))
    # Keep what Falcon says about the request, such as the Allow of a 405.
    headers = ex.headers or {}
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers)
    for name, value in pairs:
        resp.set_header(name, value)


def _handle_unexpected(
    req: falcon.Request, resp: falcon.Response, ex: Exception, params: Any
) -> None:
    request_id = getattr(req.context, "request_id", None) or str(uuid.uuid4())
    if is_storage_full(ex):
        # Expected while the disk is full, and the writer has logged it: a
        # 503 with Retry-After that clients retry, without a traceback each.
        req.context.request_id = request_id
        _render(req, resp, StorageFull())
        return
    if isinstance(ex, DatabaseReplaced):  # logged once by the writer
        req.context.request_id = request_id
        _render(req, resp, StorageUnavailable())
        return
    # A metrics URL holds a key: the log names the route, never the key.
    path = "/projects/…/metrics" if req.path.startswith("/projects/") else req.path
    logger.exception("unexpected error on %s %s requestId=%s", req.method, path, request_id)
    _render(req, resp, PingdError())
    if is_api_path(req.path):
        resp.set_header("X-Request-Id", request_id)


def create_app(
    config: Config,
    *,
    store: Store,
    clock: Clock = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
    service: Service | None = None,
    ping_router: PingRouter | None = None,
) -> falcon.App[falcon.Request, falcon.Response]:
    """Build pingd's WSGI app around an open store, a clock and a monotonic timer.

    Pass ``service`` to share one with the alert loop, and ``ping_router`` to
    share one with the server's ping lane (as ``pingd serve`` does both).
    """
    notifier = make_notifier(config)
    if service is None:
        service = make_service(config, store, clock, notifier=notifier)
    dry_run = DryRunNotifier(notifier)
    sandboxes = Sandboxes(
        lambda sandbox: make_service(config, sandbox, clock, notifier=dry_run), clock
    )
    limiter = RateLimiter(config.api.rate_per_second, config.api.burst, clock=monotonic)
    api = ApiMiddleware(
        service, sandboxes, limiter, max_request_body=config.server.max_request_body,
        require_https=config.api.require_https,
    )  # fmt: skip
    hc = HcMiddleware(service, require_https=config.api.require_https)
    app = falcon.App(media_type=falcon.MEDIA_JSON, middleware=(api, hc))
    app.req_options.strip_url_path_trailing_slash = True
    app.resp_options.secure_cookies_by_default = False
    app.add_sink(ping_router or make_ping_router(config, service), PING_PREFIX)
    add_api_routes(app, config.server.base_url, openapi.build_document(config.server.base_url))
    add_dashboard_routes(app, service, config.server.base_url, monotonic,
                         require_https=config.api.require_https)  # fmt: skip
    add_hc_routes(app, service, config.server.base_url, require_https=config.api.require_https)
    app.add_error_handler(Exception, _handle_unexpected)
    app.add_error_handler(falcon.HTTPError, _handle_http_error)
    app.add_error_handler(PingdError, _handle_pingd_error)
    return app
