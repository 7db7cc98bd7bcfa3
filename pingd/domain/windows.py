"""The functional core's maintenance windows: when a check is quiet, and the rules of a window.

A window names a check or a tag, and is either recurring (a cron
expression, a time zone and a duration) or one-off (from, until). While a
window covers a check its pings are recorded and its status computed as
usual, but nobody is alerted (the service holds the alert back and settles it
when the window ends). Pure functions taking an explicit ``now``, like all of
``pingd.domain``.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from cronsim import CronSim

from pingd.domain.checks import MAX_NAME_LENGTH
from pingd.domain.checks import MAX_PERIOD_SECONDS
from pingd.domain.checks import Check
from pingd.domain.fields import validate_schedule

MAX_WINDOW_SECONDS = MAX_PERIOD_SECONDS
WINDOW_FIELDS = ("name", "check", "tag", "schedule", "tz", "duration", "starts", "ends")
# Windows that follow each other without a gap make one quiet spell; this
# bounds how many are followed (and cronsim's search) when finding its end.
_MAX_CHAINED = 20


@dataclass(frozen=True, slots=True)
class Window:
    id: int
    project_id: int
    check_id: int | None  # None: every check with ``tag``
    tag: str
    name: str
    schedule: str  # recurring: a cron expression in ``tz``, lasting ``duration`` seconds
    tz: str
    duration: int
    starts: datetime | None  # one-off: from ``starts`` until ``ends``
    ends: datetime | None
    created: datetime
    declared: bool = False  # from the config files, replaced by each apply

    @property
    def recurring(self) -> bool:
        return bool(self.schedule)


def window_applies(window: Window, check: Check) -> bool:
    """Tell whether a window covers a check (by its id, or by one of its tags)."""
    if window.check_id is not None:
        return window.check_id == check.id
    return window.tag in check.tags.split()


def occurrence_at(window: Window, now: datetime) -> tuple[datetime, datetime] | None:
    """Return the (start, end) of the window's occurrence in effect at ``now``, if any."""
    if not window.recurring:
        assert window.starts is not None and window.ends is not None
        return (window.starts, window.ends) if window.starts <= now < window.ends else None
    begin = now - timedelta(seconds=window.duration)
    start = _next_start(window, begin)
    if start is not None and start <= now:
        return start, start + timedelta(seconds=window.duration)
    return None


def next_occurrence(window: Window, now: datetime) -> tuple[datetime, datetime] | None:
    """Return the occurrence in effect at ``now``, else the next one, else None (one-off, past)."""
    current = occurrence_at(window, now)
    if current is not None or not window.recurring:
        if current is None and window.starts is not None and window.starts > now:
            assert window.ends is not None
            return window.starts, window.ends
        return current
    start = _next_start(window, now)
    return None if start is None else (start, start + timedelta(seconds=window.duration))


def _next_start(window: Window, after: datetime) -> datetime | None:
    """Return the first start of a recurring window strictly after ``after``."""
    zone = zoneinfo.ZoneInfo(window.tz)
    # As for cron checks: walk wall-clock time in the window's zone, and skip
    # a pass of the hour that repeats when DST ends that lies before ``after``.
    for candidate in CronSim(window.schedule, after.astimezone(zone)):
        if candidate > after:
            return candidate.astimezone(UTC)
    return None


def quiet_until(windows: list[Window], check: Check, now: datetime) -> datetime | None:
    """Return when the windows covering a check at ``now`` end (chained ones too), or None."""
    mine = [window for window in windows if window_applies(window, check)]
    end: datetime | None = None
    at = now
    for _ in range(_MAX_CHAINED):
        ends = [span[1] for window in mine if (span := occurrence_at(window, at)) is not None]
        if not ends or (end is not None and max(ends) <= end):
            break
        end = at = max(ends)
    return end


def parse_time(text: Any) -> datetime | None:
    """Parse an ISO 8601 time with its offset (``Z`` or ``+01:00``); None if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return None if value.tzinfo is None else value.astimezone(UTC)


def validate_window_input(data: dict[str, Any]) -> dict[str, str]:
    """Return per-field problems with a window from the API: what it covers, and when."""
    problems = {field: "unknown field" for field in data if field not in WINDOW_FIELDS}
    for field in ("name", "check", "tag", "schedule", "tz"):
        if field in data and not isinstance(data[field], str):
            problems[field] = "must be a string"
    if problems:
        return problems
    if len(data.get("name", "")) > MAX_NAME_LENGTH:
        problems["name"] = f"is too long (maximum {MAX_NAME_LENGTH} characters)"
    if bool(data.get("check")) == bool(data.get("tag")):
        problems["check"] = "give either check (a check's UUID) or tag (every check with it)"
    elif data.get("tag") and len(data["tag"].split()) != 1:
        problems["tag"] = "must be one tag"
    if data.get("schedule"):
        problems |= _recurring_problems(data)
    else:
        problems |= _one_off_problems(data)
    return problems


def _recurring_problems(data: dict[str, Any]) -> dict[str, str]:
    problems = validate_schedule(data["schedule"], data.get("tz", "UTC"))
    for field in ("starts", "ends"):
        if field in data:
            problems[field] = "give either schedule and duration, or starts and ends"
    duration = data.get("duration")
    if isinstance(duration, bool) or not isinstance(duration, int):
        problems["duration"] = "must be an integer number of seconds"
    elif not 60 <= duration <= MAX_WINDOW_SECONDS:
        problems["duration"] = f"must be between 60 and {MAX_WINDOW_SECONDS} seconds"
    return problems


def _one_off_problems(data: dict[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for field in ("duration", "tz"):
        if field in data:
            problems[field] = "applies only to a recurring window (with schedule)"
    starts, ends = parse_time(data.get("starts")), parse_time(data.get("ends"))
    for field, value in (("starts", starts), ("ends", ends)):
        if value is None:
            problems[field] = "must be an ISO 8601 time with its offset, e.g. 2026-12-24T18:00Z"
    if starts is not None and ends is not None and ends <= starts:
        problems["ends"] = "must be after starts"
    return problems
