"""Alerts across restarts of the real ``pingd serve`` process (SPEC §2.3).

"Each check's next deadline is stored, so a restart neither loses nor resets
timers; on start-up overdue checks are handled at once", and "a restart
resumes unsent" notifications. Each test runs the real server on loopback
(port 0, database in tmp_path, a 0.2 s alert tick) against a real webhook
receiver, stops it (SIGTERM) or kills it (SIGKILL), changes the world while it
is down, starts it again and counts what the receiver got.
"""

from __future__ import annotations

import sqlite3
import time
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from receivers import HttpReceiver
from serverutil import Server
from serverutil import open_db_readonly
from serverutil import run_cli
from serverutil import start_server
from serverutil import stop_quietly

from pingd.store.times import to_db_time

FAST_TICK = {"PINGD_ALERTS_TICK_SECONDS": "0.2"}
SLOW_TICK = {"PINGD_ALERTS_TICK_SECONDS": "30"}  # only the start-up sweep can act in time
QUIET_SECONDS = 1.0  # five fast ticks: long enough for a duplicate to show up
HTTP_TIMEOUT_SECONDS = 5.0
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

StartServer = Callable[..., Server]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[StartServer]:
    """Start ``pingd serve`` on tmp_path/pingd.db (ready when returned); stop all afterwards."""
    started: list[Server] = []

    def start(env: dict[str, str] | None = None) -> Server:
        server = start_server(tmp_path, env=env or FAST_TICK, name=f"serve{len(started)}")
        started.append(server)
        server.wait_ready(1)
        return server

    yield start
    for server in started:
        stop_quietly(server)


def cli(tmp_path: Path, *args: str) -> str:
    result = run_cli(tmp_path, "--db", str(tmp_path / "pingd.db"), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def add_webhook(tmp_path: Path, receiver: HttpReceiver) -> str:
    return cli(
        tmp_path, "channel", "add", "webhook", "--set", f"url_down={receiver.url}/down/$UUID",
        "--set", "body_down=$NAME is $STATUS", "--set", f"url_up={receiver.url}/up/$UUID",
    )  # fmt: skip


def add_check(tmp_path: Path, name: str, channel: str, *args: str) -> str:
    url = cli(tmp_path, "check", "add", name, "--channel", channel, *args)
    return url.rstrip("/").rsplit("/", 1)[-1]


def send_ping(server: Server, path: str) -> str:
    with _OPENER.open(f"{server.url}/ping/{path}", timeout=HTTP_TIMEOUT_SECONDS) as response:
        assert response.status == 200
        return str(response.read().decode())


def rows(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    conn = open_db_readonly(db)
    try:
        return [tuple(row) for row in conn.execute(sql, params).fetchall()]
    finally:
        conn.close()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        time.sleep(0.02)


def stop(server: Server) -> None:
    assert server.terminate() == 0
    assert "Traceback" not in server.stderr(), server.stderr()


def test_it_alerts_once_after_start_for_a_check_that_went_overdue_while_stopped(
    tmp_path: Path, serve: StartServer, receiver: HttpReceiver
) -> None:
    db = tmp_path / "pingd.db"
    channel = add_webhook(tmp_path, receiver)
    uuid = add_check(tmp_path, "Nightly", channel, "--period", "60", "--grace", "60")
    server = serve()
    assert send_ping(server, uuid) == "OK"
    stop(server)
    assert receiver.requests == []  # new -> up notifies nobody

    # While pingd is stopped, two minutes "pass": the ping is ten minutes old.
    last_ping = datetime.now(UTC) - timedelta(minutes=10)
    deadline = last_ping + timedelta(seconds=120)
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(
                "UPDATE checks SET last_ping = ?, alert_after = ? WHERE uuid = ?",
                (to_db_time(last_ping), to_db_time(deadline), uuid),
            )
    finally:
        conn.close()

    started = time.monotonic()
    server = serve(SLOW_TICK)  # the first tick, at start-up, must handle it
    [request] = receiver.wait_for(1)
    assert time.monotonic() - started < 5.0
    assert (request.method, request.path, request.text()) == (
        "POST", f"/down/{uuid}", "Nightly is down"
    )  # fmt: skip
    stop(server)

    server = serve(FAST_TICK)  # several ticks and a restart: still exactly one alert
    time.sleep(QUIET_SECONDS)
    stop(server)
    assert len(receiver.requests) == 1
    flips = rows(
        db,
        "SELECT flips.created, old_status, new_status, reason FROM flips"
        " JOIN checks ON checks.id = flips.check_id WHERE uuid = ? ORDER BY flips.id",
        uuid,
    )
    assert [flip[1:] for flip in flips] == [("new", "up", ""), ("up", "down", "timeout")]
    assert flips[1][0] == to_db_time(deadline)
    assert rows(db, "SELECT state, attempts FROM deliveries") == [("sent", 1)]
    assert rows(db, "SELECT status, alert_after FROM checks WHERE uuid = ?", uuid) == [
        ("down", None)
    ]


def test_it_delivers_after_a_restart_an_alert_that_was_in_flight_at_sigkill(
    tmp_path: Path, serve: StartServer, receiver: HttpReceiver
) -> None:
    db = tmp_path / "pingd.db"
    channel = add_webhook(tmp_path, receiver)
    uuid = add_check(tmp_path, "Backup", channel)
    receiver.hang()
    server = serve()
    assert send_ping(server, f"{uuid}/fail") == "OK"
    receiver.wait_for(1)  # pingd is sending it now, and the receiver holds on to it
    assert server.kill() != 0
    assert rows(db, "SELECT state, attempts FROM deliveries") == [("pending", 0)]

    receiver.recover()
    server = serve()
    [delivered] = receiver.wait_for_ok(1)
    time.sleep(QUIET_SECONDS)
    stop(server)
    assert len(receiver.answered_ok()) == 1
    assert len(receiver.requests) == 2  # the one cut off by SIGKILL, and the delivery
    assert (delivered.path, delivered.text()) == (f"/down/{uuid}", "Backup is down")
    assert rows(db, "SELECT state, attempts, last_error FROM deliveries") == [("sent", 1, "")]


def test_it_retries_after_a_restart_an_alert_whose_first_attempt_failed_before_sigkill(
    tmp_path: Path, serve: StartServer, receiver: HttpReceiver
) -> None:
    db = tmp_path / "pingd.db"
    channel = add_webhook(tmp_path, receiver)
    uuid = add_check(tmp_path, "Backup", channel)
    receiver.always_fail(500)
    server = serve()
    assert send_ping(server, f"{uuid}/fail") == "OK"
    wait_until(lambda: rows(db, "SELECT attempts FROM deliveries") == [(1,)])
    assert server.kill() != 0
    [(state, next_attempt)] = rows(db, "SELECT state, next_attempt FROM deliveries")
    assert state == "pending"
    retry_at = datetime.fromisoformat(str(next_attempt))

    receiver.recover()
    serve()
    receiver.wait_for_ok(1, timeout=15.0)
    assert datetime.now(UTC) >= retry_at  # the stored back-off was kept across the restart
    time.sleep(QUIET_SECONDS)
    assert [r.answered for r in receiver.requests] == [500, 200]
    assert rows(db, "SELECT state, attempts FROM deliveries") == [("sent", 2)]
    assert rows(db, "SELECT ok, error FROM delivery_attempts ORDER BY id") == [
        (0, "127.0.0.1 answered HTTP 500"),
        (1, ""),
    ]
