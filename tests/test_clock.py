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
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.store.database import newest_time


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


def test_it_follows_the_wall_clock_forward_and_slews_when_it_is_set_back() -> None:
    wall, mono = FakeClock(), FakeMonotonic()
    clock = SteadyClock(wall, mono)
    assert clock() == START
    both(wall, mono, 10)
    assert clock() == START + timedelta(seconds=10)
    wall.advance(minutes=-2)  # set back
    assert clock() == START + timedelta(seconds=10)
    both(wall, mono, 10)
    assert clock() == START + timedelta(seconds=19)  # on, at 0.9 of real time
    # The wall clock gains 0.1 s a second: after 1,190 s more it has caught up.
    both(wall, mono, 1190)
    assert clock() == START + timedelta(seconds=1090)
    both(wall, mono, 5)
    assert clock() == wall.now  # and pingd follows it again
    wall.advance(days=3)  # a step forward is followed at once
    assert clock() == wall.now


def test_it_never_gives_a_time_before_one_it_gave() -> None:
    wall, mono = FakeClock(), FakeMonotonic()
    clock = SteadyClock(wall, mono)
    given = [clock()]
    for step in (-30, 1, 1, -5, 2, 40, -50, 1, 1, 1):
        both(wall, mono, 1)
        wall.advance(seconds=step)
        given.append(clock())
    assert given == sorted(given)


def test_it_starts_no_earlier_than_the_newest_stored_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wall, mono = FakeClock(), FakeMonotonic()
    stored = START + timedelta(minutes=30)
    with caplog.at_level(logging.WARNING, logger="pingd.clock"):
        clock = SteadyClock(wall, mono, floor=stored)
        assert clock() == stored
        mono.advance(2)
        assert clock() == stored + timedelta(seconds=1.8)
    [record] = caplog.records
    assert "behind" in record.getMessage() and "1800" in record.getMessage()


def test_a_step_back_of_more_than_an_hour_is_a_wrong_clock_and_followed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wall, mono = FakeClock(), FakeMonotonic()
    clock = SteadyClock(wall, mono, floor=START + timedelta(days=400))  # a bogus stored time
    with caplog.at_level(logging.ERROR, logger="pingd.clock"):
        assert clock() == START
    assert "one of them is wrong" in caplog.text


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
        wall.advance(minutes=-20)  # NTP steps the clock back mid-run
        mono.advance(30)
        ping(service, check.uuid, "success")
        done = service.get_check(check.uuid)
        assert done.last_duration == 27.0  # 0.9 of the real 30 s: never negative
        pings = sorted(service.list_pings(check.id), key=lambda p: p.n)
        assert [p.created for p in pings] == [START, START + timedelta(seconds=27)]
        assert done.last_ping == START + timedelta(seconds=27)
        # The deadline follows from the last ping, not twenty minutes early.
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

    wall.advance(minutes=-40)  # stopped, and the box comes back 40 minutes in the past
    store = open_store(config)
    try:
        service = make_service(
            config, store, SteadyClock(wall, mono, floor=store.read(newest_time))
        )
        mono.advance(10)
        ping(service, check.uuid, "success")
        done = service.get_check(check.uuid)
        assert done.last_duration == 9.0
        assert done.last_ping == START + timedelta(minutes=5, seconds=9)
        flips = service.list_flips(check.id)
        assert all(flip.created <= done.last_ping for flip in flips)
    finally:
        store.close()
