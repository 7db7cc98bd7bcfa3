"""The plan that brings the database to what the files declare: create, change, drift, prune.

Pure: given the declaration, the checks and channels the database holds, and
what the last apply wrote for the ones the files manage, it says for each
what an apply does, and renders that as a diff. A declared check is matched
by its ``uuid`` when given, else by name; a channel likewise. One that the
files manage but that differs from what the last apply wrote was changed
outside the files: that is drift, and the files win. Checks and channels the
files do not declare are left alone, unless ``prune``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from pingd.declared.parse import Declaration
from pingd.declared.parse import DeclaredChannel
from pingd.declared.parse import DeclaredCheck
from pingd.domain.alerts import Channel
from pingd.domain.checks import DEFAULT_GRACE_SECONDS
from pingd.domain.checks import DEFAULT_TIMEOUT_SECONDS
from pingd.domain.checks import Check
from pingd.domain.checks import slugify
from pingd.domain.windows import Window
from pingd.domain.windows import parse_time
from pingd.errors import DeclarationError

CHECK_FIELDS = ("name", "slug", "tags", "desc", "timeout", "grace", "schedule", "tz", "methods",
                "manual_resume", "filter_body", "filter_default_fail", "success_kw",
                "failure_kw", "start_kw", "failure_threshold", "success_threshold",
                "remind_every", "start_window")  # fmt: skip
# What a check has when the file leaves a field out: the API's defaults.
DEFAULTS: dict[str, Any] = {"tags": "", "desc": "", "timeout": DEFAULT_TIMEOUT_SECONDS,
    "grace": DEFAULT_GRACE_SECONDS, "schedule": "", "tz": "UTC", "methods": "",
    "manual_resume": False, "filter_body": False, "filter_default_fail": False,
    "success_kw": "", "failure_kw": "", "start_kw": "", "failure_threshold": 1,
    "success_threshold": 1, "remind_every": 0, "start_window": 0}  # fmt: skip


@dataclass(frozen=True, slots=True)
class State:
    """What the database holds, as the plan needs it."""

    checks: list[Check]
    channels: list[Channel]
    links: dict[int, list[int]]  # check id -> channel ids
    applied_checks: dict[int, dict[str, Any]]  # managed check id -> what the last apply wrote
    applied_channels: dict[int, dict[str, Any]]
    secret_fields: Callable[[str], tuple[str, ...]]
    windows: list[Window] = field(default_factory=list)


@dataclass(slots=True)
class Step:
    """What an apply does to one check or channel."""

    what: str  # "check", "channel" or "window"
    action: str  # "create", "change", "unchanged", "delete", "keep"
    name: str
    target_id: int | None = None  # the existing row, if any
    declared: DeclaredCheck | DeclaredChannel | None = None
    desired: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (now, declared)
    drift: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (applied, now)
    pause: bool = False


def _view(fields: dict[str, Any], channel_names: list[str]) -> dict[str, Any]:
    """Declared fields as comparable values: a cron check has no timeout, a simple one no tz."""
    view = {name: fields[name] for name in CHECK_FIELDS}
    cron = bool(view["schedule"])
    view.pop("timeout" if cron else "schedule")
    if not cron:
        view.pop("tz")
    view["channels"] = sorted(channel_names)
    return view


def check_view(check: Check, channel_names: list[str]) -> dict[str, Any]:
    """A stored check's declared fields as comparable values."""
    return _view({name: getattr(check, name) for name in CHECK_FIELDS}, channel_names)


def desired_check(declared: DeclaredCheck, all_channels: list[str]) -> dict[str, Any]:
    """The fields a declared check asks for, with the defaults filled in."""
    fields = {**DEFAULTS, **declared.fields, "name": declared.name}
    if "slug" not in declared.fields:
        fields["slug"] = slugify(declared.name)
    channels = all_channels if declared.channels == "*" else list(declared.channels)
    return _view(fields, channels)


def digest(value: Any) -> str:
    """A secret as it may be kept and compared: its SHA-256, never the value."""
    return "sha256:" + hashlib.sha256(json.dumps(value).encode("utf-8")).hexdigest()


def channel_view(
    kind: str, name: str, settings: dict[str, Any], secrets: tuple[str, ...],
    policy: tuple[int, bool] = (0, False),
) -> dict[str, Any]:  # fmt: skip
    """A channel as comparable values, its secrets as digests; ``policy``: reminders, late."""
    shown = {key: digest(value) if key in secrets else value for key, value in settings.items()}
    view = {"kind": kind, "name": name, "settings": shown}
    return view | {"remind_every": policy[0], "notify_late": policy[1]}


def window_view(window: Window, check_names: dict[int, str]) -> dict[str, Any]:
    """A stored window as comparable values, its check by name."""
    return _window_values(
        {"name": window.name, "tag": window.tag, "schedule": window.schedule, "tz": window.tz,
         "duration": window.duration, "starts": window.starts, "ends": window.ends},
        None if window.check_id is None else check_names.get(window.check_id, "?"),
    )  # fmt: skip


def _window_values(fields: dict[str, Any], check: str | None) -> dict[str, Any]:
    view: dict[str, Any] = {"name": fields.get("name", ""), "check": check}
    if fields.get("schedule"):
        view.update(schedule=fields["schedule"], tz=fields.get("tz", "UTC"),
                    duration=fields["duration"])  # fmt: skip
    else:
        for key in ("starts", "ends"):
            value = fields[key]
            when = value if isinstance(value, datetime) else parse_time(value)
            view[key] = None if when is None else when.isoformat()
    if not check:
        view["tag"] = fields.get("tag", "")
    return view


def make_plan(
    declaration: Declaration, state: State, cleaned: dict[str, dict[str, Any]]
) -> list[Step]:
    """Return the steps of an apply; ``cleaned``: each declared channel's validated settings."""
    steps = _channel_steps(declaration, state, cleaned)
    steps += _check_steps(declaration, state)
    steps += _window_steps(declaration, state)
    return steps


def _window_steps(declaration: Declaration, state: State) -> list[Step]:
    """Declared windows are matched by what they are: new ones created, gone ones deleted."""
    names = {check.id: check.name for check in state.checks}
    by_uuid = {check.uuid: check.name for check in state.checks}
    by_uuid |= {c.uuid: c.name for c in declaration.checks if c.uuid and c.name}
    stored = [(w, window_view(w, names)) for w in state.windows if w.declared]
    steps = []
    for declared in declaration.windows:
        check = None if declared.check is None else by_uuid.get(declared.check, declared.check)
        view = _window_values(declared.fields, check)
        label = view["name"] or f"for {check or view.get('tag')}"
        match = next((w for w, v in stored if v == view), None)
        if match is not None:
            stored = [(w, v) for w, v in stored if w.id != match.id]
        action = "create" if match is None else "unchanged"
        steps.append(Step("window", action, label, None if match is None else match.id,
                          None, view))  # fmt: skip
    for window, view in stored:
        steps.append(Step("window", "delete", view["name"] or f"{window.id}", window.id))
    return steps


def _match(declared: DeclaredCheck | DeclaredChannel, rows: list[Any], what: str) -> Any | None:
    if declared.uuid is not None:
        return next((row for row in rows if row.uuid == declared.uuid), None)
    named = [row for row in rows if row.name == declared.name]
    if len(named) > 1:
        raise DeclarationError(f"{declared.where}: {len(named)} {what}s in the database are named "
                               f"{declared.name!r}: give this one its uuid")  # fmt: skip
    return named[0] if named else None


def _compare(step: Step, now: dict[str, Any], applied: dict[str, Any] | None) -> None:
    step.changes = {k: (now.get(k), v) for k, v in step.desired.items() if now.get(k) != v}
    if applied is not None:
        # A field the last apply did not write (one a newer pingd added) is no drift.
        step.drift = {k: (applied.get(k), now.get(k)) for k in now
                      if k in applied and applied.get(k) != now.get(k)}  # fmt: skip
    step.action = "change" if step.changes else "unchanged"


def _channel_steps(
    declaration: Declaration, state: State, cleaned: dict[str, dict[str, Any]]
) -> list[Step]:
    steps: list[Step] = []
    matched: set[int] = set()
    for declared in declaration.channels:
        row = _match(declared, state.channels, "channel")
        secrets = state.secret_fields(declared.kind)
        desired = channel_view(declared.kind, declared.name, cleaned[declared.name], secrets)
        step = Step("channel", "create", declared.name, None, declared, desired)
        if row is not None:
            matched.add(row.id)
            step.target_id = row.id
            now = channel_view(row.kind, row.name, row.settings, state.secret_fields(row.kind),
                               (row.remind_every, row.notify_late))  # fmt: skip
            _compare(step, now, state.applied_channels.get(row.id))
        steps.append(step)
    steps += _leftovers("channel", state.channels, matched, state.applied_channels, declaration)
    return steps


def _check_steps(declaration: Declaration, state: State) -> list[Step]:
    names = {channel.id: channel.name for channel in state.channels}
    all_channels = sorted({c.name for c in state.channels} | {c.name for c in declaration.channels})
    steps: list[Step] = []
    matched: set[int] = set()
    for declared in declaration.checks:
        row = _match(declared, state.checks, "check")
        desired = desired_check(declared, all_channels)
        step = Step("check", "create", declared.name or str(declared.uuid), None, declared, desired)
        if row is not None:
            matched.add(row.id)
            step.target_id = row.id
            now = check_view(row, [names[i] for i in state.links.get(row.id, []) if i in names])
            _compare(step, now, state.applied_checks.get(row.id))
            step.pause = declared.paused and row.status != "paused"
        else:
            step.pause = declared.paused
        steps.append(step)
    steps += _leftovers("check", state.checks, matched, state.applied_checks, declaration)
    return steps


def _leftovers(
    what: str, rows: list[Any], matched: set[int], applied: dict[int, Any], declaration: Declaration
) -> list[Step]:
    steps = []
    for row in rows:
        if row.id in matched:
            continue
        if declaration.prune:
            steps.append(Step(what, "delete", row.name or row.uuid, row.id))
        elif row.id in applied:  # declared before, not now
            steps.append(Step(what, "keep", row.name or row.uuid, row.id))
    return steps


def render_plan(steps: list[Step]) -> str:
    """The plan as a diff: + create, ~ change (! drift), - delete, = unchanged (counted)."""
    lines = []
    unchanged = {"check": 0, "channel": 0, "window": 0}
    for step in steps:
        label = f"{step.what} {step.name!r}"
        if step.action == "create":
            lines.append(f"+ {label}" + (" (paused)" if step.pause else ""))
        elif step.action == "delete":
            why = "no longer declared" if step.what == "window" else "prune = true"
            lines.append(f"- {label} ({why})")
        elif step.action == "keep":
            lines.append(f"  {label} is no longer declared: kept (prune = true deletes it)")
        elif step.action == "change":
            lines.append(
                f"~ {label}: " + ", ".join(_shown(k, a, b) for k, (a, b) in step.changes.items())
            )
        else:
            unchanged[step.what] += 1
        if step.drift:
            drifted = ", ".join(_shown(k, a, b) for k, (a, b) in step.drift.items())
            lines.append(f"! {label} was changed outside the files ({drifted}); the files win")
        if step.pause and step.action != "create":
            lines.append(f"~ {label}: paused")
    for what, count in unchanged.items():
        if count:
            lines.append(f"= {count} {what}{'s' if count > 1 else ''} unchanged")
    return "\n".join(lines) if lines else "nothing declared"


def _shown(key: str, before: Any, after: Any) -> str:
    if key == "settings":
        changed = sorted(k for k in set(before or {}) | set(after or {})
                         if (before or {}).get(k) != (after or {}).get(k))  # fmt: skip
        return "settings " + ", ".join(changed)
    return f"{key} {json.dumps(before)} -> {json.dumps(after)}"
