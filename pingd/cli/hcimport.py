"""``pingd import healthchecks``: a Healthchecks project's checks, with their UUIDs, into pingd.

Reads ``/api/v3/checks/`` and ``/api/v3/channels/`` of a Healthchecks
instance with a read-write key (only that shows the UUIDs), maps them
(``pingd.declared.healthchecks``) and applies them as a declaration: matched
by UUID, so running it again updates and never duplicates. ``--dry-run``
prints the plan; ``--to-file`` writes a config file instead of the database.
The key may come from ``$HC_API_KEY`` rather than the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.cli.common import CliError
from pingd.cli.common import closing_store
from pingd.cli.common import open_service
from pingd.config import Config
from pingd.config import default_config
from pingd.declared.export import export_text
from pingd.declared.healthchecks import Imported
from pingd.declared.healthchecks import from_healthchecks
from pingd.declared.plan import render_plan
from pingd.textsafe import for_terminal

TIMEOUT_SECONDS = 30


def fetch(base: str, path: str, key: str) -> Any:
    """GET one Healthchecks API path as JSON, or raise CliError saying what went wrong."""
    url = f"{base.rstrip('/')}/api/v3/{path}"
    request = urllib.request.Request(url, headers={"X-Api-Key": key, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as ex:
        detail = ex.read(300).decode("utf-8", "replace")
        raise CliError(f"{url} answered {ex.code}: {detail}") from None
    except (urllib.error.URLError, OSError, ValueError) as ex:
        reason = getattr(ex, "reason", ex)
        raise CliError(f"cannot read {url}: {reason}") from None


def cmd_import_healthchecks(config: Config, args: argparse.Namespace) -> int:
    key = args.api_key or os.environ.get("HC_API_KEY", "")
    if not key:
        raise CliError(
            "give the Healthchecks project's read-write API key: --api-key or $HC_API_KEY"
        )
    checks = fetch(args.url, "checks/", key).get("checks", [])
    channels = fetch(args.url, "channels/", key).get("channels", [])
    if args.to_file:
        imported = from_healthchecks(args.url, checks, channels, set())
        _write_file(imported, args.to_file)
    else:
        store, service = open_service(config)
        with closing_store(store):
            names = {channel.name for channel in service.list_channels()}
            imported = from_healthchecks(args.url, checks, channels, names)
            steps = service.apply_declaration(
                imported.declaration, dry_run=args.dry_run, manage=False
            )
        for line in render_plan(steps).splitlines():
            print(for_terminal(line))
        if args.dry_run:
            print("(dry run: nothing was changed)")
    for line in imported.skipped:
        print(for_terminal(f"not mapped: {line}"), file=sys.stderr)
    return 0


def _write_file(imported: Imported, target: str) -> None:
    """Apply to a scratch database and export it: the file is exactly what apply would make."""
    with tempfile.TemporaryDirectory(prefix="pingd-import-") as scratch:
        config = default_config(storage__path=str(Path(scratch) / "scratch.db"))
        store = open_store(config)
        with closing_store(store):
            service = make_service(config, store, notifier=make_notifier(config))
            service.bootstrap()
            service.apply_declaration(imported.declaration, manage=False)
            text = export_text(service.declared_state())
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as ex:
        raise CliError(f"cannot write {target}: {ex.strerror or ex}") from None
    print(f"wrote {len(imported.declaration.checks)} checks to {for_terminal(target)}")


def add_parsers(commands: Any) -> None:
    """Add ``pingd import healthchecks``."""
    group = commands.add_parser("import", help="bring checks over from another monitor")
    sources = group.add_subparsers(dest="import_command", required=True, metavar="SOURCE")
    hc = sources.add_parser("healthchecks", help="a Healthchecks project, through its API")
    hc.add_argument("--url", required=True, help="the instance, e.g. https://healthchecks.io")
    hc.add_argument("--api-key", help="a read-write API key of the project (or $HC_API_KEY)")
    hc.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    hc.add_argument("--to-file", metavar="FILE", help="write a config file instead")
    hc.set_defaults(handler=cmd_import_healthchecks)
