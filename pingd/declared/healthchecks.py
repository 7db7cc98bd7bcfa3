"""Healthchecks' checks and channels, as its API answers them, turned into a declaration.

Each check keeps its UUID (so every ping URL keeps working), name, slug,
tags, description, period or cron schedule and zone, grace, methods, manual
resume, keywords and filters, and pause state. Channels: Healthchecks' API
gives only their name, kind and UUID, never their settings, so none can be
created from it; a check's links come along to pingd channels of the same
name, and everything that cannot be mapped is listed, with the reason.
Pure: the HTTP is the command's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pingd.declared.parse import Declaration
from pingd.declared.parse import DeclaredCheck
from pingd.declared.parse import check_from_table
from pingd.errors import DeclarationError

# Healthchecks' channel kinds that pingd has, by Healthchecks' name.
KINDS = {"email": "email", "webhook": "webhook", "ntfy": "ntfy", "gotify": "gotify",
         "discord": "discord", "slack": "slack", "telegram": "telegram", "po": "pushover",
         "matrix": "matrix", "apprise": "apprise"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Imported:
    declaration: Declaration
    skipped: list[str]  # one line per check, channel or link that could not come along


def _table(check: dict[str, Any], channel_names: dict[str, str], pingd_channels: set[str],
           skipped: list[str]) -> dict[str, Any]:  # fmt: skip
    table: dict[str, Any] = {
        key: check[key]
        for key in ("uuid", "name", "slug", "tags", "desc", "grace", "methods", "manual_resume",
                    "start_kw", "success_kw", "failure_kw", "filter_default_fail")
        if key in check
    }  # fmt: skip
    table["filter_body"] = bool(check.get("filter_http_body", False))
    if "schedule" in check:
        table["schedule"], table["tz"] = check["schedule"], check.get("tz", "UTC")
    else:
        table["timeout"] = check.get("timeout", 86400)
    table["paused"] = check.get("status") == "paused"
    links = []
    for channel_uuid in filter(None, str(check.get("channels", "")).split(",")):
        name = channel_names.get(channel_uuid, channel_uuid)
        if name in pingd_channels:
            links.append(name)
        else:
            skipped.append(f"check {check.get('name')!r}: its channel {name!r} is not in pingd "
                           "(add it, then import again to link it)")  # fmt: skip
    table["channels"] = links
    return table


def from_healthchecks(
    source: str, checks: list[dict[str, Any]], channels: list[dict[str, Any]],
    pingd_channels: set[str],
) -> Imported:  # fmt: skip
    """Map Healthchecks' ``checks/`` and ``channels/`` answers onto a declaration."""
    skipped = []
    for channel in channels:
        kind = KINDS.get(str(channel.get("kind")))
        if kind is None:
            where = "has no counterpart in pingd"
        elif channel.get("name") in pingd_channels:
            where = "kept as it is in pingd: Healthchecks' API does not show its settings"
        else:
            where = (f"not created: Healthchecks' API does not show its settings; add it to "
                     f"pingd as a {kind} channel named {channel.get('name')!r}")  # fmt: skip
        skipped.append(f"channel {channel.get('name')!r} ({channel.get('kind')}): {where}")
    names = {str(c.get("id")): str(c.get("name")) for c in channels}
    declared: list[DeclaredCheck] = []
    for index, check in enumerate(checks, start=1):
        if "uuid" not in check:
            raise DeclarationError(f"{source}: the checks have no UUIDs: the import needs a "
                                   "read-write API key")  # fmt: skip
        try:
            declared.append(check_from_table(source, index, _table(check, names, pingd_channels,
                                                                   skipped)))  # fmt: skip
        except DeclarationError as ex:
            skipped.append(f"check {check.get('name')!r} not imported: {ex}")
    return Imported(Declaration(tuple(declared), (), False, (source,)), skipped)
