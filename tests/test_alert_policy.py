"""The alert policy with a fake clock: reminders, thresholds, late notices, windows, retries.

Only the clock is fake. Each test runs the real service on a real SQLite file
with real webhook channels, calls the alert loop's two sweeps as its tick
does (``tick``), and reads the queued deliveries straight from the file:
who would be told what, and when. Nothing is sent (the channels' URLs are
never called here); ``test_alert_policy_serve.py`` sends for real.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import START
from conftest import FakeClock
from test_alerts import query as rows

from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import Config
from pingd.domain.alerts import Channel
from pingd.domain.checks import Check
from pingd.errors import CheckNotPaused
from pingd.errors import InvalidInput
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.service.pings import PingResult

UNUSED_URL = "http://127.0.0.1:9/unused"


@dataclass(frozen=True)
class Sent:
    """One queued delivery as a person would read it."""

    channel: int
    alert: str  # change, reminder, late
    status: str
    extra: str = ""  # the reminder's count, "held" for an alert a window held back


def add_channel(svc: Service, name: str = "hook", **policy: Any) -> Channel:
    return svc.create_channel("webhook", name, {"url_down": UNUSED_URL}, **policy)


def ping(svc: Service, check: Check, action: str = "success", *, rid: str | None = None,
         body: bytes = b"", exit_status: int | None = None) -> PingResult:  # fmt: skip
    return svc.record_ping(
        PingRequest(action=action, method="GET", scheme="http", remote_addr="192.0.2.7",
                    ua="curl/8.5.0", body=body, body_size=len(body), uuid=check.uuid, rid=rid,
                    exit_status=exit_status)
    )  # fmt: skip


def tick(svc: Service) -> None:
    """What the alert loop does each tick, in its order."""
    svc.sweep_overdue()
    svc.sweep_policy()


def events(db: str) -> list[dict[str, Any]]:
    return [json.loads(r["event"]) for r in rows(db, "SELECT event FROM deliveries ORDER BY id")]


def sent(db: str, check: Check | None = None) -> list[Sent]:
    found = []
    for row in rows(db, "SELECT channel_id, event FROM deliveries ORDER BY id"):
        event = json.loads(row["event"])
        if check is not None and event["uuid"] != check.uuid:
            continue
        extra = "held" if event.get("held") else str(event.get("reminder") or "")
        found.append(Sent(row["channel_id"], event["alert"], event["status"], extra))
    return found


def flip_rows(db: str) -> list[tuple[str, str, str]]:
    return [
        tuple(r) for r in rows(db, "SELECT old_status, new_status, reason FROM flips ORDER BY id")
    ]


def iso(when: datetime) -> str:
    return when.isoformat()


@pytest.fixture
def db(config: Config) -> str:
    return config.storage.path


# -- reminders ----------------------------------------------------------------------


def test_it_reminds_every_interval_while_down_and_stops_at_the_next_up(
    svc: Service, clock: FakeClock, db: str
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Backup", timeout=3600, grace=600, remind_every=3600,
                             channels="*")  # fmt: skip
    ping(svc, check, "fail", body=b"disk full")
    clock.advance(minutes=59)
    tick(svc)
    assert sent(db) == [Sent(channel.id, "change", "down")]
    clock.advance(minutes=1)
    tick(svc)
    tick(svc)  # a second tick at the same instant sends nothing more
    clock.advance(hours=1)
    tick(svc)
    assert sent(db)[1:] == [Sent(channel.id, "reminder", "down", "1"),
                            Sent(channel.id, "reminder", "down", "2")]  # fmt: skip
    first, second = events(db)[1:]
    assert (first["down_since"], first["down_for"]) == (iso(START), 3600)
    assert (second["down_for"], second["reason"], second["body"]) == (
        7200,
        "still down",
        "disk full",
    )
    ping(svc, check)  # back up: one up alert, and the reminders stop
    clock.advance(minutes=65)  # past where the next reminder was due, before the next deadline
    tick(svc)
    assert sent(db)[3:] == [Sent(channel.id, "change", "up")]
    assert rows(db, "SELECT count(*) FROM reminders")[0][0] == 0


def test_it_reminds_each_channel_on_its_own_interval_unless_the_check_sets_one(
    svc: Service, clock: FakeClock, db: str
) -> None:
    hourly = add_channel(svc, "hourly", remind_every=3600)
    daily = add_channel(svc, "daily", remind_every=86400)
    never = add_channel(svc, "never")
    by_channel = svc.create_check(name="A", channels="*")
    ping(svc, by_channel, "fail")
    clock.advance(hours=24)
    tick(svc)
    reminders = [(s.channel, s.extra) for s in sent(db) if s.alert == "reminder"]
    # Hourly is due once (not 24 times: no burst), daily once, never never.
    assert reminders == [(hourly.id, "1"), (daily.id, "1")]
    by_check = svc.create_check(name="B", remind_every=7200, channels="*")
    ping(svc, by_check, "fail")
    clock.advance(hours=1)
    tick(svc)
    assert [s.alert for s in sent(db, by_check)] == ["change"] * 3  # its own 2h, not hourly
    clock.advance(hours=1)
    tick(svc)
    mine = [(s.channel, s.extra) for s in sent(db, by_check) if s.alert == "reminder"]
    assert mine == [(hourly.id, "1"), (daily.id, "1"), (never.id, "1")]


def test_it_sends_one_overdue_reminder_after_a_long_stop_then_keeps_the_schedule(
    svc: Service, clock: FakeClock, db: str
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", remind_every=3600, channels="*")
    ping(svc, check, "fail")
    clock.advance(hours=10)  # the process was stopped for ten hours
    tick(svc)
    assert [s.extra for s in sent(db) if s.alert == "reminder"] == ["1"]
    [reminder] = rows(db, "SELECT next_at FROM reminders")
    assert datetime.fromisoformat(reminder["next_at"]) == clock.now + timedelta(hours=1)


def test_it_stops_reminders_when_the_check_is_paused(
    svc: Service, clock: FakeClock, db: str
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", remind_every=3600, channels="*")
    ping(svc, check, "fail")
    svc.pause_check(check.id)
    clock.advance(hours=5)
    tick(svc)
    assert [s.alert for s in sent(db)] == ["change"]


def test_it_refuses_reminder_intervals_below_a_minute(svc: Service) -> None:
    with pytest.raises(InvalidInput) as raised:
        svc.create_check(name="Backup", remind_every=30)
    assert raised.value.fields == {"remind_every": "remind_every is too small (minimum 60 seconds)"}
    with pytest.raises(InvalidInput) as raised:
        add_channel(svc, remind_every=59)
    assert "remind_every" in raised.value.fields


# -- failure and success thresholds --------------------------------------------------


def test_it_goes_down_only_at_the_nth_failure_in_a_row_and_up_at_the_mth_success(
    svc: Service, clock: FakeClock, db: str
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Flaky", failure_threshold=3, success_threshold=2,
                             channels="*")  # fmt: skip
    ping(svc, check)
    for code in (1, 2):
        clock.advance(minutes=5)
        ping(svc, check, "success", exit_status=code)  # a non-zero exit status is a failure
    current = svc.get_check(check.uuid)
    assert (current.status, current.fail_streak) == ("up", 2)
    clock.advance(minutes=5)
    ping(svc, check)  # a success ends the streak
    for _ in range(3):
        clock.advance(minutes=5)
        ping(svc, check, "fail")
    assert flip_rows(db) == [("new", "up", ""), ("up", "down", "fail")]
    assert events(db)[0]["streak"] == 3
    clock.advance(minutes=5)
    ping(svc, check)
    current = svc.get_check(check.uuid)
    assert (current.status, current.success_streak) == ("down", 1)
    clock.advance(minutes=5)
    ping(svc, check)
    assert svc.get_check(check.uuid).status == "up"
    assert sent(db) == [Sent(channel.id, "change", "down"), Sent(channel.id, "change", "up")]


def test_it_needs_the_success_streak_again_after_a_timeout(
    svc: Service, clock: FakeClock, db: str
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Job", timeout=3600, grace=600, success_threshold=2,
                             channels="*")  # fmt: skip
    for _ in range(3):
        ping(svc, check)
        clock.advance(minutes=10)
    clock.advance(hours=2)
    tick(svc)  # down by timeout: the earlier successes no longer count
    ping(svc, check)
    assert svc.get_check(check.uuid).status == "down"
    clock.advance(minutes=1)
    ping(svc, check)
    assert [f[1] for f in flip_rows(db)] == ["up", "down", "up"]


# -- retried pings ------------------------------------------------------------------


def test_it_stores_a_retried_ping_marked_as_a_repeat_and_counts_it_once(
    svc: Service, clock: FakeClock, db: str
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", failure_threshold=2, channels="*")
    ping(svc, check, "fail", body=b"timeout")
    clock.advance(seconds=3)  # curl --retry sends the same request again
    result = ping(svc, check, "fail", body=b"timeout")
    assert result.ping.repeat and result.flips == ()
    assert svc.get_check(check.uuid).fail_streak == 1
    assert [(p.n, p.kind, p.repeat) for p in svc.list_pings(check.id)] == [
        (2, "fail", True), (1, "fail", False)]  # fmt: skip
    clock.advance(seconds=40)  # a new run, past the window: a second failure
    ping(svc, check, "fail", body=b"timeout")
    assert svc.get_check(check.uuid).status == "down"
    assert [s.status for s in sent(db)] == ["down"]


def test_it_counts_a_ping_that_differs_in_body_or_exit_status_as_a_new_one(
    svc: Service, clock: FakeClock
) -> None:
    check = svc.create_check(name="Backup", failure_threshold=3)
    ping(svc, check, "fail", body=b"one")
    ping(svc, check, "fail", body=b"two")
    ping(svc, check, "fail", exit_status=4)
    assert svc.get_check(check.uuid).status == "down"
    assert [p.repeat for p in svc.list_pings(check.id)] == [False, False, False]


def test_it_keeps_the_runs_start_when_a_start_with_the_same_rid_is_retried(
    svc: Service, clock: FakeClock
) -> None:
    check = svc.create_check(name="Backup", timeout=3600, grace=600)
    rid = "6f9b8a2e-4c1d-4e5f-9a7b-3c2d1e0f9a8b"
    ping(svc, check, "start", rid=rid)
    clock.advance(seconds=45)  # past the repeat window: only the rid says it is the same run
    ping(svc, check, "start", rid=rid)
    clock.advance(seconds=75)
    ping(svc, check, "success", rid=rid)
    assert svc.get_check(check.uuid).last_duration == 120.0
    ping(svc, check, "start", rid="0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e")  # another run
    assert svc.get_check(check.uuid).last_start == clock.now


# -- late notices ------------------------------------------------------------------


def test_it_tells_the_channels_that_ask_when_a_check_turns_late_once(
    svc: Service, clock: FakeClock, db: str
) -> None:
    late = add_channel(svc, "late", notify_late=True)
    plain = add_channel(svc, "plain")
    check = svc.create_check(name="Backup", timeout=3600, grace=600, channels="*")
    ping(svc, check)
    clock.advance(minutes=59)
    tick(svc)
    assert sent(db) == []
    clock.advance(minutes=1)
    tick(svc)
    tick(svc)
    assert sent(db) == [Sent(late.id, "late", "late")]
    assert events(db)[0]["expected"] == iso(START + timedelta(hours=1))
    clock.advance(minutes=10)
    tick(svc)
    assert sent(db)[1:] == [Sent(late.id, "change", "down"), Sent(plain.id, "change", "down")]


def test_it_sends_no_late_notice_when_the_ping_comes_in_time(
    svc: Service, clock: FakeClock, db: str
) -> None:
    add_channel(svc, "late", notify_late=True)
    check = svc.create_check(name="Backup", timeout=3600, grace=600, channels="*")
    for _ in range(3):
        ping(svc, check)
        clock.advance(minutes=50)
        tick(svc)
    assert sent(db) == []


# -- maintenance windows -----------------------------------------------------------


def window_for(svc: Service, check: Check, start: datetime, end: datetime) -> None:
    svc.create_window({"check": check.uuid, "starts": start.isoformat(), "ends": end.isoformat()})


def test_it_records_pings_and_status_in_a_window_and_alerts_once_when_it_ends_down(
    svc: Service, clock: FakeClock, db: str
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Backup", timeout=3600, grace=600, channels="*")
    window_for(svc, check, START, START + timedelta(hours=3))
    ping(svc, check)
    clock.advance(minutes=10)
    ping(svc, check, "fail")
    clock.advance(hours=2)
    tick(svc)
    assert flip_rows(db) == [("new", "up", ""), ("up", "down", "fail")]
    assert svc.get_check(check.uuid).status == "down"
    assert sent(db) == []
    clock.now = START + timedelta(hours=3)
    tick(svc)
    tick(svc)
    assert sent(db) == [Sent(channel.id, "change", "down", "held")]
    held = events(db)[0]
    assert (held["reason"], held["held_since"]) == ("fail", iso(START + timedelta(minutes=10)))


def test_it_alerts_nobody_when_a_check_recovered_inside_the_window(
    svc: Service, clock: FakeClock, db: str
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", timeout=3600, grace=600, channels="*")
    window_for(svc, check, START, START + timedelta(hours=1))
    ping(svc, check, "fail")
    clock.advance(minutes=20)
    ping(svc, check)
    clock.advance(minutes=45)  # the window has ended; the check's next deadline is later
    tick(svc)
    assert sent(db) == []
    assert [f[1] for f in flip_rows(db)] == ["down", "up"]


def test_it_sends_the_up_alert_when_a_check_told_down_recovered_inside_the_window(
    svc: Service, clock: FakeClock, db: str
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Backup", channels="*")
    ping(svc, check, "fail")
    window_for(svc, check, START + timedelta(minutes=5), START + timedelta(hours=1))
    clock.advance(minutes=10)
    ping(svc, check)
    tick(svc)
    clock.advance(hours=1)
    tick(svc)
    assert sent(db) == [
        Sent(channel.id, "change", "down"),
        Sent(channel.id, "change", "up", "held"),
    ]


def test_it_honours_a_recurring_window_by_tag_in_its_time_zone(
    svc: Service, clock: FakeClock, db: str
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="NAS backup", tags="nas prod", channels="*")
    # 03:00 in Berlin is 02:00Z in January; the window lasts an hour.
    svc.create_window({"tag": "nas", "schedule": "0 3 * * *", "tz": "Europe/Berlin",
                       "duration": 3600, "name": "nightly scrub"})  # fmt: skip
    clock.now = datetime.fromisoformat("2026-01-06T02:30:00+00:00")
    ping(svc, check, "fail")
    assert sent(db) == []
    assert svc.quiet_until_by_check([check], clock.now) == {
        check.id: datetime.fromisoformat("2026-01-06T03:00:00+00:00")}  # fmt: skip
    clock.now = datetime.fromisoformat("2026-01-06T03:00:00+00:00")
    tick(svc)
    assert sent(db) == [Sent(channel.id, "change", "down", "held")]
    other = svc.create_check(name="Web", tags="web", channels="*")
    clock.now = datetime.fromisoformat("2026-01-07T02:15:00+00:00")
    ping(svc, other, "fail")  # no window covers the tag web
    assert sent(db)[-1] == Sent(channel.id, "change", "down")


def test_it_holds_alerts_until_a_time_and_resume_ends_the_hold(
    svc: Service, clock: FakeClock, db: str
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Backup", channels="*")
    ping(svc, check)
    window = svc.pause_alerts_until(check.id, (START + timedelta(days=2)).isoformat())
    assert (window.check_id, window.starts, window.ends) == (
        check.id, START, START + timedelta(days=2))  # fmt: skip
    clock.advance(hours=1)
    ping(svc, check, "fail")
    tick(svc)
    assert svc.get_check(check.uuid).status == "down" and sent(db) == []
    svc.resume_check(check.id)  # not paused: it ends the hold
    tick(svc)
    assert sent(db) == [Sent(channel.id, "change", "down", "held")]
    with pytest.raises(CheckNotPaused):
        svc.resume_check(check.id)
    with pytest.raises(InvalidInput):
        svc.pause_alerts_until(check.id, START.isoformat())  # not in the future


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"tag": "x"}, "starts"),
        ({"tag": "x", "schedule": "0 3 * * *"}, "duration"),
        ({"tag": "x", "schedule": "0 3 * *", "duration": 60}, "schedule"),
        ({"tag": "x", "schedule": "0 3 * * *", "duration": 60, "tz": "Mars/Base"}, "tz"),
        ({"starts": "2026-01-05T12:00:00Z", "ends": "2026-01-05T13:00:00Z"}, "check"),
        ({"tag": "a b", "starts": "2026-01-05T12:00:00Z", "ends": "2026-01-05T13:00:00Z"}, "tag"),
        ({"tag": "x", "starts": "2026-01-05T12:00:00", "ends": "2026-01-05T13:00:00Z"}, "starts"),
        ({"tag": "x", "starts": "2026-01-05T13:00:00Z", "ends": "2026-01-05T12:00:00Z"}, "ends"),
        ({"tag": "x", "schedule": "0 3 * * *", "duration": 60, "colour": "red"}, "colour"),
        (
            {
                "check": "00000000-0000-4000-8000-000000000000",
                "starts": "2026-01-05T12:00:00Z",
                "ends": "2026-01-05T13:00:00Z",
            },
            "check",
        ),
    ],
)
def test_it_refuses_a_window_it_cannot_follow_naming_the_field(
    svc: Service, fields: dict[str, Any], problem: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        svc.create_window(fields)
    assert problem in raised.value.fields
    assert svc.list_windows() == []


# -- start windows ----------------------------------------------------------------


def test_it_goes_down_not_started_when_no_start_comes_within_the_start_window(
    svc: Service, clock: FakeClock, db: str
) -> None:
    add_channel(svc)
    clock.now = datetime.fromisoformat("2026-01-05T02:30:00+00:00")
    check = svc.create_check(name="Nightly", schedule="0 2 * * *", tz="UTC", grace=3600,
                             start_window=600, channels="*")  # fmt: skip
    ping(svc, check)  # last night's run
    clock.now = datetime.fromisoformat("2026-01-06T02:09:59+00:00")
    tick(svc)
    assert svc.get_check(check.uuid).status == "up"
    clock.now = datetime.fromisoformat("2026-01-06T02:10:00+00:00")
    tick(svc)
    assert flip_rows(db)[-1] == ("up", "down", "not started")
    assert events(db)[-1]["reason"] == "not started"


def test_it_gives_a_run_that_started_in_its_window_the_whole_grace(
    svc: Service, clock: FakeClock, db: str
) -> None:
    clock.now = datetime.fromisoformat("2026-01-05T02:30:00+00:00")
    check = svc.create_check(name="Nightly", schedule="0 2 * * *", grace=3600, start_window=600)
    ping(svc, check)
    clock.now = datetime.fromisoformat("2026-01-06T02:05:00+00:00")
    ping(svc, check, "start")
    clock.now = datetime.fromisoformat("2026-01-06T03:04:59+00:00")
    tick(svc)
    assert svc.get_check(check.uuid).status == "up"
    clock.now = datetime.fromisoformat("2026-01-06T03:05:00+00:00")
    tick(svc)
    assert flip_rows(db)[-1] == ("up", "down", "timeout")


# -- pairs of rules -------------------------------------------------------------------


def test_a_reminder_due_inside_a_window_waits_for_its_end_then_one_then_the_schedule(
    svc: Service, clock: FakeClock, db: str
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", remind_every=3600, channels="*")
    ping(svc, check, "fail")
    window_for(svc, check, START + timedelta(minutes=30), START + timedelta(hours=3, minutes=30))
    for _ in range(3):
        clock.advance(hours=1)
        tick(svc)
    assert [s.alert for s in sent(db)] == ["change"]
    clock.now = START + timedelta(hours=3, minutes=30)
    tick(svc)
    tick(svc)
    assert [(s.alert, s.extra) for s in sent(db)] == [("change", ""), ("reminder", "1")]
    clock.advance(hours=1)
    tick(svc)
    assert [s.extra for s in sent(db)][-1] == "2"


def test_a_failure_threshold_does_not_delay_a_missed_start(
    svc: Service, clock: FakeClock, db: str
) -> None:
    # The threshold counts failures the job reports; a start that never came
    # is no report, so it goes down at the window's end like a timeout.
    clock.now = datetime.fromisoformat("2026-01-05T02:30:00+00:00")
    check = svc.create_check(name="Nightly", schedule="0 2 * * *", grace=3600,
                             start_window=600, failure_threshold=3)  # fmt: skip
    ping(svc, check)
    clock.now = datetime.fromisoformat("2026-01-06T02:10:00+00:00")
    tick(svc)
    assert flip_rows(db)[-1] == ("up", "down", "not started")
    clock.now = datetime.fromisoformat("2026-01-06T02:20:00+00:00")
    ping(svc, check, "start")
    ping(svc, check, "fail")  # down already: a failure keeps it down
    assert svc.get_check(check.uuid).status == "down"


def test_a_late_notice_inside_a_window_is_not_sent_and_not_owed(
    svc: Service, clock: FakeClock, db: str
) -> None:
    add_channel(svc, "late", notify_late=True)
    check = svc.create_check(name="Backup", timeout=3600, grace=600, channels="*")
    ping(svc, check)
    window_for(svc, check, START + timedelta(minutes=30), START + timedelta(minutes=65))
    clock.advance(minutes=61)
    tick(svc)
    clock.advance(minutes=5)
    ping(svc, check)  # in time after all
    tick(svc)
    assert sent(db) == []


def test_a_threshold_inside_a_window_holds_the_down_alert_until_the_end(
    svc: Service, clock: FakeClock, db: str
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Flaky", failure_threshold=2, channels="*")
    window_for(svc, check, START, START + timedelta(hours=1))
    ping(svc, check, "fail")
    clock.advance(minutes=1)
    ping(svc, check, "fail")
    clock.advance(hours=1)
    tick(svc)
    assert sent(db) == [Sent(channel.id, "change", "down", "held")]
    assert events(db)[0]["streak"] == 2


def test_a_restart_in_the_middle_of_a_reminder_schedule_neither_loses_nor_repeats_one(
    config: Config, tmp_path: Path
) -> None:
    clock = FakeClock(START)

    def open_service() -> tuple[Any, Service]:
        store = open_store(config)
        service = make_service(config, store, clock, notifier=make_notifier(config))
        service.bootstrap()
        return store, service

    store, svc = open_service()
    try:
        add_channel(svc)
        check = svc.create_check(name="Backup", remind_every=3600, channels="*")
        ping(svc, check, "fail")
        clock.advance(hours=1)
        tick(svc)
    finally:
        store.close()
    clock.advance(minutes=30)  # stopped for half an interval
    store, svc = open_service()
    try:
        tick(svc)
        assert [s.extra for s in sent(config.storage.path) if s.alert == "reminder"] == ["1"]
        clock.advance(minutes=30)
        tick(svc)
        assert [s.extra for s in sent(config.storage.path) if s.alert == "reminder"] == ["1", "2"]
    finally:
        store.close()


def test_a_check_told_down_that_recovers_and_fails_again_in_a_window_is_not_told_twice(
    svc: Service, clock: FakeClock, db: str
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Backup", channels="*")
    ping(svc, check, "fail")
    window_for(svc, check, START, START + timedelta(hours=1))
    clock.advance(minutes=5)
    ping(svc, check)
    clock.advance(minutes=5)
    ping(svc, check, "fail")
    clock.advance(hours=1)
    tick(svc)
    # They were told down, and it is down: nothing new to say (the flips are on the page).
    assert sent(db) == [Sent(channel.id, "change", "down")]
    assert [f[1] for f in flip_rows(db)] == ["down", "up", "down"]


def test_reminders_set_on_a_check_already_down_begin_from_the_change(
    svc: Service, clock: FakeClock, db: str
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", channels="*")
    ping(svc, check, "fail")
    clock.advance(hours=5)
    svc.update_check(check.id, {"remind_every": 3600})
    clock.advance(minutes=59)
    tick(svc)
    assert [s.alert for s in sent(db)] == ["change"]
    clock.advance(minutes=1)
    tick(svc)
    assert [(s.alert, s.extra) for s in sent(db)] == [("change", ""), ("reminder", "1")]
    assert events(db)[1]["down_since"] == iso(START)


def test_each_late_spell_is_told_once_and_a_started_run_is_not_late(
    svc: Service, clock: FakeClock, db: str
) -> None:
    late = add_channel(svc, "late", notify_late=True)
    check = svc.create_check(name="Backup", timeout=3600, grace=1800, channels="*")
    ping(svc, check)
    clock.advance(minutes=65)
    tick(svc)
    ping(svc, check)  # in its grace: on time after all, and a new deadline
    clock.advance(minutes=65)
    tick(svc)
    tick(svc)
    assert sent(db) == [Sent(late.id, "late", "late")] * 2
    ping(svc, check)
    clock.advance(minutes=59)
    ping(svc, check, "start")  # running when it turns due: not late
    clock.advance(minutes=10)
    tick(svc)
    assert len(sent(db)) == 2
