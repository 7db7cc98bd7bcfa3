"""The ``pingd`` command: serve, and manage keys, checks and backups.

User mistakes end with one line on stderr and exit status 1 (2 for usage
errors, from argparse); never a traceback.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import re
import resource
import signal
import sqlite3
import sys
from collections.abc import Callable
from collections.abc import Sequence
from datetime import datetime
from types import FrameType
from typing import Any

from pingd import __version__
from pingd import domain
from pingd import notify
from pingd import server as http_server
from pingd.app import create_app
from pingd.app import make_notifier
from pingd.app import make_ping_router
from pingd.app import make_service
from pingd.app import open_store
from pingd.clock import SteadyClock
from pingd.config import Config
from pingd.config import ConfigError
from pingd.config import find_config_path
from pingd.config import load_config
from pingd.dbfile import DatabaseUnusable
from pingd.dbfile import check_path
from pingd.dbfile import explain
from pingd.domain import Check
from pingd.errors import PingdError
from pingd.migrate import MigrationError
from pingd.scheduler import AlertLoop
from pingd.serverlock import AlreadyServing
from pingd.serverlock import ServerLock
from pingd.service import Service
from pingd.store.backup import backup_database
from pingd.store.database import newest_time
from pingd.textsafe import for_terminal
from pingd.writer.store import Store

logger = logging.getLogger("pingd")

CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT_SECONDS = 30


class CliError(Exception):
    """A user mistake, reported as one line on stderr with exit status 1."""


def _fmt_time(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print aligned columns; control, escape and bidi characters in a cell are shown escaped."""
    shown = [[for_terminal(str(cell)) for cell in row] for row in (header, *rows)]
    widths = [max(len(cell) for cell in column) for column in zip(*shown, strict=False)]
    for row in shown:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def _print_first_run(config: Config, ping_key: str, api_key: str, *, stream: Any) -> None:
    print(
        f"pingd: created a new database at {config.storage.path}\n"
        f"  ping key:  {ping_key}   (slug URLs: {config.server.base_url}/ping/{ping_key}/<slug>)\n"
        f"  API key:   {api_key}   (read-write; shown only now, keep it somewhere safe)",
        file=stream,
        flush=True,
    )


def _open(config: Config, *, banner_stream: Any = None) -> tuple[Store, Service]:
    store = open_store(config)
    clock = SteadyClock(floor=store.read(newest_time))
    service = make_service(config, store, clock, notifier=make_notifier(config))
    boot = service.bootstrap()
    if boot.new_api_key is not None:
        stream = sys.stderr if banner_stream is None else banner_stream
        _print_first_run(config, boot.project.ping_key, boot.new_api_key, stream=stream)
    return store, service


# -- serve -------------------------------------------------------------------


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
        store, service = _open(config, banner_stream=sys.stdout)
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


# -- keys --------------------------------------------------------------------


def cmd_key_create(config: Config, args: argparse.Namespace) -> int:
    store, service = _open(config)
    with _closing(store):
        print(service.create_api_key(args.name, read_only=args.read_only))
    return 0


def cmd_key_list(config: Config, args: argparse.Namespace) -> int:
    store, service = _open(config)
    with _closing(store):
        rows = [
            (key.name, key.prefix + "…", "read-only" if key.read_only else "read-write",
             _fmt_time(key.created), _fmt_time(key.last_used))
            for key in service.list_api_keys()
        ]  # fmt: skip
    _print_table(("NAME", "PREFIX", "KIND", "CREATED", "LAST USED"), rows)
    return 0


def cmd_key_revoke(config: Config, args: argparse.Namespace) -> int:
    store, service = _open(config)
    with _closing(store):
        key = service.revoke_api_key(args.prefix)
    print(f"revoked {key.prefix}… ({for_terminal(key.name)})")
    return 0


# -- checks ------------------------------------------------------------------


def _duration(text: str) -> int:
    try:
        return domain.parse_duration(text)
    except ValueError as ex:
        raise argparse.ArgumentTypeError(str(ex)) from None


def cmd_check_add(config: Config, args: argparse.Namespace) -> int:
    if args.cron and args.period is not None:
        raise CliError("give either --period or --cron, not both")
    fields: dict[str, Any] = {"name": args.name, "tags": " ".join(args.tag)}
    if args.period is not None:
        fields["timeout"] = args.period
    if args.grace is not None:
        fields["grace"] = args.grace
    if args.channel:
        fields["channels"] = "*" if "*" in args.channel else [_channel_ref(c) for c in args.channel]
    if args.cron:
        fields["schedule"] = args.cron
        fields["tz"] = args.tz
    elif args.tz != "UTC":
        raise CliError("--tz only applies together with --cron")
    store, service = _open(config)
    with _closing(store):
        check = service.create_check(**fields)
    print(f"{config.server.base_url}/ping/{check.uuid}")
    return 0


def _status_rows(checks: list[Check], now: datetime) -> list[tuple[str, ...]]:
    return [
        (check.name, check.slug, domain.status_at(check, now), _fmt_time(check.last_ping),
         _fmt_time(domain.next_expected_ping(check)), check.uuid)
        for check in checks
    ]  # fmt: skip


def cmd_check_list(config: Config, args: argparse.Namespace) -> int:
    store, service = _open(config)
    with _closing(store):
        rows = _status_rows(service.list_checks(), service.now())
    _print_table(("NAME", "SLUG", "STATUS", "LAST PING", "NEXT PING", "UUID"), rows)
    return 0


def cmd_check_show(config: Config, args: argparse.Namespace) -> int:
    store, service = _open(config)
    with _closing(store):
        check = service.find_check(args.id)
        project = service.project()
        pings = service.list_pings(check.id)[:10]
        now = service.now()
    base = config.server.base_url
    schedule = (
        f"cron {check.schedule!r} in {check.tz}" if check.is_cron
        else f"every {domain.format_duration(check.timeout)}"
    )  # fmt: skip
    for label, value in (
        ("name", check.name),
        ("slug", check.slug),
        ("uuid", check.uuid),
        ("status", domain.status_at(check, now)),
        ("schedule", f"{schedule}, grace {domain.format_duration(check.grace)}"),
        ("tags", check.tags or "-"),
        ("pings", str(check.n_pings)),
        ("last ping", _fmt_time(check.last_ping)),
        ("next ping", _fmt_time(domain.next_expected_ping(check))),
        ("ping url", f"{base}/ping/{check.uuid}"),
        ("slug url", f"{base}/ping/{project.ping_key}/{check.slug}"),
    ):
        print(f"{label + ':':<11}{for_terminal(value)}")
    if pings:
        print("\nrecent pings:")
        rows = [
            (str(p.n), _fmt_time(p.created), p.kind, "-" if p.exit_status is None else
             str(p.exit_status), p.method, p.remote_addr, str(p.body_size))
            for p in pings
        ]  # fmt: skip
        _print_table(("N", "TIME", "KIND", "EXIT", "METHOD", "FROM", "BYTES"), rows)
    return 0


def _check_command(action: Callable[[Service, int], Check], verb: str) -> Callable[..., int]:
    def run(config: Config, args: argparse.Namespace) -> int:
        store, service = _open(config)
        with _closing(store):
            check = service.find_check(args.id)
            action(service, check.id)
        print(f"{verb} {for_terminal(check.name)} ({check.uuid})")
        return 0

    return run


cmd_check_pause = _check_command(Service.pause_check, "paused")
cmd_check_resume = _check_command(Service.resume_check, "resumed")
cmd_check_rm = _check_command(Service.delete_check, "deleted")


def _channel_ref(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise CliError(f"{text!r} is not a channel id (see `pingd channel list`)")
    return int(text)


def _setting(kind: str, assignment: str) -> tuple[str, Any]:
    """Parse one ``--set KEY=VALUE`` into the type the channel kind expects."""
    key, sep, value = assignment.partition("=")
    if not sep or not key:
        raise CliError(f"--set {assignment!r}: write KEY=VALUE")
    field = notify.KINDS[kind].FIELDS.get(key) if kind in notify.KINDS else None
    if field is None or field.type is str:
        return key, value
    try:
        return key, int(value) if field.type is int else json.loads(value)
    except ValueError:
        expected = "an integer" if field.type is int else "a JSON object"
        raise CliError(f"--set {key}: expected {expected}") from None


def cmd_channel_add(config: Config, args: argparse.Namespace) -> int:
    settings = dict(_setting(args.kind, item) for item in args.set)
    store, service = _open(config)
    with _closing(store):
        channel = service.create_channel(args.kind, args.name, settings, attach_all=args.all_checks)
    print(channel.id)
    return 0


def cmd_channel_list(config: Config, args: argparse.Namespace) -> int:
    store, service = _open(config)
    rows = []
    with _closing(store):
        for channel in service.list_channels():
            recent = service.channel_deliveries(channel.id, limit=1)
            last = "-"
            if recent:
                delivery, attempts = recent[0]
                last = f"{delivery.state} {_fmt_time(delivery.created)}"
                if delivery.last_error:
                    last += f" ({delivery.last_error})"
            settings = service.masked_settings(channel)
            shown = " ".join(f"{key}={value}" for key, value in settings.items() if value)
            rows.append((str(channel.id), channel.kind, channel.name, shown, last))
    _print_table(("ID", "KIND", "NAME", "SETTINGS", "LAST DELIVERY"), rows)
    return 0


def cmd_channel_test(config: Config, args: argparse.Namespace) -> int:
    store, service = _open(config)
    with _closing(store):
        outcome = service.test_channel(_channel_ref(args.id))
    if not outcome.ok:
        raise CliError(f"test notification failed: {outcome.error}")
    print(f"sent a test notification ({outcome.duration_ms} ms)")
    return 0


def cmd_channel_rm(config: Config, args: argparse.Namespace) -> int:
    store, service = _open(config)
    with _closing(store):
        channel = service.delete_channel(_channel_ref(args.id))
    print(f"deleted channel {channel.id} ({channel.kind} {for_terminal(channel.name)})")
    return 0


def cmd_backup(config: Config, args: argparse.Namespace) -> int:
    live = os.path.realpath(config.storage.path)
    target = os.path.realpath(args.file)
    if target in {live, live + "-wal", live + "-shm", live + ".lock"}:
        # Renaming the copy over the live file would leave a running server
        # writing to a file that no longer has a name: every ping lost.
        raise CliError(f"backup to {args.file} refused: that is the live database's own file")
    if os.path.isdir(target):
        raise CliError(f"backup to {args.file} refused: it is a folder; name a file in it")
    store = open_store(config)
    with _closing(store):
        try:
            backup_database(store, args.file)
        except (sqlite3.Error, OSError) as ex:
            reason = ex.strerror if isinstance(ex, OSError) and ex.strerror else str(ex)
            raise CliError(f"backup to {args.file} failed: {reason}") from ex
    print(f"backed up {for_terminal(config.storage.path)} to {for_terminal(args.file)}")
    return 0


class _closing:
    def __init__(self, store: Store) -> None:
        self._store = store

    def __enter__(self) -> Store:
        return self._store

    def __exit__(self, *exc: object) -> None:
        self._store.close()


# -- parsing -----------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pingd", description="A small self-hosted ping server for cron jobs and heartbeats."
    )
    parser.add_argument("--version", action="version", version=f"pingd {__version__}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: ./pingd.toml if it exists; env PINGD_CONFIG)",
    )
    parser.add_argument(
        "--db", metavar="PATH", help="database file, overrides storage.path (env PINGD_DB)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve pings and the API")
    serve.add_argument(
        "--listen",
        action="append",
        metavar="HOST:PORT",
        help="address to listen on; repeat for several (overrides server.listen)",
    )
    serve.set_defaults(handler=cmd_serve)

    key = commands.add_parser("key", help="manage API keys").add_subparsers(
        dest="key_command", required=True, metavar="COMMAND"
    )
    create = key.add_parser("create", help="create an API key and print it once")
    create.add_argument("--read-only", action="store_true", help="the key cannot change anything")
    create.add_argument("--name", default="", help="a label to recognise the key by")
    create.set_defaults(handler=cmd_key_create)
    key.add_parser("list", help="list API keys").set_defaults(handler=cmd_key_list)
    revoke = key.add_parser("revoke", help="delete an API key")
    revoke.add_argument("prefix", metavar="PREFIX", help="the key's prefix, as `key list` shows")
    revoke.set_defaults(handler=cmd_key_revoke)

    check = commands.add_parser("check", help="manage checks").add_subparsers(
        dest="check_command", required=True, metavar="COMMAND"
    )
    add = check.add_parser("add", help="create a check and print its ping URL")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--period", type=_duration, help="expected time between pings (default 1d)")
    add.add_argument("--grace", type=_duration, help="how late a ping may be (default 1h)")
    add.add_argument("--cron", metavar="EXPR", help="a 5-field cron schedule instead of a period")
    add.add_argument("--tz", default="UTC", metavar="ZONE", help="time zone of --cron")
    add.add_argument("--tag", action="append", default=[], help="a tag; repeat for several")
    add.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="ID",
        help="a channel to alert; repeat for several, or '*' for every channel",
    )
    add.set_defaults(handler=cmd_check_add)
    check.add_parser("list", help="list checks and their status").set_defaults(
        handler=cmd_check_list
    )
    for name, handler, text in (
        ("show", cmd_check_show, "show a check and its recent pings"),
        ("pause", cmd_check_pause, "pause a check"),
        ("resume", cmd_check_resume, "resume a paused check"),
        ("rm", cmd_check_rm, "delete a check"),
    ):
        sub = check.add_parser(name, help=text)
        sub.add_argument("id", metavar="ID", help="the check's UUID or slug")
        sub.set_defaults(handler=handler)

    channel = commands.add_parser("channel", help="manage notification channels").add_subparsers(
        dest="channel_command", required=True, metavar="COMMAND"
    )
    chadd = channel.add_parser("add", help="create a channel and print its id")
    chadd.add_argument(
        "kind", metavar="KIND", choices=list(notify.KINDS), help=", ".join(notify.KINDS)
    )
    chadd.add_argument("--name", default="", help="a label for the channel")
    chadd.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of the kind (see README); repeat for several",
    )
    chadd.add_argument(
        "--all-checks", action="store_true", help="make every existing check alert this channel"
    )
    chadd.set_defaults(handler=cmd_channel_add)
    channel.add_parser("list", help="list channels and their last delivery").set_defaults(
        handler=cmd_channel_list
    )
    for name, handler, text in (
        ("test", cmd_channel_test, "send a test notification now"),
        ("rm", cmd_channel_rm, "delete a channel"),
    ):
        sub = channel.add_parser(name, help=text)
        sub.add_argument("id", metavar="ID", help="the channel's id")
        sub.set_defaults(handler=handler)

    backup = commands.add_parser("backup", help="write a consistent copy of the live database")
    backup.add_argument("file", metavar="FILE")
    backup.set_defaults(handler=cmd_backup)
    return parser  # fmt: skip


def _load(args: argparse.Namespace) -> Config:
    overrides: dict[str, tuple[Any, str]] = {}
    if os.environ.get("PINGD_DB"):
        overrides["storage.path"] = (os.environ["PINGD_DB"], "environment variable PINGD_DB")
    if args.db:
        overrides["storage.path"] = (args.db, "--db")
    if getattr(args, "listen", None):
        overrides["server.listen"] = (args.listen, "--listen")
    return load_config(find_config_path(args.config, os.environ), os.environ, overrides)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # waitress warns about its task queue on nearly every request once
    # connections outnumber threads; that is normal for pings, not news.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    config: Config | None = None
    try:
        config = _load(args)
        handler: Callable[[Config, argparse.Namespace], int] = args.handler
        return handler(config, args)
    except (
        CliError, ConfigError, MigrationError, PingdError, DatabaseUnusable, AlreadyServing
    ) as ex:  # fmt: skip
        print(f"pingd: error: {for_terminal(str(ex))}", file=sys.stderr)
        return 1
    except sqlite3.Error as ex:
        path = "the database" if config is None else config.storage.path
        print(f"pingd: error: {for_terminal(str(explain(path, ex)))}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`pingd check list | head -1`): end quietly, as
        # a command killed by SIGPIPE would, and keep Python from complaining
        # about the unflushed rest at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as ex:
        print(f"pingd: error: {for_terminal(str(ex))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
