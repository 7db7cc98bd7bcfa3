"""``pingd key create/list/revoke``: API keys; ``pingd login-link``: a browser signs in with one."""

from __future__ import annotations

import argparse
from typing import Any

from pingd.cli.common import closing_store
from pingd.cli.common import command_group
from pingd.cli.common import fmt_time
from pingd.cli.common import open_service
from pingd.cli.common import print_table
from pingd.config import Config
from pingd.textsafe import for_terminal


def cmd_key_create(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        print(service.create_api_key(args.name, read_only=args.read_only))
    return 0


def cmd_key_list(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        rows = [
            (key.name, key.prefix + "…", "read-only" if key.read_only else "read-write",
             fmt_time(key.created), fmt_time(key.last_used))
            for key in service.list_api_keys()
        ]  # fmt: skip
    print_table(("NAME", "PREFIX", "KIND", "CREATED", "LAST USED"), rows)
    return 0


def cmd_key_revoke(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        key = service.revoke_api_key(args.prefix)
    print(f"revoked {key.prefix}… ({for_terminal(key.name)})")
    return 0


def cmd_login_link(config: Config, args: argparse.Namespace) -> int:
    store, service = open_service(config)
    with closing_store(store):
        token = service.create_login_link(args.prefix)
    print(f"{config.server.base_url}/login/link?token={token}")
    return 0


def add_parsers(commands: Any) -> None:
    """Add this family's subcommands to ``pingd``'s."""
    key = command_group(commands, "key", "manage API keys")
    create = key.add_parser("create", help="create an API key and print it once")
    create.add_argument("--read-only", action="store_true", help="the key cannot change anything")
    create.add_argument("--name", default="", help="a label to recognise the key by")
    create.set_defaults(handler=cmd_key_create)
    key.add_parser("list", help="list API keys").set_defaults(handler=cmd_key_list)
    revoke = key.add_parser("revoke", help="delete an API key")
    revoke.add_argument("prefix", metavar="PREFIX", help="the key's prefix, as `key list` shows")
    revoke.set_defaults(handler=cmd_key_revoke)
    link = commands.add_parser(
        "login-link", help="print a link that signs a browser in to the dashboard once"
    )
    link.add_argument(
        "prefix", nargs="?", default="", metavar="PREFIX",
        help="the API key to sign in as, by its prefix (default: the oldest read-write key)",
    )  # fmt: skip
    link.set_defaults(handler=cmd_login_link)
