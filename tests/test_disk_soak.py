"""Full-disk soak (slow): the disk fills and empties again and again under mixed load.

The real ``pingd serve`` runs with its database on a small tmpfs, a fast alert
tick and a webhook channel on a real receiver. Client threads send success and
fail pings to several checks (so they flip and alerts are queued) and an API
thread changes checks, all over loopback, while the main thread fills the disk,
holds, frees it and holds, several times. Then: every ping answered ``OK`` is
stored, every other answer was ``503 storage full`` with ``Retry-After``, the
server never logged a traceback and still answers, the database is intact, and
every alert queued was delivered exactly once. Runs for
PINGD_DISK_SOAK_SECONDS (30 by default); bounded in count and time.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from diskutil import Client
from diskutil import fill
from diskutil import integrity
from diskutil import keys
from diskutil import mounted_tmpfs
from diskutil import stop_cleanly
from receivers import HttpReceiver
from serverutil import Server
from serverutil import open_db_readonly
from serverutil import start_server

SECONDS = float(os.environ.get("PINGD_DISK_SOAK_SECONDS", "30"))
CHECKS = 4
PING_THREADS = 3
PAUSE_SECONDS = 0.01  # between a thread's pings: the tmpfs must hold every ping stored
HOLD_SECONDS = 2.0
MAX_REQUESTS = 20000  # per thread, whatever the time
ENV = {
    "PINGD_STORAGE_PING_LOG_LIMIT": "100000",
    "PINGD_ALERTS_TICK_SECONDS": "0.2",
    "PINGD_API_BURST": "1000",
    "PINGD_API_RATE_PER_SECOND": "1000",
}


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "small") as mountpoint:
        yield mountpoint


class Pinger(threading.Thread):
    """Pings one check: success, success, fail, … with bodies that name each ping."""

    def __init__(self, server: Server, uuids: list[str], n: int, until: float) -> None:
        super().__init__()
        self.client = Client(server)
        self.uuids, self.n, self.until = uuids, n, until
        self.acked: Counter[str] = Counter()
        self.answers: Counter[tuple[int, bytes]] = Counter()
        self.unexpected: list[str] = []

    def run(self) -> None:
        try:
            for i in range(MAX_REQUESTS):
                if time.monotonic() > self.until:
                    return
                uuid = self.uuids[(self.n + i) % len(self.uuids)]
                path = f"/ping/{uuid}" + ("/fail" if i % 3 == 2 else "")
                try:
                    status, headers, data = self.client.request("POST", path, f"{i}".encode())
                except (OSError, http.client.HTTPException) as ex:
                    self.unexpected.append(repr(ex))
                    continue
                self.answers[status, data] += 1
                if (status, data) == (200, b"OK"):
                    self.acked[uuid] += 1
                elif (status, data) != (503, b"storage full") or "retry-after" not in headers:
                    self.unexpected.append(f"{status} {data[:80]!r}")
                time.sleep(PAUSE_SECONDS)
        finally:
            self.client.close()


class Changer(threading.Thread):
    """Changes a check's grace through the API, over and over."""

    def __init__(self, server: Server, key: str, uuid: str, until: float) -> None:
        super().__init__()
        self.client = Client(server)
        self.key, self.uuid, self.until = key, uuid, until
        self.answers: Counter[int] = Counter()
        self.unexpected: list[str] = []

    def run(self) -> None:
        try:
            for i in range(MAX_REQUESTS):
                if time.monotonic() > self.until:
                    return
                body = {"grace": 3600 + i}
                try:
                    status, data, _ = self.client.api(
                        self.key, "PATCH", f"/v1/checks/{self.uuid}", body
                    )
                except (OSError, http.client.HTTPException) as ex:
                    self.unexpected.append(repr(ex))
                    continue
                self.answers[status] += 1
                if (
                    status == 503
                    and data["errorCode"] != "STORAGE_FULL"
                    or status
                    not in (
                        200,
                        503,
                    )
                ):
                    self.unexpected.append(f"{status} {data}")
                time.sleep(0.05)
        finally:
            self.client.close()


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(open_db_readonly(db)) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def setup(server: Server, key: str, receiver: HttpReceiver) -> list[str]:
    client = Client(server)
    settings = {"url_down": f"{receiver.url}/down/$UUID", "url_up": f"{receiver.url}/up/$UUID"}
    status, channel, _ = client.api(
        key, "POST", "/v1/channels/", {"kind": "webhook", "name": "hook", "settings": settings}
    )
    assert status == 201, channel
    uuids = []
    for n in range(CHECKS):
        body = {"name": f"job {n}", "channels": [channel["data"]["id"]]}
        status, created, _ = client.api(key, "POST", "/v1/checks/", body)
        assert status == 201, created
        uuids.append(created["data"]["uuid"])
    client.close()
    return uuids


@pytest.mark.slow
def test_the_disk_filling_and_emptying_under_load_loses_nothing_acknowledged(
    tmp_path: Path, tmpfs: Path, servers: list[Server], receiver: HttpReceiver
) -> None:
    db = tmpfs / "pingd.db"
    server = start_server(tmp_path, db=db, env=ENV, name="soak")
    servers.append(server)
    server.wait_ready(1)
    _, key = keys(server)
    uuids = setup(server, key, receiver)
    until = time.monotonic() + SECONDS
    pingers = [Pinger(server, uuids, n, until) for n in range(PING_THREADS)]
    changer = Changer(server, key, uuids[0], until)
    for thread in (*pingers, changer):
        thread.start()
    cycles = 0
    while time.monotonic() + 2 * HOLD_SECONDS < until:
        filler = fill(tmpfs)
        time.sleep(HOLD_SECONDS)
        filler.unlink()
        time.sleep(HOLD_SECONDS)
        cycles += 1
    for thread in (*pingers, changer):
        thread.join(timeout=SECONDS + 30)
        assert not thread.is_alive(), "a client hung"

    # The disk is free: every queued alert goes out (bounded wait).
    deadline = time.monotonic() + 30
    while rows(db, "SELECT count(*) FROM deliveries WHERE state != 'sent'") != [(0,)]:
        assert time.monotonic() < deadline, rows(db, "SELECT state, attempts FROM deliveries")
        time.sleep(0.2)
    last = Client(server)
    assert last.request("GET", f"/ping/{uuids[0]}")[0] == 200
    last.close()
    stop_cleanly(server)
    held = server.stderr().count("its outcome could not be stored")

    answers = sum((p.answers for p in pingers), Counter())
    acked = sum((p.acked for p in pingers), Counter())
    acked[uuids[0]] += 1  # the last ping
    stored = dict(
        rows(db, "SELECT uuid, count(*) FROM pings JOIN checks ON checks.id = check_id GROUP BY 1")
    )
    deliveries = rows(db, "SELECT count(*) FROM deliveries")[0][0]
    flips = rows(db, "SELECT count(*) FROM flips WHERE new_status IN ('up', 'down')")[0][0]
    print(
        f"\ndisk soak: {SECONDS:.0f} s, {cycles} full/free cycles; pings {dict(answers)};"
        f" API {dict(changer.answers)}; {flips} flips, {deliveries} deliveries,"
        f" {len(receiver.requests)} webhook requests; {held} outcomes held"
    )
    assert [p.unexpected for p in pingers] == [[]] * PING_THREADS
    assert changer.unexpected == []
    assert cycles >= 2
    assert answers[503, b"storage full"] > 0 and answers[200, b"OK"] > 0
    assert stored == dict(acked)  # every OK stored, nothing stored that was refused
    assert integrity(db) == "ok"
    assert deliveries > 0
    # pingd never died, so every alert was sent exactly once (none twice: an
    # outcome that could not be written is written later, not sent again).
    assert len(receiver.answered_ok()) == len(receiver.requests) == deliveries
