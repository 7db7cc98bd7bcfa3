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

from pingd.domain.checks import Check
from pingd.domain.checks import Flip
from pingd.domain.checks import Ping

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


def alert_event(check: Check, flip: Flip, last_ping: Ping | None) -> dict[str, Any]:
    """Snapshot what an alert needs to say, so it survives the check's deletion."""
    body = b"" if last_ping is None else last_ping.body
    return {
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
    }


FLIP_HISTORY_DAYS = 90
DELIVERY_HISTORY_DAYS = 30
DELIVERY_MAX_ATTEMPTS = 8
DELIVERY_FIRST_RETRY_SECONDS = 5
DELIVERY_MAX_DELAY_SECONDS = 3600


def retry_delay(attempts: int) -> timedelta:
    """Return how long to wait after the given number of failed attempts (5 s, 10 s, …)."""
    seconds = DELIVERY_FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, DELIVERY_MAX_DELAY_SECONDS))
