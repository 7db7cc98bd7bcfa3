"""Soak: pings, API traffic and alert ticks together against the real server (issue 5).

Runs for PINGD_SOAK_SECONDS (default 120) against ``pingd serve`` on loopback:

- pinger threads ping 100 checks by UUID and by slug, GET and POST, with bodies of
  up to 3 KB, ``/start`` + success pairs, ``/log`` and exit statuses, over
  keep-alive connections that are now and then closed;
- one API thread lists, creates, patches, reads and deletes checks;
- a flapping check fails and recovers every second, so the alert loop (0.2 s
  ticks) keeps delivering webhooks to a local receiver.

Every few seconds it samples the server's RSS (/proc/PID/status VmRSS) and the
database size (file + -wal). It asserts: no unexpected answer (no 5xx), nothing
alarming in the server log ("Traceback", "database is locked"), memory flat
(after warm-up, the last third's average RSS within 15 % or 5 MB of the first
third's) and the database bounded once ``storage.ping_log_limit`` (20 here) is
reached. The figures are printed for ``make bench`` and CI logs.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from receivers import HttpReceiver
from receivers import http_receiver
from serverutil import Server
from serverutil import api_key_from_banner
from serverutil import open_db_readonly
from serverutil import ping_key_from_banner
from serverutil import start_server
from serverutil import stop_quietly

pytestmark = pytest.mark.slow

SOAK_SECONDS = float(os.environ.get("PINGD_SOAK_SECONDS") or 120)
SAMPLE_SECONDS = 2.0
WARM_UP_FRACTION = 0.15  # samples before this share of the run are not judged
CHECKS = 100
PING_LOG_LIMIT = 20
PINGERS = 4
RECONNECT_EVERY = 50  # requests per keep-alive connection
MAX_BODY_BYTES = 3000
API_PAUSE_SECONDS = 0.02
FLAP_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 10.0
PRUNE_WAIT_SECONDS = 2.5
RSS_TOLERANCE = (0.15, 5 * 1024)  # relative, or absolute in kB, whichever is larger
DB_TOLERANCE = (0.10, 1024 * 1024)  # relative, or absolute in bytes, whichever is larger
LOG_PROBLEMS = ("Traceback", "database is locked", "unexpected error", "write batch")
ENV = {
    "PINGD_STORAGE_PING_LOG_LIMIT": str(PING_LOG_LIMIT),
    "PINGD_ALERTS_TICK_SECONDS": "0.2",
    "PINGD_API_BURST": "100000",
    "PINGD_API_RATE_PER_SECOND": "100000",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = start_server(tmp_path, env=ENV, name="soak")
    try:
        started.wait_ready(1)
        yield started
    finally:
        stop_quietly(started)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as running:
        yield running


def address(server: Server) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    pings: int = 0
    api: int = 0
    flips: int = 0
    latencies: list[float] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def record(self, kind: str, latency: float) -> None:
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)
            if len(self.latencies) < 1_000_000:
                self.latencies.append(latency)

    def wrong(self, what: str) -> None:
        with self.lock:
            if len(self.unexpected) < 100:
                self.unexpected.append(what)


class Client:
    """A keep-alive HTTP client that reconnects every RECONNECT_EVERY requests or on error."""

    def __init__(self, server: Server, key: str = "") -> None:
        self.host, self.port = address(server)
        self.key = key
        self.conn: http.client.HTTPConnection | None = None
        self.used = 0

    def request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, bytes, float]:
        if self.conn is None or self.used >= RECONNECT_EVERY:
            self.close()
            self.conn = http.client.HTTPConnection(
                self.host, self.port, timeout=REQUEST_TIMEOUT_SECONDS
            )
            self.used = 0
        headers = {"X-Api-Key": self.key, "Content-Type": "application/json"} if self.key else {}
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        self.used += 1
        return response.status, payload, time.perf_counter() - started

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def pinger(
    server: Server,
    uuids: list[str],
    slugs: list[str],
    ping_key: str,
    stop: threading.Event,
    tally: Tally,
    seed: int,
) -> None:
    rng = random.Random(seed)
    client = Client(server)
    try:
        while not stop.is_set():
            index = rng.randrange(len(uuids))
            base = f"/ping/{uuids[index]}"
            choice = rng.random()
            if choice < 0.3:
                requests = [("GET", base, None)]
            elif choice < 0.55:
                requests = [("POST", base, rng.randbytes(rng.randrange(MAX_BODY_BYTES)))]
            elif choice < 0.7:
                requests = [("GET", base + "/start", None), ("POST", base, b"done")]
            elif choice < 0.8:
                requests = [("POST", base + "/log", b"a log line " * rng.randrange(1, 100))]
            elif choice < 0.9:
                requests = [("GET", base + "/0", None)]
            else:
                requests = [("GET", f"/ping/{ping_key}/{slugs[index]}", None)]
            for method, path, body in requests:
                try:
                    status, payload, latency = client.request(method, path, body)
                except (OSError, http.client.HTTPException) as ex:
                    tally.wrong(f"{method} {path}: {ex!r}")
                    continue
                if (status, payload) != (200, b"OK"):
                    tally.wrong(f"{method} {path}: {status} {payload[:100]!r}")
                tally.record("pings", latency)
    finally:
        client.close()


def api_user(
    server: Server, key: str, uuids: list[str], stop: threading.Event, tally: Tally
) -> None:
    rng = random.Random(7)
    client = Client(server, key)

    def call(method: str, path: str, expected: int, data: Any = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        try:
            status, payload, latency = client.request(method, path, body)
        except (OSError, http.client.HTTPException) as ex:
            tally.wrong(f"api {method} {path}: {ex!r}")
            return None
        tally.record("api", latency)
        if status != expected:
            tally.wrong(f"api {method} {path}: {status} {payload[:200]!r}")
            return None
        return json.loads(payload)["data"]

    try:
        n = 0
        while not stop.wait(API_PAUSE_SECONDS):
            call("GET", "/v1/checks", 200)
            created = call("POST", "/v1/checks", 201, {"name": f"temp {n}", "tags": "soak temp"})
            if created is not None:
                path = f"/v1/checks/{created['uuid']}"
                call("PATCH", path, 200, {"desc": f"patched {n}", "timeout": 3600})
                call("GET", path, 200)
                call("DELETE", path, 200)
            uuid = rng.choice(uuids)
            call("GET", f"/v1/checks/{uuid}/pings", 200)
            call("GET", f"/v1/checks/{uuid}/flips", 200)
            call("GET", "/v1/checks?tag=soak&status=up", 200)
            call("GET", "/v1/status", 200)
            n += 1
    finally:
        client.close()


def flapper(server: Server, uuid: str, stop: threading.Event, tally: Tally) -> None:
    client = Client(server)
    action = "fail"
    try:
        while not stop.wait(FLAP_SECONDS):
            path = f"/ping/{uuid}/fail" if action == "fail" else f"/ping/{uuid}"
            try:
                status, payload, latency = client.request("POST", path, b"flap")
            except (OSError, http.client.HTTPException) as ex:
                tally.wrong(f"flap {path}: {ex!r}")
                continue
            if (status, payload) != (200, b"OK"):
                tally.wrong(f"flap {path}: {status} {payload[:100]!r}")
                continue
            tally.record("flips", latency)
            action = "success" if action == "fail" else "fail"
    finally:
        client.close()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def db_bytes(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def api(server: Server, key: str, method: str, path: str, data: Any = None) -> Any:
    client = Client(server, key)
    try:
        body = None if data is None else json.dumps(data).encode()
        status, payload, _ = client.request(method, path, body)
    finally:
        client.close()
    assert status in (200, 201), payload
    return json.loads(payload)["data"]


def thirds(values: list[float]) -> tuple[list[float], list[float], list[float]]:
    third = len(values) // 3
    return values[:third], values[third : 2 * third], values[2 * third :]


def test_it_stays_flat_and_error_free_under_mixed_load_for_minutes(
    server: Server, receiver: HttpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    key = api_key_from_banner(server.stdout())
    ping_key = ping_key_from_banner(server.stdout())
    checks = [
        api(server, key, "POST", "/v1/checks", {"name": f"Soak job {i}", "tags": "soak"})
        for i in range(CHECKS)
    ]
    uuids = [check["uuid"] for check in checks]
    slugs = [check["slug"] for check in checks]
    channel = api(
        server,
        key,
        "POST",
        "/v1/channels",
        {"kind": "webhook", "settings": {"url_down": receiver.url, "url_up": receiver.url}},
    )
    flappy = api(server, key, "POST", "/v1/checks", {"name": "Flappy", "channels": [channel["id"]]})

    stop = threading.Event()
    tally = Tally()
    threads = [
        threading.Thread(
            target=pinger,
            args=(server, uuids, slugs, ping_key, stop, tally, seed),
            name=f"pinger-{seed}",
            daemon=True,
        )
        for seed in range(PINGERS)
    ]
    threads.append(threading.Thread(target=api_user, args=(server, key, uuids, stop, tally)))
    threads.append(threading.Thread(target=flapper, args=(server, flappy["uuid"], stop, tally)))
    started = time.monotonic()
    for thread in threads:
        thread.start()
    samples: list[tuple[float, int, int, int]] = []  # seconds, RSS kB, db bytes, pings
    try:
        while (elapsed := time.monotonic() - started) < SOAK_SECONDS:
            assert server.proc.poll() is None, "the server died"
            samples.append((elapsed, rss_kb(server.pid), db_bytes(server.db), tally.pings))
            time.sleep(min(SAMPLE_SECONDS, max(0.0, SOAK_SECONDS - elapsed)))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT_SECONDS + 5)
    duration = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), "a client thread hung"

    # Every flip was queued; give the alert loop a moment for the last ones, and
    # the writer its quiet second to prune (SPEC §1.5: "off the request path").
    time.sleep(PRUNE_WAIT_SECONDS)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with closing(open_db_readonly(server.db)) as conn:
            states = dict(conn.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state"))
        if set(states) <= {"sent"}:
            break
        time.sleep(0.2)
    with closing(open_db_readonly(server.db)) as conn:
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        per_check = [row[0] for row in conn.execute("SELECT COUNT(*) FROM pings GROUP BY check_id")]
    final_rss = rss_kb(server.pid)
    log = server.stderr()
    problems = Counter(problem for problem in LOG_PROBLEMS if problem in log)

    judged = [s for s in samples if s[0] >= SOAK_SECONDS * WARM_UP_FRACTION]
    rss_first, _, rss_last = thirds([float(s[1]) for s in judged])
    db_first, db_middle, db_last = thirds([float(s[2]) for s in judged])
    latencies = sorted(tally.latencies)
    figures = {
        "seconds": round(duration, 1),
        "pings": tally.pings,
        "pings/s": round(tally.pings / duration),
        "api requests": tally.api,
        "flips": tally.flips,
        "deliveries": states,
        "received by webhook": len(receiver.requests),
        "p50 ms": round(1000 * latencies[len(latencies) // 2], 1) if latencies else None,
        "p99 ms": round(1000 * latencies[int(len(latencies) * 0.99)], 1) if latencies else None,
        "rss kB first/last third": (
            round(statistics.mean(rss_first)),
            round(statistics.mean(rss_last)),
        ),
        "rss kB max/final": (max(s[1] for s in samples), final_rss),
        "db bytes min/max": (min(s[2] for s in samples), max(s[2] for s in samples)),
        "db bytes first/middle/last third max": (max(db_first), max(db_middle), max(db_last)),
        "pings kept per check max": max(per_check),
        "samples": len(samples),
    }
    with capsys.disabled():
        print("\nsoak: " + json.dumps(figures))
        for elapsed, rss, size, pings in samples[:: max(1, len(samples) // 20)]:
            print(f"soak sample: t={elapsed:6.1f}s rss={rss} kB db={size} B pings={pings}")

    assert tally.unexpected == []
    assert not problems, f"{dict(problems)} in the server log:\n{log[-3000:]}"
    assert integrity == ["ok"]
    assert max(per_check) == PING_LOG_LIMIT
    assert tally.pings > 0 and tally.api > 0 and tally.flips > 0
    assert set(states) == {"sent"}, states
    assert len(receiver.requests) == sum(states.values())
    allowed_rss = max(
        statistics.mean(rss_first) * (1 + RSS_TOLERANCE[0]),
        statistics.mean(rss_first) + RSS_TOLERANCE[1],
    )
    assert statistics.mean(rss_last) <= allowed_rss, "memory grows under steady load"
    allowed_db = max(max(db_middle) * (1 + DB_TOLERANCE[0]), max(db_middle) + DB_TOLERANCE[1])
    assert max(db_last) <= allowed_db, "the database keeps growing past ping_log_limit"
