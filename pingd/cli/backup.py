"""``pingd backup FILE``: a consistent copy of the live database."""

from __future__ import annotations

import argparse
import os
import sqlite3
from typing import Any

from pingd.app import open_store
from pingd.cli.common import CliError
from pingd.cli.common import closing_store
from pingd.config import Config
from pingd.store.backup import backup_database
from pingd.textsafe import for_terminal


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
    with closing_store(store):
        try:
            backup_database(store, args.file)
        except (sqlite3.Error, OSError) as ex:
            reason = ex.strerror if isinstance(ex, OSError) and ex.strerror else str(ex)
            raise CliError(f"backup to {args.file} failed: {reason}") from ex
    print(f"backed up {for_terminal(config.storage.path)} to {for_terminal(args.file)}")
    return 0


def add_parsers(commands: Any) -> None:
    """Add this family's subcommands to ``pingd``'s."""
    backup = commands.add_parser("backup", help="write a consistent copy of the live database")
    backup.add_argument("file", metavar="FILE")
    backup.set_defaults(handler=cmd_backup)
