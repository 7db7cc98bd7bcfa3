"""Developer mode: a private in-memory database per API key, seeded with fake checks.

Requests with ``x-developer-mode: true`` are authenticated and validated as in
production but served by a Service over one of these sandboxes. A sandbox
never touches the real database file and has no alert loop, so it can never
send a notification. Sandboxes live as long as the process.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pingd import migrate
from pingd.domain.alerts import Channel
from pingd.domain.checks import down_after
from pingd.errors import PingdError
from pingd.service import Service
from pingd.service.core import Clock
from pingd.service.core import Notifier
from pingd.store import checks as check_queries
from pingd.writer.store import Store

# One fake check per status a client may meet: (name, tags, timeout, state).
_SEED = (
    ("Fake new job", "demo", 3600, "new"),
    ("Fake nightly backup", "demo backup", 86400, "up"),
    ("Fake hourly sync", "demo", 3600, "grace"),
    ("Fake broken cron", "demo", 3600, "down"),
    ("Fake paused job", "demo", 3600, "paused"),
    ("Fake long job", "demo", 86400, "started"),
)


def _seed(service: Service, sandbox: Store, clock: Clock) -> None:
    now = clock()
    for name, tags, timeout, state in _SEED:
        check = service.create_check(name=name, tags=tags, timeout=timeout, grace=600)
        last_ping = {
            "up": now - timedelta(seconds=60),
            "grace": now - timedelta(seconds=timeout + 60),
            "down": now - timedelta(seconds=timeout + 1200),
            "started": now - timedelta(seconds=300),
        }.get(state)
        status = {"new": "new", "paused": "paused", "down": "down"}.get(state, "up")
        seeded = dataclasses.replace(
            check,
            status=status,
            last_ping=last_ping,
            n_pings=0 if last_ping is None else 1,
            last_start=now - timedelta(seconds=120) if state == "started" else None,
        )
        seeded = dataclasses.replace(seeded, alert_after=down_after(seeded))
        sandbox.write(functools.partial(check_queries.update_check, check=seeded))


class DryRunNotifier:
    """Validates and masks channel settings like the real notifier, but never sends."""

    def __init__(self, real: Notifier) -> None:
        self._real = real

    def validate(self, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
        return self._real.validate(kind, settings)

    def mask(self, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
        return self._real.mask(kind, settings)

    def secret_fields(self, kind: str) -> tuple[str, ...]:
        return self._real.secret_fields(kind)

    def send(self, channel: Channel, event: dict[str, Any]) -> None:
        raise PingdError("developer mode never sends notifications")


class Sandboxes:
    """The developer-mode services, one per API key, created on first use."""

    def __init__(self, make_service: Callable[[Store], Service], clock: Clock) -> None:
        self._make_service = make_service
        self._clock = clock
        self._services: dict[int, Service] = {}
        self._stores: list[Store] = []
        self._lock = threading.Lock()

    def for_key(self, key_id: int) -> Service:
        """Return the sandbox service of one API key."""
        with self._lock:
            service = self._services.get(key_id)
            if service is None:
                sandbox = Store(":memory:", in_memory=True, init=migrate.migrate)
                service = self._make_service(sandbox)
                service.bootstrap()
                _seed(service, sandbox, self._clock)
                self._services[key_id] = service
                self._stores.append(sandbox)
            return service

    def close(self) -> None:
        """Stop every sandbox's writer thread."""
        with self._lock:
            for sandbox in self._stores:
                sandbox.close()
            self._services.clear()
            self._stores.clear()
