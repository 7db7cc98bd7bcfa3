"""``pingd apply`` and ``pingd export``: the checks and channels the config files declare.

``apply`` brings the database to the ``[[check]]`` and ``[[channel]]`` tables
of the config file and its includes, in one transaction, and prints what it
did; ``--dry-run`` prints the plan and changes nothing. ``export`` writes the
current checks and channels as such a file, secrets as references.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from pingd.cli.common import CliError
from pingd.cli.common import closing_store
from pingd.cli.common import open_service
from pingd.config import Config
from pingd.declared.export import export_text
from pingd.declared.parse import load_declaration
from pingd.declared.plan import render_plan
from pingd.errors import PingdError
from pingd.service import Service
from pingd.textsafe import for_terminal

logger = logging.getLogger("pingd")


def cmd_apply(config: Config, args: argparse.Namespace) -> int:
    if not config.path:
        raise CliError("no config file to apply: pass --config FILE (or create ./pingd.toml)")
    declaration = load_declaration(config.path)
    store, service = open_service(config)
    with closing_store(store):
        steps = service.apply_declaration(declaration, dry_run=args.dry_run)
    for line in render_plan(steps).splitlines():
        print(for_terminal(line))
    if args.dry_run:
        print("(dry run: nothing was changed)")
    return 0


def cmd_export(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        text = export_text(service.declared_state())
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as ex:
        raise CliError(f"cannot write {args.output}: {ex.strerror or ex}") from None
    print(f"wrote {for_terminal(args.output)}", file=sys.stderr)
    return 0


class Reloader:
    """``pingd serve``'s apply of the declared checks and channels: at start and on SIGHUP.

    A mistake in the files is logged and applies nothing: the server goes on
    with the database as it was (at start too, so that pings are never refused).
    """

    def __init__(self, config: Config, service: Service) -> None:
        self._path = config.path
        self._service = service
        self._lock = threading.Lock()

    def apply(self, when: str) -> bool:
        """Apply the files now; return whether it worked. ``when`` labels the log lines."""
        if not self._path:
            return True
        with self._lock:
            try:
                declaration = load_declaration(self._path)
                if declaration.empty and when == "start":
                    return True
                steps = self._service.apply_declaration(declaration)
            except PingdError as ex:
                logger.error("%s: nothing applied, the old state stays: %s", when,
                             for_terminal(str(ex)))  # fmt: skip
                return False
            except Exception:  # a full disk, say: the server must go on either way
                logger.exception("%s: nothing applied, the old state stays", when)
                return False
        for line in render_plan(steps).splitlines():
            logger.info("%s: %s", when, for_terminal(line))
        return True

    def install(self) -> None:
        """Apply again on every SIGHUP, in a thread: the handler only starts it."""

        def on_hangup(signum: int, frame: object) -> None:
            threading.Thread(target=self.apply, args=("SIGHUP",), daemon=True).start()

        signal.signal(signal.SIGHUP, on_hangup)


def add_parsers(commands: Any) -> None:
    """Add this family's subcommands to ``pingd``'s."""
    apply = commands.add_parser(
        "apply", help="bring the database to the [[check]] and [[channel]] tables of the config"
    )
    apply.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    apply.set_defaults(handler=cmd_apply)
    export = commands.add_parser("export", help="write the checks and channels as a config file")
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    export.set_defaults(handler=cmd_export)
