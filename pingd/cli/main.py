"""The ``pingd`` command: serve, and manage keys, checks, channels and backups.

``main`` parses the arguments (each family of commands adds its own in
``add_parsers``), loads the configuration and runs the command. User
mistakes end with one line on stderr and exit status 1 (2 for usage errors,
from argparse); never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

from pingd import __version__
from pingd.cli import backup
from pingd.cli import channels
from pingd.cli import checkconfig
from pingd.cli import checks
from pingd.cli import declared
from pingd.cli import hcimport
from pingd.cli import keys
from pingd.cli import serve
from pingd.cli import windows
from pingd.cli.common import CliError
from pingd.config import Config
from pingd.config import ConfigError
from pingd.config import find_config_path
from pingd.config import load_config
from pingd.dbfile import DatabaseUnusable
from pingd.dbfile import explain
from pingd.errors import PingdError
from pingd.migrate import MigrationError
from pingd.serverlock import AlreadyServing
from pingd.textsafe import for_terminal


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
    for family in (serve, checkconfig, keys, checks, channels, windows, declared, hcimport,
                   backup):  # fmt: skip
        family.add_parsers(commands)
    return parser


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
