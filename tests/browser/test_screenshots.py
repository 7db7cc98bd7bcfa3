# ruff: noqa: F811  (the fixtures imported from browserutil are parameters here)
"""The README's screenshots, made in the real Chromium from a real ``pingd serve``.

Opt-in (``PINGD_SCREENSHOTS=1``), so that ``make test`` never rewrites files in
``docs/``; a server of its own (this module's ``site``), filled with checks a
homelab might have, so that the pictures show the dashboard and not the hostile
text the other browser tests use.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from browserutil import Site
from browserutil import browser  # noqa: F401 (fixtures)
from browserutil import sign_in
from browserutil import site  # noqa: F401

DOCS = Path(__file__).resolve().parents[2] / "docs"
LARGEST_PNG = 150_000

pytestmark = pytest.mark.skipif(
    os.environ.get("PINGD_SCREENSHOTS") != "1",
    reason="PINGD_SCREENSHOTS=1 makes the README's screenshots",
)


def _homelab(site: Site) -> str:
    """Make checks in every status, with runs and output; return the UUID to show."""
    simple = {"timeout": 86400, "grace": 3600}
    made = {
        name: site.api("POST", "/v1/checks", {"name": name, **fields})["data"]["uuid"]
        for name, fields in [
            ("Nightly backup", {"tags": "backup nas", "schedule": "30 2 * * *",
                                "tz": "Europe/Berlin", "grace": 3600}),
            ("Certificate renewal", {"tags": "web", **simple}),
            ("Photo sync", {"tags": "nas", "timeout": 3600, "grace": 900}),
            ("Router heartbeat", {"tags": "net", "timeout": 300, "grace": 120}),
            ("Database dump", {"tags": "backup db", "timeout": 21600, "grace": 1800}),
            ("Weather station", {"tags": "iot", "timeout": 600, "grace": 300}),
            ("Old laptop backup", {"tags": "backup", **simple}),
        ]
    }  # fmt: skip
    backup = made["Nightly backup"]
    for n, (suffix, body) in enumerate([("", b"sent 1.2G, 0 errors"),
                                        ("/fail", b"rsync: connection unexpectedly closed"),
                                        ("", b"sent 2.0G, 0 errors")]):  # fmt: skip
        site.ping(backup, "/start")
        time.sleep(1 + n)
        site.ping(backup, suffix, body=body, ua="curl/8.5.0")
    site.ping(made["Certificate renewal"], body=b"no renewal needed")
    site.ping(made["Photo sync"], "/start")
    site.ping(made["Router heartbeat"], "/fail", body=b"WAN down", ua="Wget")
    site.ping(made["Database dump"], "/start")
    site.ping(made["Database dump"], "/0", body=b"pg_dump: 120 MB")
    site.ping(made["Weather station"], ua="Wget")
    site.api("POST", f"/v1/checks/{made['Old laptop backup']}/pause")
    return backup


def test_screenshots_for_the_readme(browser: Any, site: Site) -> None:
    uuid = _homelab(site)
    sign_in(browser, site, site.key)
    browser.set_window_size(1100, 720)
    browser.get(site.url + "/")
    browser.save_screenshot(str(DOCS / "screenshot-checks.png"))
    browser.set_window_size(1100, 1400)
    browser.get(f"{site.url}/checks/{uuid}")
    browser.save_screenshot(str(DOCS / "screenshot-check.png"))
    browser.set_window_size(1280, 900)
    for name in ("screenshot-checks.png", "screenshot-check.png"):
        assert 0 < (DOCS / name).stat().st_size < LARGEST_PNG, name
