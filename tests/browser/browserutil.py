"""A real Chromium (Debian's chromium and chromium-driver, through Selenium) on ``pingd serve``.

Missing pieces skip the browser tests with how to install them, and fail
under ``CI=true`` (see ``serverutil.require_program``): the browser and its
driver (``apt-get install chromium chromium-driver``), Selenium (the test
extra) and axe-core (``npm ci --prefix tests/browser``).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serverutil import INSTALL_HINTS
from serverutil import Server
from serverutil import require_program
from serverutil import run_cli
from serverutil import start_server
from serverutil import stop_quietly

HERE = Path(__file__).resolve().parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
INSTALL_HINTS.setdefault("chromium", "apt-get install chromium chromium-driver")
INSTALL_HINTS.setdefault("chromedriver", "apt-get install chromium chromium-driver")
WAIT_SECONDS = 15.0


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI must install it", pytrace=False)
    pytest.skip(reason)


class Site:
    """The pingd server the browser tests drive, and the keys to sign in with."""

    def __init__(self, server: Server, key: str, read_only_key: str) -> None:
        self.server = server
        self.url = server.url
        self.key = key
        self.read_only_key = read_only_key

    def cli(self, *args: str) -> str:
        result = run_cli(self.server.cwd, "--db", str(self.server.db), *args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call /v1 with the read-write key, paced under its rate limit (5/s, burst 2)."""
        time.sleep(0.25)
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-Api-Key": self.key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def ping(
        self, uuid: str, suffix: str = "", body: bytes | None = None, ua: str = "curl/8"
    ) -> None:
        request = urllib.request.Request(
            f"{self.url}/ping/{uuid}{suffix}", data=body, headers={"User-Agent": ua}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.read() == b"OK"


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with tempfile.TemporaryDirectory(prefix="pingd-browser-") as tmp:
        cwd = Path(tmp)
        db = cwd / "pingd.db"
        key = run_cli(cwd, "--db", str(db), "key", "create", "--name", "browser").stdout.strip()
        read_only = run_cli(
            cwd, "--db", str(db), "key", "create", "--read-only", "--name", "wall"
        ).stdout.strip()
        assert key.startswith("pingd_") and read_only.startswith("pingd_")
        server = start_server(cwd, db=db)
        try:
            server.wait_ready(1)
            yield Site(server, key, read_only)
        finally:
            stop_quietly(server)


def _chrome(javascript: bool) -> Any:
    try:
        from selenium import webdriver  # noqa: PLC0415
        from selenium.webdriver.chrome.service import Service as DriverService  # noqa: PLC0415
    except ImportError:
        _missing("the browser tests need Selenium (pip install -e '.[test]')")
    chromium = require_program("chromium")
    driver_path = require_program("chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="pingd-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(service=DriverService(driver_path), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = _chrome(javascript=True)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def no_script_browser() -> Iterator[Any]:
    driver = _chrome(javascript=False)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def axe() -> str:
    if not AXE.is_file():
        _missing("the accessibility tests need axe-core (npm ci --prefix tests/browser)")
    return AXE.read_text(encoding="utf-8")


def sign_in(driver: Any, site: Site, key: str, path: str = "/", *, fresh: bool = False) -> None:
    """Sign in through the login form, as a person would, asking for ``path``.

    A browser already signed in with ``key`` just opens ``path``, unless
    ``fresh``: pingd allows 5 sign-ins at once per address, then one every
    10 s, and a refused attempt is waited out as a person would.
    """
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    if not fresh and getattr(driver, "pingd_key", None) == key:
        driver.get(site.url + path)
        if "/login" not in driver.current_url:
            return
    driver.delete_all_cookies()
    driver.pingd_key = None
    for _ in range(4):
        driver.get(site.url + path)
        assert "/login" in driver.current_url
        driver.find_element(By.NAME, "key").send_keys(key)
        driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
        wait_for(
            lambda: (
                "/login" not in driver.current_url
                or "Try again in" in driver.page_source
                or "not an API key" in driver.page_source
            ),
            "the sign-in to finish",
        )
        limited = re.search(r"Try again in (\d+) s", driver.page_source)
        if "/login" not in driver.current_url:
            driver.pingd_key = key
            return
        if limited is None:
            pytest.fail(f"signing in failed: {driver.find_element(By.TAG_NAME, 'main').text}")
        time.sleep(int(limited.group(1)) + 0.2)
    pytest.fail("pingd kept refusing sign-ins")


def wait_for(condition: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> Any:
    """Poll ``condition`` until it is true (bounded); fail saying ``what`` never happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"waited {seconds} s for {what}")


def link_token(text: str) -> str:
    match = re.search(r"token=([A-Za-z0-9_-]+)", text)
    assert match, text
    return match.group(1)
