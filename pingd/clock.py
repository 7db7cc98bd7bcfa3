"""The service's clock: wall-clock time in UTC that does not run backwards.

pingd stores the wall-clock time of every ping, flip and delivery and measures
runs and deadlines as differences of those times. When the system clock is
set back (an NTP step, a Raspberry Pi without a real-time clock that booted
with a stale time, a hand-set date), a plain ``datetime.now`` would date new
events before older ones: negative run durations, a ping log out of order.

``SteadyClock`` follows the wall clock while it is at or past the newest time
it has given (or, at start, the newest time stored in the database). Behind
that by up to ``MAX_HOLD``, it goes on from there at ``SLEW`` of the monotonic
clock's pace, so that the wall clock catches up (an hour's step in ten hours)
while no new time is earlier than an older one and no duration is negative.
A step back of more than ``MAX_HOLD`` is not jitter but a wrong clock, before
or now; pingd then follows the wall clock, and says so in the log.
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

SLEW = 0.9  # while behind, pingd's clock runs at this fraction of real time
MAX_HOLD = timedelta(hours=1)
NOTICE_STEP = timedelta(seconds=1)  # smaller steps back are ordinary jitter, not logged


def utc_now() -> datetime:
    """Return the current wall-clock time, aware, in UTC."""
    return datetime.now(UTC)


class SteadyClock:
    """Wall-clock time that does not run backwards; call it for the time."""

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
            last = self._last
            if last is None or wall >= last:  # the usual case: the wall clock moved on
                self._last, self._last_tick, self._behind = wall, tick, False
                return wall
            step = last - wall
            if step > MAX_HOLD:
                self._last, self._last_tick, self._behind = wall, tick, False
                logger.error(
                    "the system clock is %.0f s behind the newest time pingd had given or stored;"
                    " more than %.0f s, so one of them is wrong: pingd follows the system clock",
                    step.total_seconds(), MAX_HOLD.total_seconds(),
                )  # fmt: skip
                return wall
            now = last + timedelta(seconds=max(0.0, tick - self._last_tick) * SLEW)
            self._last, self._last_tick = now, tick
            noticed, self._behind = not self._behind, True
        if noticed and step >= NOTICE_STEP:
            logger.warning(
                "the system clock is %.0f s behind the newest time pingd has given or stored;"
                " pingd's clock goes on from there, a little slower, until the system clock"
                " catches up",
                step.total_seconds(),
            )
        return now
