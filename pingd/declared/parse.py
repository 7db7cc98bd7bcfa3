"""Reading declared checks and channels: ``[[check]]`` and ``[[channel]]`` in the config files.

``pingd.toml`` (and the files its ``include`` globs name, relative to it) may
hold ``[[channel]]``, ``[[check]]`` and ``[[window]]`` (maintenance windows)
tables and a top-level ``prune``. A
check takes every field the API takes, durations in pingd's syntax (``90s``,
``15m``, ``2h``, ``1d``, ``1w`` or seconds), tags as a string or a list, its
channels by name (or ``"*"``), and ``paused``; a channel takes its kind, name
and settings, where any setting may instead be read from a file
(``token_file = …``) or an environment variable (``token_env = …``), so that
the file can be committed. Every mistake raises ``DeclarationError`` naming
the file, the table and the field. Pure but for reading those files and
variables; the rules of what a check may be are the domain's.
"""

from __future__ import annotations

import glob
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pingd.domain.alerts import validate_channel_policy
from pingd.domain.check_input import normalize_check_input
from pingd.domain.check_input import validate_check_input
from pingd.domain.fields import parse_duration
from pingd.domain.windows import validate_window_input
from pingd.errors import DeclarationError

CHECK_KEYS = ("uuid", "name", "slug", "tags", "desc", "timeout", "grace", "schedule", "tz",
              "methods", "manual_resume", "filter_body", "filter_default_fail", "success_kw",
              "failure_kw", "start_kw", "channels", "paused", "failure_threshold",
              "success_threshold", "remind_every", "start_window")  # fmt: skip
_DURATION_KEYS = ("timeout", "grace", "remind_every", "start_window")
SETTINGS_SECTIONS = ("server", "storage", "api", "limits", "alerts", "smtp")
_UUID_CHARS = set("0123456789abcdef-")


@dataclass(frozen=True, slots=True)
class DeclaredCheck:
    where: str  # e.g. 'checks.d/web.toml: [[check]] 2 ("Backup")'
    uuid: str | None
    name: str
    fields: dict[str, Any]  # pingd's check fields, validated by the domain's rules
    channels: tuple[str, ...] | str  # channel names, or "*" for all
    paused: bool


@dataclass(frozen=True, slots=True)
class DeclaredChannel:
    where: str
    uuid: str | None
    name: str
    kind: str
    settings: dict[str, Any]  # secrets read from their files and variables
    remind_every: int = 0
    notify_late: bool = False


@dataclass(frozen=True, slots=True)
class DeclaredWindow:
    where: str
    check: str | None  # the name or uuid of a declared or stored check
    fields: dict[str, Any]  # the API's window fields but ``check``, validated


@dataclass(frozen=True, slots=True)
class Declaration:
    checks: tuple[DeclaredCheck, ...]
    channels: tuple[DeclaredChannel, ...]
    prune: bool
    files: tuple[str, ...]
    windows: tuple[DeclaredWindow, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.checks and not self.channels and not self.prune and not self.windows


def load_declaration(path: str | Path, environ: Mapping[str, str] | None = None) -> Declaration:
    """Read the checks and channels that a config file and its includes declare."""
    environ = os.environ if environ is None else environ
    main = Path(path)
    data = _read(main)
    includes = data.get("include", [])
    if not isinstance(includes, list) or not all(isinstance(p, str) for p in includes):
        raise DeclarationError(f"{main}: include must be a list of file patterns")
    prune = data.get("prune", False)
    if not isinstance(prune, bool):
        raise DeclarationError(f"{main}: prune must be true or false")
    files = [(main, data)]
    for pattern in includes:
        for name in sorted(glob.glob(str(main.parent / pattern))):
            included = _read(Path(name))
            extra = sorted(set(included) - {"check", "channel", "window"})
            if extra:
                raise DeclarationError(
                    f"{name}: an included file holds only [[check]], [[channel]] and"
                    f" [[window]] tables, not {extra[0]}"
                )
            files.append((Path(name), included))
    checks: list[DeclaredCheck] = []
    channels: list[DeclaredChannel] = []
    windows: list[DeclaredWindow] = []
    for file, content in files:
        channels += [_channel(file, i, t, environ) for i, t in _tables(file, content, "channel")]
        checks += [_check(file, i, t) for i, t in _tables(file, content, "check")]
        windows += [_window(file, i, t) for i, t in _tables(file, content, "window")]
    _unique(checks, "check")
    _unique(channels, "channel")
    known = {channel.name for channel in channels}
    for check in checks:
        for name in check.channels if isinstance(check.channels, tuple) else ():
            if name not in known:
                raise DeclarationError(f"{check.where}: channels: no [[channel]] is named {name!r}")
    files_read = tuple(str(f) for f, _ in files)
    return Declaration(tuple(checks), tuple(channels), prune, files_read, tuple(windows))


def check_from_table(source: str, index: int, table: dict[str, Any]) -> DeclaredCheck:
    """Read one check given as a table from elsewhere (an import): the same rules as a file's."""
    return _check(Path(source), index, table)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as ex:
        raise DeclarationError(f"{path}: {ex.strerror or ex}") from None
    except tomllib.TOMLDecodeError as ex:
        raise DeclarationError(f"{path}: {ex}") from None


def _tables(file: Path, data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    tables = data.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise DeclarationError(f"{file}: {key} must be [[{key}]] tables")
    return list(enumerate(tables, start=1))


def _where(file: Path, kind: str, index: int, table: dict[str, Any]) -> str:
    name = table.get("name")
    shown = f" ({name!r})" if isinstance(name, str) and name else ""
    return f"{file}: [[{kind}]] {index}{shown}"


def _uuid(where: str, table: dict[str, Any]) -> str | None:
    value = table.get("uuid")
    if value is None:
        return None
    text = value.lower() if isinstance(value, str) else ""
    if len(text) != 36 or not set(text) <= _UUID_CHARS or text.count("-") != 4:
        raise DeclarationError(f"{where}: uuid: must be a UUID such as a ping URL holds")
    return text


def _check(file: Path, index: int, table: dict[str, Any]) -> DeclaredCheck:
    where = _where(file, "check", index, table)
    unknown = sorted(set(table) - set(CHECK_KEYS))
    if unknown:
        raise DeclarationError(f"{where}: {unknown[0]}: unknown field")
    uuid = _uuid(where, table)
    fields = {k: v for k, v in table.items() if k not in ("uuid", "channels", "paused")}
    if isinstance(fields.get("tags"), list):
        if not all(isinstance(tag, str) for tag in fields["tags"]):
            raise DeclarationError(f"{where}: tags: must be a string or a list of strings")
        fields["tags"] = " ".join(fields["tags"])
    for period in _DURATION_KEYS:
        if isinstance(fields.get(period), str):
            fields[period] = _duration(where, period, fields[period])
    fields = normalize_check_input(fields)
    problems = validate_check_input(fields)
    if problems:
        field, problem = next(iter(problems.items()))
        raise DeclarationError(f"{where}: {field}: {problem}")
    name = fields.get("name", "")
    if not name and uuid is None:
        raise DeclarationError(f"{where}: name: a check needs a name (or a uuid)")
    paused = table.get("paused", False)
    if not isinstance(paused, bool):
        raise DeclarationError(f"{where}: paused: must be true or false")
    return DeclaredCheck(where, uuid, name, fields, _channel_names(where, table), paused)


def _channel_names(where: str, table: dict[str, Any]) -> tuple[str, ...] | str:
    value = table.get("channels", [])
    if value == "*":
        return "*"
    if not isinstance(value, list) or not all(isinstance(n, str) and n for n in value):
        raise DeclarationError(f'{where}: channels: must be a list of channel names, or "*"')
    return tuple(dict.fromkeys(value))


def _channel(
    file: Path, index: int, table: dict[str, Any], environ: Mapping[str, str]
) -> DeclaredChannel:
    where = _where(file, "channel", index, table)
    name, kind = table.get("name"), table.get("kind")
    if not isinstance(name, str) or not name:
        raise DeclarationError(f"{where}: name: a channel needs a name")
    if not isinstance(kind, str) or not kind:
        raise DeclarationError(f"{where}: kind: a channel needs a kind")
    remind = table.get("remind_every", 0)
    remind = _duration(where, "remind_every", remind) if isinstance(remind, str) else remind
    policy = {"remind_every": remind, "notify_late": table.get("notify_late", False)}
    problems = validate_channel_policy(policy)
    if problems:
        field, problem = next(iter(problems.items()))
        raise DeclarationError(f"{where}: {field}: {problem}")
    settings: dict[str, Any] = {}
    for key, value in table.items():
        if key in ("name", "kind", "uuid", "remind_every", "notify_late"):
            continue
        if key.endswith("_file") or key.endswith("_env"):
            setting, _, source = key.rpartition("_")
            settings[setting] = _secret(where, key, value, source, environ)
        else:
            settings[key] = value
    return DeclaredChannel(where, _uuid(where, table), name, kind, settings, remind,
                           policy["notify_late"])  # fmt: skip


def _duration(where: str, key: str, text: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as ex:
        raise DeclarationError(f"{where}: {key}: {ex}") from None


def _window(file: Path, index: int, table: dict[str, Any]) -> DeclaredWindow:
    """Read a ``[[window]]``: the API's fields, a duration in pingd's syntax, TOML times too."""
    where = _where(file, "window", index, table)
    fields = dict(table)
    if isinstance(fields.get("duration"), str):
        fields["duration"] = _duration(where, "duration", fields["duration"])
    for key in ("starts", "ends"):
        if isinstance(fields.get(key), datetime):
            fields[key] = fields[key].isoformat()
    problems = validate_window_input(fields)
    if problems:
        field, problem = next(iter(problems.items()))
        raise DeclarationError(f"{where}: {field}: {problem}")
    check = fields.pop("check", None) or None
    return DeclaredWindow(where, check, fields)


def _secret(where: str, key: str, value: Any, source: str, environ: Mapping[str, str]) -> Any:
    """Read a secret setting from its variable or file; a JSON object (headers) is parsed."""
    if not isinstance(value, str) or not value:
        raise DeclarationError(f"{where}: {key}: must name a {source}")
    if source == "env":
        if value not in environ:
            raise DeclarationError(f"{where}: {key}: the environment variable {value} is not set")
        text = environ[value]
    else:
        try:
            text = Path(value).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as ex:
            raise DeclarationError(f"{where}: {key}: cannot read {value}: {ex.strerror}") from None
    if text.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            raise DeclarationError(
                f"{where}: {key}: holds a JSON object that does not parse"
            ) from None
    return text


def _unique(items: list[DeclaredCheck] | list[DeclaredChannel], kind: str) -> None:
    seen: dict[str, str] = {}
    for item in items:
        key = item.uuid or f"name:{item.name}"
        if key in seen:
            what = f"uuid {item.uuid}" if item.uuid else f"the name {item.name!r}"
            raise DeclarationError(f"{item.where}: two [[{kind}]] tables have {what} "
                                   f"(the other: {seen[key]})")  # fmt: skip
        seen[key] = item.where
