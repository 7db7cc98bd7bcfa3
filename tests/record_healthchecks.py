"""Record what a real Healthchecks answers, for tests/test_hc_import.py (not a test itself).

Usage: python tests/record_healthchecks.py HC_SOURCE_DIR HC_PYTHON [OUT_DIR]

Starts Healthchecks from its source tree (``manage.py migrate`` then
``runserver`` on 127.0.0.1, on a fresh SQLite file, with the python of a
virtualenv that has its requirements.txt), makes a project with a
read-write key, channels of every kind pingd can map and checks of every kind
through Healthchecks' own API, then saves the exact bytes of ``GET
/api/v3/checks/`` and ``GET /api/v3/channels/`` with the key and the source's
version in OUT_DIR (default tests/data/healthchecks). Stops it by its PID.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

KEY = "pingdimporttestkey0123456789abcd"  # 32 characters, a plain project key
CHANNELS = [
    ("email", "Ops mail", '{"value": "ops@example.org", "up": true, "down": true}'),
    (
        "webhook",
        "Ops hook",
        json.dumps(
            {
                "method_down": "POST",
                "url_down": "http://127.0.0.1:9/d",
                "body_down": "",
                "headers_down": {},
                "method_up": "GET",
                "url_up": "",
                "body_up": "",
                "headers_up": {},
            }
        ),
    ),
    (
        "ntfy",
        "Phone ntfy",
        '{"topic": "pingd", "url": "https://ntfy.sh", "priority": 3, "priority_up": 3}',
    ),
    ("po", "Pushover", "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuu|0|0"),
    ("telegram", "Telegram", '{"id": 1, "type": "private", "name": "me"}'),
    ("discord", "Discord", '{"webhook": {"url": "https://discord.com/api/webhooks/1/x"}}'),
    ("slack", "Slack", "https://hooks.slack.com/services/T/B/x"),
    ("matrix", "Matrix", "!room:example.org"),
    ("apprise", "Apprise", "json://127.0.0.1:9/"),
    ("gotify", "Gotify", '{"url": "https://gotify.example.org", "token": "t"}'),
]
CHECKS = [
    {
        "name": "Backup",
        "slug": "backup",
        "tags": "prod db",
        "desc": "nightly dump",
        "timeout": 86400,
        "grace": 7200,
        "channels": "Ops mail,Ops hook",
    },
    {
        "name": "Nightly sync",
        "slug": "nightly-sync",
        "schedule": "30 2 * * *",
        "tz": "Europe/Riga",
        "grace": 600,
        "channels": "*",
    },
    {
        "name": "Router",
        "slug": "router",
        "tags": "net",
        "timeout": 300,
        "grace": 120,
        "methods": "POST",
        "manual_resume": True,
        "channels": "Pushover",
    },
    {
        "name": "Keywords",
        "slug": "",
        "timeout": 3600,
        "grace": 60,
        "success_kw": "OK",
        "failure_kw": "ERROR",
        "start_kw": "BEGIN",
        "filter_http_body": True,
        "filter_default_fail": True,
    },
    {"name": "Paused job", "slug": "paused-job", "timeout": 600, "grace": 60},
    {
        "name": "Calendar",
        "slug": "calendar",
        "schedule": "Mon *-*-* 09:00",
        "tz": "UTC",
        "grace": 60,
    },
]

SETUP = f"""
from django.contrib.auth.models import User
from hc.accounts.models import Project
from hc.api.models import Channel
user = User.objects.create_user("pingd", "pingd@example.org", "x")
project = Project.objects.create(owner=user, name="Imported", api_key="{KEY}")
for kind, name, value in {CHANNELS!r}:
    Channel.objects.create(project=project, kind=kind, name=name, value=value)
"""


def _call(base: str, method: str, path: str, body: dict[str, object] | None = None) -> bytes:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}{path}",
        data=data,
        method=method,
        headers={"X-Api-Key": KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return bytes(answer.read())


def main() -> int:
    source, python = Path(sys.argv[1]), sys.argv[2]
    out = (
        Path(sys.argv[3]) if len(sys.argv) > 3 else Path(__file__).parent / "data" / "healthchecks"
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as work:
        env = {
            **os.environ,
            "DB_NAME": str(Path(work) / "hc.sqlite"),
            "SITE_ROOT": base,
            "ALLOWED_HOSTS": "127.0.0.1",
            "DEBUG": "False",
            "SECRET_KEY": "recording",
        }
        run = {"cwd": source, "env": env, "check": True, "capture_output": True, "timeout": 300}
        subprocess.run([python, "manage.py", "migrate", "-v", "0"], **run)  # type: ignore[call-overload]
        subprocess.run([python, "manage.py", "shell", "-c", SETUP], **run)  # type: ignore[call-overload]
        server = subprocess.Popen(
            [python, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=source,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _record(base, out)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


def _record(base: str, out: Path) -> None:
    for _ in range(100):
        try:
            _call(base, "GET", "/api/v3/status/")
            break
        except OSError:
            time.sleep(0.2)
    for check in CHECKS:
        created = json.loads(_call(base, "POST", "/api/v3/checks/", check))
        if check["name"] == "Paused job":
            _call(base, "POST", f"/api/v3/checks/{created['uuid']}/pause", {})
    out.mkdir(parents=True, exist_ok=True)
    (out / "checks.json").write_bytes(_call(base, "GET", "/api/v3/checks/"))
    (out / "channels.json").write_bytes(_call(base, "GET", "/api/v3/channels/"))
    version = subprocess.run(
        ["git", "describe", "--always"],
        capture_output=True,
        text=True,
        cwd=Path(sys.argv[1]),
        check=False,
    ).stdout.strip()
    (out / "README.md").write_text(
        "Answers of a real Healthchecks, recorded by `python tests/record_healthchecks.py "
        f"HC_SOURCE_DIR HC_PYTHON`.\nKey: `{KEY}`. Healthchecks source: {version or 'unknown'}.\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    sys.exit(main())
