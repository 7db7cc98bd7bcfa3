"""Alerts with a fake clock: deadlines, flips and the deliveries they queue (SPEC §2.2, §2.3).

Only the clock is fake. Every test runs the real service on a real SQLite
file and reads what was stored straight from that file: the flips (oldest
first) and the queued deliveries (one row per notifying flip per channel).
Channels are real webhook channels; nothing is sent here except in the one
test that delivers an alert for a deleted check to a real local receiver.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import webtest
from conftest import START
from conftest import FakeClock
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from receivers import http_receiver

from pingd.app import create_app
from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.cli.main import main
from pingd.config import Config
from pingd.config import default_config
from pingd.domain.alerts import Channel
from pingd.domain.checks import Check
from pingd.errors import CheckNotPaused
from pingd.errors import InvalidInput
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.service.pings import PingResult
from pingd.writer.store import Store

BASE_URL = "https://pingd.example.org"
UNUSED_URL = "http://127.0.0.1:9/unused"  # never sent to: these tests only queue


@dataclass(frozen=True)
class FlipRow:
    created: datetime
    old_status: str
    new_status: str
    reason: str


@dataclass(frozen=True)
class DeliveryRow:
    channel_id: int
    event: dict[str, Any]
    state: str
    attempts: int


# -- fixtures and helpers --------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return default_config(
        storage__path=str(tmp_path / "pingd.db"), server__base_url=BASE_URL, api__burst=1000
    )


@pytest.fixture
def api(config: Config, store: Store, clock: FakeClock, svc: Service) -> webtest.TestApp:
    key = svc.create_api_key("tests")
    app = webtest.TestApp(create_app(config, store=store, clock=clock, service=svc))
    app.extra_environ = {"HTTP_X_API_KEY": key}
    return app


def add_channel(svc: Service, name: str = "hook", **kwargs: Any) -> Channel:
    return svc.create_channel("webhook", name, {"url_down": UNUSED_URL}, **kwargs)


def ping(
    svc: Service,
    check: Check,
    action: str = "success",
    *,
    exit_status: int | None = None,
    body: bytes = b"",
    rid: str | None = None,
) -> PingResult:
    """Send one ping through the service, as the ping router would."""
    return svc.record_ping(
        PingRequest(
            action=action, method="POST", scheme="http", remote_addr="127.0.0.1",
            ua="tests", body=body, body_size=len(body), uuid=check.uuid,
            exit_status=exit_status, rid=rid,
        )
    )  # fmt: skip


def query(db: str, sql: str, *params: object) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def flips(db: str, check: Check) -> list[FlipRow]:
    """The check's flips as stored, oldest first."""
    rows = query(
        db,
        "SELECT created, old_status, new_status, reason FROM flips WHERE check_id = ? ORDER BY id",
        check.id,
    )
    return [FlipRow(datetime.fromisoformat(r[0]), r[1], r[2], r[3]) for r in rows]


def deliveries(db: str, check: Check | None = None) -> list[DeliveryRow]:
    """Queued deliveries (of one check's events, or all), oldest first."""
    rows = query(db, "SELECT channel_id, event, state, attempts FROM deliveries ORDER BY id")
    found = [DeliveryRow(r[0], json.loads(r[1]), r[2], r[3]) for r in rows]
    return [d for d in found if check is None or d.event["uuid"] == check.uuid]


def dbfile(config: Config) -> str:
    return config.storage.path


def stored(svc: Service, check: Check) -> Check:
    return svc.get_check(check.uuid)


def summary(row: DeliveryRow) -> tuple[int, str, str, str, str]:
    event = row.event
    return row.channel_id, event["old_status"], event["status"], event["reason"], event["time"]


def iso(when: datetime) -> str:
    return when.astimezone(UTC).replace(microsecond=0).isoformat()


# -- going down on time ----------------------------------------------------------


def test_it_turns_a_silent_check_down_exactly_at_last_ping_plus_timeout_plus_grace(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    db = config.storage.path
    channel = add_channel(svc)
    check = svc.create_check(name="Backup", timeout=3600, grace=600, channels="*")
    ping(svc, check)
    deadline = START + timedelta(seconds=3600 + 600)
    assert stored(svc, check).alert_after == deadline

    clock.now = deadline - timedelta(microseconds=1)
    assert svc.sweep_overdue() == 0
    assert stored(svc, check).status == "up"
    assert deliveries(db) == []

    clock.now = deadline
    assert svc.sweep_overdue() == 1
    assert flips(db, check) == [
        FlipRow(START, "new", "up", ""),
        FlipRow(deadline, "up", "down", "timeout"),
    ]
    after = stored(svc, check)
    assert (after.status, after.alert_after) == ("down", None)
    queued = deliveries(db)
    assert [summary(d) for d in queued] == [(channel.id, "up", "down", "timeout", iso(deadline))]
    assert (queued[0].state, queued[0].attempts) == ("pending", 0)
    assert queued[0].event["name"] == "Backup"

    clock.advance(seconds=1)
    assert svc.sweep_overdue() == 0
    clock.advance(days=3)
    assert svc.sweep_overdue() == 0
    assert len(flips(db, check)) == 2
    assert len(deliveries(db)) == 1


def test_it_dates_the_flip_at_the_deadline_when_the_sweep_runs_late(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", timeout=3600, grace=600, channels="*")
    ping(svc, check)
    clock.advance(hours=7, seconds=13)
    assert svc.sweep_overdue() == 1
    deadline = START + timedelta(seconds=4200)
    assert flips(dbfile(config), check)[-1] == FlipRow(deadline, "up", "down", "timeout")
    assert deliveries(dbfile(config))[0].event["time"] == iso(deadline)


def test_it_records_the_missed_down_flip_when_a_ping_beats_the_sweep(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Backup", timeout=3600, grace=600, channels="*")
    ping(svc, check)
    deadline = START + timedelta(seconds=4200)
    late = clock.advance(hours=5)
    ping(svc, check)
    assert flips(dbfile(config), check) == [
        FlipRow(START, "new", "up", ""),
        FlipRow(deadline, "up", "down", "timeout"),
        FlipRow(late, "down", "up", ""),
    ]
    assert [summary(d) for d in deliveries(dbfile(config))] == [
        (channel.id, "up", "down", "timeout", iso(deadline)),
        (channel.id, "down", "up", "", iso(late)),
    ]
    assert svc.sweep_overdue() == 0


def test_it_flips_once_when_several_threads_sweep_while_a_ping_lands(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Backup", timeout=3600, grace=600, channels="*")
    ping(svc, check)
    deadline = START + timedelta(seconds=4200)
    now = clock.advance(hours=2)
    barrier = threading.Barrier(9)
    errors: list[BaseException] = []

    def run(action: Any) -> None:
        try:
            barrier.wait(timeout=5)
            action()
        except BaseException as ex:  # noqa: B036 - reported below
            errors.append(ex)

    threads = [threading.Thread(target=run, args=(svc.sweep_overdue,)) for _ in range(8)]
    threads.append(threading.Thread(target=run, args=(lambda: ping(svc, check),)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    # Whichever wins, the outage is recorded once at the deadline and the ping ends it.
    assert flips(dbfile(config), check) == [
        FlipRow(START, "new", "up", ""),
        FlipRow(deadline, "up", "down", "timeout"),
        FlipRow(now, "down", "up", ""),
    ]
    assert [summary(d) for d in deliveries(dbfile(config))] == [
        (channel.id, "up", "down", "timeout", iso(deadline)),
        (channel.id, "down", "up", "", iso(now)),
    ]


# -- who is notified -------------------------------------------------------------


def test_it_notifies_nobody_when_a_new_check_comes_up(svc: Service, config: Config) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", channels="*")
    result = ping(svc, check)
    assert [(f.old_status, f.new_status) for f in result.flips] == [("new", "up")]
    assert flips(dbfile(config), check) == [FlipRow(START, "new", "up", "")]
    assert deliveries(dbfile(config)) == []


def test_it_notifies_nobody_when_a_paused_check_comes_up(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", channels="*")
    ping(svc, check)
    paused_at = clock.advance(minutes=5)
    svc.pause_check(check.id)
    up_at = clock.advance(minutes=5)
    ping(svc, check)
    assert flips(dbfile(config), check) == [
        FlipRow(START, "new", "up", ""),
        FlipRow(paused_at, "up", "paused", ""),
        FlipRow(up_at, "paused", "up", ""),
    ]
    assert deliveries(dbfile(config)) == []


def test_it_notifies_every_channel_when_a_down_check_comes_back_up(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    one, two = add_channel(svc, "one"), add_channel(svc, "two")
    check = svc.create_check(name="Backup", timeout=3600, grace=600, channels="*")
    ping(svc, check)
    clock.advance(hours=2)
    assert svc.sweep_overdue() == 1
    up_at = clock.advance(minutes=1)
    result = ping(svc, check, body=b"all good")
    assert [(f.old_status, f.new_status) for f in result.flips] == [("down", "up")]
    ups = [d for d in deliveries(dbfile(config)) if d.event["status"] == "up"]
    assert [summary(d) for d in ups] == [
        (one.id, "down", "up", "", iso(up_at)),
        (two.id, "down", "up", "", iso(up_at)),
    ]
    assert ups[0].event["body"] == "all good"
    assert ups[0].event["last_ping"] == iso(up_at)


def test_it_notifies_a_fail_ping_with_reason_fail_and_the_exit_status(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Backup", tags="prod db", channels="*")
    ping(svc, check)
    failed_at = clock.advance(minutes=3)
    ping(svc, check, "fail", exit_status=3, body=b"rsync: connection refused\n")
    assert flips(dbfile(config), check)[-1] == FlipRow(failed_at, "up", "down", "fail")
    [delivery] = deliveries(dbfile(config))
    assert summary(delivery) == (channel.id, "up", "down", "fail", iso(failed_at))
    assert delivery.event == {
        "alert": "change", "streak": 1,
        "uuid": check.uuid, "name": "Backup", "slug": "backup", "tags": "prod db", "desc": "",
        "status": "down", "old_status": "up", "reason": "fail", "exit_status": 3,
        "time": iso(failed_at), "last_ping": iso(failed_at),
        "body": "rsync: connection refused\n",
    }  # fmt: skip
    # A second failure changes nothing and notifies nobody.
    clock.advance(minutes=1)
    ping(svc, check, "fail", exit_status=4)
    assert len(flips(dbfile(config), check)) == 2
    assert len(deliveries(dbfile(config))) == 1


def test_it_notifies_when_a_new_check_first_reports_failure(svc: Service, config: Config) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Backup", channels="*")
    ping(svc, check, "fail", exit_status=1)
    assert flips(dbfile(config), check) == [FlipRow(START, "new", "down", "fail")]
    assert [summary(d) for d in deliveries(dbfile(config))] == [
        (channel.id, "new", "down", "fail", iso(START))
    ]


def test_it_turns_a_start_not_followed_by_success_within_grace_down(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    channel = add_channel(svc)
    check = svc.create_check(name="Backup", timeout=86400, grace=600, channels="*")
    ping(svc, check)
    started = clock.advance(hours=1)
    ping(svc, check, "start")
    assert stored(svc, check).alert_after == started + timedelta(seconds=600)

    clock.now = started + timedelta(seconds=599)
    assert svc.sweep_overdue() == 0
    assert svc.list_checks(status="started") == [stored(svc, check)]

    clock.now = started + timedelta(seconds=600)
    assert svc.sweep_overdue() == 1
    assert flips(dbfile(config), check)[-1] == FlipRow(
        started + timedelta(seconds=600), "up", "down", "timeout"
    )
    assert [summary(d) for d in deliveries(dbfile(config))] == [
        (channel.id, "up", "down", "timeout", iso(started + timedelta(seconds=600)))
    ]


def test_it_keeps_a_check_up_when_the_success_follows_its_start_within_grace(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", timeout=86400, grace=600, channels="*")
    ping(svc, check)
    clock.advance(hours=1)
    ping(svc, check, "start")
    done = clock.advance(seconds=599)
    ping(svc, check)
    assert stored(svc, check).alert_after == done + timedelta(seconds=86400 + 600)
    clock.advance(seconds=3600)
    assert svc.sweep_overdue() == 0
    assert flips(dbfile(config), check) == [FlipRow(START, "new", "up", "")]
    assert deliveries(dbfile(config)) == []


@pytest.mark.parametrize(
    ("last_ping", "deadline"),
    [
        # Spring forward in Berlin (29 March 2026): 09:00 is 08:00Z before, 07:00Z after.
        (datetime(2026, 3, 28, 8, 0, 5, tzinfo=UTC), datetime(2026, 3, 29, 7, 10, tzinfo=UTC)),
        # Fall back (25 October 2026): 09:00 is 07:00Z before, 08:00Z after.
        (datetime(2026, 10, 24, 7, 0, 5, tzinfo=UTC), datetime(2026, 10, 25, 8, 10, tzinfo=UTC)),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_it_turns_a_cron_check_down_at_the_right_instant_across_a_dst_change(
    svc: Service, clock: FakeClock, config: Config, last_ping: datetime, deadline: datetime
) -> None:
    channel = add_channel(svc)
    clock.now = last_ping - timedelta(days=1)
    check = svc.create_check(
        name="Daily report", schedule="0 9 * * *", tz="Europe/Berlin", grace=600, channels="*"
    )
    clock.now = last_ping
    ping(svc, check)
    assert stored(svc, check).alert_after == deadline

    clock.now = deadline - timedelta(seconds=1)
    assert svc.sweep_overdue() == 0
    clock.now = deadline
    assert svc.sweep_overdue() == 1
    assert flips(dbfile(config), check)[-1] == FlipRow(deadline, "up", "down", "timeout")
    assert [summary(d) for d in deliveries(dbfile(config))] == [
        (channel.id, "up", "down", "timeout", iso(deadline))
    ]


def test_it_records_pause_and_resume_as_flips_and_notifies_nobody(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", timeout=3600, grace=600, channels="*")
    ping(svc, check)
    paused_at = clock.advance(minutes=10)
    svc.pause_check(check.id)
    svc.pause_check(check.id)  # idempotent: no second flip
    clock.advance(days=2)
    assert svc.sweep_overdue() == 0
    resumed_at = clock.advance(minutes=1)
    svc.resume_check(check.id)
    clock.advance(days=2)
    assert svc.sweep_overdue() == 0  # a new check has no deadline until pinged
    assert flips(dbfile(config), check) == [
        FlipRow(START, "new", "up", ""),
        FlipRow(paused_at, "up", "paused", ""),
        FlipRow(resumed_at, "paused", "new", ""),
    ]
    assert deliveries(dbfile(config)) == []
    with pytest.raises(CheckNotPaused):
        svc.resume_check(check.id)


def test_it_notifies_nobody_when_a_down_check_is_paused_and_then_pinged(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    add_channel(svc)
    check = svc.create_check(name="Backup", channels="*")
    ping(svc, check, "fail")
    paused_at = clock.advance(minutes=1)
    svc.pause_check(check.id)
    up_at = clock.advance(minutes=1)
    ping(svc, check)
    assert flips(dbfile(config), check) == [
        FlipRow(START, "new", "down", "fail"),
        FlipRow(paused_at, "down", "paused", ""),
        FlipRow(up_at, "paused", "up", ""),
    ]
    assert [d.event["status"] for d in deliveries(dbfile(config))] == ["down"]


def test_it_delivers_the_alert_of_a_check_deleted_after_it_was_queued(
    config: Config, store: Store, clock: FakeClock
) -> None:
    with http_receiver() as receiver:
        service = make_service(config, store, clock, notifier=make_notifier(config))
        service.bootstrap()
        service.create_channel(
            "webhook", "hook", {"url_down": receiver.url + "/down/$UUID", "body_down": "$NAME"}
        )
        check = service.create_check(name="Doomed job", timeout=3600, grace=600, channels="*")
        ping(service, check)
        clock.advance(hours=2)
        assert service.sweep_overdue() == 1
        service.delete_check(check.id)
        assert query(config.storage.path, "SELECT count(*) FROM checks")[0][0] == 0

        [due] = service.due_deliveries()
        assert service.deliver(due).ok
        [request] = receiver.requests
        assert (request.method, request.path, request.body) == (
            "POST", f"/down/{check.uuid}", b"Doomed job"
        )  # fmt: skip
        assert [(d.state, d.attempts) for d in deliveries(config.storage.path)] == [("sent", 1)]


# -- which channels a check alerts ------------------------------------------------


def test_it_attaches_every_channel_for_star_and_only_the_listed_ones_for_a_list(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    one, two, three = (add_channel(svc, name) for name in ("one", "two", "three"))
    every = svc.create_check(name="Every", timeout=3600, grace=600, channels="*")
    some = svc.create_check(name="Some", timeout=3600, grace=600, channels=[three.id, one.id])
    none = svc.create_check(name="None", timeout=3600, grace=600)
    assert svc.channel_ids_by_check() == {every.id: [one.id, two.id, three.id],
                                          some.id: [one.id, three.id]}  # fmt: skip
    for check in (every, some, none):
        ping(svc, check, "fail")
    assert [d.channel_id for d in deliveries(dbfile(config), every)] == [one.id, two.id, three.id]
    assert [d.channel_id for d in deliveries(dbfile(config), some)] == [one.id, three.id]
    assert deliveries(dbfile(config), none) == []
    assert flips(dbfile(config), none) == [FlipRow(START, "new", "down", "fail")]


def test_it_changes_a_checks_channels_with_patch(
    svc: Service, api: webtest.TestApp, config: Config
) -> None:
    one, two = add_channel(svc, "one"), add_channel(svc, "two")
    check = svc.create_check(name="Backup", channels=[one.id])
    response = api.patch_json(f"/v1/checks/{check.uuid}", {"channels": [two.id]})
    assert response.json["data"]["channels"] == [two.id]
    ping(svc, check, "fail")
    assert [d.channel_id for d in deliveries(dbfile(config))] == [two.id]
    response = api.patch_json(f"/v1/checks/{check.uuid}", {"channels": "*"})
    assert response.json["data"]["channels"] == [one.id, two.id]


def test_it_gives_a_check_auto_created_by_a_ping_every_channel(
    svc: Service, api: webtest.TestApp, config: Config
) -> None:
    one, two = add_channel(svc, "one"), add_channel(svc, "two")
    key = svc.project().ping_key
    response = api.get(f"/ping/{key}/nightly-sync/fail?create=1")
    assert (response.status_int, response.text) == (201, "Created")
    [check] = svc.list_checks(slug="nightly-sync")
    assert svc.channel_ids_by_check() == {check.id: [one.id, two.id]}
    assert [summary(d)[:4] for d in deliveries(dbfile(config), check)] == [
        (one.id, "new", "down", "fail"),
        (two.id, "new", "down", "fail"),
    ]
    listed = api.get("/v1/checks", {"slug": "nightly-sync"}).json["data"]
    assert [c["channels"] for c in listed] == [[one.id, two.id]]


@pytest.mark.parametrize("channels", [[999], [1, 999], "all", [True], ["1"]])
def test_it_refuses_unknown_channel_ids_with_422_and_creates_nothing(
    svc: Service, api: webtest.TestApp, config: Config, channels: Any
) -> None:
    add_channel(svc)  # id 1
    response = api.post_json("/v1/checks", {"name": "Backup", "channels": channels}, status=422)
    assert response.json["errorCode"] == "INVALID_INPUT"
    assert set(response.json["fields"]) == {"channels"}
    if isinstance(channels, list) and 999 in channels:
        assert response.json["fields"]["channels"] == "no channel with id 999"
    assert svc.list_checks() == []


def test_it_refuses_an_unknown_channel_id_on_patch_and_keeps_the_old_ones(
    svc: Service, api: webtest.TestApp
) -> None:
    one = add_channel(svc)
    check = svc.create_check(name="Backup", channels=[one.id])
    response = api.patch_json(
        f"/v1/checks/{check.uuid}", {"channels": [one.id, 999], "name": "Renamed"}, status=422
    )
    assert response.json["fields"] == {"channels": "no channel with id 999"}
    assert svc.channel_ids_by_check() == {check.id: [one.id]}
    assert stored(svc, check).name == "Backup"
    with pytest.raises(InvalidInput):
        svc.create_check(name="Other", channels=[999])


def test_it_attaches_channels_from_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("PINGD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "cli.db")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--db", db, *args])
        out, err = capsys.readouterr()
        return code, out, err

    assert run("check", "add", "Before")[0] == 0
    code, out, _ = run("channel", "add", "webhook", "--set", f"url_down={UNUSED_URL}",
                       "--all-checks")  # fmt: skip
    assert code == 0
    first = int(out.strip())
    code, out, _ = run("channel", "add", "webhook", "--set", f"url_down={UNUSED_URL}")
    second = int(out.strip())
    assert run("check", "add", "Star", "--channel", "*")[0] == 0
    assert run("check", "add", "Listed", "--channel", str(second))[0] == 0
    assert run("check", "add", "Plain")[0] == 0
    code, _, err = run("check", "add", "Broken", "--channel", "999")
    assert code == 1
    assert "no channel with id 999" in err

    rows = query(
        db,
        "SELECT checks.name, group_concat(channel_id) FROM checks"
        " LEFT JOIN check_channels ON check_channels.check_id = checks.id"
        " GROUP BY checks.id ORDER BY checks.id",
    )
    assert [tuple(row) for row in rows] == [
        ("Before", str(first)),
        ("Star", f"{first},{second}"),
        ("Listed", str(second)),
        ("Plain", None),
    ]


# -- any interleaving: one flip per change, one delivery per notifying flip per channel --


@dataclass
class Model:
    """What SPEC §2.2/§2.3 say a simple check's stored state and flips must be."""

    timeout: int
    grace: int
    status: str = "new"
    last_ping: datetime | None = None
    last_start: datetime | None = None

    def __post_init__(self) -> None:
        self.flips: list[FlipRow] = []
        self.last_kind = ""  # the last counted ping's, to spot a client's retry

    @property
    def alert_after(self) -> datetime | None:
        if self.status == "down":
            return None
        if self.last_start is not None:
            return self.last_start + timedelta(seconds=self.grace)
        if self.status in ("new", "paused") or self.last_ping is None:
            return None
        return self.last_ping + timedelta(seconds=self.timeout + self.grace)

    def _to(self, status: str, when: datetime, reason: str) -> None:
        if status != self.status:
            self.flips.append(FlipRow(when, self.status, status, reason))
            self.status = status

    def sweep(self, now: datetime) -> None:
        deadline = self.alert_after
        if deadline is not None and now >= deadline:
            self._to("down", deadline, "timeout")

    def ping(self, kind: str, now: datetime) -> None:
        self.sweep(now)  # a deadline that passed before this ping is an outage all the same
        if kind == "log":
            return
        if self.is_repeat(kind, now):
            return
        self.last_kind = kind
        if kind == "start":
            self.last_start = now
            return
        self.last_ping, self.last_start = now, None
        self._to("up" if kind == "success" else "down", now, "fail" if kind == "fail" else "")

    def is_repeat(self, kind: str, now: datetime) -> bool:
        """The same ping again within 30 s of the one that set last_start or last_ping."""
        then = self.last_start if kind == "start" else self.last_ping
        return self.last_kind == kind and then is not None and now - then <= timedelta(seconds=30)

    def pause(self, now: datetime) -> None:
        self.last_start = None
        self._to("paused", now, "")

    def resume(self, now: datetime) -> None:
        self.last_ping = self.last_start = None
        self._to("new", now, "")


def notifies(flip: FlipRow) -> bool:
    return flip.new_status == "down" or (flip.old_status, flip.new_status) == ("down", "up")


STEPS = st.one_of(
    st.tuples(st.just("ping"), st.sampled_from(["success", "fail", "start", "log"])),
    st.tuples(
        st.just("advance"),
        st.sampled_from([0, 1, 59, 60, 599, 600, 601, 3599, 3600, 4200, 86400])
        | st.integers(0, 2 * 86400),
    ),
    st.tuples(st.just("to_deadline"), st.integers(-1, 1)),
    st.tuples(st.just("sweep"), st.just(0)),
    st.tuples(st.just("pause"), st.just(0)),
    st.tuples(st.just("resume"), st.just(0)),
)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    timeout=st.sampled_from([60, 3600, 86400]),
    grace=st.sampled_from([60, 600]),
    steps=st.lists(STEPS, max_size=25),
)
def test_it_flips_exactly_once_per_status_change_in_any_interleaving(
    timeout: int, grace: int, steps: list[tuple[str, int]]
) -> None:
    with fresh_service() as (service, db, clock):
        channels = [add_channel(service, "one"), add_channel(service, "two")]
        check = service.create_check(name="Job", timeout=timeout, grace=grace, channels="*")
        model = Model(timeout, grace)
        for step, value in steps:
            now = clock.now
            if step == "ping":
                ping(service, check, str(value))
                model.ping(str(value), now)
            elif step == "advance":
                clock.advance(seconds=value)
            elif step == "to_deadline":
                deadline = model.alert_after
                if deadline is not None and deadline + timedelta(seconds=value) > now:
                    clock.now = deadline + timedelta(seconds=value)
            elif step == "sweep":
                service.sweep_overdue()
                model.sweep(now)
            elif step == "pause":
                service.pause_check(check.id)
                model.pause(now)
            elif model.status == "paused":
                service.resume_check(check.id)
                model.resume(now)
            else:
                with pytest.raises(CheckNotPaused):
                    service.resume_check(check.id)

        found = flips(db, check)
        # One flip per change: they chain, and none is a non-change.
        previous = "new"
        for flip in found:
            assert flip.old_status == previous != flip.new_status
            previous = flip.new_status
        final = stored(service, check)
        assert final.status == previous
        # Exactly the flips, dates and reasons the contract implies.
        assert found == model.flips
        assert (final.status, final.alert_after) == (model.status, model.alert_after)
        # One delivery per notifying flip per attached channel, in order.
        expected = [
            (channel.id, flip.old_status, flip.new_status, flip.reason, iso(flip.created))
            for flip in found
            if notifies(flip)
            for channel in channels
        ]
        queued = deliveries(db, check)
        assert sorted(summary(d) for d in queued) == sorted(expected)
        for channel in channels:
            mine = [summary(d) for d in queued if d.channel_id == channel.id]
            assert mine == [e for e in expected if e[0] == channel.id]


class fresh_service:
    """A new database, service and clock per Hypothesis example (closed afterwards)."""

    def __enter__(self) -> tuple[Service, str, FakeClock]:
        self._dir = tempfile.TemporaryDirectory(prefix="pingd-alerts-")
        config = default_config(storage__path=str(Path(self._dir.name) / "pingd.db"))
        self._store = open_store(config)
        clock = FakeClock(START)
        service = make_service(config, self._store, clock, notifier=make_notifier(config))
        service.bootstrap()
        return service, config.storage.path, clock

    def __exit__(self, *exc: object) -> None:
        self._store.close()
        self._dir.cleanup()


def test_it_prunes_old_flips_and_finished_deliveries_but_keeps_pending_ones(
    svc: Service, clock: FakeClock, config: Config
) -> None:
    channel = svc.create_channel("webhook", "hook", {"url_down": "http://127.0.0.1:9/x"})
    check = svc.create_check(name="Old", timeout=60, grace=60, channels=[channel.id])
    ping(svc, check, "fail")  # a flip and a pending delivery, now
    delivered = svc.due_deliveries()[0]
    with sqlite3.connect(config.storage.path) as conn:
        conn.execute("UPDATE deliveries SET state = 'sent' WHERE id = ?", (delivered.id,))
    ping(svc, check, "success")  # down -> up: another flip and delivery, still pending
    clock.advance(days=31)
    assert svc.prune_history() == 1  # the sent delivery only
    assert len(svc.list_flips(check.id)) == 2
    clock.advance(days=60)
    assert svc.prune_history() == 2  # both flips; the pending delivery stays
    assert svc.list_flips(check.id) == []
    assert [d.state for d in svc.due_deliveries()] == ["pending"]
