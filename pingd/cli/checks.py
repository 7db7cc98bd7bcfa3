"""``pingd check add/list/show/pause/resume/rm``: checks and their recent pings."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pingd.cli.common import CliError
from pingd.cli.common import add_id_commands
from pingd.cli.common import channel_ref
from pingd.cli.common import closing_store
from pingd.cli.common import command_group
from pingd.cli.common import duration_arg
from pingd.cli.common import fmt_time
from pingd.cli.common import open_service
from pingd.cli.common import print_table
from pingd.cli.windows import add_pause_parser
from pingd.config import Config
from pingd.domain.checks import Check
from pingd.domain.checks import next_expected_ping
from pingd.domain.checks import status_at
from pingd.domain.fields import format_duration
from pingd.service import Service
from pingd.textsafe import for_terminal


def cmd_check_add(config: Config, args: argparse.Namespace) -> int:
    if args.cron and args.period is not None:
        raise CliError("give either --period or --cron, not both")
    fields: dict[str, Any] = {"name": args.name, "tags": " ".join(args.tag)}
    if args.period is not None:
        fields["timeout"] = args.period
    if args.grace is not None:
        fields["grace"] = args.grace
    if args.channel:
        fields["channels"] = "*" if "*" in args.channel else [channel_ref(c) for c in args.channel]
    for name in ("failure_threshold", "success_threshold", "remind_every", "start_window"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    if args.cron:
        fields["schedule"] = args.cron
        fields["tz"] = args.tz
    elif args.tz != "UTC":
        raise CliError("--tz only applies together with --cron")
    store, service = open_service(config)
    with closing_store(store):
        check = service.create_check(**fields)
    print(f"{config.server.base_url}/ping/{check.uuid}")
    return 0


def _status_rows(checks: list[Check], now: datetime) -> list[tuple[str, ...]]:
    return [
        (check.name, check.slug, status_at(check, now), fmt_time(check.last_ping),
         fmt_time(next_expected_ping(check)), check.uuid)
        for check in checks
    ]  # fmt: skip


def cmd_check_list(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        rows = _status_rows(service.list_checks(), service.now())
    print_table(("NAME", "SLUG", "STATUS", "LAST PING", "NEXT PING", "UUID"), rows)
    return 0


def cmd_check_show(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        check = service.find_check(args.id)
        project = service.project()
        pings = service.list_pings(check.id)[:10]
        now = service.now()
    base = config.server.base_url
    schedule = (
        f"cron {check.schedule!r} in {check.tz}" if check.is_cron
        else f"every {format_duration(check.timeout)}"
    )  # fmt: skip
    for label, value in (
        ("name", check.name),
        ("slug", check.slug),
        ("uuid", check.uuid),
        ("status", status_at(check, now)),
        ("schedule", f"{schedule}, grace {format_duration(check.grace)}"),
        ("tags", check.tags or "-"),
        ("pings", str(check.n_pings)),
        ("last ping", fmt_time(check.last_ping)),
        ("next ping", fmt_time(next_expected_ping(check))),
        ("policy", _policy(check)),
        ("ping url", f"{base}/ping/{check.uuid}"),
        ("slug url", f"{base}/ping/{project.ping_key}/{check.slug}"),
    ):
        print(f"{label + ':':<11}{for_terminal(value)}")
    if pings:
        print("\nrecent pings:")
        rows = [
            (str(p.n), fmt_time(p.created), p.kind, "-" if p.exit_status is None else
             str(p.exit_status), p.method, p.remote_addr, str(p.body_size))
            for p in pings
        ]  # fmt: skip
        print_table(("N", "TIME", "KIND", "EXIT", "METHOD", "FROM", "BYTES"), rows)
    return 0


def _policy(check: Check) -> str:
    parts = [f"down after {check.failure_threshold} failure(s) in a row "
             f"(now {check.fail_streak}), up after {check.success_threshold} success(es) "
             f"(now {check.success_streak})"]  # fmt: skip
    if check.remind_every:
        parts.append(f"reminders every {format_duration(check.remind_every)}")
    if check.start_window:
        parts.append(f"start window {format_duration(check.start_window)}")
    return "; ".join(parts)


def _check_command(action: Callable[[Service, int], Check], verb: str) -> Callable[..., int]:
    def run(config: Config, args: argparse.Namespace) -> int:
        store, service = open_service(config)
        with closing_store(store):
            check = service.find_check(args.id)
            action(service, check.id)
        print(f"{verb} {for_terminal(check.name)} ({check.uuid})")
        return 0

    return run


cmd_check_resume = _check_command(Service.resume_check, "resumed")


cmd_check_rm = _check_command(Service.delete_check, "deleted")


def add_parsers(commands: Any) -> None:
    """Add this family's subcommands to ``pingd``'s."""
    check = command_group(commands, "check", "manage checks")
    add = check.add_parser("add", help="create a check and print its ping URL")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--period", type=duration_arg, help="expected time between pings (default 1d)")
    add.add_argument("--grace", type=duration_arg, help="how late a ping may be (default 1h)")
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
    add.add_argument(
        "--failure-threshold",
        type=int,
        metavar="N",
        help="failures in a row before it goes down (default 1)",
    )
    add.add_argument(
        "--success-threshold",
        type=int,
        metavar="N",
        help="successes in a row before a down check is up again (default 1)",
    )
    add.add_argument(
        "--remind-every",
        type=duration_arg,
        metavar="SPAN",
        help="repeat the down alert this often while down, e.g. 1h",
    )
    add.add_argument(
        "--start-window",
        type=duration_arg,
        metavar="SPAN",
        help="a start ping must come within this of the expected time, else it goes down",
    )
    add.set_defaults(handler=cmd_check_add)
    check.add_parser("list", help="list checks and their status").set_defaults(
        handler=cmd_check_list
    )
    add_id_commands(
        check,
        (
            ("show", cmd_check_show, "show a check and its recent pings"),
            ("resume", cmd_check_resume, "resume a paused check"),
            ("rm", cmd_check_rm, "delete a check"),
        ),
        "the check's UUID or slug",
    )
    add_pause_parser(check)
