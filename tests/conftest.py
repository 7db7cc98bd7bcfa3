"""Shared fixtures: a real SQLite file per test, a fake clock, the app under WebTest.

Only the clock is faked. Storage is the real Store (writer thread included) on
a file in tmp_path, because a :memory: database cannot be shared between the
writer thread and the readers.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import webtest
from receivers import HttpReceiver
from receivers import SmtpReceiver
from receivers import http_receiver
from receivers import smtp_receiver
from serverutil import Server
from serverutil import stop_quietly

from pingd.app import create_app
from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import Config
from pingd.config import default_config
from pingd.domain.checks import Check
from pingd.service import Service
from pingd.writer.store import Store

START = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)


class FakeMonotonic:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeClock:
    """A settable clock: call it for the time, ``advance`` it explicitly."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return default_config(storage__path=str(tmp_path / "pingd.db"))


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    opened = open_store(config)
    yield opened
    opened.close()


@pytest.fixture
def service(config: Config, store: Store, clock: FakeClock) -> Service:
    svc = make_service(config, store, clock)
    svc.bootstrap()
    return svc


@pytest.fixture
def svc(config: Config, store: Store, clock: FakeClock) -> Service:
    """The service with a real notifier (needed to create channels and send alerts)."""
    service = make_service(config, store, clock, notifier=make_notifier(config))
    service.bootstrap()
    return service


@pytest.fixture
def ping_key(service: Service) -> str:
    return service.project().ping_key


@pytest.fixture
def app(config: Config, store: Store, clock: FakeClock, service: Service) -> webtest.TestApp:
    return webtest.TestApp(create_app(config, store=store, clock=clock))


@pytest.fixture
def rw(service: Service) -> dict[str, str]:
    """The X-Api-Key header of a new read-write key (Healthchecks' API tests)."""
    return {"X-Api-Key": service.create_api_key("rw")}


@pytest.fixture
def ro(service: Service) -> dict[str, str]:
    """The X-Api-Key header of a new read-only key."""
    return {"X-Api-Key": service.create_api_key("ro", read_only=True)}


@pytest.fixture
def make_check(service: Service) -> Any:
    """Create a check through the service; keyword arguments are check fields."""

    def make(name: str = "Backup", **fields: Any) -> Check:
        return service.create_check(name=name, **fields)

    return make


@pytest.fixture
def make_app(store: Store, clock: FakeClock, service: Service, tmp_path: Path) -> Any:
    """Build another TestApp on the same database with some settings changed."""

    def make(**overrides: Any) -> webtest.TestApp:
        overrides.setdefault("storage__path", str(tmp_path / "pingd.db"))
        return webtest.TestApp(create_app(default_config(**overrides), store=store, clock=clock))

    return make


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Collects the ``pingd serve`` processes a test starts; stops any still running, by PID."""
    started: list[Server] = []
    yield started
    for server in started:
        stop_quietly(server)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """A real HTTP receiver on 127.0.0.1 for webhook-like channels (tests/receivers.py)."""
    with http_receiver() as started:
        yield started


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records every message."""
    with smtp_receiver() as started:
        yield started
