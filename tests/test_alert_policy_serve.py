"""The alert policy on the real ``pingd serve``, to a real webhook receiver, over loopback.

A reminder due while the server was stopped arrives once after the start
(not one per missed interval), and the next arrives when it is due; nothing
arrives while a maintenance window covers a check; when the window ends with
the check still down, one alert arrives. Checks, channels and windows are
made with the real CLI; time passes for real (a 0.2 s alert tick), and, as in
``test_alert_restart.py``, the world changes in the database only while the
server is stopped.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

from receivers import HttpReceiver
from test_alert_restart import QUIET_SECONDS
from test_alert_restart import StartServer
from test_alert_restart import add_check
from test_alert_restart import cli
from test_alert_restart import rows
from test_alert_restart import send_ping
from test_alert_restart import serve as serve
from test_alert_restart import stop

from pingd.store.times import to_db_time


def add_json_webhook(tmp_path: Path, receiver: HttpReceiver) -> str:
    return cli(
        tmp_path, "channel", "add", "webhook", "--set", f"url_down={receiver.url}/down/$UUID",
        "--set", "body_down=$JSON", "--set", f"url_up={receiver.url}/up/$UUID",
    )  # fmt: skip


def set_next_reminder(db: Path, when: datetime) -> None:
    conn = sqlite3.connect(db)
    try:
        with conn:
            assert conn.execute("UPDATE reminders SET next_at = ?", (to_db_time(when),)).rowcount
    finally:
        conn.close()


def test_a_reminder_due_during_a_stop_arrives_once_after_start_then_on_time(
    tmp_path: Path, serve: StartServer, receiver: HttpReceiver
) -> None:
    db = tmp_path / "pingd.db"
    channel = add_json_webhook(tmp_path, receiver)
    uuid = add_check(tmp_path, "Nightly", channel, "--remind-every", "1m")
    server = serve()
    assert send_ping(server, f"{uuid}/fail") == "OK"
    [down] = receiver.wait_for(1)
    assert (down.path, json.loads(down.text())["alert"]) == (f"/down/{uuid}", "change")
    stop(server)

    # Stopped for three hours: 180 reminders were due; one arrives.
    set_next_reminder(db, datetime.now(UTC) - timedelta(hours=3))
    server = serve()
    reminder = receiver.wait_for(2)[1]
    sent_at = datetime.now(UTC)
    event = json.loads(reminder.text())
    assert (reminder.path, event["alert"], event["reminder"]) == (f"/down/{uuid}", "reminder", 1)
    assert event["down_for"] >= 0
    time.sleep(QUIET_SECONDS)
    assert len(receiver.requests) == 2
    [(next_at,)] = rows(db, "SELECT next_at FROM reminders")
    assert abs(datetime.fromisoformat(str(next_at)) - (sent_at + timedelta(minutes=1))) < (
        timedelta(seconds=5)
    )
    stop(server)

    # The next one is due in two seconds: it arrives then, not before.
    due = datetime.now(UTC) + timedelta(seconds=2)
    set_next_reminder(db, due)
    server = serve()
    third = receiver.wait_for(3)[2]
    arrived = datetime.now(UTC)
    assert json.loads(third.text())["reminder"] == 2
    assert due <= arrived < due + timedelta(seconds=3)
    stop(server)
    assert len(receiver.requests) == 3


def test_nothing_arrives_during_a_window_and_one_alert_when_it_ends_on_a_down_check(
    tmp_path: Path, serve: StartServer, receiver: HttpReceiver
) -> None:
    db = tmp_path / "pingd.db"
    channel = add_json_webhook(tmp_path, receiver)
    uuid = add_check(tmp_path, "Backup", channel)
    other = add_check(tmp_path, "Web", channel)
    window = cli(tmp_path, "window", "add", "--check", uuid, "--until", "3s", "--name", "upgrade")
    server = serve()
    assert send_ping(server, f"{uuid}/fail") == "OK"
    assert send_ping(server, f"{other}/fail") == "OK"  # no window covers it
    [alert] = receiver.wait_for(1)
    assert alert.path == f"/down/{other}"
    time.sleep(1.0)
    assert len(receiver.requests) == 1  # the failure inside the window: no alert yet
    assert rows(db, "SELECT new_status, reason FROM flips JOIN checks ON checks.id = check_id"
                    " WHERE uuid = ?", uuid) == [("down", "fail")]  # fmt: skip
    held = receiver.wait_for(2, timeout=10)[1]
    event = json.loads(held.text())
    assert (held.path, event["status"], event["held"]) == (f"/down/{uuid}", "down", True)
    time.sleep(QUIET_SECONDS)
    stop(server)
    assert len(receiver.requests) == 2
    listed = cli(tmp_path, "window", "list")
    assert window in listed and "upgrade" in listed and "Backup" in listed
