"""Declared checks on the real ``pingd serve``: applied at start, again on SIGHUP while pings flow.

The server is started here on 127.0.0.1 with ``--config``; a client thread
pings a declared check's UUID the whole time (bounded in count and time).
SIGHUP goes to this server's PID only. No ping may be lost or answered with
an error, a good file must be applied, and a broken one must change nothing.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from serverutil import Server
from serverutil import open_db_readonly
from serverutil import run_cli
from serverutil import running_server

UUID = "0b7c2a36-6a4e-4d9f-9a52-3f0e8d1c2b4a"
FIRST = f'[[check]]\nuuid = "{UUID}"\nname = "Backup"\ngrace = "1h"\n'
MAX_PINGS = 3000
WAIT_SECONDS = 20.0


class Pinger(threading.Thread):
    """Pings one UUID until stopped (or MAX_PINGS), counting every answer."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.ok = 0
        self.bad: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set() and self.ok + len(self.bad) < MAX_PINGS:
            try:
                with urllib.request.urlopen(self.url, timeout=10) as answer:
                    body = answer.read()
                    if (answer.status, body) == (200, b"OK"):
                        self.ok += 1
                    else:
                        self.bad.append(f"{answer.status} {body!r}")
            except (urllib.error.URLError, OSError) as ex:
                self.bad.append(repr(ex))


def wait_for_log(server: Server, text: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if text in server.stderr():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in the log:\n{server.stderr()[-3000:]}")


def checks_in(db: Path) -> dict[str, tuple[int, int]]:
    conn = open_db_readonly(db)
    try:
        rows = conn.execute("SELECT name, grace, n_pings FROM checks").fetchall()
        return {row["name"]: (row["grace"], row["n_pings"]) for row in rows}
    finally:
        conn.close()


def test_sighup_applies_the_files_while_pings_flow_and_a_broken_file_changes_nothing(
    tmp_path: Path,
) -> None:
    config = tmp_path / "pingd.toml"
    config.write_text(FIRST, encoding="utf-8")
    with running_server(tmp_path, global_args=["--config", str(config)]) as server:
        wait_for_log(server, "start: + check 'Backup'")
        pinger = Pinger(f"{server.url}/ping/{UUID}")
        pinger.start()
        try:
            time.sleep(0.3)
            config.write_text(FIRST.replace('"1h"', '"2h"') + '[[check]]\nname = "Second"\n')
            os.kill(server.pid, signal.SIGHUP)
            wait_for_log(server, "SIGHUP: + check 'Second'")
            assert "SIGHUP: ~ check 'Backup': grace 3600 -> 7200" in server.stderr()
            time.sleep(0.3)
            config.write_text(FIRST + '[[check]]\nname = "Third"\ntimeout = "never"\n')
            os.kill(server.pid, signal.SIGHUP)
            wait_for_log(server, "SIGHUP: nothing applied, the old state stays:")
            assert "[[check]] 2 ('Third'): timeout:" in server.stderr()
            time.sleep(0.3)
        finally:
            pinger.stop.set()
            pinger.join(timeout=30)
        assert pinger.bad == []
        assert pinger.ok > 0
        state = checks_in(server.db)
    assert set(state) == {"Backup", "Second"}  # "Third" was never half applied
    assert state["Backup"] == (7200, pinger.ok)  # every ping answered OK is stored


def test_apply_and_export_from_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "pingd.toml"
    db = tmp_path / "pingd.db"
    config.write_text(FIRST + '[[check]]\nname = "Nightly"\nschedule = "0 3 * * *"\n')
    dry = run_cli(tmp_path, "--config", str(config), "--db", str(db), "apply", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == ["+ check 'Backup'", "+ check 'Nightly'",
                                       "(dry run: nothing was changed)"]  # fmt: skip
    done = run_cli(tmp_path, "--config", str(config), "--db", str(db), "apply")
    assert done.stdout.splitlines() == ["+ check 'Backup'", "+ check 'Nightly'"]
    exported = tmp_path / "export.toml"
    out = run_cli(tmp_path, "--db", str(db), "export", "-o", str(exported))
    assert out.returncode == 0, out.stderr
    text = exported.read_text(encoding="utf-8")
    assert f'uuid = "{UUID}"' in text and 'schedule = "0 3 * * *"' in text
    config.write_text('[[check]]\nname = "x"\nfrobnicate = 1\n')
    bad = run_cli(tmp_path, "--config", str(config), "--db", str(db), "apply")
    assert bad.returncode == 1
    assert (
        bad.stderr.strip()
        == f"pingd: error: {config}: [[check]] 1 ('x'): frobnicate: unknown field"
    )
    elsewhere = tmp_path / "elsewhere"  # no ./pingd.toml there
    elsewhere.mkdir()
    none = run_cli(elsewhere, "--db", str(db), "apply")
    assert none.returncode == 1 and "no config file to apply" in none.stderr


def test_a_broken_file_at_start_is_logged_and_the_server_serves_anyway(tmp_path: Path) -> None:
    config = tmp_path / "pingd.toml"
    config.write_text('[[check]]\nname = "x"\ngrace = "forever"\n', encoding="utf-8")
    uuid = None
    with running_server(tmp_path, global_args=["--config", str(config)]) as server:
        wait_for_log(server, "start: nothing applied, the old state stays:")
        assert "[[check]] 1 ('x'): grace: 'forever' is not a duration" in server.stderr()
        made = run_cli(tmp_path, "--db", str(server.db), "check", "add", "Made by hand")
        uuid = made.stdout.strip().rsplit("/", 1)[-1]
        with urllib.request.urlopen(f"{server.url}/ping/{uuid}", timeout=10) as answer:
            assert answer.read() == b"OK"
    assert checks_in(server.db) == {"Made by hand": (3600, 1)}
