"""Ids that users and the alert sender hold are never reused, and an attempt's outcome
is written only onto the delivery it was for.

A plain SQLite rowid table gives the id of a deleted newest row to the next
insert. With channel and delivery ids reused, an attempt that was in flight
while its channel was deleted wrote "sent" onto the next channel's delivery,
whose receiver never heard a thing. These tests pin the class of bug: every
held id survives deletion and restarts unreused, on a new database and on one
migrated from schema 2, and a late outcome finds nothing to write on.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
import urllib.request
from contextlib import closing
from pathlib import Path
from typing import Any

from conftest import FakeClock
from receivers import HttpReceiver
from receivers import http_receiver
from serverutil import Server
from serverutil import open_db_readonly
from serverutil import run_cli
from serverutil import start_server

from pingd import migrate as migrate_module
from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import Config
from pingd.migrate import migrate
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.writer.store import Store

REPO = Path(__file__).resolve().parent.parent
HELD_TABLES = (
    "projects", "api_keys", "checks", "flips", "channels", "deliveries", "delivery_attempts",
    "sessions", "login_links", "windows",
)  # fmt: skip
SLOW_SECONDS = 3.0


def fail_ping(service: Service, uuid: str) -> None:
    service.record_ping(
        PingRequest(
            action="fail", method="GET", scheme="http", remote_addr="127.0.0.1", ua="test",
            body=b"", body_size=0, uuid=uuid,
        )
    )  # fmt: skip


# -- the schema ---------------------------------------------------------------


def test_it_declares_every_held_id_autoincrement_and_only_pings_without(
    store: Store,
) -> None:
    with store.reader() as conn:
        tables = {
            name: sql
            for name, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%'"
            )
        }
    autoincrement = {name for name, sql in tables.items() if "AUTOINCREMENT" in sql}
    assert autoincrement == set(HELD_TABLES)
    # The rest: pings (known by check and n), and tables keyed by other columns.
    assert set(tables) - autoincrement == {
        "pings", "check_channels", "meta", "declared_checks", "declared_channels",
        "check_alerts", "reminders",
    }  # fmt: skip


# -- ids after deletion and restart -------------------------------------------


def test_it_never_gives_a_deleted_newest_id_to_a_new_row_even_after_a_restart(
    config: Config, receiver: HttpReceiver, clock: FakeClock
) -> None:
    store = open_store(config)
    svc = make_service(config, store, clock, notifier=make_notifier(config))
    svc.bootstrap()
    settings = {"url_down": receiver.url + "/down"}
    first = svc.create_channel("webhook", "one", settings)
    newest = svc.create_channel("webhook", "two", settings)
    check = svc.create_check(name="Backup", channels=[newest.id])
    doomed = svc.create_check(name="Doomed")
    fail_ping(svc, check.uuid)
    [(delivery_id,)] = _rows(config, "SELECT id FROM deliveries")
    svc.delete_channel(newest.id)  # its delivery goes with it
    svc.delete_check(doomed.id)
    svc.create_api_key("a")
    [key] = [k for k in svc.list_api_keys() if k.name == "a"]
    svc.revoke_api_key(key.prefix)
    store.close()

    store = open_store(config)  # a restart: the sequences are on disk
    try:
        svc = make_service(config, store, clock, notifier=make_notifier(config))
        again = svc.create_channel("webhook", "three", settings)
        assert again.id > newest.id > first.id
        other = svc.create_check(name="Other", channels=[again.id])
        assert other.id > doomed.id
        fail_ping(svc, other.uuid)
        [(new_delivery_id,)] = _rows(config, "SELECT id FROM deliveries")
        assert new_delivery_id > delivery_id
        svc.create_api_key("b")
        [new_key] = [k for k in svc.list_api_keys() if k.name == "b"]
        assert new_key.id > key.id
    finally:
        store.close()


def _rows(config: Config, sql: str) -> list[tuple[Any, ...]]:
    with closing(open_db_readonly(Path(config.storage.path))) as conn:
        return [tuple(row) for row in conn.execute(sql)]


# -- an attempt's outcome lands only on its own delivery -----------------------


def test_it_writes_no_outcome_for_a_delivery_deleted_while_its_attempt_was_in_flight(
    svc: Service, receiver: HttpReceiver, config: Config
) -> None:
    with http_receiver() as slow:
        slow.answer_late(1.0)
        doomed = svc.create_channel("webhook", "doomed", {"url_down": slow.url + "/old"})
        check = svc.create_check(name="Backup", channels=[doomed.id])
        fail_ping(svc, check.uuid)
        [in_flight] = svc.due_deliveries()
        outcomes = []
        sender = threading.Thread(target=lambda: outcomes.append(svc.deliver(in_flight)))
        sender.start()
        slow.wait_for(1)
        # Meanwhile: the channel is deleted (and its delivery), another made and alerted.
        svc.delete_channel(doomed.id)
        fresh = svc.create_channel("webhook", "fresh", {"url_down": receiver.url + "/new"})
        other = svc.create_check(name="Other", channels=[fresh.id])
        fail_ping(svc, other.uuid)
        sender.join(10)  # the old attempt finishes now, answered 200
    [outcome] = outcomes
    assert outcome.ok and not outcome.recorded
    assert _rows(config, "SELECT channel_id, state, attempts FROM deliveries") == [
        (fresh.id, "pending", 0)
    ]
    assert _rows(config, "SELECT COUNT(*) FROM delivery_attempts") == [(0,)]
    [queued] = svc.due_deliveries()
    assert svc.deliver(queued).recorded
    assert [r.path for r in receiver.requests] == ["/new"]
    assert _rows(config, "SELECT state, attempts FROM deliveries") == [("sent", 1)]


def test_it_sends_nothing_for_a_stale_snapshot_of_a_delivery_another_attempt_moved_on(
    svc: Service, receiver: HttpReceiver, config: Config
) -> None:
    # The alert loop takes its list of due deliveries, an attempt that was in
    # flight ends and frees its channel, and the loop hands on the delivery
    # from its (now stale) list: found under the soak, as a second send.
    receiver.fail_next(1)
    channel = svc.create_channel("webhook", "hook", {"url_down": receiver.url + "/down"})
    check = svc.create_check(name="Backup", channels=[channel.id])
    fail_ping(svc, check.uuid)
    [snapshot] = svc.due_deliveries()
    assert svc.deliver(snapshot).recorded  # attempt 1: failed, retry scheduled
    late = svc.deliver(snapshot)  # the same, now stale, snapshot
    assert (late.attempted, late.recorded) == (False, False)
    assert len(receiver.requests) == 1
    assert _rows(config, "SELECT state, attempts FROM deliveries") == [("pending", 1)]
    assert _rows(config, "SELECT ok FROM delivery_attempts") == [(0,)]


# -- a database migrated from schema 2 ------------------------------------------


def _steps_up_to(version: int) -> list[str]:
    folder = REPO / "pingd" / "migrations"
    return [
        (folder / name).read_text(encoding="utf-8")
        for name in sorted(p.name for p in folder.iterdir() if p.suffix == ".sql")
        if int(name[:4]) <= version
    ]


def test_it_migrates_schema_2_keeping_every_row_and_reference_then_never_reuses_ids(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for step in _steps_up_to(2):
            conn.executescript(step)
        conn.executescript(
            """
            PRAGMA foreign_keys = ON;
            INSERT INTO projects VALUES (1, 'p', 'abcdefghijklmnopqrstuv', 't');
            INSERT INTO api_keys VALUES (1, 1, 'k', 'pingd_abc', 'hash', 0, 't', NULL);
            INSERT INTO checks (id, project_id, uuid, name, slug, timeout, grace, created)
                VALUES (1, 1, 'u1', 'a', 'a', 60, 60, 't'), (2, 1, 'u2', 'b', 'b', 60, 60, 't');
            INSERT INTO pings VALUES (1, 1, 1, 't', 'fail', NULL, NULL, 'http', 'GET', '::1',
                'curl', X'00ff', 2);
            INSERT INTO flips VALUES (1, 1, 't', 'up', 'down', 'fail');
            INSERT INTO channels VALUES (1, 1, 'webhook', 'c', '{}', 't'),
                (2, 1, 'email', 'd', '{}', 't');
            INSERT INTO check_channels VALUES (1, 1), (2, 2);
            INSERT INTO deliveries VALUES (1, 1, '{}', 'sent', 1, NULL, '', 't'),
                (2, 2, '{}', 'pending', 0, 't', '', 't');
            INSERT INTO delivery_attempts VALUES (1, 1, 't', 1, '', 5);
            """
        )
        before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in _ALL}
        conn.execute("PRAGMA foreign_keys = ON")
        assert migrate(conn) == 2  # the version it had; steps 3 and 4 ran
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)  # turned back on
        after = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in _ALL}
        # Every row is kept; step 5 added columns at the end (UUIDs, the badge key).
        kept = {t: [row[: len(before[t][0])] for row in rows] for t, rows in after.items()}
        assert kept == before
        uuids = [row[6] for row in after["channels"]] + [after["projects"][0][4]]
        assert all(
            re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u)
            for u in uuids
        ), uuids
        assert len(set(uuids)) == 3
        assert re.fullmatch(r"[0-9a-f]{32}", after["projects"][0][5])
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert migrate_module.written_by(conn) == f"pingd {migrate_module.__version__}"
        # The references still cascade: deleting channel 2 takes its delivery.
        conn.execute("DELETE FROM channels WHERE id = 2")
        assert conn.execute("SELECT id FROM deliveries").fetchall() == [(1,)]
        conn.execute(
            "INSERT INTO channels (project_id, kind, name, settings, created)"
            " VALUES (1, 'webhook', 'e', '{}', 't')"
        )
        assert conn.execute("SELECT max(id) FROM channels").fetchone() == (3,)
    finally:
        conn.close()


# The tables a schema-2 database has (sessions and login links came in 4).
_ALL = (*(t for t in HELD_TABLES if t not in ("sessions", "login_links", "windows")), "pings",
        "check_channels")  # fmt: skip


# -- the reproduction, end to end -------------------------------------------------


def _cli(tmp_path: Path, *args: str) -> str:
    result = run_cli(tmp_path, "--db", str(tmp_path / "pingd.db"), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _ping(server: Server, path: str) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{server.url}/ping/{path}", timeout=10) as response:
        assert response.read() == b"OK"


def test_it_delivers_to_a_new_channel_made_while_a_deleted_channels_attempt_was_in_flight(
    tmp_path: Path, servers: list[Server], receiver: HttpReceiver
) -> None:
    with http_receiver() as slow:
        slow.answer_late(SLOW_SECONDS)
        old = _cli(tmp_path, "channel", "add", "webhook", "--set", f"url_down={slow.url}/old")
        first = _cli(tmp_path, "check", "add", "First", "--channel", old).rsplit("/", 1)[-1]
        server = start_server(tmp_path, env={"PINGD_ALERTS_TICK_SECONDS": "0.2"})
        servers.append(server)
        server.wait_ready(1)
        _ping(server, f"{first}/fail")
        slow.wait_for(1)  # the first alert has left, and is in flight

        # While that attempt is in flight: delete its channel, make a new one, alert it.
        _cli(tmp_path, "channel", "rm", old)
        new = _cli(tmp_path, "channel", "add", "webhook", "--set", f"url_down={receiver.url}/new")
        assert int(new) > int(old)
        second = _cli(tmp_path, "check", "add", "Second", "--channel", new).rsplit("/", 1)[-1]
        _ping(server, f"{second}/fail")

        # The new channel is not held back by the old attempt: it hears at once.
        [request] = receiver.wait_for(1, timeout=SLOW_SECONDS - 0.5)
        assert request.path == "/new"
        time.sleep(SLOW_SECONDS)  # the old attempt has finished and tried to write
        with closing(open_db_readonly(tmp_path / "pingd.db")) as conn:
            rows = conn.execute("SELECT channel_id, state, attempts FROM deliveries").fetchall()
            attempts = conn.execute("SELECT COUNT(*) FROM delivery_attempts").fetchone()[0]
        assert [tuple(r) for r in rows] == [(int(new), "sent", 1)]
        assert attempts == 1
        assert len(receiver.requests) == 1
        assert [r.path for r in slow.requests] == ["/old"]
        assert server.terminate() == 0
        assert "Traceback" not in server.stderr(), server.stderr()
        assert "its outcome was not recorded" in server.stderr()
