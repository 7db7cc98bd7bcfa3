"""The functional core's checks, with their pings and flips, and every decision about them.

Everything here is a pure function of its arguments and an explicit ``now``;
nothing knows that Falcon or SQLite exist. The service layer loads state,
calls these functions and stores what they return. The other modules of
``pingd.domain`` (management input, alerts) build on this one.
"""

from __future__ import annotations

import dataclasses
import operator
import re
import unicodedata
import zlib
import zoneinfo
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from cronsim import CronSim

DEFAULT_TIMEOUT_SECONDS = 86400
DEFAULT_GRACE_SECONDS = 3600
MIN_PERIOD_SECONDS = 60
MAX_PERIOD_SECONDS = 31536000
MAX_NAME_LENGTH = 100
MAX_UA_LENGTH = 200

MAX_THRESHOLD = 100
# A ping identical to the check's previous one (kind, exit status, rid,
# method, address and body) within this many seconds is a client's retry
# (curl --retry, runitor): stored and marked, but it changes nothing.
REPEAT_WINDOW_SECONDS = 30
_REPEAT_WINDOW = timedelta(seconds=REPEAT_WINDOW_SECONDS)

STORED_STATUSES = ("new", "up", "down", "paused")
PING_KINDS = ("success", "start", "fail", "log", "ign")
URL_ACTIONS = ("success", "start", "fail", "log")


@dataclass(frozen=True, slots=True)
class Check:
    id: int
    project_id: int
    uuid: str
    name: str
    slug: str
    created: datetime
    tags: str = ""
    desc: str = ""
    timeout: int = DEFAULT_TIMEOUT_SECONDS
    grace: int = DEFAULT_GRACE_SECONDS
    schedule: str = ""
    tz: str = "UTC"
    methods: str = ""
    manual_resume: bool = False
    filter_body: bool = False
    filter_default_fail: bool = False
    success_kw: str = ""
    failure_kw: str = ""
    start_kw: str = ""
    status: str = "new"
    n_pings: int = 0
    last_ping: datetime | None = None
    last_start: datetime | None = None
    last_start_rid: str | None = None
    last_duration: float | None = None
    alert_after: datetime | None = None
    failure_threshold: int = 1
    success_threshold: int = 1
    remind_every: int = 0
    start_window: int = 0
    fail_streak: int = 0
    success_streak: int = 0
    last_digest: str = ""

    @property
    def is_cron(self) -> bool:
        return bool(self.schedule)


_CHECK_FIELDS = tuple(field.name for field in dataclasses.fields(Check))
_CHECK_VALUES = operator.attrgetter(*_CHECK_FIELDS)
_CHECK_POSITIONS = {name: i for i, name in enumerate(_CHECK_FIELDS)}


def _evolve(check: Check, changes: dict[str, Any]) -> Check:
    """``dataclasses.replace`` for the ping path, about three times faster."""
    values = list(_CHECK_VALUES(check))
    for name, value in changes.items():
        values[_CHECK_POSITIONS[name]] = value
    return Check(*values)


@dataclass(frozen=True, slots=True)
class Ping:
    check_id: int
    n: int
    created: datetime
    kind: str
    exit_status: int | None
    rid: str | None
    scheme: str
    method: str
    remote_addr: str
    ua: str
    body: bytes
    body_size: int
    repeat: bool = False


@dataclass(frozen=True, slots=True)
class Flip:
    check_id: int
    created: datetime
    old_status: str
    new_status: str
    reason: str


@dataclass(frozen=True, slots=True)
class PingOutcome:
    """What one ping does: the updated check, the stored ping and any flips."""

    check: Check
    ping: Ping
    flips: tuple[Flip, ...]


def slugify(name: str) -> str:
    """Turn a check name into its slug, exactly as Django's slugify does."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text.lower())
    return re.sub(r"[-\s]+", "-", text).strip("-_")


def next_expected_ping(check: Check) -> datetime | None:
    """Return when the next ping is due, or None if no ping is expected."""
    return _next_expected(check, check.last_ping)


def _next_expected(check: Check, last_ping: datetime | None) -> datetime | None:
    if last_ping is None:
        return None
    if not check.is_cron:
        return last_ping + timedelta(seconds=check.timeout)
    zone = zoneinfo.ZoneInfo(check.tz)
    # cronsim walks wall-clock time in the check's zone, so a 02:30 job is due
    # at the right instant on both sides of a DST change.
    local = last_ping.astimezone(zone)
    # cronsim compares wall-clock times, so for a ping inside the hour that
    # repeats when DST ends it can return the first pass of that hour, which
    # is before the ping; skip to the first match truly after it. cronsim
    # itself stops after a bounded search (an expression like 30 Feb).
    for candidate in CronSim(check.schedule, local):
        if candidate > last_ping:
            return candidate.astimezone(UTC)
    return None


def down_after(check: Check) -> datetime | None:
    """Return the instant at which the check goes down unless it is pinged."""
    return _down_after(check, check.status, check.last_ping, check.last_start)


def late_after(check: Check) -> datetime | None:
    """Return when an up check waiting for its ping turns late (enters its grace), if it will.

    That is its expected time: the deadline less the wait after it.
    """
    if check.status != "up" or check.last_start is not None or check.alert_after is None:
        return None
    return check.alert_after - timedelta(seconds=_wait_after_expected(check))


def _down_after(
    check: Check, status: str, last_ping: datetime | None, last_start: datetime | None
) -> datetime | None:
    """``down_after`` for the check with this state, without building it.

    A run that started has its grace to finish. Otherwise the check goes
    down ``grace`` after the expected time, or, with a start window shorter
    than the grace, when no start came within that window.
    """
    if status == "down":
        return None
    if last_start is not None:
        return last_start + timedelta(seconds=check.grace)
    if status in ("new", "paused"):
        return None
    expected = _next_expected(check, last_ping)
    if expected is None:
        return None
    return expected + timedelta(seconds=_wait_after_expected(check))


def _wait_after_expected(check: Check) -> int:
    if 0 < check.start_window < check.grace:
        return check.start_window
    return check.grace


def status_at(check: Check, now: datetime) -> str:
    """Compute the status a person sees at ``now``."""
    if check.last_start is not None:
        if now >= check.last_start + timedelta(seconds=check.grace):
            return "down"
        return "started"
    if check.status in ("new", "paused", "down"):
        return check.status
    expected = next_expected_ping(check)
    if expected is None:
        return check.status
    if now >= expected + timedelta(seconds=_wait_after_expected(check)):
        return "down"
    if now >= expected:
        return "grace"
    return "up"


def _keywords(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


def _kind_from_body(check: Check, body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    for keywords, kind in (
        (check.failure_kw, "fail"),
        (check.success_kw, "success"),
        (check.start_kw, "start"),
    ):
        if any(word in text for word in _keywords(keywords)):
            return kind
    return "fail" if check.filter_default_fail else "ign"


def decide_kind(
    check: Check, action: str, exit_status: int | None, method: str, body: bytes
) -> str:
    """Decide what kind of ping this request is, from the URL, method and body."""
    if check.status == "paused" and check.manual_resume:
        return "ign"
    if check.methods == "POST" and method != "POST":
        return "ign"
    if check.filter_body:
        return _kind_from_body(check, body)
    if exit_status is not None and exit_status > 0:
        return "fail"
    return action


def _flip(check: Check, new_status: str, when: datetime, reason: str) -> Flip:
    return Flip(check.id, when, check.status, new_status, reason)


def ping_digest(ping: Ping) -> str:
    """Return what identifies a ping as the same request again (a client's retry).

    The body counts by its length and CRC-32: cheap on the ping path, and two
    different bodies from one client within seconds that collide are not a
    worry worth a slower hash.
    """
    return (f"{ping.kind}|{ping.exit_status}|{ping.rid}|{ping.method}|{ping.remote_addr}|"
            f"{ping.body_size}|{zlib.crc32(ping.body):08x}")  # fmt: skip


def is_repeat(check: Check, digest: str, kind: str, now: datetime) -> bool:
    """Tell whether a ping with this digest repeats the check's last one within the window.

    The last counted ping of a kind is the one that set ``last_start`` (a
    start) or ``last_ping`` (a success or fail), so its time is there.
    """
    if digest != check.last_digest:
        return False
    then = check.last_start if kind == "start" else check.last_ping
    return then is not None and now - then <= _REPEAT_WINDOW


def apply_ping(check: Check, ping: Ping, now: datetime, digest: str | None = None) -> PingOutcome:
    """Apply a ping of a decided kind to its check and return the outcome.

    A repeat (``ping.repeat``, a client's retry) and a ``log`` or ``ign``
    ping change no state. A start with the rid of the run already started
    keeps that run's start. Failures and successes count in streaks: a check
    goes down at its ``failure_threshold``-th failure in a row, and up again
    from down at its ``success_threshold``-th success in a row.
    """
    flips: list[Flip] = []
    changes: dict[str, Any] = {"n_pings": ping.n}
    status = check.status
    # A deadline that passed before this ping arrived is a real outage even if
    # the alert loop has not run yet: record it, dated when it happened, so the
    # down alert is never lost to a ping that wins the race.
    missed = overdue_flip(check, now)
    if missed is not None:
        flips.append(missed)
        status = changes["status"] = "down"
        changes["success_streak"] = 0
    kind = "ign" if ping.repeat else ping.kind
    if kind == "start":
        if ping.rid is None or check.last_start is None or ping.rid != check.last_start_rid:
            changes.update(last_start=now, last_start_rid=ping.rid)
    elif kind in ("success", "fail"):
        changes["last_ping"] = now
        if check.last_start is not None:
            if check.last_start_rid == ping.rid:
                changes["last_duration"] = max(0.0, (now - check.last_start).total_seconds())
                changes.update(last_start=None, last_start_rid=None)
            elif kind == "fail" or ping.rid is None:
                changes.update(last_start=None, last_start_rid=None)
        new_status = _counted_status(check, kind, status, changes)
        if new_status != status:
            reason = "fail" if new_status == "down" else ""
            flips.append(Flip(check.id, now, status, new_status, reason))
        changes["status"] = new_status
    if kind in ("start", "success", "fail"):
        changes["last_digest"] = digest or ping_digest(ping)
    if kind in ("log", "ign") and missed is None:
        # Nothing that decides the deadline changed.
        return PingOutcome(_evolve(check, changes), ping, ())
    # One copy of the check per ping (this is the hot path): the new deadline
    # is computed from the changed fields before the copy is made.
    changes["alert_after"] = _down_after(
        check,
        changes.get("status", status),
        changes.get("last_ping", check.last_ping),
        changes.get("last_start", check.last_start),
    )
    return PingOutcome(_evolve(check, changes), ping, tuple(flips))


def _counted_status(check: Check, kind: str, status: str, changes: dict[str, Any]) -> str:
    """Count a success or failure in its streak and return the status it leads to."""
    if kind == "success":
        streak = changes["success_streak"] = changes.get("success_streak", check.success_streak) + 1
        changes["fail_streak"] = 0
        if status == "down" and streak < check.success_threshold:
            return "down"
        return "up"
    streak = changes["fail_streak"] = check.fail_streak + 1
    changes["success_streak"] = 0
    if status == "down" or streak >= check.failure_threshold:
        return "down"
    return "up"


def overdue_flip(check: Check, now: datetime) -> Flip | None:
    """Return the flip for a check whose deadline has passed, if any.

    Its reason is ``not started`` when the deadline was the start window's,
    else ``timeout``.
    """
    if check.alert_after is None or now < check.alert_after or check.status == "down":
        return None
    if check.status == "paused" and check.last_start is None:
        return None
    reason = "timeout"
    if check.last_start is None and 0 < check.start_window < check.grace:
        reason = "not started"
    return _flip(check, "down", check.alert_after, reason)


def went_down(check: Check) -> Check:
    """Return the check turned down by its deadline: no deadlines, no success streak."""
    return dataclasses.replace(check, status="down", alert_after=None, success_streak=0)


def pair_durations(pings: list[Ping]) -> dict[int, float]:
    """Return the run duration of each success or fail ping that closes a start."""
    open_starts: dict[str | None, datetime] = {}
    durations: dict[int, float] = {}
    for ping in sorted(pings, key=lambda p: p.n):
        if ping.kind == "start":
            open_starts[ping.rid] = ping.created
        elif ping.kind in ("success", "fail") and ping.rid in open_starts:
            durations[ping.n] = max(0.0, (ping.created - open_starts.pop(ping.rid)).total_seconds())
    return durations
