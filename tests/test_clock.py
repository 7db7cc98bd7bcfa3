"""The wall clock set back: no negative duration, no new time before a stored one.

The wall clock and the monotonic clock are both faked (the only fakes), and
everything else is real: the Store on SQLite, the Service, the domain.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import START
from conftest import FakeClock
from conftest import FakeMonotonic

from pingd.app import make_service
from pingd.app import open_store
from pingd.clock import SteadyClock
from pingd.config import Config
from pingd.service import PingRequest
from pingd.service import Service
from pingd.store import newest_time


def ping(service: Service, uuid: str, action: str = "success", rid: str | None = None) -> None:
    service.record_ping(
        PingRequest(
            action=action, method="GET", scheme="http", remote_addr="127.0.0.1", ua="cron",
            body=b"", body_size=0, uuid=uuid, rid=rid,
        )
    )  # fmt: skip


def both(wall: FakeClock, mono: FakeMonotonic, seconds: float) -> None:
    wall.advance(seconds=seconds)
    mono.advance(seconds)


def test_it_follows_the_wall_clock_forward_and_goes_on_steadily_when_it_is_set_back() -> None:
    wall, mono = FakeClock(), FakeMonotonic()
    clock = SteadyClock(wall, mono)
    assert clock() == START
    both(wall, mono, 10)
    assert clock() == START + timedelta(seconds=10)
    wall.advance(hours=-2)  # set back
    assert clock() == START + timedelta(seconds=10)
    both(wall, mono, 5)
    assert clock() == START + timedelta(seconds=15)  # real time goes on
    wall.advance(hours=2, seconds=10)  # the wall clock catches up, and passes
    assert clock() == START + timedelta(seconds=25)
    wall.advance(days=3)  # a step forward is followed at once
    assert clock() == START + timedelta(days=3, seconds=25)


def test_it_starts_no_earlier_than_the_newest_stored_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wall, mono = FakeClock(), FakeMonotonic()
    stored = START + timedelta(hours=1)
    with caplog.at_level(logging.WARNING, logger="pingd.clock"):
        clock = SteadyClock(wall, mono, floor=stored)
        assert clock() == stored
        mono.advance(2)
        assert clock() == stored + timedelta(seconds=2)
    [record] = caplog.records
    assert "behind" in record.getMessage() and "3600" in record.getMessage()


def test_a_run_timed_across_a_clock_set_back_is_never_negative_and_pings_stay_in_order(
    config: Config,
) -> None:
    wall, mono = FakeClock(), FakeMonotonic()
    store = open_store(config)
    try:
        service = make_service(config, store, SteadyClock(wall, mono))
        service.bootstrap()
        check = service.create_check(name="Backup")
        ping(service, check.uuid, "start")
        wall.advance(hours=-1)  # NTP steps the clock back an hour mid-run
        mono.advance(30)
        ping(service, check.uuid, "success")
        done = service.get_check(check.uuid)
        assert done.last_duration == 30.0
        pings = sorted(service.list_pings(check.id), key=lambda p: p.n)
        assert [p.created for p in pings] == [START, START + timedelta(seconds=30)]
        assert done.last_ping == START + timedelta(seconds=30)
        # The deadline is a real period after the last ping, not an hour early.
        assert done.alert_after == done.last_ping + timedelta(seconds=check.timeout + check.grace)
    finally:
        store.close()


def test_after_a_restart_with_the_clock_set_back_no_new_time_is_before_a_stored_one(
    config: Config, tmp_path: Path
) -> None:
    wall, mono = FakeClock(), FakeMonotonic()
    store = open_store(config)
    service = make_service(config, store, SteadyClock(wall, mono))
    service.bootstrap()
    check = service.create_check(name="Backup")
    wall.advance(minutes=5)
    ping(service, check.uuid, "start")
    newest = store.read(newest_time)
    assert newest == START + timedelta(minutes=5)
    store.close()

    wall.advance(days=-1)  # stopped, and the box comes back a day in the past
    store = open_store(config)
    try:
        service = make_service(
            config, store, SteadyClock(wall, mono, floor=store.read(newest_time))
        )
        mono.advance(7)
        ping(service, check.uuid, "success")
        done = service.get_check(check.uuid)
        assert done.last_duration == 7.0
        assert done.last_ping == START + timedelta(minutes=5, seconds=7)
        flips = service.list_flips(check.id)
        assert all(flip.created <= done.last_ping for flip in flips)
    finally:
        store.close()
