"""The service's clock: wall-clock time in UTC that never goes back.

pingd stores the wall-clock time of every ping, flip and delivery and measures
runs and deadlines as differences of those times. When the system clock is
set back (a Raspberry Pi without a real-time clock that booted with a stale
time, a wrong NTP step, a hand-set date), a plain ``datetime.now`` would date
new events before older ones: negative run durations, a ping log out of order,
a deadline pushed away by the size of the step.

``SteadyClock`` follows the wall clock while it moves forward. When the wall
clock is behind the last time it gave (or behind the newest time stored in the
database, at start), it goes on from that time at the pace of the monotonic
clock, until the wall clock catches up. So no new time is earlier than a stored
one, durations are never negative, and deadlines still come after the real
time they describe. A forward step is followed at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta

logger = logging.getLogger(__name__)

# A step back smaller than this is ordinary jitter of the wall clock, not worth a log line.
NOTICE_STEP = timedelta(seconds=1)


def utc_now() -> datetime:
    """Return the current wall-clock time, aware, in UTC."""
    return datetime.now(UTC)


class SteadyClock:
    """Wall-clock time that never goes back; call it for the time."""

    def __init__(
        self,
        wall: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        *,
        floor: datetime | None = None,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last = floor
        self._last_tick = monotonic()
        self._behind = False

    def __call__(self) -> datetime:
        wall = self._wall()
        tick = self._monotonic()
        with self._lock:
            last, elapsed = self._last, max(0.0, tick - self._last_tick)
            steady = None if last is None else last + timedelta(seconds=elapsed)
            now = wall if steady is None or wall >= steady else steady
            self._last, self._last_tick = now, tick
            behind = now is not wall
            noticed = behind and not self._behind and steady is not None
            self._behind = behind
        if noticed and steady is not None and steady - wall >= NOTICE_STEP:
            logger.warning(
                "the system clock is %.0f s behind the newest time pingd has given or stored;"
                " pingd's clock goes on from there until the system clock catches up",
                (steady - wall).total_seconds(),
            )
        return now
