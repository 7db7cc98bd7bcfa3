"""SIGKILL the real server at random moments under mixed load; lose nothing acknowledged.

Issue 5 ("never loses an acknowledged ping or a queued alert") and SPEC §1.4 ("a
ping that was answered OK is never lost, even if the process is killed right
after") and §2.3 (notifications are queued durably; "a restart resumes unsent
ones"). tests/test_durability.py kills the server under pings alone; here the
load is mixed, as it is in life, and the alert loop is busy too:

- one thread per check pings it, alternating ``/fail`` and success with unique
  bodies, so that every ping answered ``200 OK`` flips the check and queues one
  webhook delivery whose event carries that body;
- one thread creates, patches, deletes and lists checks through the API with the
  key the first-run banner printed;
- the alert loop ticks every 0.1 s and keeps trying to deliver to a webhook
  receiver that is down (its port is bound but not listening, so every attempt
  is refused and the deliveries stay pending with retries).

After a random number of acknowledged pings the server gets SIGKILL. After each
restart: every acknowledged ping is stored, ``PRAGMA integrity_check`` is ok,
every delivery seen before is still there and still pending, every acknowledged
flip has its delivery, and every acknowledged API write is visible. At the end
the receiver comes up and every queued delivery arrives, exactly once.

Set PINGD_CRASH_SEED to replay a run's kill points (the seed is printed).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from serverutil import Server
from serverutil import api_key_from_banner
from serverutil import open_db_readonly
from serverutil import run_cli
from serverutil import start_server

CHECKS = 4
ROUND_SECONDS = 10.0  # the longest a round's load may run before the kill
REQUEST_TIMEOUT_SECONDS = 5.0
DELIVERY_TIMEOUT_SECONDS = {"short": 30.0, "long": 120.0}
ENV = {
    "PINGD_ALERTS_TICK_SECONDS": "0.1",
    "PINGD_API_BURST": "100000",
    "PINGD_API_RATE_PER_SECOND": "100000",
    "PINGD_STORAGE_PING_LOG_LIMIT": "100000",  # nothing pruned: every ping stays checkable
}
LOG_PROBLEMS = ("Traceback", "database is locked", "unexpected error", "write batch")


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


# -- the webhook receiver: down (refusing) until told to come up ----------------------


class Receiver:
    """An HTTP receiver on a port held from the start but not listening until ``up``.

    While down, a connection to the port is refused at once (the socket is bound,
    so nothing else can take the port). ``up`` starts listening on that very
    socket and records each request's path and body.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._lock = threading.Lock()
        self.bodies: list[bytes] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = self._sock
        server.daemon_threads = True
        server.server_activate()  # listen() on the socket held since __init__
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def received(self) -> list[bytes]:
        with self._lock:
            return list(self.bodies)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
        else:
            self._sock.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    down = Receiver()
    try:
        yield down
    finally:
        down.close()


# -- what the clients were told ------------------------------------------------------


@dataclass
class Acknowledged:
    """Everything the server acknowledged (or may have done) across all rounds."""

    pings: list[tuple[str, bytes, str]] = field(default_factory=list)  # uuid, body, action
    created: dict[str, str] = field(default_factory=dict)  # uuid -> name
    patched: dict[str, str] = field(default_factory=dict)  # uuid -> desc
    deleted: set[str] = field(default_factory=set)
    # API writes cut off by a kill: each may or may not have happened.
    uncertain: list[tuple[str, str, str]] = field(default_factory=list)  # op, uuid, value
    deliveries: dict[int, int] = field(default_factory=dict)  # id -> attempts seen
    unexpected: list[str] = field(default_factory=list)


class Load:
    """Pinger threads (one per check) and one API thread, until told to stop or cut off."""

    def __init__(
        self, server: Server, uuids: list[str], actions: dict[str, str], key: str, label: str
    ) -> None:
        self.host, self.port = address(server.url)
        self.uuids = uuids
        self.actions = actions
        self.key = key
        self.label = label
        self.lock = threading.Lock()
        self.pings: list[tuple[str, bytes, str]] = []
        self.api_done: list[tuple[str, str, str]] = []
        self.api_uncertain: list[tuple[str, str, str]] = []
        self.unexpected: list[str] = []
        self.stop = threading.Event()
        self.deadline = time.monotonic() + ROUND_SECONDS
        self.threads = [
            threading.Thread(target=self._ping, args=(uuid,), name=f"pinger-{i}", daemon=True)
            for i, uuid in enumerate(uuids)
        ] + [threading.Thread(target=self._api, name="api-writer", daemon=True)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def acked_pings(self) -> int:
        with self.lock:
            return len(self.pings)

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS + 2)
        assert not any(thread.is_alive() for thread in self.threads), "a client thread hung"

    def _running(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def _ping(self, uuid: str) -> None:
        action = self.actions[uuid]
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            n = 0
            while self._running():
                body = f"{self.label}-{uuid[:8]}-{n}-{action}".encode()
                path = f"/ping/{uuid}/fail" if action == "fail" else f"/ping/{uuid}"
                try:
                    conn.request("POST", path, body=body)
                    response = conn.getresponse()
                    answer = (response.status, response.read())
                except (OSError, http.client.HTTPException):
                    return  # killed: this ping may or may not be stored
                if answer != (200, b"OK"):
                    with self.lock:
                        self.unexpected.append(f"ping {path}: {answer}")
                    return
                with self.lock:
                    self.pings.append((uuid, body, action))
                action = "success" if action == "fail" else "fail"
                n += 1
        finally:
            conn.close()

    def _request(
        self, conn: http.client.HTTPConnection, method: str, path: str, data: Any = None
    ) -> tuple[int, Any]:
        body = None if data is None else json.dumps(data).encode()
        headers = {"X-Api-Key": self.key, "Content-Type": "application/json"}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())

    def _api_step(
        self, conn: http.client.HTTPConnection, op: str, uuid: str, value: str
    ) -> dict[str, Any] | None:
        """One acknowledged API write (create, patch, delete) or read (list); None if cut off."""
        method, path, data, expected = {
            "create": ("POST", "/v1/checks", {"name": value, "tags": "crash-api"}, 201),
            "patch": ("PATCH", f"/v1/checks/{uuid}", {"desc": value}, 200),
            "delete": ("DELETE", f"/v1/checks/{uuid}", None, 200),
            "list": ("GET", "/v1/checks?tag=crash-api", None, 200),
        }[op]
        try:
            status, reply = self._request(conn, method, path, data)
        except (OSError, http.client.HTTPException, ValueError):
            with self.lock:
                self.api_uncertain.append((op, uuid, value))  # killed mid-request
            return None
        if status != expected:
            with self.lock:
                self.unexpected.append(f"api {method} {path}: {status} {reply}")
            return None
        if op != "list":
            with self.lock:
                self.api_done.append((op, uuid or reply["data"]["uuid"], value))
        result: dict[str, Any] = reply["data"] if op != "list" else {}
        return result

    def _api(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            n = 0
            while self._running():
                created = self._api_step(conn, "create", "", f"api {self.label} {n}")
                if created is None:
                    return
                uuid = created["uuid"]
                if self._api_step(conn, "patch", uuid, f"patched {self.label} {n}") is None:
                    return
                if n % 2 == 0 and self._api_step(conn, "delete", uuid, "") is None:
                    return
                if self._api_step(conn, "list", "", "") is None:
                    return
                n += 1
        finally:
            conn.close()


# -- what the database must hold -----------------------------------------------------


def read_state(db: Path) -> dict[str, Any]:
    with closing(open_db_readonly(db)) as conn:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        foreign = conn.execute("PRAGMA foreign_key_check").fetchall()
        bodies = {bytes(row[0]) for row in conn.execute("SELECT body FROM pings")}
        counts = conn.execute(
            "SELECT c.uuid, c.n_pings, COUNT(p.id), COALESCE(MAX(p.n), 0)"
            " FROM checks AS c LEFT JOIN pings AS p ON p.check_id = c.id GROUP BY c.id"
        ).fetchall()
        checks = {
            row[0]: {"status": row[1], "desc": row[2]}
            for row in conn.execute('SELECT uuid, status, "desc" FROM checks')
        }
        deliveries = {
            int(row[0]): {"state": row[1], "attempts": int(row[2]), "event": json.loads(row[3])}
            for row in conn.execute("SELECT id, state, attempts, event FROM deliveries")
        }
        flips = Counter(
            row[0]
            for row in conn.execute(
                "SELECT checks.uuid FROM flips JOIN checks ON checks.id = flips.check_id"
                " WHERE new_status = 'down' OR (old_status = 'down' AND new_status = 'up')"
            )
        )
    return {
        "integrity": integrity,
        "foreign": foreign,
        "bodies": bodies,
        "counts": counts,
        "checks": checks,
        "deliveries": deliveries,
        "flips": flips,
    }


def verify(db: Path, acked: Acknowledged, pinged: list[str], *, receiver_down: bool) -> None:
    state = read_state(db)
    assert state["integrity"] == ["ok"]
    assert state["foreign"] == []
    bad_counts = [row for row in state["counts"] if not row[1] == row[2] == row[3]]
    assert bad_counts == [], "n_pings disagrees with the stored pings"

    missing = [body for _, body, _ in acked.pings if body not in state["bodies"]]
    assert not missing, f"{len(missing)} of {len(acked.pings)} acknowledged pings lost"

    deliveries: dict[int, dict[str, Any]] = state["deliveries"]
    lost = sorted(set(acked.deliveries) - set(deliveries))
    assert not lost, f"queued deliveries lost across the kill: {lost}"
    for delivery_id, attempts in acked.deliveries.items():
        now = deliveries[delivery_id]
        assert now["state"] in ("pending", "sent"), (delivery_id, now)
        assert now["attempts"] >= attempts, (delivery_id, now)
        if receiver_down:
            assert now["state"] == "pending", (delivery_id, now)

    queued = Counter(
        (d["event"]["uuid"], d["event"]["body"], d["event"]["status"]) for d in deliveries.values()
    )
    for uuid, body, action in acked.pings:
        status = "down" if action == "fail" else "up"
        assert queued[(uuid, body.decode(), status)] == 1, f"no delivery for the flip by {body!r}"
    per_check = Counter(d["event"]["uuid"] for d in deliveries.values())
    for uuid in pinged:
        assert per_check[uuid] == state["flips"][uuid], f"{uuid}: deliveries != notifying flips"

    checks: dict[str, dict[str, str]] = state["checks"]
    uncertain = {(op, uuid) for op, uuid, _ in acked.uncertain}
    for uuid, name in acked.created.items():
        if uuid in acked.deleted:
            assert uuid not in checks, f"{name}: deleted with 200 OK, but back after the kill"
        elif ("delete", uuid) not in uncertain:
            assert uuid in checks, f"{name}: created with 201, lost after the kill"
            possible = {acked.patched.get(uuid, "")}
            possible |= {value for op, u, value in acked.uncertain if (op, u) == ("patch", uuid)}
            assert checks[uuid]["desc"] in possible, (name, checks[uuid])

    for delivery_id, delivery in deliveries.items():
        acked.deliveries[delivery_id] = delivery["attempts"]


def next_actions(db: Path, uuids: list[str]) -> dict[str, str]:
    """For each check, the ping that flips it now: success when down, else fail."""
    checks = read_state(db)["checks"]
    return {uuid: "success" if checks[uuid]["status"] == "down" else "fail" for uuid in uuids}


def assert_clean_log(server: Server) -> None:
    log = server.stderr()
    for problem in LOG_PROBLEMS:
        assert problem not in log, f"{problem!r} in the log of {server.stderr_path.name}"


def api(server: Server, key: str, method: str, path: str, data: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection(*address(server.url), timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        body = None if data is None else json.dumps(data).encode()
        conn.request(method, path, body=body, headers={"X-Api-Key": key})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


# -- the test -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rounds", "kill_after_acks"),
    [
        pytest.param(1, (5, 80), id="short"),
        pytest.param(12, (0, 300), id="long", marks=pytest.mark.slow),
    ],
)
def test_it_keeps_acknowledged_pings_api_writes_and_queued_alerts_across_sigkill(
    tmp_path: Path,
    servers: list[Server],
    receiver: Receiver,
    rounds: int,
    kill_after_acks: tuple[int, int],
) -> None:
    # kill_after_acks: SIGKILL after a random number of acknowledged pings in this range.
    seed = int(os.environ.get("PINGD_CRASH_SEED") or time.time_ns() % 2**32)
    print(f"PINGD_CRASH_SEED={seed}")
    rng = random.Random(seed)
    db = tmp_path / "pingd.db"

    setup = start_server(tmp_path, db=db, env=ENV, name="setup")
    servers.append(setup)
    setup.wait_ready(1)
    key = api_key_from_banner(setup.stdout())
    uuids = []
    for index in range(CHECKS):
        status, reply = api(setup, key, "POST", "/v1/checks", {"name": f"Crash {index}"})
        assert status == 201, reply
        uuids.append(reply["data"]["uuid"])
    assert setup.terminate() == 0
    added = run_cli(
        tmp_path, "--db", str(db), "channel", "add", "webhook",
        "--set", f"url_down={receiver.url}", "--set", f"url_up={receiver.url}",
        "--set", "body_down=$JSON", "--set", "body_up=$JSON", "--all-checks",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr

    acked = Acknowledged()
    for round_no in range(rounds):
        server = start_server(tmp_path, db=db, env=ENV, name=f"round{round_no}")
        servers.append(server)
        server.wait_ready(1)
        verify(db, acked, uuids, receiver_down=True)

        load = Load(server, uuids, next_actions(db, uuids), key, f"r{round_no}")
        kill_after = rng.randint(*kill_after_acks)
        load.start()
        try:
            deadline = time.monotonic() + ROUND_SECONDS
            while load.acked_pings() < kill_after and time.monotonic() < deadline:
                time.sleep(0.005)
            reached = load.acked_pings()
            assert server.kill() == -9
        finally:
            load.join()

        assert load.unexpected == []
        assert reached >= kill_after, f"only {reached} pings acknowledged in {ROUND_SECONDS} s"
        acked.pings += load.pings
        for op, uuid, value in load.api_done:
            if op == "create":
                acked.created[uuid] = value
            elif op == "patch":
                acked.patched[uuid] = value
            elif op == "delete":
                acked.deleted.add(uuid)
        acked.uncertain += load.api_uncertain
        assert_clean_log(server)
        print(
            f"round {round_no}: killed after {reached} acknowledged pings;"
            f" {len(load.api_done)} API writes acknowledged"
        )

    final = start_server(tmp_path, db=db, env=ENV, name="final")
    servers.append(final)
    final.wait_ready(1)
    verify(db, acked, uuids, receiver_down=True)
    assert len(acked.deliveries) >= len(acked.pings) > 0

    receiver.up()
    timeout = DELIVERY_TIMEOUT_SECONDS["long" if rounds > 1 else "short"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = Counter(d["state"] for d in read_state(db)["deliveries"].values())
        if set(states) == {"sent"}:
            break
        time.sleep(0.2)
    verify(db, acked, uuids, receiver_down=False)
    deliveries = read_state(db)["deliveries"]
    states = Counter(d["state"] for d in deliveries.values())
    assert states == {"sent": len(deliveries)}, f"not all delivered within {timeout} s: {states}"

    expected = Counter(json.dumps(d["event"], sort_keys=True) for d in deliveries.values())
    got = Counter(json.dumps(json.loads(body), sort_keys=True) for body in receiver.received())
    assert got == expected, "the receiver did not get each queued alert exactly once"
    print(
        f"{len(acked.pings)} acknowledged flips; {len(deliveries)} alerts delivered after restart"
    )
    assert final.terminate() == 0
    assert_clean_log(final)
