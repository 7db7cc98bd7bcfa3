"""``pingd window add/list/rm`` and ``pingd check pause --until``: maintenance windows.

A window covers a check (by UUID or slug) or a tag, recurring (``--cron``,
``--duration``, ``--tz``) or one-off (``--from``, ``--until``). Times are
ISO 8601 with an offset, or a duration from now (``2h``).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from datetime import timedelta
from typing import Any

from pingd.cli.common import CliError
from pingd.cli.common import add_id_commands
from pingd.cli.common import closing_store
from pingd.cli.common import command_group
from pingd.cli.common import fmt_time
from pingd.cli.common import open_service
from pingd.cli.common import print_table
from pingd.config import Config
from pingd.domain.fields import format_duration
from pingd.domain.fields import parse_duration
from pingd.domain.windows import next_occurrence
from pingd.domain.windows import occurrence_at
from pingd.domain.windows import parse_time
from pingd.textsafe import for_terminal


def _when(text: str, now: datetime) -> str:
    """Turn ``--from``/``--until`` (a time, or a duration from now) into ISO 8601."""
    when = parse_time(text)
    if when is not None:
        return when.isoformat()
    try:
        return (now + timedelta(seconds=parse_duration(text))).isoformat()
    except ValueError:
        raise CliError(f"{text!r} is neither an ISO 8601 time with offset nor a duration") from None


def cmd_window_add(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        now = service.now()
        fields: dict[str, Any] = {"name": args.name}
        if args.check:
            fields["check"] = service.find_check(args.check).uuid
        if args.tag:
            fields["tag"] = args.tag
        if args.cron:
            if args.duration is None:
                raise CliError("--cron needs --duration (how long each window lasts)")
            fields.update(schedule=args.cron, tz=args.tz, duration=parse_duration(args.duration))
        else:
            if args.until is None:
                raise CliError("give --cron and --duration, or --until (and --from)")
            fields.update(
                starts=_when(args.start, now) if args.start else now.isoformat(),
                ends=_when(args.until, now),
            )
        window = service.create_window(fields)
    print(window.id)
    return 0


def cmd_window_list(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        windows, now = service.list_windows(), service.now()
        names = {check.id: check.name for check in service.list_checks()}
    rows = []
    for window in windows:
        covers = (
            f"check {names.get(window.check_id or 0, '?')}"
            if window.check_id
            else (f"tag {window.tag}")
        )
        when = (
            f"cron {window.schedule!r} {window.tz} for {format_duration(window.duration)}"
            if window.recurring else "once"
        )  # fmt: skip
        upcoming = next_occurrence(window, now)
        rows.append((
            str(window.id), window.name or "-", covers, when,
            "yes" if occurrence_at(window, now) else "no",
            "-" if upcoming is None else f"{fmt_time(upcoming[0])} - {fmt_time(upcoming[1])}",
        ))  # fmt: skip
    print_table(("ID", "NAME", "COVERS", "WHEN", "NOW", "NEXT"), rows)
    return 0


def cmd_window_rm(config: Config, args: argparse.Namespace) -> int:
    if not args.id.isdigit():
        raise CliError(f"{args.id!r} is not a window id (see `pingd window list`)")
    store, service = open_service(config)
    with closing_store(store):
        window = service.delete_window(int(args.id))
    print(f"deleted window {window.id} {for_terminal(window.name)}".rstrip())
    return 0


def cmd_check_pause(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        check = service.find_check(args.id)
        if args.until is None:
            service.pause_check(check.id)
            print(f"paused {for_terminal(check.name)} ({check.uuid})")
            return 0
        window = service.pause_alerts_until(check.id, _when(args.until, service.now()))
    print(f"alerts of {for_terminal(check.name)} ({check.uuid}) held until {fmt_time(window.ends)}")
    return 0


def add_parsers(commands: Any) -> None:
    """Add ``pingd window``'s subcommands."""
    window = command_group(commands, "window", "manage maintenance windows (alerts held)")
    add = window.add_parser("add", help="create a maintenance window and print its id")
    add.add_argument("--check", metavar="ID", help="the check it covers (UUID or slug)")
    add.add_argument("--tag", help="or: every check with this tag")
    add.add_argument("--name", default="", help="a label, e.g. 'nightly backup of the NAS'")
    add.add_argument("--cron", metavar="EXPR", help="recurring: when each window starts")
    add.add_argument("--duration", metavar="SPAN", help="recurring: how long, e.g. 2h")
    add.add_argument("--tz", default="UTC", metavar="ZONE", help="time zone of --cron")
    add.add_argument("--from", dest="start", metavar="WHEN", help="one-off: from (default now)")
    add.add_argument("--until", metavar="WHEN", help="one-off: until (a time, or e.g. 3h)")
    add.set_defaults(handler=cmd_window_add)
    window.add_parser("list", help="list windows, whether in effect, and the next").set_defaults(
        handler=cmd_window_list
    )
    add_id_commands(window, (("rm", cmd_window_rm, "delete a window"),), "the window's id")


def add_pause_parser(check: Any) -> None:
    """Add ``pingd check pause ID [--until WHEN]`` to the check commands."""
    pause = check.add_parser("pause", help="pause a check, or with --until hold its alerts")
    pause.add_argument("id", metavar="ID", help="the check's UUID or slug")
    pause.add_argument(
        "--until", metavar="WHEN", help="keep watching, hold alerts until then (time or e.g. 2h)"
    )
    pause.set_defaults(handler=cmd_check_pause)
