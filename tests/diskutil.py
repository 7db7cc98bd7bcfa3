"""Helpers for the full-disk tests (tests/test_disk_full.py): a small tmpfs, a filler, clients.

``mounted_tmpfs`` mounts a tmpfs of its own for one test and always unmounts
it; where mounting is not permitted it skips the test, or fails it under
CI=true. ``fill`` writes a filler file until the filesystem has no byte left.
The clients speak HTTP to 127.0.0.1 only, bounded in count and time.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from serverutil import Server
from serverutil import api_key_from_banner
from serverutil import open_db_readonly
from serverutil import ping_key_from_banner
from serverutil import run_cli

from pingd.errors import STORAGE_RETRY_AFTER_SECONDS

# Room for the database and a full WAL under the load tests (about 4 MB each), so
# that only the filler fills the disk: at 8 MB the load alone did, 1 run in 5.
TMPFS_SIZE = "16m"
TIMEOUT_SECONDS = 5.0
WAIT_SECONDS = 5.0


@contextmanager
def mounted_tmpfs(mountpoint: Path) -> Iterator[Path]:
    """Mount a fresh TMPFS_SIZE tmpfs on ``mountpoint`` (made here) for a block."""
    mountpoint.mkdir()
    if shutil.which("mount") is None:
        _cannot_mount("no mount command")
    if os.geteuid() != 0:
        _cannot_mount("not root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(mountpoint)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        _cannot_mount(result.stderr.strip() or f"mount exited {result.returncode}")
    try:
        yield mountpoint
    finally:
        done = subprocess.run(["umount", str(mountpoint)], capture_output=True, timeout=30)
        if done.returncode != 0:  # a process of this test still has a file open there
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=30)


def _cannot_mount(reason: str) -> None:
    message = f"cannot mount a tmpfs for the full-disk tests ({reason}); needs root/CAP_SYS_ADMIN"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def fill(directory: Path) -> Path:
    """Fill the filesystem of ``directory`` up to its last byte; return the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = 1 << 20
        while chunk:
            try:
                os.write(fd, b"\0" * chunk)
            except OSError as ex:
                assert ex.errno == errno.ENOSPC, ex
                chunk //= 2
    finally:
        os.close(fd)
    return filler


def address(server: Server) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname == "127.0.0.1" and parts.port is not None
    return parts.hostname, parts.port


class Client:
    """One keep-alive HTTP connection to the server, reopened after any error."""

    def __init__(self, server: Server) -> None:
        self.host, self.port = address(server)
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_SECONDS)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            self.conn.request(method, path, body, headers or {})
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_SECONDS)
            raise
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def api(
        self, key: str, method: str, path: str, data: Any = None
    ) -> tuple[int, Any, dict[str, str]]:
        body = None if data is None else json.dumps(data).encode()
        headers = {"X-Api-Key": key, "Content-Type": "application/json"}
        status, response_headers, raw = self.request(method, path, body, headers)
        return status, json.loads(raw) if raw else None, response_headers

    def close(self) -> None:
        self.conn.close()


def keys(server: Server) -> tuple[str, str]:
    deadline = time.monotonic() + WAIT_SECONDS
    while "API key:" not in server.stdout() and time.monotonic() < deadline:
        time.sleep(0.02)
    return ping_key_from_banner(server.stdout()), api_key_from_banner(server.stdout())


def integrity(db: Path) -> str:
    conn = open_db_readonly(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def stored_ping_bodies(db: Path) -> list[bytes]:
    conn = open_db_readonly(db)
    try:
        return [bytes(row[0]) for row in conn.execute("SELECT body FROM pings")]
    finally:
        conn.close()


def n_pings(db: Path) -> dict[str, int]:
    conn = open_db_readonly(db)
    try:
        checks = dict(conn.execute("SELECT uuid, n_pings FROM checks").fetchall())
        counted = dict(
            conn.execute(
                "SELECT c.uuid, count(p.id) FROM checks c LEFT JOIN pings p ON p.check_id = c.id"
                " GROUP BY c.id"
            ).fetchall()
        )
        assert checks == counted
        return checks
    finally:
        conn.close()


def assert_storage_full(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 503, (status, body)
    assert body == b"storage full"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["retry-after"] == str(STORAGE_RETRY_AFTER_SECONDS)


def stop_cleanly(server: Server) -> None:
    assert server.terminate() == 0
    assert "Traceback" not in server.stderr(), server.stderr()[-4000:]


class Load:
    """Client threads that ping with unique bodies, bounded in count and time."""

    THREADS = 6
    PINGS_PER_THREAD = 400

    def __init__(self, server: Server, uuid: str, seconds: float) -> None:
        self.server = server
        self.uuid = uuid
        self.deadline = time.monotonic() + seconds
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: list[bytes] = []
        self.answers: Counter[tuple[int, bytes]] = Counter()
        self.unexpected: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(self.THREADS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=TIMEOUT_SECONDS * 2)
        assert not any(thread.is_alive() for thread in self.threads), "a client hung"

    def _run(self, n: int) -> None:
        client = Client(self.server)
        try:
            for i in range(self.PINGS_PER_THREAD):
                if self.stop.is_set() or time.monotonic() > self.deadline:
                    return
                body = f"load-{n}-{i}-".encode() + b"x" * 2000
                try:
                    status, headers, data = client.request("POST", f"/ping/{self.uuid}", body)
                except (OSError, http.client.HTTPException) as ex:
                    with self.lock:
                        self.unexpected.append(repr(ex))
                    continue
                with self.lock:
                    self.answers[status, data] += 1
                    if status == 200 and data == b"OK":
                        self.acked.append(body)
                    elif status != 503 or data != b"storage full" or "retry-after" not in headers:
                        self.unexpected.append(f"{status} {data[:80]!r}")
        finally:
            client.close()


def deliveries(db: Path) -> list[tuple[str, int]]:
    conn = open_db_readonly(db)
    try:
        return [tuple(row) for row in conn.execute("SELECT state, attempts FROM deliveries")]
    finally:
        conn.close()


def populated_db(tmp_path: Path, pings: int = 200) -> Path:
    """A database outside the tmpfs with some pings in it (about a megabyte)."""
    db = tmp_path / "pingd.db"
    assert run_cli(tmp_path, "--db", str(db), "check", "add", "big").returncode == 0
    conn = sqlite3.connect(db)
    with conn:
        (check_id,) = conn.execute("SELECT id FROM checks").fetchone()
        conn.executemany(
            "INSERT INTO pings (check_id, n, created, kind, scheme, method, remote_addr, ua,"
            " body_size, body) VALUES (?, ?, '2026-01-01T00:00:00Z', 'success', 'http', 'POST',"
            " '127.0.0.1', '', 5000, ?)",
            [(check_id, n, os.urandom(5000)) for n in range(1, pings + 1)],
        )
    conn.close()
    return db
