"""End-to-end durability: SIGKILL the real server mid-stream, lose no acknowledged ping.

SPEC 1.4: "A 200 or 201 is sent only after the ping is durably committed to the
database: a ping that was answered OK is never lost, even if the process is
killed right after." Several client threads POST pings, each with a unique
body, to the real ``pingd serve`` over loopback. Once enough have been answered
200 OK the server gets SIGKILL while requests are still in flight. After a
restart on the same database every acknowledged body must be in the pings
table, each check's ``n_pings`` must match its rows, and ``PRAGMA
integrity_check`` must say ok.
"""

from __future__ import annotations

import http.client
import threading
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

from serverutil import Server
from serverutil import add_check
from serverutil import open_db_readonly
from serverutil import start_server

THREADS = 8
PINGS_PER_THREAD = 250  # at most 2000 requests per round
ROUNDS = 3
KILL_AFTER_ACKS = (150, 300, 450)  # acknowledged pings before SIGKILL, per round
ROUND_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 5.0
ENV = {"PINGD_STORAGE_PING_LOG_LIMIT": "100000"}


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


class Pinger:
    """Client threads that POST unique bodies and remember which were answered 200 OK."""

    def __init__(self, server: Server, uuids: list[str], label: str, kill_after: int) -> None:
        self.host, self.port = address(server.url)
        self.uuids = uuids
        self.label = label
        self.kill_after = kill_after
        self.acked: list[bytes] = []
        self.sent = 0
        self.unexpected: list[str] = []
        self.lock = threading.Lock()
        self.enough = threading.Event()
        self.stop = threading.Event()
        self.deadline = time.monotonic() + ROUND_SECONDS
        self.threads = [
            threading.Thread(target=self._run, args=(index,), name=f"pinger-{index}", daemon=True)
            for index in range(THREADS)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS + 1)
        assert not any(thread.is_alive() for thread in self.threads), "a client thread hung"

    def _run(self, index: int) -> None:
        uuid = self.uuids[index % len(self.uuids)]
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            for i in range(PINGS_PER_THREAD):
                if self.stop.is_set() or time.monotonic() > self.deadline:
                    return
                body = f"{self.label}-t{index}-{i}".encode("ascii")
                with self.lock:
                    self.sent += 1
                try:
                    conn.request("POST", f"/ping/{uuid}", body=body)
                    response = conn.getresponse()
                    status, text = response.status, response.read()
                except (OSError, http.client.HTTPException):
                    return  # the server is gone: this ping may or may not be stored
                if (status, text) != (200, b"OK"):
                    with self.lock:
                        self.unexpected.append(f"{status} {text!r}")
                    return
                with self.lock:
                    self.acked.append(body)
                    if len(self.acked) >= self.kill_after:
                        self.enough.set()
        finally:
            conn.close()


def stored_bodies(db: Path) -> set[bytes]:
    with closing(open_db_readonly(db)) as conn:
        return {bytes(row[0]) for row in conn.execute("SELECT body FROM pings")}


def consistency_problems(db: Path) -> list[str]:
    """Return integrity_check's complaints and checks whose n_pings disagree with their rows."""
    with closing(open_db_readonly(db)) as conn:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if problems == ["ok"]:
            problems = []
        rows = conn.execute(
            "SELECT c.uuid, c.n_pings, COUNT(p.id), COALESCE(MAX(p.n), 0)"
            " FROM checks AS c LEFT JOIN pings AS p ON p.check_id = c.id GROUP BY c.id"
        ).fetchall()
    for uuid, n_pings, count, max_n in rows:
        if not n_pings == count == max_n:
            problems.append(f"{uuid}: n_pings={n_pings}, rows={count}, max n={max_n}")
    return problems


def test_it_keeps_every_acknowledged_ping_across_sigkill(
    tmp_path: Path, servers: list[Server]
) -> None:
    db = tmp_path / "pingd.db"
    uuids = [add_check(tmp_path, db, f"Job {index}") for index in range(THREADS)]
    acked: set[bytes] = set()

    for round_no, kill_after in zip(range(ROUNDS), KILL_AFTER_ACKS, strict=True):
        server = start_server(tmp_path, db=db, env=ENV, name=f"round{round_no}")
        servers.append(server)
        server.wait_ready(1)
        # The restart recovered the previous round's database: all of it is there.
        assert acked <= stored_bodies(db), f"round {round_no}: pings lost before restart"
        assert consistency_problems(db) == []

        pinger = Pinger(server, uuids, f"r{round_no}", kill_after)
        pinger.start()
        try:
            reached = pinger.enough.wait(timeout=ROUND_SECONDS)
            assert server.kill() == -9
        finally:
            pinger.join()

        assert reached, f"only {len(pinger.acked)} pings acknowledged in {ROUND_SECONDS} s"
        assert pinger.unexpected == []
        assert len(pinger.acked) < THREADS * PINGS_PER_THREAD, "the kill came after the stream"
        acked.update(pinger.acked)

    server = start_server(tmp_path, db=db, env=ENV, name="final")
    servers.append(server)
    server.wait_ready(1)

    missing = acked - stored_bodies(db)
    assert not missing, (
        f"{len(missing)} of {len(acked)} acknowledged pings lost: {sorted(missing)[:5]}"
    )
    assert consistency_problems(db) == []
    conn = http.client.HTTPConnection(*address(server.url), timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        conn.request("POST", f"/ping/{uuids[0]}", body=b"after")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"OK")
    finally:
        conn.close()
    assert server.terminate() == 0
