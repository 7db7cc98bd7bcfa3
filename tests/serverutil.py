"""Run the real ``pingd serve`` as a subprocess on loopback, for end-to-end tests.

The server gets a database in the test's temporary directory, port 0 (the
kernel picks a free port), ``cwd`` set to that directory (so the repository's
own ``pingd.toml`` is never read) and an environment without stray ``PINGD_*``
variables. Its stdout and stderr go to files, so a chatty server can never
block on a full pipe; the actual addresses are read from the
``listening on http://HOST:PORT`` lines on stderr. Every process started here
is stopped by its own PID: SIGTERM first, SIGKILL after a timeout.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest

READY_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 5.0
CLI_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.02

_LISTENING = re.compile(r"listening on (http://(\S+):(\d+))\s*$", re.MULTILINE)
_PING_KEY = re.compile(r"^\s*ping key:\s+([a-z0-9]{22})\b", re.MULTILINE)
_API_KEY = re.compile(r"^\s*API key:\s+(pingd_\S+)", re.MULTILINE)
_PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"}


# How to install each outside program a test drives pingd with, on Debian.
INSTALL_HINTS = {
    "curl": "apt-get install curl",
    "wget": "apt-get install wget",
    "busybox": "apt-get install busybox",
    "promtool": "apt-get install prometheus",
    "prometheus": "apt-get install prometheus",
    "nginx": "apt-get install nginx",
    "caddy": "apt-get install caddy",
    "openssl": "apt-get install openssl",
    "systemd-analyze": "apt-get install systemd",
}


def require_program(name: str) -> str:
    """Return the path of an outside program a test needs, or skip the test (fail under CI).

    On a developer's machine a missing program skips the test with a reason
    that says how to install it; under CI (``CI=true``) it fails, so that CI
    can never pass by skipping.
    """
    found = shutil.which(name)
    if found is not None:
        return found
    hint = INSTALL_HINTS.get(name, f"install {name}")
    test = os.environ.get("PYTEST_CURRENT_TEST", "this test").rsplit(" ", 1)[0]
    reason = f"{test} needs {name}, which is not installed (on Debian: {hint})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must install it", pytrace=False)
    pytest.skip(reason)


def pingd_command() -> list[str]:
    """Return the command that runs pingd from the test's own virtualenv."""
    script = Path(sys.executable).with_name("pingd")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "pingd"]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return this process's environment without PINGD_* or proxy variables, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PINGD_") and name.lower() not in _PROXY_VARIABLES
    }
    env.update(extra or {})
    return env


def run_cli(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = CLI_TIMEOUT_SECONDS,
) -> subprocess.CompletedProcess[str]:
    """Run one ``pingd`` command to completion (killed after ``timeout``) and return it."""
    return subprocess.run(
        [*pingd_command(), *args],
        cwd=cwd,
        env=clean_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def add_check(cwd: Path, db: Path, name: str) -> str:
    """Create a check with ``pingd --db DB check add NAME`` and return its uuid."""
    result = run_cli(cwd, "--db", str(db), "check", "add", name)
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip().splitlines()[-1]
    assert url.startswith("http"), result.stdout
    return url.rstrip("/").rsplit("/", 1)[-1]


def ping_key_from_banner(text: str) -> str:
    """Return the ping key that the first-run banner printed."""
    match = _PING_KEY.search(text)
    assert match is not None, f"no ping key in {text!r}"
    return match.group(1)


def api_key_from_banner(text: str) -> str:
    """Return the API key that the first-run banner printed."""
    match = _API_KEY.search(text)
    assert match is not None, f"no API key in {text!r}"
    return match.group(1)


def open_db_readonly(db: Path) -> sqlite3.Connection:
    """Open the database file read-only (WAL is read, nothing is written)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def pings_of(db: Path, uuid: str) -> list[sqlite3.Row]:
    """Return the stored pings of a check, oldest first."""
    conn = open_db_readonly(db)
    try:
        return conn.execute(
            "SELECT p.* FROM pings AS p JOIN checks AS c ON c.id = p.check_id"
            " WHERE c.uuid = ? ORDER BY p.n",
            (uuid,),
        ).fetchall()
    finally:
        conn.close()


class ServerError(Exception):
    """The server did not start, or did not stop, as expected."""


@dataclass
class Server:
    """A running ``pingd serve`` process that this test started."""

    proc: subprocess.Popen[bytes]
    db: Path
    cwd: Path
    stdout_path: Path
    stderr_path: Path
    urls: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The base URL of the first listening address, e.g. ``http://127.0.0.1:41234``."""
        return self.urls[0]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, n_addresses: int, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Poll stderr until ``n_addresses`` listening lines appear (bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = _LISTENING.findall(self.stderr())
            if len(found) >= n_addresses:
                self.urls = [url for url, _host, _port in found]
                return
            if self.proc.poll() is not None:
                raise ServerError(
                    f"pingd exited with {self.proc.returncode} before listening:\n{self.stderr()}"
                )
            time.sleep(POLL_SECONDS)
        raise ServerError(f"pingd did not listen within {timeout} s:\n{self.stderr()}")

    def terminate(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """Send SIGTERM to this server's PID and wait; SIGKILL if it hangs. Return the status."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise ServerError(f"pingd ignored SIGTERM for {timeout} s") from None
        return self.proc.returncode

    def kill(self) -> int:
        """Send SIGKILL to this server's PID and reap it."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(timeout=STOP_TIMEOUT_SECONDS)


def start_server(
    cwd: Path,
    *,
    db: Path | None = None,
    listen: Sequence[str] = ("127.0.0.1:0",),
    env: Mapping[str, str] | None = None,
    global_args: Sequence[str] = (),
    name: str = "server",
) -> Server:
    """Start ``pingd serve`` and return it without waiting for it to listen."""
    db = db if db is not None else cwd / "pingd.db"
    stdout_path = cwd / f"{name}-{time.monotonic_ns()}.stdout"
    stderr_path = stdout_path.with_suffix(".stderr")
    command = [*pingd_command(), *global_args, "--db", str(db), "serve"]
    for address in listen:
        command += ["--listen", address]
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            command, cwd=cwd, env=clean_env(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
    return Server(proc, db, cwd, stdout_path, stderr_path)


@contextmanager
def running_server(
    cwd: Path,
    *,
    db: Path | None = None,
    listen: Sequence[str] = ("127.0.0.1:0",),
    env: Mapping[str, str] | None = None,
    global_args: Sequence[str] = (),
) -> Iterator[Server]:
    """Start ``pingd serve``, wait until it listens, and always stop it afterwards."""
    server = start_server(cwd, db=db, listen=listen, env=env, global_args=global_args)
    try:
        server.wait_ready(len(listen))
        yield server
    finally:
        stop_quietly(server)


def stop_quietly(server: Server) -> None:
    """Stop a server in teardown: SIGTERM, then SIGKILL, without masking the test's error."""
    try:
        server.terminate()
    except ServerError:
        pass
    finally:
        server.kill()
