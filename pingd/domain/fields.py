"""The functional core's rules for a check's fields that people type: durations, names, schedules.

Pure functions, shared by the API's input rules, the CLI, the dashboard and
the config files.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime

from cronsim import CronSim
from cronsim import CronSimError

from pingd.domain.checks import MAX_NAME_LENGTH
from pingd.domain.checks import MAX_PERIOD_SECONDS
from pingd.domain.checks import MIN_PERIOD_SECONDS

_DURATION_RE = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """Parse ``90s``, ``15m``, ``2h``, ``1d``, ``1w`` or plain seconds into seconds."""
    match = _DURATION_RE.match(text.lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 2h, 1d, 1w or seconds")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """Render seconds compactly for people, e.g. ``1d``, ``90m``, ``2h 30m``."""
    seconds = int(seconds)
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts) or "0s"


def validate_schedule(schedule: str, tz: str) -> dict[str, str]:
    """Return per-field problems with a cron expression and time zone."""
    problems: dict[str, str] = {}
    try:
        zone = zoneinfo.ZoneInfo(tz)
    except (
        zoneinfo.ZoneInfoNotFoundError,
        ValueError,
        OSError,
    ):  # OSError: a name too long for a file
        problems["tz"] = f"{tz!r} is not a known IANA time zone"
        zone = zoneinfo.ZoneInfo("UTC")
    if len(schedule.split()) != 5:
        problems["schedule"] = "must be a cron expression with 5 fields"
        return problems
    try:
        next(CronSim(schedule, datetime(2000, 1, 1, tzinfo=zone)))
    except (CronSimError, StopIteration, ValueError):
        problems["schedule"] = f"{schedule!r} is not a valid cron expression"
    return problems


def validate_period(field: str, seconds: int) -> dict[str, str]:
    """Return a problem if a timeout or grace lies outside 60 s … 365 days."""
    if seconds < MIN_PERIOD_SECONDS:
        return {field: f"{field} is too small (minimum {MIN_PERIOD_SECONDS} seconds)"}
    if seconds > MAX_PERIOD_SECONDS:
        return {field: f"{field} is too large (maximum {MAX_PERIOD_SECONDS} seconds)"}
    return {}


def validate_name(name: str) -> dict[str, str]:
    """Return a problem if a check name is too long."""
    if len(name) > MAX_NAME_LENGTH:
        return {"name": f"name is too long (maximum {MAX_NAME_LENGTH} characters)"}
    return {}
