"""The state the service's families of use cases share, and what they all need of it.

``ServiceCore`` holds one store, clock, set of limits and notifier (injected,
never imported: see ``Notifier``), with the time, the install's project, the
database's health and sending through the notifier. Each family (``keys``,
``checks``, ``pings``, ``channels``, ``alerts``) subclasses it, and
``pingd.service.Service`` composes them. Nothing here is a family's use case,
and this module imports no family's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Protocol

from pingd.domain.alerts import Channel
from pingd.errors import NotFound
from pingd.store import database
from pingd.store import projects as projects_db
from pingd.store.projects import Project
from pingd.writer.store import Store

Clock = Callable[[], datetime]


class Notifier(Protocol):
    """What the service needs from the notification layer (injected, never imported)."""

    def validate(self, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Return cleaned settings for a channel kind, or raise InvalidInput."""

    def mask(self, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Return the settings with every secret shortened beyond use."""

    def secret_fields(self, kind: str) -> tuple[str, ...]:
        """Return the names of a kind's secret settings."""

    def send(self, channel: Channel, event: dict[str, Any]) -> None:
        """Deliver one event to a channel, or raise with a message that holds no secret."""


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    ok: bool
    error: str
    duration_ms: int
    # False when the delivery was gone or had changed by the time the outcome
    # was to be written, so nothing was recorded.
    recorded: bool = True
    # False when nothing was sent: another attempt had already moved it on.
    attempted: bool = True


class ServiceCore:
    """The state every family of use cases shares: one store, clock, set of limits and notifier."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        ping_log_limit: int = 100,
        max_checks: int = 10000,
        notifier: Notifier | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ping_log_limit = ping_log_limit
        self._max_checks = max_checks
        self._notifier = notifier
        # Set when a committed change queued notifications; the alert loop
        # waits on it so that alerts go out at once rather than at the next tick.
        self.alerts_queued = threading.Event()
        # Outcomes of attempts that were made but could not be written yet, by
        # (delivery id, attempts before it): written at the next try, not re-sent.
        self._unwritten: dict[tuple[int, int], DeliveryOutcome] = {}
        self._unwritten_lock = threading.Lock()

    def now(self) -> datetime:
        """Return the service clock's current time."""
        return self._clock()

    def project(self) -> Project:
        """Return the project of this install."""
        project = self._store.read(projects_db.get_default_project)
        if project is None:
            raise NotFound("no project: run `pingd serve` once to create the database")
        return project

    def check_database(self) -> None:
        """Make one round trip to the database; raise if it does not answer."""
        self._store.read(database.ping_database)

    def _send(self, channel: Channel, event: dict[str, Any]) -> DeliveryOutcome:
        if self._notifier is None:
            return DeliveryOutcome(False, "notifications are not set up in this process", 0)
        started = time.perf_counter()
        try:
            self._notifier.send(channel, event)
        except Exception as ex:  # Any failure of a channel is an outcome, not a crash.
            error = str(ex) or type(ex).__name__
            return DeliveryOutcome(False, error[:500], _ms_since(started))
        return DeliveryOutcome(True, "", _ms_since(started))


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
