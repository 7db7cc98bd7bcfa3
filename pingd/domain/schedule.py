"""A check's schedule for people: in words, and its next expected pings with DST flagged.

Pure functions of a schedule, a time zone and an explicit ``after``, so the
check page and the edit form's preview show the same list. Expected times
come from cronsim walking wall-clock time in the check's zone, exactly as
``pingd.domain.checks`` decides when a ping is due; each one that a change
of the clocks moves, skips, repeats or shifts in UTC carries a note.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import tzinfo
from typing import NamedTuple

from cronsim import CronSim

from pingd.domain.checks import Check
from pingd.domain.fields import validate_schedule
from pingd.errors import InvalidInput

PREVIEW_RUNS = 5
MAX_PREVIEW_RUNS = 50
_MAX_LISTED_TIMES = 3
_UNITS = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


class ExpectedRun(NamedTuple):
    """One time a schedule fires: aware, in the schedule's zone, and what DST does to it."""

    time: datetime
    note: str

    @property
    def utc(self) -> datetime:
        return self.time.astimezone(UTC)


def spell_duration(seconds: float) -> str:
    """Spell seconds in words: ``1 day``, ``2 hours 30 minutes``, ``1 minute 30 seconds``."""
    left = int(seconds)
    parts = []
    for unit, size in _UNITS:
        if left >= size:
            count, left = divmod(left, size)
            parts.append(f"{count} {unit}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 seconds"


def describe_schedule(check: Check) -> str:
    """Say a check's schedule in words: ``every 1 day, grace 1 hour`` or the cron line and zone."""
    if check.is_cron:
        period = f"{check.schedule} in {check.tz}"
    else:
        period = f"every {spell_duration(check.timeout)}"
    return f"{period}, grace {spell_duration(check.grace)}"


def expected_runs(
    schedule: str, tz: str, after: datetime, count: int = PREVIEW_RUNS
) -> list[ExpectedRun]:
    """Return the next ``count`` times a cron schedule fires after ``after``, with DST notes.

    Raises InvalidInput with the same per-field messages as the API when the
    schedule or zone is not valid. Fewer than ``count`` come back only for a
    schedule that fires that rarely (cronsim searches a bounded range).
    """
    problems = validate_schedule(schedule, tz)
    if problems:
        raise InvalidInput(problems)
    count = max(0, min(count, MAX_PREVIEW_RUNS))
    zone = zoneinfo.ZoneInfo(tz)
    # One more than asked, to tell whether a time of the repeated hour comes twice.
    runs = _runs_after(schedule, zone, after, count + 1)
    previous = after.astimezone(zone)
    notes = []
    for i, run in enumerate(runs[:count]):
        following = runs[i + 1] if i + 1 < len(runs) else None
        notes.append(ExpectedRun(run, _note(schedule, zone, previous, run, following)))
        previous = run
    return notes


def _runs_after(schedule: str, zone: tzinfo, after: datetime, count: int) -> list[datetime]:
    runs: list[datetime] = []
    # Inside the hour that repeats when DST ends, cronsim can answer a time of
    # the first pass, before ``after``: keep only the times truly after it.
    for candidate in CronSim(schedule, after.astimezone(zone)):
        if candidate.astimezone(UTC) > after.astimezone(UTC):
            runs.append(candidate)
            if len(runs) == count:
                break
    return runs


def _note(
    schedule: str, zone: tzinfo, previous: datetime, run: datetime, following: datetime | None
) -> str:
    """Say what a change of the clocks does to ``run``, or return ``""``."""
    wall = run.replace(tzinfo=None, fold=0)
    skipped = [t for t in _wall_matches(schedule, previous, wall) if not _exists(t, zone)]
    change = _offset(run) - _offset(previous)
    shift = spell_duration(abs(change.total_seconds()))
    if not _matches(schedule, wall):
        # cronsim moves a time that the clocks skip to the first one after the gap.
        lost = _times(skipped) if skipped else "the scheduled time"
        return (f"{lost} does not exist this day (clocks go forward {shift}),"
                f" so it runs at {run:%H:%M} {run:%Z} instead")  # fmt: skip
    if skipped:
        those = "that time" if len(skipped) == 1 else "those times"
        return (f"no run at {_times(skipped)} on {skipped[0]:%Y-%m-%d} before it: the clocks"
                f" skip {those} (they go forward {shift})")  # fmt: skip
    if _is_repeated(wall, zone):
        return _repeated_note(run, following, zone)
    if change:
        way, utc_way = ("forward", "earlier") if change > timedelta() else ("back", "later")
        return (f"the first run after the clocks go {way} {shift}: now {run:%Z}"
                f" ({_utc_offset(run)}), so {shift} {utc_way} in UTC")  # fmt: skip
    return ""


def _repeated_note(run: datetime, following: datetime | None, zone: tzinfo) -> str:
    wall = run.replace(tzinfo=None, fold=0)
    back = _offset(wall.replace(tzinfo=zone, fold=0)) - _offset(wall.replace(tzinfo=zone, fold=1))
    twice = f"{run:%H:%M} comes twice this day (clocks go back {spell_duration(back.seconds)})"
    at = f"{run:%H:%M} {run:%Z} ({run.astimezone(UTC):%H:%M} UTC)"
    if run.fold == 1:
        return f"{twice}: this is the second, {at}"
    if following is not None and following.replace(tzinfo=None, fold=0) == wall:
        return f"{twice}: it runs at both; this is the first, {at}"
    return f"{twice}: it runs once, at the first, {at}"


def _times(walls: list[datetime]) -> str:
    if len(walls) > _MAX_LISTED_TIMES:
        return f"the {len(walls)} times from {walls[0]:%H:%M} to {walls[-1]:%H:%M}"
    return ", ".join(f"{wall:%H:%M}" for wall in walls)


def _offset(moment: datetime) -> timedelta:
    return moment.utcoffset() or timedelta()


def _utc_offset(moment: datetime) -> str:
    minutes = int(_offset(moment).total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _wall_matches(schedule: str, since: datetime, until: datetime) -> list[datetime]:
    """The wall-clock times after ``since`` and before ``until`` that the schedule names."""
    found = []
    for wall in CronSim(schedule, since.replace(tzinfo=None, fold=0)):
        if wall >= until:
            break
        found.append(wall)
    return found


def _matches(schedule: str, wall: datetime) -> bool:
    return next(CronSim(schedule, wall - timedelta(minutes=1)), None) == wall


def _exists(wall: datetime, zone: tzinfo) -> bool:
    """Tell whether a wall-clock time happens in the zone (not inside a spring-forward gap)."""
    there = wall.replace(tzinfo=zone)
    return there.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def _is_repeated(wall: datetime, zone: tzinfo) -> bool:
    """Tell whether a wall-clock time happens twice (inside the hour that repeats in autumn)."""
    return _offset(wall.replace(tzinfo=zone, fold=0)) != _offset(wall.replace(tzinfo=zone, fold=1))
