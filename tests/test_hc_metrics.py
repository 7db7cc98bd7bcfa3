"""Prometheus metrics from the real ``pingd serve``: promtool accepts them, Prometheus scrapes them.

``promtool check metrics`` (Debian package ``prometheus``) reads the output of
a real server on loopback; its only remarks may be the two lint notes on
Healthchecks' own gauge names (``hc_checks_total``, ``hc_checks_down_total``),
which pingd keeps for compatibility. A real Prometheus, started here on
127.0.0.1 with the Bearer form Grafana Cloud uses, scrapes the server and its
query API returns the series. Both programs are stopped by their PIDs.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serverutil import Server
from serverutil import require_program
from serverutil import running_server

from pingd.app import make_service
from pingd.app import open_store
from pingd.config import default_config

HC_LINT = {
    'hc_checks_total non-counter metrics should not have "_total" suffix',
    'hc_checks_down_total non-counter metrics should not have "_total" suffix',
}
SCRAPE_DEADLINE_SECONDS = 60


def _prepare(db: Path) -> tuple[str, str, list[str]]:
    """Create the database with a read-only key and two checks; return key, project, uuids."""
    store = open_store(default_config(storage__path=str(db)))
    try:
        service = make_service(default_config(storage__path=str(db)), store)
        service.bootstrap()
        key = service.create_api_key("prometheus", read_only=True)
        checks = [
            service.create_check(name='Backup "nightly"\\', tags="prod db"),
            service.create_check(name="Router", tags="net"),
        ]
        return key, service.project().uuid, [check.uuid for check in checks]
    finally:
        store.close()


@pytest.fixture
def pingd(tmp_path: Path) -> Iterator[tuple[Server, str, str, list[str]]]:
    key, project, uuids = _prepare(tmp_path / "pingd.db")
    with running_server(tmp_path, db=tmp_path / "pingd.db") as server:
        for uuid in uuids:
            urllib.request.urlopen(f"{server.url}/ping/{uuid}", timeout=10).read()
        urllib.request.urlopen(f"{server.url}/ping/{uuids[1]}/fail", timeout=10).read()
        yield server, key, project, uuids


def _metrics(server: Server, project: str, key: str) -> str:
    url = f"{server.url}/projects/{project}/metrics/{key}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        text: str = answer.read().decode("utf-8")
        return text


def test_promtool_accepts_the_metrics(pingd: tuple[Server, str, str, list[str]]) -> None:
    promtool = require_program("promtool")
    server, key, project, _ = pingd
    text = _metrics(server, project, key)
    assert "hc_checks_down_total 1\n" in text
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    remarks = {line.strip() for line in (result.stdout + result.stderr).splitlines() if line}
    # 0: clean; 3: lint remarks only. Anything but Healthchecks' own names is a failure.
    assert result.returncode in (0, 3), result
    assert remarks <= HC_LINT, remarks
    # promtool is not blind: a broken exposition fails it.
    broken = subprocess.run([promtool, "check", "metrics"], input="hc_check_up{name=\"x} 1\n",
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert broken.returncode == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _query(port: int, expression: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=5) as answer:
        doc = json.load(answer)
    assert doc["status"] == "success", doc
    result: list[dict[str, Any]] = doc["data"]["result"]
    return result


def test_a_real_prometheus_scrapes_pingd_with_a_bearer_key(
    pingd: tuple[Server, str, str, list[str]], tmp_path: Path
) -> None:
    prometheus = require_program("prometheus")
    server, key, project, uuids = pingd
    target = urllib.parse.urlsplit(server.url).netloc
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: pingd\n"
        f"    metrics_path: /projects/{project}/metrics/\n"
        f"    authorization:\n      type: Bearer\n      credentials: {key}\n"
        f"    static_configs:\n      - targets: ['{target}']\n",
        encoding="utf-8",
    )
    port = _free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        found = _wait_for_series(port, proc)
        assert found, (tmp_path / "prometheus.log").read_text(errors="replace")[-3000:]
        up = {
            sample["metric"]["name"]: sample["value"][1] for sample in _query(port, "hc_check_up")
        }
        assert up == {'Backup "nightly"\\': "1", "Router": "0"}
        (target_up,) = _query(port, 'up{job="pingd"}')
        assert target_up["value"][1] == "1"
        kinds = _query(port, 'hc_check_kept_pings{name="Router", kind="fail"}')
        assert kinds[0]["value"][1] == "1"
        assert _query(port, "hc_check_last_ping_timestamp_seconds")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        log.close()


def _wait_for_series(port: int, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + SCRAPE_DEADLINE_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if _query(port, "hc_checks_total"):
                return True
        except OSError:
            pass  # not listening yet
        time.sleep(0.5)
    return False
