"""``pingd check-config``: is this setup going to work, before ``pingd serve`` finds out?

Prints every effective setting with where it came from (secrets as ``(set)``),
then checks what the configuration points at without changing anything: the
database (can it be written, which schema, which pingd wrote it), each listen
address (can it be bound now), and the proxy setting against ``base_url`` and
the listen addresses. Problems make the exit status 1; warnings do not.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import socket
import sqlite3
from typing import Any

from pingd.cli.common import CliError
from pingd.config import SETTINGS
from pingd.config import Config
from pingd.config import parse_listen_address
from pingd.dbfile import DatabaseUnusable
from pingd.dbfile import check_path
from pingd.migrate import current_version
from pingd.migrate import load_schema
from pingd.migrate import schema_version
from pingd.migrate import written_by
from pingd.textsafe import for_terminal

SECRET_SETTINGS = {"smtp.password"}


def _value(config: Config, name: str) -> Any:
    section, key = name.split(".", 1)
    return getattr(getattr(config, section), "from_" if key == "from" else key)


def settings_lines(config: Config) -> list[str]:
    """Every setting as ``name = value  (source)``; secrets only say whether they are set."""
    lines = []
    for setting in SETTINGS:
        value = _value(config, setting.name)
        shown = (
            ("(set)" if value else "(not set)")
            if setting.name in SECRET_SETTINGS
            else (repr(value))
        )
        source = config.sources.get(setting.name, "built-in defaults")
        lines.append(f"{setting.name} = {shown}  ({source})")
    return lines


def database_findings(path: str) -> tuple[list[str], list[str]]:
    """What the database check found: (notes, problems)."""
    try:
        check_path(path)
    except DatabaseUnusable as ex:
        return [], [str(ex)]
    if not os.path.exists(path):
        return [f"database {path}: does not exist yet; pingd serve creates it"], []
    target = schema_version(load_schema())
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version, writer = current_version(conn), written_by(conn)
        finally:
            conn.close()
    except sqlite3.Error as ex:
        return [], [f"database {path}: cannot be read: {ex}"]
    by = f", last written by {writer}" if writer else ""
    if version > target:
        return [], [f"database {path}: schema {version}{by} is newer than this pingd's "
                    f"({target}); run that pingd or a newer one"]  # fmt: skip
    if version < target:
        return [f"database {path}: schema {version}{by}; pingd serve migrates it to "
                f"{target} at start (make a backup first: pingd backup FILE)"], []  # fmt: skip
    return [f"database {path}: schema {version}, current{by}"], []


def listen_findings(addresses: list[str]) -> tuple[list[str], list[str]]:
    """Try to bind each listen address now: (notes and warnings, problems)."""
    notes, problems = [], []
    for text in addresses:
        host, port = parse_listen_address(text)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as ex:
                if ex.errno == errno.EADDRINUSE:
                    notes.append(f"listen {text}: in use now (is pingd already running?)")
                else:
                    problems.append(f"listen {text}: cannot listen: {ex.strerror}")
                continue
        notes.append(f"listen {text}: can listen")
    return notes, problems


def proxy_findings(config: Config) -> list[str]:
    """What the proxy setting means with this base_url and these listen addresses."""
    proxy = config.server.trusted_proxy
    https = config.server.base_url.startswith("https://")
    if not proxy:
        if https:
            return ["warning: base_url is https:// but server.trusted_proxy is empty: pingd sees "
                    "every request as plain HTTP from the proxy itself (set trusted_proxy to the "
                    "proxy's address)"]  # fmt: skip
        return ["proxy: none; X-Forwarded-* headers are dropped from every peer"]
    found = [f"proxy: X-Forwarded-For and -Proto are trusted from {proxy} only"]
    public = [text for text in config.server.listen if not _local(parse_listen_address(text)[0])]
    if public:
        found.append(f"warning: pingd also listens on {', '.join(public)}: clients can reach it "
                     "without the proxy (their X-Forwarded-* headers are dropped)")  # fmt: skip
    return found


def _local(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def cmd_check_config(config: Config, args: argparse.Namespace) -> int:
    print(f"configuration: {for_terminal(config.source)}")
    for line in settings_lines(config):
        print(f"  {for_terminal(line)}")
    notes, problems = database_findings(config.storage.path)
    listened, unlistenable = listen_findings(list(config.server.listen))
    notes += listened + proxy_findings(config)
    problems += unlistenable
    for line in notes:
        print(for_terminal(line))
    for line in problems:
        print(f"problem: {for_terminal(line)}")
    if problems:
        raise CliError(f"{len(problems)} problem(s) found; pingd serve would not start as it is")
    print("ok: pingd serve can start with this configuration")
    return 0


def add_parsers(commands: Any) -> None:
    """Add ``pingd check-config``."""
    check = commands.add_parser(
        "check-config", help="check the configuration, database, listen addresses and proxy"
    )
    check.set_defaults(handler=cmd_check_config)
