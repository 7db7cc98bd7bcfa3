"""``pingd channel add/list/test/rm``: notification channels."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pingd import notify
from pingd.cli.common import CliError
from pingd.cli.common import add_id_commands
from pingd.cli.common import channel_ref
from pingd.cli.common import closing_store
from pingd.cli.common import command_group
from pingd.cli.common import duration_arg
from pingd.cli.common import fmt_time
from pingd.cli.common import open_service
from pingd.cli.common import print_table
from pingd.config import Config
from pingd.textsafe import for_terminal


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
    store, service = open_service(config)
    with closing_store(store):
        channel = service.create_channel(
            args.kind, args.name, settings, attach_all=args.all_checks,
            remind_every=args.remind_every or 0, notify_late=args.notify_late,
        )  # fmt: skip
    print(channel.id)
    return 0


def cmd_channel_list(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    rows = []
    with closing_store(store):
        for channel in service.list_channels():
            recent = service.channel_deliveries(channel.id, limit=1)
            last = "-"
            if recent:
                delivery, attempts = recent[0]
                last = f"{delivery.state} {fmt_time(delivery.created)}"
                if delivery.last_error:
                    last += f" ({delivery.last_error})"
            settings = service.masked_settings(channel)
            shown = " ".join(f"{key}={value}" for key, value in settings.items() if value)
            rows.append((str(channel.id), channel.kind, channel.name, shown, last))
    print_table(("ID", "KIND", "NAME", "SETTINGS", "LAST DELIVERY"), rows)
    return 0


def cmd_channel_test(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        outcome = service.test_channel(channel_ref(args.id))
    if not outcome.ok:
        raise CliError(f"test notification failed: {outcome.error}")
    print(f"sent a test notification ({outcome.duration_ms} ms)")
    return 0


def cmd_channel_rm(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        channel = service.delete_channel(channel_ref(args.id))
    print(f"deleted channel {channel.id} ({channel.kind} {for_terminal(channel.name)})")
    return 0


def add_parsers(commands: Any) -> None:
    """Add this family's subcommands to ``pingd``'s."""
    channel = command_group(commands, "channel", "manage notification channels")
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
    chadd.add_argument(
        "--remind-every",
        type=duration_arg,
        metavar="SPAN",
        help="remind this often while a check it alerts stays down, e.g. 1d",
    )
    chadd.add_argument(
        "--notify-late",
        action="store_true",
        help="also alert when a check turns late (enters its grace)",
    )
    chadd.set_defaults(handler=cmd_channel_add)
    channel.add_parser("list", help="list channels and their last delivery").set_defaults(
        handler=cmd_channel_list
    )
    add_id_commands(
        channel,
        (
            ("test", cmd_channel_test, "send a test notification now"),
            ("rm", cmd_channel_rm, "delete a channel"),
        ),
        "the channel's id",
    )
