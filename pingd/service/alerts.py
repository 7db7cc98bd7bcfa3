"""Use cases of alerts: checks that go down when overdue, and delivering what is queued.

Queueing a check's alerts (``queue_alerts``, also the pings family's),
sending due deliveries at most once per attempt, a channel's delivery log
and pruning old history. Builds on ``ServiceCore`` alone (which holds the
notifier and the outcomes not written yet); imports no other family.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import timedelta
from typing import Any

from pingd.domain.alerts import DELIVERY_HISTORY_DAYS
from pingd.domain.alerts import DELIVERY_MAX_ATTEMPTS
from pingd.domain.alerts import FLIP_HISTORY_DAYS
from pingd.domain.alerts import Channel
from pingd.domain.alerts import Delivery
from pingd.domain.alerts import retry_delay
from pingd.domain.checks import Check
from pingd.domain.checks import overdue_flip
from pingd.domain.checks import went_down
from pingd.service.core import DeliveryOutcome
from pingd.service.core import ServiceCore
from pingd.service.policy import last_ping_of
from pingd.service.policy import queue_alerts
from pingd.service.policy import send_late_notices
from pingd.service.policy import send_reminders
from pingd.service.policy import settle_owed
from pingd.store import channels as channels_db
from pingd.store import checks as checks_db
from pingd.store import database
from pingd.store import deliveries as deliveries_db
from pingd.store import flips as flips_db


class AlertsService(ServiceCore):
    """Use cases of alerts: the overdue sweep, sending due deliveries, history pruning."""

    def sweep_overdue(self) -> int:
        """Turn every check whose deadline passed down, exactly once; return how many."""

        def run(conn: sqlite3.Connection) -> int:
            now = self._clock()
            flipped = 0
            for check in checks_db.list_overdue_checks(conn, now):
                flip = overdue_flip(check, now)
                if flip is None:
                    continue
                down = went_down(check)
                checks_db.update_check(conn, down)
                flips_db.insert_flip(conn, flip)
                queue_alerts(conn, down, [flip], last_ping_of(conn, check.id), now)
                flipped += 1
            return flipped

        flipped = self._store.write(run)
        if flipped:
            self.alerts_queued.set()
        return flipped

    def sweep_policy(self) -> int:
        """Settle alerts that ended windows held back, send due reminders and late notices.

        Return how many deliveries were queued.
        """

        def run(conn: sqlite3.Connection) -> int:
            now = self._clock()
            return settle_owed(conn, now) + send_reminders(conn, now) + send_late_notices(conn, now)

        queued = self._store.write(run)
        if queued:
            self.alerts_queued.set()
        return queued

    def prune_history(self) -> int:
        """Forget flips older than 90 days and finished deliveries older than 30."""
        now = self._clock()
        return self._store.write(
            lambda conn: database.prune_history(
                conn,
                now - timedelta(days=FLIP_HISTORY_DAYS),
                now - timedelta(days=DELIVERY_HISTORY_DAYS),
            )
        )

    def due_deliveries(self, limit: int = 100) -> list[Delivery]:
        """Return the pending deliveries whose next attempt is due."""
        now = self._clock()
        return self._store.read(lambda conn: deliveries_db.list_due_deliveries(conn, now, limit))

    def deliver(self, delivery: Delivery) -> DeliveryOutcome:
        """Attempt one delivery now, record the outcome and schedule any retry.

        Should the outcome not be written (a full disk, say), the write is
        raised and the outcome kept: the next call for the same attempt
        writes it without sending again, so an outage of the disk does not
        turn into one duplicate alert per retry.
        """
        key = (delivery.id, delivery.attempts)
        with self._unwritten_lock:
            outcome = self._unwritten.pop(key, None)
        if outcome is None:
            # Read afresh: the list the caller took it from may be older than
            # the commit of an attempt that has just ended (a second send).
            current, channel = self._store.read(
                lambda conn: (
                    deliveries_db.get_delivery(conn, delivery.id),
                    channels_db.get_channel(conn, delivery.channel_id),
                )
            )
            if current is None or channel is None:  # Deleted meanwhile, with its channel.
                return DeliveryOutcome(False, "channel deleted", 0, recorded=False)
            if (current.state, current.attempts) != ("pending", delivery.attempts):
                return DeliveryOutcome(False, "attempted already", 0, False, attempted=False)
            outcome = self._send(channel, delivery.event)
        try:
            recorded = self._store.write(lambda conn: self._record_attempt(conn, delivery, outcome))
        except Exception:
            with self._unwritten_lock:
                self._unwritten[key] = outcome
            raise
        if not recorded:
            # The delivery was deleted (with its channel) or changed while
            # this attempt was in flight: its outcome belongs to nothing now.
            return dataclasses.replace(outcome, recorded=False)
        return outcome

    def _record_attempt(
        self, conn: sqlite3.Connection, delivery: Delivery, outcome: DeliveryOutcome
    ) -> bool:
        """Write an attempt's outcome onto its delivery, with the retry it calls for."""
        now = self._clock()
        attempts = delivery.attempts + 1
        if outcome.ok:
            state, next_attempt = "sent", None
        elif attempts >= DELIVERY_MAX_ATTEMPTS:
            state, next_attempt = "failed", None
        else:
            state, next_attempt = "pending", now + retry_delay(attempts)
        return deliveries_db.record_delivery_attempt(
            conn, delivery, ok=outcome.ok, error=outcome.error,
            duration_ms=outcome.duration_ms, now=now, state=state, next_attempt=next_attempt,
        )  # fmt: skip

    def channel_deliveries(
        self, channel_id: int, limit: int = 10
    ) -> list[tuple[Delivery, list[dict[str, Any]]]]:
        """Return a channel's newest deliveries, each with its attempts."""

        def run(conn: sqlite3.Connection) -> list[tuple[Delivery, list[dict[str, Any]]]]:
            deliveries = deliveries_db.list_channel_deliveries(conn, channel_id, limit)
            return [(d, deliveries_db.list_delivery_attempts(conn, d.id)) for d in deliveries]

        return self._store.read(run)

    def check_deliveries(
        self, check: Check, limit: int = 20
    ) -> list[tuple[Delivery, Channel | None, list[dict[str, Any]]]]:
        """Return the newest deliveries of a check's alerts, each with its channel and attempts."""

        def run(
            conn: sqlite3.Connection,
        ) -> list[tuple[Delivery, Channel | None, list[dict[str, Any]]]]:
            channels = {c.id: c for c in channels_db.list_channels(conn, check.project_id)}
            return [
                (d, channels.get(d.channel_id), deliveries_db.list_delivery_attempts(conn, d.id))
                for d in deliveries_db.list_check_deliveries(conn, check.uuid, limit)
            ]

        return self._store.read(run)
