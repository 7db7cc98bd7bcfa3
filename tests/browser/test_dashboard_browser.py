# ruff: noqa: F811  (the fixtures imported from browserutil are parameters here)
"""The dashboard in a real Chromium against the real ``pingd serve`` on loopback.

What only a browser shows: the cookie as the browser keeps it, forms
submitted by clicks, a forged form from another origin, the script's live
refresh, pages with JavaScript off, hostile text as DOM text (not only as
escaped source), and axe-core's WCAG 2.1 A/AA audit of every page in light
and dark, at 360 and 1280 px.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from browserutil import Site
from browserutil import axe  # noqa: F401 (fixtures)
from browserutil import browser  # noqa: F401
from browserutil import link_token
from browserutil import no_script_browser  # noqa: F401
from browserutil import sign_in
from browserutil import site  # noqa: F401
from browserutil import wait_for

HOSTILE_NAME = "<script>window.__x=1</script>"
HOSTILE_TAG = '"><img src=x onerror=window.__y=1>'
HOSTILE_BODY = (
    b"<script>window.__z=1</script> javascript:alert(1)\n<img src=x onerror=window.__z=1>"
)
HOSTILE_UA = "<img src=x onerror=window.__u=1>"


def by() -> Any:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    return By


def texts(driver: Any, css: str) -> list[str]:
    """The visible text of the elements ``css`` finds, read in one go (live refresh swaps them)."""
    return list(
        driver.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText)", css
        )
    )


def post_buttons(driver: Any) -> list[str]:
    """The actions of the page's POST forms."""
    forms = driver.find_elements(by().CSS_SELECTOR, "form[method=post]")
    return [form.get_attribute("action").split("/", 3)[-1] for form in forms]


@pytest.fixture(scope="module")
def checks(site: Site) -> dict[str, Any]:
    """Checks in several statuses, one with hostile text everywhere."""
    made = {
        name: site.api(
            "POST", "/v1/checks", {"name": name, "tags": tags, "timeout": 3600, "grace": 600}
        )["data"]
        for name, tags in [
            ("Nightly backup", "db prod"),
            ("Router", "net"),
            ("Fresh", ""),
            ("Running job", "db"),
            (HOSTILE_NAME, HOSTILE_TAG),
        ]
    }
    site.ping(made["Nightly backup"]["uuid"], "/start")
    site.ping(made["Nightly backup"]["uuid"])
    site.ping(made["Router"]["uuid"], "/fail", body=b"link down")
    site.ping(made["Running job"]["uuid"], "/start")
    site.ping(made[HOSTILE_NAME]["uuid"], body=HOSTILE_BODY, ua=HOSTILE_UA)
    return made


def test_a_key_signs_in_to_the_page_asked_for_with_a_lax_http_only_cookie(
    browser: Any, site: Site, checks: dict[str, Any]
) -> None:
    uuid = checks["Nightly backup"]["uuid"]
    sign_in(browser, site, site.key, f"/checks/{uuid}", fresh=True)
    assert browser.current_url == f"{site.url}/checks/{uuid}"
    assert browser.find_element(by().TAG_NAME, "h1").text == "Nightly backup"
    [cookie] = [c for c in browser.get_cookies() if c["name"] == "pingd_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["secure"] is False
    assert "pingd_session" not in browser.execute_script("return document.cookie")


def test_next_never_leaves_the_site(browser: Any, site: Site) -> None:
    browser.delete_all_cookies()
    browser.get(site.url + "/login?next=//evil.example/")
    browser.find_element(by().NAME, "key").send_keys(site.key)
    browser.find_element(by().CSS_SELECTOR, "form[action='/login'] button").click()
    wait_for(lambda: "/login" not in browser.current_url, "the sign-in")
    assert browser.current_url == site.url + "/"


def test_a_wrong_key_is_refused_on_the_page(browser: Any, site: Site) -> None:
    browser.delete_all_cookies()
    browser.get(site.url + "/login")
    browser.find_element(by().NAME, "key").send_keys("pingd_wrong")
    browser.find_element(by().CSS_SELECTOR, "form[action='/login'] button").click()
    wait_for(lambda: "not an API key" in browser.page_source, "the refusal")
    assert not [c for c in browser.get_cookies() if c["name"] == "pingd_session"]


def test_every_action_through_its_form(browser: Any, site: Site, checks: dict[str, Any]) -> None:
    uuid = checks["Fresh"]["uuid"]
    sign_in(browser, site, site.key, f"/checks/{uuid}")

    def click(label: str) -> None:
        browser.find_element(by().XPATH, f"//button[normalize-space()='{label}']").click()

    def notice(starting: str) -> str:
        # Wait for the new page's notice: right after a click the old page, with
        # the previous notice, may still be the one shown.
        def found() -> str:
            shown = texts(browser, ".notice")
            return shown[0] if shown and shown[0].startswith(starting) else ""

        text: str = wait_for(found, f"a notice starting {starting!r}")
        return text

    click("Ping now")
    assert notice("Pinged") == "Pinged Fresh."
    assert site.api("GET", f"/v1/checks/{uuid}")["data"]["status"] == "up"
    click("Pause")
    assert notice("Paused Fresh")
    assert site.api("GET", f"/v1/checks/{uuid}")["data"]["status"] == "paused"
    click("Resume")
    assert notice("Resumed Fresh")
    from selenium.webdriver.support.select import Select  # noqa: PLC0415

    Select(browser.find_element(by().ID, "hold-for")).select_by_visible_text("4h")
    click("Hold alerts")
    assert notice("Alerts of Fresh are held until")
    assert site.api("GET", f"/v1/checks/{uuid}")["data"]["quiet_until"] is not None
    assert "Alerts held by a maintenance window until" in browser.page_source
    click("End the hold now")
    assert notice("The hold on the alerts of Fresh ended")
    assert site.api("GET", f"/v1/checks/{uuid}")["data"]["quiet_until"] is None
    browser.find_element(by().LINK_TEXT, "Edit").click()
    name = browser.find_element(by().ID, "f-name")
    name.clear()
    name.send_keys("Fresh renamed")
    browser.find_element(by().ID, "kind-cron").click()
    schedule = browser.find_element(by().ID, "f-schedule")
    schedule.send_keys("99 * * * *")
    click("Save")
    wait_for(lambda: browser.find_elements(by().ID, "schedule-error"), "the schedule's problem")
    assert browser.find_element(by().ID, "f-schedule").get_attribute("aria-invalid") == "true"
    schedule = browser.find_element(by().ID, "f-schedule")
    schedule.clear()
    schedule.send_keys("30 2 * * *")
    tz = browser.find_element(by().ID, "f-tz")
    tz.clear()
    tz.send_keys("Europe/Berlin")
    click("Save")
    assert notice("Saved") == "Saved Fresh renamed."
    data = site.api("GET", f"/v1/checks/{uuid}")["data"]
    assert (data["name"], data["schedule"], data["tz"]) == (
        "Fresh renamed",
        "30 2 * * *",
        "Europe/Berlin",
    )
    browser.find_element(by().PARTIAL_LINK_TEXT, "Delete").click()
    click("Delete it")
    assert notice("Deleted Fresh renamed")
    assert browser.current_url == site.url + "/"
    browser.find_element(by().LINK_TEXT, "New check").click()
    browser.find_element(by().ID, "f-name").send_keys("Fresh")
    click("Create")
    assert notice("Created") == "Created Fresh."
    checks["Fresh"] = {"uuid": browser.current_url.rsplit("/", 1)[1]}


class _Forger:
    """Another origin (another loopback port) serving a form that posts to pingd by itself."""

    def __init__(self, target: str) -> None:
        page = (
            f'<!doctype html><title>forger</title><form method="post" action="{target}">'
            '<input name="csrf" value="guess"></form>'
            "<script>document.forms[0].submit()</script>"
        ).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def forger(site: Site, checks: dict[str, Any]) -> Iterator[_Forger]:
    made = _Forger(f"{site.url}/checks/{checks['Nightly backup']['uuid']}/pause")
    try:
        yield made
    finally:
        made.close()


def test_a_form_from_another_origin_changes_nothing(
    browser: Any, site: Site, checks: dict[str, Any], forger: _Forger
) -> None:
    uuid = checks["Nightly backup"]["uuid"]
    sign_in(browser, site, site.key)
    before = site.api("GET", f"/v1/checks/{uuid}")["data"]["status"]
    browser.get(forger.url)
    wait_for(lambda: browser.current_url.startswith(site.url), "the forged form to be sent")
    wait_for(lambda: "did not act on it" in browser.page_source, "pingd's refusal")
    assert site.api("GET", f"/v1/checks/{uuid}")["data"]["status"] == before != "paused"


def test_a_read_only_key_sees_no_action(browser: Any, site: Site, checks: dict[str, Any]) -> None:
    sign_in(browser, site, site.read_only_key)
    assert "read-only" in texts(browser, ".badge")
    for path in ("/", f"/checks/{checks['Nightly backup']['uuid']}", "/channels", "/tv"):
        browser.get(site.url + path)
        assert post_buttons(browser) == ["logout"], path
        assert not browser.find_elements(by().LINK_TEXT, "Edit")
    browser.get(f"{site.url}/checks/{checks['Nightly backup']['uuid']}/edit")
    assert "read-only" in browser.find_element(by().TAG_NAME, "main").text


def test_a_login_link_signs_in_once(browser: Any, site: Site) -> None:
    token = link_token(site.cli("login-link"))

    def press(expected: str) -> None:
        """Open the link and press its button, waiting out the sign-in limit if it is hit."""
        for _ in range(4):
            browser.delete_all_cookies()
            browser.get(f"{site.url}/login/link?token={token}")
            browser.find_element(by().CSS_SELECTOR, "form[action='/login/link'] button").click()
            wait_for(
                lambda: expected in browser.page_source or "Try again in" in browser.page_source,
                "the link's answer",
            )
            limited = re.search(r"Try again in (\d+) s", browser.page_source)
            if limited is None:
                return
            time.sleep(int(limited.group(1)) + 0.2)
        pytest.fail("pingd kept refusing sign-ins")

    browser.pingd_key = None
    press("<h1>Checks</h1>")
    assert browser.current_url == site.url + "/"
    press("used already or has expired")
    assert "/login/link" in browser.current_url


def test_sign_out_and_revoking_the_key_end_the_session(browser: Any, site: Site) -> None:
    sign_in(browser, site, site.key, fresh=True)
    [cookie] = [c for c in browser.get_cookies() if c["name"] == "pingd_session"]
    browser.find_element(by().XPATH, "//button[normalize-space()='Sign out']").click()
    wait_for(lambda: "/login" in browser.current_url, "the sign-out")
    browser.pingd_key = None
    browser.add_cookie({"name": cookie["name"], "value": cookie["value"], "path": "/"})
    browser.get(site.url + "/")
    assert "/login" in browser.current_url  # the old cookie is dead on the server
    spare = site.cli("key", "create", "--name", "spare").strip()
    sign_in(browser, site, spare)
    assert browser.find_element(by().TAG_NAME, "h1").text == "Checks"
    site.cli("key", "revoke", spare[:12])
    browser.get(site.url + "/")
    assert "/login" in browser.current_url
    browser.pingd_key = None


def test_live_refresh_shows_a_new_ping_without_a_reload(
    browser: Any, site: Site, checks: dict[str, Any]
) -> None:
    uuid = checks["Router"]["uuid"]
    sign_in(browser, site, site.key, "/?q=Router")
    row = "#checks-table tbody tr"
    assert "down" in texts(browser, row)[0]
    browser.execute_script("window.__same_page = true")
    site.ping(uuid)
    wait_for(lambda: "up" in texts(browser, row)[0].split(), "the row to show the ping", 25)
    assert browser.execute_script("return window.__same_page") is True  # no reload
    assert "(" not in browser.title or "down" not in browser.title.split(")")[0]


def test_typing_in_the_search_filters_at_once(
    browser: Any, site: Site, checks: dict[str, Any]
) -> None:
    sign_in(browser, site, site.key)
    assert len(texts(browser, "#checks-table tbody tr")) > 1
    browser.find_element(by().ID, "q").send_keys("backup")
    shown = "#checks-table tbody tr:not([hidden]) td:nth-child(2) a"
    wait_for(lambda: texts(browser, shown) == ["Nightly backup"], "one row left")
    assert browser.current_url.endswith("?q=backup")  # the URL follows, to bookmark
    search = browser.find_element(by().ID, "q")
    search.clear()
    search.send_keys("ly-back")  # part of the slug nightly-backup, as the server's search finds
    wait_for(lambda: texts(browser, shown) == ["Nightly backup"], "the row, by its slug")
    uuid = checks["Running job"]["uuid"]
    search.clear()
    search.send_keys(uuid[:13].upper())  # and by its UUID
    wait_for(lambda: texts(browser, shown) == ["Running job"], "the row, by its UUID")


def test_the_pages_work_with_javascript_off(
    no_script_browser: Any, site: Site, checks: dict[str, Any]
) -> None:
    driver = no_script_browser
    uuid = checks["Running job"]["uuid"]
    sign_in(driver, site, site.key, f"/checks/{uuid}")
    assert driver.find_element(by().TAG_NAME, "h1").text == "Running job"
    assert not driver.find_elements(by().CSS_SELECTOR, ".copy-button")  # the script did not run
    driver.find_element(by().XPATH, "//button[normalize-space()='Pause']").click()
    wait_for(lambda: texts(driver, ".notice"), "the notice")
    assert site.api("GET", f"/v1/checks/{uuid}")["data"]["status"] == "paused"
    driver.find_element(by().XPATH, "//button[normalize-space()='Resume']").click()
    wait_for(lambda: "Resumed" in " ".join(texts(driver, ".notice")), "the notice")
    assert site.api("GET", f"/v1/checks/{uuid}")["data"]["status"] == "new"
    driver.get(site.url + "/?q=running")  # the server filters when the script does not
    assert texts(driver, "#checks-table tbody tr a") == ["Running job"]


def test_hostile_text_is_text_in_the_dom(browser: Any, site: Site, checks: dict[str, Any]) -> None:
    uuid = checks[HOSTILE_NAME]["uuid"]
    sign_in(browser, site, site.key)
    pages = ["/", f"/checks/{uuid}", f"/checks/{uuid}/pings/1", "/tv", f"/checks/{uuid}/edit"]
    for path in pages:
        browser.get(site.url + path)
        flags = browser.execute_script(
            "return [window.__x, window.__y, window.__z, window.__u].filter(v => v !== undefined)"
        )
        assert flags == [], path
        assert not browser.find_elements(by().CSS_SELECTOR, "img[src=x], a[href^='javascript:']")
        scripts = [s.get_attribute("src") for s in browser.find_elements(by().TAG_NAME, "script")]
        assert scripts == [site.url + "/static/pingd.js"], path
        body = browser.find_element(by().TAG_NAME, "body").text
        if path != "/tv":
            assert HOSTILE_NAME in body or path.endswith("/edit"), path
    browser.get(f"{site.url}/checks/{uuid}/pings/1")
    text = browser.find_element(by().TAG_NAME, "main").text
    assert "<script>window.__z=1</script> javascript:alert(1)" in text
    assert HOSTILE_UA in text
    browser.get(site.url + "/")
    assert HOSTILE_TAG in browser.find_element(by().TAG_NAME, "main").text


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _axe_violations(driver: Any, axe: str) -> list[str]:
    driver.execute_script(axe)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => done(JSON.stringify(r.violations)))"
        ".catch(e => done(JSON.stringify([{id: 'axe-error', help: String(e),"
        " impact: '', nodes: []}])));",
        AXE_TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in json.loads(result)
    ]


@pytest.mark.parametrize("width", [360, 1280])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe(
    browser: Any, site: Site, checks: dict[str, Any], axe: str, scheme: str, width: int
) -> None:
    uuid = checks["Nightly backup"]["uuid"]
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )
    browser.set_window_size(width, 900)
    browser.set_script_timeout(30)
    try:
        problems = {}
        sign_in(browser, site, site.key)
        kept = browser.get_cookies()
        browser.delete_all_cookies()
        for path in ["/login", "/login/link?token=x"]:
            browser.get(site.url + path)
            problems[path] = _axe_violations(browser, axe)
        for cookie in kept:
            browser.add_cookie(cookie)
        signed_in = [
            "/",
            "/?status=down",
            f"/checks/{uuid}",
            f"/checks/{uuid}/pings/2",
            f"/checks/{checks['Router']['uuid']}",
            f"/checks/{uuid}/edit",
            "/checks/new",
            f"/checks/{uuid}/delete",
            "/channels",
            "/tv",
            "/checks/00000000-0000-0000-0000-000000000000",
        ]
        for path in signed_in:
            browser.get(site.url + path)
            problems[path] = _axe_violations(browser, axe)
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
        browser.set_window_size(1280, 900)
    found = {path: found for path, found in problems.items() if found}
    assert found == {}, json.dumps(found, indent=1)


def test_badges_render_on_the_check_page_and_on_their_own(
    browser: Any, site: Site, checks: dict[str, Any]
) -> None:
    uuid = checks[HOSTILE_NAME]["uuid"]
    sign_in(browser, site, site.key, f"/checks/{uuid}")
    image = browser.find_element(by().CSS_SELECTOR, "img.badge")
    loaded = browser.execute_script(
        "const i = arguments[0]; return [i.complete, i.naturalWidth, i.naturalHeight];", image
    )
    assert loaded[0] is True and loaded[1] > 40 and loaded[2] == 20, loaded
    # Opened by itself, the SVG is a document whose hostile label is only text.
    browser.get(site.url + image.get_attribute("src").removeprefix(site.url))
    root = browser.execute_script("return document.documentElement.localName")
    assert root == "svg"
    texts = browser.execute_script(
        "return [...document.querySelectorAll('text')].map(t => t.textContent)"
    )
    assert texts[0] == HOSTILE_NAME and texts[2] in ("up", "late", "down")
    assert browser.execute_script("return window.__x === undefined && window.__y === undefined")
