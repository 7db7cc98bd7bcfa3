"""``pingd import healthchecks`` against what a real Healthchecks answers, then pings on pingd.

The answers are the recorded bytes in tests/data/healthchecks (its README says
how they were recorded), served from 127.0.0.1 by a small server that checks
the key as Healthchecks does. With PINGD_HEALTHCHECKS_SOURCE (a Healthchecks
source tree) and PINGD_HEALTHCHECKS_PYTHON (a python that has its
requirements) set, they are first recorded afresh from a live Healthchecks
started on loopback. The imported checks are then pinged on the real
``pingd serve`` by their Healthchecks UUIDs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from serverutil import open_db_readonly
from serverutil import run_cli
from serverutil import running_server

RECORDED = Path(__file__).parent / "data" / "healthchecks"
KEY = "pingdimporttestkey0123456789abcd"
MAPPED = {"Backup", "Nightly sync", "Router", "Keywords", "Paused job"}


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source, python = (
        os.environ.get("PINGD_HEALTHCHECKS_SOURCE"),
        os.environ.get("PINGD_HEALTHCHECKS_PYTHON"),
    )
    if not (source and python):
        return RECORDED
    fresh = tmp_path_factory.mktemp("live-healthchecks")
    recorder = Path(__file__).parent / "record_healthchecks.py"
    subprocess.run([sys.executable, str(recorder), source, python, str(fresh)], check=True,
                   timeout=600)  # fmt: skip
    return fresh


@pytest.fixture
def healthchecks(answers: Path) -> Iterator[str]:
    """A loopback server that answers as the recorded Healthchecks did."""
    bodies = {"/api/v3/checks/": (answers / "checks.json").read_bytes(),
              "/api/v3/channels/": (answers / "channels.json").read_bytes()}  # fmt: skip

    class Replay(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = bodies.get(self.path)
            status = 200 if body is not None else 404
            if self.headers.get("X-Api-Key") != KEY:
                status, body = 401, b'{"error": "wrong api key"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def recorded_checks(answers: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((answers / "checks.json").read_text(encoding="utf-8"))
    return {check["name"]: check for check in doc["checks"]}


def rows(db: Path) -> dict[str, Any]:
    conn = open_db_readonly(db)
    try:
        return {row["name"]: dict(row) for row in conn.execute("SELECT * FROM checks")}
    finally:
        conn.close()


def pingd(tmp_path: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(tmp_path, "--db", str(db), *args)


def test_it_imports_every_mappable_check_with_its_uuid_then_pingd_takes_its_pings(
    tmp_path: Path, healthchecks: str, answers: Path
) -> None:
    db = tmp_path / "pingd.db"
    pingd(tmp_path, db, "channel", "add", "webhook", "--name", "Ops hook",
          "--set", "url_down=http://127.0.0.1:9/down")  # fmt: skip
    result = pingd(tmp_path, db, "import", "healthchecks", "--url", healthchecks, "--api-key", KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "+ check 'Backup'", "+ check 'Nightly sync'", "+ check 'Router'", "+ check 'Keywords'",
        "+ check 'Paused job' (paused)",
    ]  # fmt: skip
    assert "not mapped: check 'Calendar' not imported:" in result.stderr  # OnCalendar
    assert "schedule" in result.stderr
    assert ("not mapped: channel 'Ops mail' (email): not created: Healthchecks' API does not "
            "show its settings") in result.stderr  # fmt: skip
    assert "not mapped: check 'Backup': its channel 'Ops mail' is not in pingd" in result.stderr
    theirs, ours = recorded_checks(answers), rows(db)
    assert set(ours) == MAPPED
    for name in MAPPED:
        hc, mine = theirs[name], ours[name]
        assert mine["uuid"] == hc["uuid"]
        for field in ("slug", "tags", "desc", "grace", "methods", "success_kw", "failure_kw",
                      "start_kw"):  # fmt: skip
            assert mine[field] == hc[field], (name, field)
        assert bool(mine["manual_resume"]) == hc["manual_resume"]
        assert bool(mine["filter_body"]) == hc["filter_http_body"]
        assert bool(mine["filter_default_fail"]) == hc["filter_default_fail"]
        assert (mine["status"] == "paused") == (hc["status"] == "paused")
        if "schedule" in hc:
            assert (mine["schedule"], mine["tz"]) == (hc["schedule"], hc["tz"])
        else:
            assert (mine["schedule"], mine["timeout"]) == ("", hc["timeout"])
    conn = open_db_readonly(db)
    try:
        linked = conn.execute(
            "SELECT channels.name FROM check_channels JOIN channels ON channels.id = channel_id"
            " WHERE check_id = ?", (ours["Backup"]["id"],),
        ).fetchall()  # fmt: skip
    finally:
        conn.close()
    assert [row[0] for row in linked] == ["Ops hook"]  # the link to a channel pingd has
    again = pingd(tmp_path, db, "import", "healthchecks", "--url", healthchecks, "--api-key", KEY)
    assert again.stdout.splitlines() == ["= 5 checks unchanged"]
    assert len(rows(db)) == 5  # never duplicated
    with running_server(tmp_path, db=db) as server:
        for name in MAPPED:
            url = f"{server.url}/ping/{theirs[name]['uuid']}"
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert (answer.status, answer.read()) == (200, b"OK"), name
    assert all(row["n_pings"] == 1 for row in rows(db).values())
    assert rows(db)["Paused job"]["status"] == "up"  # a ping resumes it, as in Healthchecks


def test_dry_run_changes_nothing_and_to_file_writes_what_apply_makes(
    tmp_path: Path, healthchecks: str, answers: Path
) -> None:
    db = tmp_path / "pingd.db"
    dry = pingd(tmp_path, db, "import", "healthchecks", "--url", healthchecks, "--api-key", KEY,
                "--dry-run")  # fmt: skip
    assert dry.returncode == 0 and "+ check 'Backup'" in dry.stdout
    assert "(dry run: nothing was changed)" in dry.stdout
    assert rows(db) == {}
    target = tmp_path / "from-healthchecks.toml"
    wrote = pingd(tmp_path, db, "import", "healthchecks", "--url", healthchecks, "--api-key", KEY,
                  "--to-file", str(target))  # fmt: skip
    assert wrote.returncode == 0, wrote.stderr
    assert rows(db) == {}
    text = target.read_text(encoding="utf-8")
    theirs = recorded_checks(answers)
    assert all(f'uuid = "{theirs[name]["uuid"]}"' in text for name in MAPPED)
    other = tmp_path / "other.db"
    applied = run_cli(tmp_path, "--config", str(target), "--db", str(other), "apply")
    assert applied.returncode == 0, applied.stderr
    assert {row["uuid"] for row in rows(other).values()} == {theirs[n]["uuid"] for n in MAPPED}


def test_a_wrong_key_or_no_key_is_a_clear_error(tmp_path: Path, healthchecks: str) -> None:
    db = tmp_path / "pingd.db"
    wrong = pingd(tmp_path, db, "import", "healthchecks", "--url", healthchecks, "--api-key", "x")
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == (f"pingd: error: {healthchecks}/api/v3/checks/ answered 401: "
                                    '{"error": "wrong api key"}')  # fmt: skip
    none = pingd(tmp_path, db, "import", "healthchecks", "--url", healthchecks)
    assert none.returncode == 1 and "--api-key or $HC_API_KEY" in none.stderr
