"""Shared by every ``pingd`` command: the one-line error, tables, opening the database.

Nothing here is a command; each family of commands (serve, keys, checks,
channels, backup) has a module of its own that uses these.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.clock import SteadyClock
from pingd.config import Config
from pingd.domain.fields import parse_duration
from pingd.service import Service
from pingd.store.database import newest_time
from pingd.textsafe import for_terminal
from pingd.writer.store import Store


class CliError(Exception):
    """A user mistake, reported as one line on stderr with exit status 1."""


def fmt_time(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
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


def open_service(config: Config, *, banner_stream: Any = None) -> tuple[Store, Service]:
    store = open_store(config)
    clock = SteadyClock(floor=store.read(newest_time))
    service = make_service(config, store, clock, notifier=make_notifier(config))
    boot = service.bootstrap()
    if boot.new_api_key is not None:
        stream = sys.stderr if banner_stream is None else banner_stream
        _print_first_run(config, boot.project.ping_key, boot.new_api_key, stream=stream)
    return store, service


class closing_store:
    def __init__(self, store: Store) -> None:
        self._store = store

    def __enter__(self) -> Store:
        return self._store

    def __exit__(self, *exc: object) -> None:
        self._store.close()


def duration_arg(text: str) -> int:
    """Parse a duration argument (``90s``, ``15m``, ``2h``, ``1d``, ``1w`` or seconds)."""
    try:
        return parse_duration(text)
    except ValueError as ex:
        raise argparse.ArgumentTypeError(str(ex)) from None


def channel_ref(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise CliError(f"{text!r} is not a channel id (see `pingd channel list`)")
    return int(text)


def command_group(commands: Any, name: str, text: str) -> Any:
    """Add ``pingd NAME COMMAND``: a subcommand with subcommands of its own."""
    return commands.add_parser(name, help=text).add_subparsers(
        dest=f"{name}_command", required=True, metavar="COMMAND"
    )


def add_id_commands(
    group: Any, commands: Sequence[tuple[str, Callable[..., int], str]], id_help: str
) -> None:
    """Add subcommands that each take one ID argument: (name, handler, help) each."""
    for name, handler, text in commands:
        sub = group.add_parser(name, help=text)
        sub.add_argument("id", metavar="ID", help=id_help)
        sub.set_defaults(handler=handler)
