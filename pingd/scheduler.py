"""The alert loop: a thread of the server process that watches deadlines and sends alerts.

Every tick (``alerts.tick_seconds``, or at once when a commit queued alerts)
it turns overdue checks down through the service, which records the flip and
queues one delivery per channel in the same transaction, and hands due
deliveries to a small pool of sender threads. One delivery per channel is in
flight at a time, so a channel that fails or hangs (each attempt is bounded by
a timeout) delays nobody else. The loop logs exceptions and goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from pingd.domain.alerts import Delivery
from pingd.errors import is_reported_once
from pingd.errors import is_storage_full
from pingd.service import Service

logger = logging.getLogger(__name__)

MAX_PARALLEL_SENDS = 16
HISTORY_PRUNE_INTERVAL_SECONDS = 3600
# A delivery whose outcome could not be written (a full disk, say) is still
# pending: its channel waits this long, doubling up to the maximum, before
# the delivery is attempted again, rather than being re-sent in a tight loop.
HOLD_FIRST_SECONDS = 1.0
HOLD_MAX_SECONDS = 300.0


class AlertLoop:
    """Runs ``run_once`` every tick in a daemon thread until stopped."""

    def __init__(self, service: Service, *, tick_seconds: float) -> None:
        self._service = service
        self._tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._busy: set[int] = set()
        self._busy_lock = threading.Lock()
        self._held: dict[int, tuple[float, float]] = {}  # channel: (until, seconds), busy lock
        self._executor = ThreadPoolExecutor(MAX_PARALLEL_SENDS, thread_name_prefix="pingd-send")
        self._thread = threading.Thread(target=self._run, name="pingd-alerts", daemon=True)
        self._next_prune = 0.0  # Prune once at start, then hourly.

    def start(self) -> None:
        """Start the loop; its first tick runs at once (overdue checks from downtime)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking and wait for the loop; deliveries in flight finish or time out."""
        self._stop.set()
        self._service.alerts_queued.set()
        if self._thread.is_alive():
            self._thread.join()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def run_once(self) -> None:
        """Sweep overdue checks once and dispatch every due delivery."""
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + HISTORY_PRUNE_INTERVAL_SECONDS
            try:
                pruned = self._service.prune_history()
                if pruned:
                    logger.info("alert loop: pruned %d old flips and deliveries", pruned)
                # Ended sessions and sign-in links are refused when presented;
                # this only keeps their rows from piling up.
                ended = self._service.prune_sessions()
                if ended:
                    logger.info("alert loop: deleted %d ended sessions and sign-in links", ended)
            except Exception as ex:
                _log_failure("pruning history", ex)
        # Each sweep is a write of its own: one failing leaves the other to run.
        for sweep, what, said in (
            (self._service.sweep_overdue, "sweeping overdue checks", "%d check(s) went down"),
            (self._service.sweep_policy, "sending reminders and held alerts",
             "%d reminder(s), late or held notice(s) queued"),
        ):  # fmt: skip
            try:
                count = sweep()
                if count:
                    logger.info("alert loop: " + said, count)
            except Exception as ex:
                _log_failure(what, ex)
        try:
            for delivery in self._service.due_deliveries():
                with self._busy_lock:
                    held = self._held.get(delivery.channel_id)
                    if delivery.channel_id in self._busy or (held and held[0] > time.monotonic()):
                        continue
                    self._busy.add(delivery.channel_id)
                self._executor.submit(self._deliver, delivery)
        except Exception as ex:
            _log_failure("dispatching deliveries", ex)

    def _deliver(self, delivery: Delivery) -> None:
        try:
            outcome = self._service.deliver(delivery)
            if not outcome.attempted:
                return  # an attempt that ended meanwhile moved it on: nothing sent
            logger.info(
                "alert check=%s status=%s channel=%d delivery=%d attempt=%d ok=%s ms=%d%s",
                delivery.event.get("uuid"),
                delivery.event.get("status"),
                delivery.channel_id,
                delivery.id,
                delivery.attempts + 1,
                outcome.ok,
                outcome.duration_ms,
                "" if outcome.ok else f" error={outcome.error!r}",
            )
            if not outcome.recorded:
                logger.info(
                    "alert loop: delivery %d was deleted or changed during its attempt;"
                    " its outcome was not recorded",
                    delivery.id,
                )
        except Exception as ex:
            seconds = self._hold(delivery.channel_id)
            if is_storage_full(ex):
                logger.warning(
                    "alert loop: delivery %d: its outcome could not be stored (storage full);"
                    " it stays pending, and the outcome is written (not sent again) in %.0f s"
                    " or later",
                    delivery.id,
                    seconds,
                )
            else:
                logger.exception("alert loop: delivery %d failed unexpectedly", delivery.id)
        else:
            with self._busy_lock:
                self._held.pop(delivery.channel_id, None)
            # The channel may have more due deliveries: look again now.
            self._service.alerts_queued.set()
        finally:
            with self._busy_lock:
                self._busy.discard(delivery.channel_id)

    def _hold(self, channel_id: int) -> float:
        """Keep a channel's deliveries back for a while (longer each time); return how long."""
        with self._busy_lock:
            previous = self._held.get(channel_id)
            seconds = HOLD_FIRST_SECONDS if previous is None else previous[1] * 2
            seconds = min(seconds, HOLD_MAX_SECONDS)
            self._held[channel_id] = (time.monotonic() + seconds, seconds)
        return seconds

    def _run(self) -> None:
        while not self._stop.is_set():
            self._service.alerts_queued.clear()
            self.run_once()
            self._service.alerts_queued.wait(self._tick_seconds)


def _log_failure(what: str, ex: Exception) -> None:
    """Log a failed step of the loop: a full disk in one line, anything else with its traceback."""
    if is_storage_full(ex):
        logger.warning("alert loop: %s failed: storage full; will retry", what)
    elif is_reported_once(ex):
        logger.warning("alert loop: %s failed: the database is unavailable; will retry", what)
    else:
        logger.exception("alert loop: %s failed", what)
