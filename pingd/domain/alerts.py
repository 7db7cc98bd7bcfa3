"""The functional core's alerts: channels, deliveries, what an alert says and when to retry.

Pure functions and frozen records, like all of ``pingd.domain``; sending is
``pingd.notify``'s, queueing the service's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from pingd.domain.checks import MAX_PERIOD_SECONDS
from pingd.domain.checks import MIN_PERIOD_SECONDS
from pingd.domain.checks import Check
from pingd.domain.checks import Flip
from pingd.domain.checks import Ping
from pingd.domain.checks import late_after

CHANNEL_KINDS = ("webhook", "email", "ntfy", "gotify", "discord", "slack", "telegram",
                 "pushover", "matrix", "apprise")  # fmt: skip
ALERT_BODY_TAIL_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Channel:
    id: int
    project_id: int
    kind: str
    name: str
    settings: dict[str, Any]
    created: datetime
    uuid: str = ""  # the id a Healthchecks client holds
    remind_every: int = 0  # repeat the down alert of every check it alerts; 0 = never
    notify_late: bool = False  # also tell it when a check turns late (enters its grace)


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    channel_id: int
    event: dict[str, Any]
    state: str
    attempts: int
    next_attempt: datetime | None
    last_error: str
    created: datetime


def notifies(flip: Flip) -> bool:
    """Tell whether a status change alerts anyone: going down, or coming back up."""
    return flip.new_status == "down" or (flip.old_status == "down" and flip.new_status == "up")


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).replace(microsecond=0).isoformat()


def alert_event(check: Check, flip: Flip, last_ping: Ping | None) -> dict[str, Any]:
    """Snapshot what an alert needs to say, so it survives the check's deletion.

    ``alert`` says which kind of alert it is: ``change`` (the check went down
    or came back up), ``reminder`` or ``late``.
    """
    body = b"" if last_ping is None else last_ping.body
    return {
        "alert": "change",
        "uuid": check.uuid,
        "name": check.name,
        "slug": check.slug,
        "tags": check.tags,
        "desc": check.desc,
        "status": flip.new_status,
        "old_status": flip.old_status,
        "reason": flip.reason,
        "exit_status": None if last_ping is None else last_ping.exit_status,
        "time": flip.created.astimezone(UTC).replace(microsecond=0).isoformat(),
        "last_ping": None
        if check.last_ping is None
        else check.last_ping.astimezone(UTC).replace(microsecond=0).isoformat(),
        "body": body.decode("utf-8", errors="replace")[-ALERT_BODY_TAIL_CHARS:],
        "streak": check.fail_streak if flip.new_status == "down" else check.success_streak,
    }


def reminder_event(
    check: Check, last_ping: Ping | None, down_since: datetime, count: int, now: datetime
) -> dict[str, Any]:
    """Snapshot a reminder: the check is still down, the ``count``-th time it is said."""
    flip = Flip(check.id, now, "down", "down", "still down")
    return alert_event(check, flip, last_ping) | {
        "alert": "reminder",
        "reminder": count,
        "down_since": _iso(down_since),
        "down_for": int((now - down_since).total_seconds()),
    }


def late_event(check: Check, last_ping: Ping | None, now: datetime) -> dict[str, Any]:
    """Snapshot a late notice: the check's expected ping has not come, its grace has begun."""
    flip = Flip(check.id, now, check.status, "late", "late")
    return alert_event(check, flip, last_ping) | {
        "alert": "late",
        "expected": _iso(late_after(check)),
        "down_at": _iso(check.alert_after),
    }


def held_event(event: dict[str, Any], quiet_since: datetime | None) -> dict[str, Any]:
    """Mark an alert that a maintenance window held back, sent as the window ended."""
    return event | {"held": True, "held_since": _iso(quiet_since)}


def validate_channel_policy(data: dict[str, Any]) -> dict[str, str]:
    """Return problems with a channel's alert policy: ``remind_every`` and ``notify_late``."""
    problems: dict[str, str] = {}
    remind = data.get("remind_every", 0)
    if isinstance(remind, bool) or not isinstance(remind, int):
        problems["remind_every"] = "must be an integer number of seconds"
    elif remind and not MIN_PERIOD_SECONDS <= remind <= MAX_PERIOD_SECONDS:
        problems["remind_every"] = (
            f"must be 0 (none) or between {MIN_PERIOD_SECONDS} and {MAX_PERIOD_SECONDS} seconds"
        )
    elif remind < 0:
        problems["remind_every"] = "must be 0 (none) or a number of seconds"
    if not isinstance(data.get("notify_late", False), bool):
        problems["notify_late"] = "must be true or false"
    return problems


FLIP_HISTORY_DAYS = 90
DELIVERY_HISTORY_DAYS = 30
DELIVERY_MAX_ATTEMPTS = 8
DELIVERY_FIRST_RETRY_SECONDS = 5
DELIVERY_MAX_DELAY_SECONDS = 3600


def retry_delay(attempts: int) -> timedelta:
    """Return how long to wait after the given number of failed attempts (5 s, 10 s, …)."""
    seconds = DELIVERY_FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, DELIVERY_MAX_DELAY_SECONDS))
