"""Writing checks and channels as a declaration file, as ``pingd export`` does.

Every channel becomes a ``[[channel]]`` whose secret settings are references
(``token_env = "PINGD_SECRET_…"``), never values; every check a ``[[check]]``
with its UUID (so that applying the file elsewhere keeps every ping URL), the
fields that differ from the defaults, its channels by name and ``paused``;
every maintenance window a ``[[window]]``, its check by name.
Applying the text to an empty database and exporting again gives the same
text. Pure; TOML is written by hand for the few types a declaration holds.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pingd.declared.plan import DEFAULTS
from pingd.declared.plan import State
from pingd.declared.plan import check_view
from pingd.declared.plan import window_view
from pingd.domain.alerts import Channel
from pingd.domain.checks import Check
from pingd.domain.checks import slugify
from pingd.domain.windows import Window

HEADER = "# Checks and channels, written by `pingd export`. Apply with `pingd apply`.\n"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def secret_variable(channel_name: str, setting: str) -> str:
    """The environment variable an exported channel's secret is read from."""
    stem = re.sub(r"[^A-Z0-9]+", "_", f"{channel_name}_{setting}".upper()).strip("_")
    return f"PINGD_SECRET_{stem}"


def toml_value(value: Any) -> str:
    """A TOML value for the types a declaration holds: text, integers, booleans, lists, tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        # A TOML basic string escapes as JSON does, and DEL too.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + pairs + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def _table(kind: str, pairs: list[tuple[str, Any]]) -> str:
    lines = [f"[[{kind}]]"] + [f"{_key(k)} = {toml_value(v)}" for k, v in pairs]
    return "\n".join(lines) + "\n"


def channel_table(channel: Channel, secrets: tuple[str, ...]) -> str:
    pairs: list[tuple[str, Any]] = [("name", channel.name), ("kind", channel.kind)]
    if channel.remind_every:
        pairs.append(("remind_every", channel.remind_every))
    if channel.notify_late:
        pairs.append(("notify_late", True))
    for key, value in sorted(channel.settings.items()):
        if key in secrets and value in ("", {}, None):
            continue  # an empty secret needs no reference: the default is empty too
        if key in secrets:
            pairs.append((f"{key}_env", secret_variable(channel.name, key)))
        else:
            pairs.append((key, value))
    return _table("channel", pairs)


def check_table(check: Check, channel_names: list[str]) -> str:
    view = check_view(check, channel_names)
    pairs: list[tuple[str, Any]] = [("uuid", check.uuid), ("name", check.name)]
    if check.slug != slugify(check.name):
        pairs.append(("slug", check.slug))
    for key, value in view.items():
        if key in ("name", "slug", "channels"):
            continue
        if key in ("schedule", "tz") or DEFAULTS.get(key) != value:
            pairs.append((key, value))
    if view["channels"]:
        pairs.append(("channels", view["channels"]))
    if check.status == "paused":
        pairs.append(("paused", True))
    return _table("check", pairs)


def window_table(window: Window, check_names: dict[int, str]) -> str:
    view = window_view(window, check_names)
    pairs = [(key, value) for key, value in view.items() if value not in (None, "")]
    return _table("window", pairs)


def export_text(state: State) -> str:
    """The whole declaration: channels first (checks name them), windows last."""
    names = {channel.id: channel.name for channel in state.channels}
    parts = [HEADER]
    channels = sorted(state.channels, key=_by_name)
    parts += [channel_table(channel, state.secret_fields(channel.kind)) for channel in channels]
    parts += [
        check_table(check, [names[i] for i in state.links.get(check.id, []) if i in names])
        for check in sorted(state.checks, key=lambda c: (c.name, c.uuid))
    ]
    check_names = {check.id: check.name for check in state.checks}
    parts += [window_table(window, check_names) for window in state.windows]
    return "\n".join(parts)


def _by_name(channel: Channel) -> str:
    return channel.name
