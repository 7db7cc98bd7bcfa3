"""``pingd serve``: the process limits, the waitress settings and the server's life."""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import resource
import signal
import sys
from types import FrameType
from typing import Any

from pingd import server as http_server
from pingd.app import create_app
from pingd.app import make_ping_router
from pingd.cli.common import CliError
from pingd.cli.common import open_service
from pingd.cli.declared import Reloader
from pingd.config import Config
from pingd.dbfile import check_path
from pingd.scheduler import AlertLoop
from pingd.serverlock import ServerLock
from pingd.service import Service
from pingd.writer.store import Store

logger = logging.getLogger("pingd")


CONNECTION_LIMIT = 1000


CHANNEL_TIMEOUT_SECONDS = 30


MALLOC_ARENAS = 2


_M_ARENA_MAX = -8  # glibc's malloc.h


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _raise_file_limit() -> None:
    """Lift the soft limit on open files to the hard one, for CONNECTION_LIMIT sockets."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = CONNECTION_LIMIT + 100
        if soft != resource.RLIM_INFINITY and soft < wanted:
            target = wanted if hard == resource.RLIM_INFINITY else min(hard, max(wanted, soft))
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # Not permitted here; waitress copes with fewer.
        logger.warning("could not raise the open-file limit for %d connections", CONNECTION_LIMIT)


def _limit_malloc_arenas() -> None:
    """On glibc, let every thread share MALLOC_ARENAS malloc arenas.

    glibc gives each thread that allocates an arena of its own, and keeps what
    it frees there: with the API's worker threads, the writer and the alert
    loop that came to about 2 MB of a 43 MB process under the soak test.
    Python's own allocator is unaffected. The MALLOC_ARENA_MAX environment
    variable still wins; elsewhere (musl, macOS) this does nothing.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return
    try:
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):
        pass


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    _raise_file_limit()
    _limit_malloc_arenas()  # before any thread starts
    check_path(config.storage.path)  # before the lock file is made beside it
    lock = ServerLock(config.storage.path)  # before anything else touches the database
    try:
        store, service = open_service(config, banner_stream=sys.stdout)
        reloader = Reloader(config, service)
        reloader.apply("start")
        reloader.install()
        alerts = AlertLoop(service, tick_seconds=config.alerts.tick_seconds)
        try:
            _serve(config, store, service, alerts, lock)
        finally:
            alerts.stop()
            store.close()
    finally:
        lock.close()
    return 0


def _serve(
    config: Config, store: Store, service: Service, alerts: AlertLoop, lock: ServerLock
) -> None:
    router = make_ping_router(config, service)
    app = create_app(config, store=store, clock=service.now, service=service, ping_router=router)
    try:
        server = http_server.create_server(
            app, router, service, waitress_options(config), lane=config.server.ping_lane
        )
    except OSError as ex:
        listen = " ".join(config.server.listen)
        raise CliError(f"cannot listen on {listen}: {ex.strerror or ex}") from None
    if not config.server.ping_lane:
        logger.info("server.ping_lane is off: worker threads answer pings too")
    urls = []
    for host, port in _effective_addresses(server):
        shown = f"[{host}]" if ":" in host else host
        urls.append(f"http://{shown}:{port}")
        logger.info("listening on %s", urls[-1])
    lock.describe(urls)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    alerts.start()
    server.run()  # Returns after SIGINT/SIGTERM, once worker threads are done.
    logger.info("stopping")


def waitress_options(config: Config) -> dict[str, Any]:
    """Translate the [server] settings into waitress's adjustments."""
    options: dict[str, Any] = {
        "listen": " ".join(config.server.listen),
        "threads": config.server.threads,
        # waitress refuses bodies *at* its limit and counts chunked framing
        # too; the app enforces the exact limit on the decoded body, so give
        # waitress headroom that still bounds what it buffers.
        "max_request_body_size": 2 * config.server.max_request_body + 65536,
        "clear_untrusted_proxy_headers": True,
        "ident": "pingd",
        # waitress reads whole requests in its event loop before a worker sees
        # them, so a slow client holds only a connection slot, never a thread.
        # Allow many slots (a 1 GB box has the descriptors) and drop clients
        # idle for 30 s; cron jobs send their request in well under that.
        "connection_limit": CONNECTION_LIMIT,
        "channel_timeout": CHANNEL_TIMEOUT_SECONDS,
        "cleanup_interval": 10,
    }
    if config.server.trusted_proxy:
        # waitress rewrites REMOTE_ADDR and wsgi.url_scheme from these headers
        # only when the TCP peer is the trusted proxy, and drops them otherwise.
        options["trusted_proxy"] = config.server.trusted_proxy
        options["trusted_proxy_headers"] = {"x-forwarded-for", "x-forwarded-proto"}
    return options


def _effective_addresses(server: Any) -> list[tuple[str, int]]:
    if hasattr(server, "effective_listen"):
        return [(str(host), int(port)) for host, port in server.effective_listen]
    return [(str(server.effective_host), int(server.effective_port))]


def add_parsers(commands: Any) -> None:
    """Add this family's subcommands to ``pingd``'s."""
    serve = commands.add_parser("serve", help="serve pings and the API")
    serve.add_argument(
        "--listen",
        action="append",
        metavar="HOST:PORT",
        help="address to listen on; repeat for several (overrides server.listen)",
    )
    serve.set_defaults(handler=cmd_serve)
