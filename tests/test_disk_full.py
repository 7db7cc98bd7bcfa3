"""A full disk or database: no ping is acknowledged unless stored, and pingd recovers alone.

The in-process tests cap the database with SQLite's ``PRAGMA max_page_count``
(on the writer's connection) for a fast, deterministic "database or disk is
full". The end-to-end tests put the database of the real ``pingd serve`` on a
small tmpfs that this test mounts (root, or CAP_SYS_ADMIN, is needed: without
it they skip, except under CI=true, where they fail), fill what is left with a
filler file, then send pings, API writes and alerts over loopback, and delete
the filler to show that the server recovers by itself. Every load loop here is
bounded in count and in time, targets 127.0.0.1 only, and every process is
stopped by its own PID.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
import uuid as uuid_module
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import webtest
from conftest import FakeClock
from diskutil import Client
from diskutil import Load
from diskutil import assert_storage_full
from diskutil import deliveries
from diskutil import fill
from diskutil import integrity
from diskutil import keys
from diskutil import mounted_tmpfs
from diskutil import n_pings
from diskutil import populated_db
from diskutil import stop_cleanly
from diskutil import stored_ping_bodies
from receivers import HttpReceiver
from serverutil import Server
from serverutil import require_program
from serverutil import run_cli
from serverutil import start_server

from pingd.app import create_app
from pingd.config import Config
from pingd.errors import STORAGE_RETRY_AFTER_SECONDS
from pingd.errors import is_storage_full
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.service.pings import PingResult
from pingd.writer.store import Store

ENV = {
    "PINGD_STORAGE_PING_LOG_LIMIT": "100000",
    "PINGD_ALERTS_TICK_SECONDS": "0.2",
    "PINGD_API_BURST": "100",
    "PINGD_API_RATE_PER_SECOND": "100",
}
BODY_BYTES = 6000  # more than a page: every ping needs a page the database does not have
WAIT_SECONDS = 5.0


# -- in-process: PRAGMA max_page_count ---------------------------------------------


def cap_database(store: Store, extra_pages: int = 0) -> None:
    """Let the database grow by at most ``extra_pages`` pages from now on."""

    def cap(conn: sqlite3.Connection) -> None:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        conn.execute(f"PRAGMA max_page_count = {pages + extra_pages}")

    store.write(cap)


def uncap_database(store: Store) -> None:
    store.write(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))


def ping_request(uuid: str, body: bytes) -> PingRequest:
    return PingRequest(
        method="POST", scheme="http", remote_addr="127.0.0.1", ua="test", body=body,
        body_size=len(body), uuid=uuid, action="success",
    )  # fmt: skip


Outcome = tuple[PingResult | None, BaseException | None]


def one_group(store: Store, service: Service, uuid: str, bodies: list[bytes]) -> list[Outcome]:
    """Queue pings while the writer is held up, so that they commit as one group."""
    release = threading.Event()
    started = threading.Event()
    outcomes: list[Outcome] = []
    done = threading.Semaphore(0)

    def hold(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(WAIT_SECONDS)

    store.submit(hold, lambda result, error: None)
    assert started.wait(WAIT_SECONDS)
    for body in bodies:

        def then(result: PingResult | None, error: BaseException | None) -> None:
            outcomes.append((result, error))
            done.release()

        service.record_ping_later(ping_request(uuid, body), then)
    release.set()
    for _ in bodies:
        assert done.acquire(timeout=WAIT_SECONDS), "a ping was never answered"
    return outcomes


def stored_bodies(store: Store) -> set[bytes]:
    return {bytes(row[0]) for row in store.read(lambda c: c.execute("SELECT body FROM pings"))}


def test_a_full_database_fails_every_ping_of_the_group_and_the_next_group_commits(
    store: Store, service: Service, make_check: Any
) -> None:
    uuid = make_check().uuid
    before = stored_bodies(store)
    cap_database(store)
    bodies = [f"full-{i}-".encode() + b"x" * BODY_BYTES for i in range(50)]
    outcomes = one_group(store, service, uuid, bodies)

    assert len(outcomes) == 50
    assert all(result is None for result, _error in outcomes), "a ping was reported stored"
    assert all(error is not None and is_storage_full(error) for _result, error in outcomes)
    assert stored_bodies(store) == before
    assert service.get_check(uuid).n_pings == 0

    uncap_database(store)
    bodies = [f"freed-{i}-".encode() + b"x" * BODY_BYTES for i in range(50)]
    outcomes = one_group(store, service, uuid, bodies)
    assert all(error is None and result is not None for result, error in outcomes)
    assert stored_bodies(store) - before == set(bodies)
    assert service.get_check(uuid).n_pings == 50
    assert store.read(lambda c: c.execute("PRAGMA integrity_check").fetchone()[0]) == "ok"


def test_a_group_that_fits_only_in_part_reports_stored_only_what_is_stored(
    store: Store, service: Service, make_check: Any
) -> None:
    uuid = make_check().uuid
    cap_database(store, extra_pages=20)  # room for a few of these pings, not for all
    bodies = [f"part-{i}-".encode() + b"x" * BODY_BYTES for i in range(40)]
    outcomes = one_group(store, service, uuid, bodies)
    acknowledged = [body for body, (result, _e) in zip(bodies, outcomes, strict=True) if result]
    refused = [error for _result, error in outcomes if error is not None]

    assert refused and all(is_storage_full(error) for error in refused)
    stored = stored_bodies(store)
    assert set(acknowledged) <= stored
    assert service.get_check(uuid).n_pings == len(acknowledged) == len(stored)
    uncap_database(store)
    assert one_group(store, service, uuid, [b"after"])[0][1] is None


def test_the_app_answers_503_storage_full_on_ping_routes_and_under_v1(
    config: Config, store: Store, clock: FakeClock, service: Service, make_check: Any
) -> None:
    app = webtest.TestApp(create_app(config, store=store, clock=clock))
    check = make_check()
    key = service.create_api_key("test")
    cap_database(store)

    ping = app.post(f"/ping/{check.uuid}", b"x" * BODY_BYTES, status=503)
    assert ping.body == b"storage full"
    assert ping.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert ping.headers["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    created = app.post_json(
        "/v1/checks/", {"name": "n" * 90, "desc": "d" * BODY_BYTES}, status=503,
        headers={"X-Api-Key": key},
    )  # fmt: skip
    assert created.json["errorCode"] == "STORAGE_FULL"
    assert set(created.json) == {"error", "errorCode", "requestId"}
    assert created.headers["X-Request-Id"] == created.json["requestId"]
    assert created.headers["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    app.get("/v1/checks/", headers={"X-Api-Key": key}, status=200)  # reads still work

    uncap_database(store)
    assert app.post(f"/ping/{check.uuid}", b"x" * BODY_BYTES, status=200).body == b"OK"


# -- end to end: a real tmpfs ----------------------------------------------------


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A fresh tmpfs mounted under tmp_path for this test only."""
    with mounted_tmpfs(tmp_path / "small") as mountpoint:
        yield mountpoint


@pytest.fixture
def serve(tmpfs: Path, tmp_path: Path, servers: list[Server]) -> Callable[[], Server]:
    """Start ``pingd serve`` with its database on the tmpfs; logs stay in tmp_path."""

    def start() -> Server:
        server = start_server(tmp_path, db=tmpfs / "pingd.db", env=ENV, name="full")
        servers.append(server)
        server.wait_ready(1)
        return server

    return start


def test_pings_and_api_writes_get_503_while_the_disk_is_full_and_succeed_after(
    serve: Callable[[], Server], tmpfs: Path
) -> None:
    server = serve()
    ping_key, api_key = keys(server)
    client = Client(server)
    status, created, _ = client.api(api_key, "POST", "/v1/checks/", {"name": "nightly"})
    assert status == 201
    uuid = created["data"]["uuid"]
    assert client.request("POST", f"/ping/{uuid}", b"before")[0] == 200
    filler = fill(tmpfs)

    answers: Counter[int] = Counter()
    for i in range(100):
        path = f"/ping/{uuid}" if i % 2 else f"/ping/{ping_key}/nightly/{i % 3}"
        status, headers, body = client.request("POST", path, f"full-{i}".encode() * 700)
        answers[status] += 1
        assert_storage_full(status, headers, body)
    status, headers, body = client.request("GET", f"/ping/{uuid}/start")
    assert_storage_full(status, headers, body)
    status, error, headers = client.api(api_key, "POST", "/v1/checks/", {"desc": "d" * 9000})
    assert status == 503 and error["errorCode"] == "STORAGE_FULL", error
    assert headers["retry-after"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert headers["x-request-id"] == error["requestId"]
    assert client.api(api_key, "GET", f"/v1/checks/{uuid}")[0] == 200  # reads go on
    assert answers == {503: 100}

    filler.unlink()
    status, _, body = client.request("POST", f"/ping/{uuid}", b"after")
    assert (status, body) == (200, b"OK")
    assert client.api(api_key, "POST", "/v1/checks/", {"name": "weekly"})[0] == 201
    client.close()
    stop_cleanly(server)
    assert "database or disk is full" in server.stderr()
    assert "database writable again" in server.stderr()
    assert integrity(server.db) == "ok"
    assert sorted(stored_ping_bodies(server.db)) == [b"after", b"before"]
    assert n_pings(server.db)[uuid] == 2


def test_no_ping_is_acknowledged_unless_stored_when_the_disk_fills_under_load(
    serve: Callable[[], Server], tmpfs: Path
) -> None:
    server = serve()
    _, api_key = keys(server)
    client = Client(server)
    status, created, _ = client.api(api_key, "POST", "/v1/checks/", {"name": "load"})
    assert status == 201
    uuid = created["data"]["uuid"]
    load = Load(server, uuid, seconds=4.0)
    load.start()
    time.sleep(0.3)
    filler = fill(tmpfs)
    time.sleep(1.0)
    filler.unlink()
    time.sleep(0.5)
    load.join()
    status, _, body = client.request("POST", f"/ping/{uuid}", b"last")
    client.close()
    stop_cleanly(server)

    assert load.unexpected == []
    assert (status, body) == (200, b"OK")
    assert load.answers[503, b"storage full"] > 0, load.answers  # the disk did fill
    assert integrity(server.db) == "ok"
    stored = set(stored_ping_bodies(server.db))
    missing = [body[:20] for body in load.acked if body not in stored]
    assert missing == [], f"{len(missing)} of {len(load.acked)} acknowledged pings lost"
    assert n_pings(server.db)[uuid] == len(load.acked) + 1


def test_curl_retry_gets_its_ping_stored_once_space_is_freed(
    serve: Callable[[], Server], tmpfs: Path
) -> None:
    curl = require_program("curl")
    server = serve()
    _, api_key = keys(server)
    client = Client(server)
    uuid = client.api(api_key, "POST", "/v1/checks/", {"name": "cron"})[1]["data"]["uuid"]
    filler = fill(tmpfs)
    body = f"curl-{uuid_module.uuid4()}"
    proc = subprocess.Popen(
        [curl, "-fsS", "--retry", "3", "--retry-max-time", "20", "--max-time", "5",
         "--noproxy", "*", "--data-raw", body, f"{server.url}/ping/{uuid}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while "database or disk is full" not in server.stderr():
            assert time.monotonic() < deadline, "curl's first try did not reach the server"
            time.sleep(0.05)
        filler.unlink()
        out, err = proc.communicate(timeout=STORAGE_RETRY_AFTER_SECONDS + 10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out == b"OK"
    client.close()
    stop_cleanly(server)
    assert stored_ping_bodies(server.db) == [body.encode()]


def test_an_alert_sent_while_its_outcome_cannot_be_stored_is_recorded_after_without_resending(
    serve: Callable[[], Server], tmpfs: Path, receiver: HttpReceiver
) -> None:
    server = serve()
    _, api_key = keys(server)
    client = Client(server)
    settings = {"url_down": f"{receiver.url}/down/$UUID", "body_down": "$NAME is $STATUS"}
    status, channel, _ = client.api(
        api_key, "POST", "/v1/channels/", {"kind": "webhook", "name": "hook", "settings": settings}
    )
    assert status == 201, channel
    status, created, _ = client.api(
        api_key, "POST", "/v1/checks/", {"name": "job", "channels": [channel["data"]["id"]]}
    )
    assert status == 201, created
    uuid = created["data"]["uuid"]

    # The receiver takes its time; meanwhile the disk fills. The alert is
    # delivered (200), but its outcome cannot be written.
    receiver.answer_late(1.0)
    assert client.request("GET", f"/ping/{uuid}/fail")[0] == 200
    receiver.wait_for(1)
    filler = fill(tmpfs)
    time.sleep(3.0)  # the held outcome is written again after 1 s, 2 s …: still full
    assert deliveries(server.db) == [("pending", 0)]
    filler.unlink()
    deadline = time.monotonic() + WAIT_SECONDS
    while deliveries(server.db) != [("sent", 1)]:
        assert time.monotonic() < deadline, deliveries(server.db)
        time.sleep(0.05)
    time.sleep(0.5)
    client.close()
    stop_cleanly(server)

    # Delivered once: the outcome was kept and written, never sent a second time.
    assert [(r.path, r.answered) for r in receiver.requests] == [(f"/down/{uuid}", 200)]
    assert "outcome could not be stored (storage full)" in server.stderr()
    assert integrity(server.db) == "ok"


# -- pingd backup into a full disk -----------------------------------------------


def test_backup_into_a_full_disk_fails_cleanly(tmp_path: Path, tmpfs: Path) -> None:
    db = populated_db(tmp_path)
    destination = tmpfs / "backup.db"
    destination.write_bytes(b"the previous backup")
    filler = fill(tmpfs)

    result = run_cli(tmp_path, "--db", str(db), "backup", str(destination))

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pingd: error: ") and str(destination) in lines[0], lines[0]
    assert "full" in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert destination.read_bytes() == b"the previous backup"
    assert sorted(path.name for path in tmpfs.iterdir()) == ["backup.db", "filler"]

    filler.unlink()
    result = run_cli(tmp_path, "--db", str(db), "backup", str(destination))
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in tmpfs.iterdir()) == ["backup.db"]
    assert integrity(destination) == "ok"


def test_backup_to_a_missing_directory_names_the_file(tmp_path: Path) -> None:
    db = populated_db(tmp_path, pings=1)
    destination = tmp_path / "no-such-dir" / "backup.db"
    result = run_cli(tmp_path, "--db", str(db), "backup", str(destination))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and str(destination) in result.stderr, result.stderr
    assert not destination.parent.exists()
