"""Signing in to the dashboard, and what refuses a forged or foreign request (WebTest, real SQLite).

The browser tests of the dashboard (issue 12) drive the same pages in a real
Chromium; these pin the HTTP contract: cookies, redirects, status codes,
headers and the form token.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from typing import Any

import pytest
import webtest

from pingd.cli.main import main
from pingd.config import Config
from pingd.service import Service
from pingd.service.pings import PingRequest

KEY_FIELD = "key"


def form_token(page: webtest.TestResponse) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def sign_in(app: webtest.TestApp, key: str, **extra: str) -> webtest.TestResponse:
    return app.post("/login", {KEY_FIELD: key, **extra}, status="*")


@pytest.fixture
def key(service: Service) -> str:
    return service.create_api_key("browser")


def test_the_checks_page_sends_a_stranger_to_sign_in_and_back(app: webtest.TestApp) -> None:
    answer = app.get("/?status=down", status=303)
    assert answer.headers["Location"] == "/login?next=%2F%3Fstatus%3Ddown"


def test_the_login_page_is_a_form_with_the_security_headers(app: webtest.TestApp) -> None:
    page = app.get("/login?next=/", status=200)
    assert page.content_type == "text/html"
    assert 'type="password"' in page.text and 'autocomplete="current-password"' in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in page.headers
    # One script, from this server; nothing inline.
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/static/pingd.js" defer>']


def test_a_key_signs_in_with_a_lax_http_only_cookie(
    app: webtest.TestApp, key: str, make_check: Any
) -> None:
    make_check("Nightly backup", tags="db prod")
    answer = sign_in(app, key, next="/")
    assert answer.status_int == 303 and answer.headers["Location"] == "/"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("pingd_session=")
    for attribute in ("HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain HTTP on a LAN must keep working
    page = app.get("/", status=200)
    assert "Nightly backup" in page.text and "db prod" in page.text
    assert "Sign out" in page.text and "read-only" not in page.text


def test_a_read_only_key_signs_in_read_only(app: webtest.TestApp, service: Service) -> None:
    sign_in(app, service.create_api_key("wall", read_only=True))
    assert "read-only" in app.get("/", status=200).text


def test_a_wrong_key_is_refused_and_logged_without_the_key(
    app: webtest.TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pingd.dashboard"):
        answer = sign_in(app, "pingd_not-a-key-of-this-server")
    assert answer.status_int == 403
    assert "Set-Cookie" not in answer.headers
    assert "not an API key" in answer.text
    lines = [r.getMessage() for r in caplog.records if r.name == "pingd.dashboard"]
    assert lines == ["dashboard login failed from 127.0.0.1 (key)"]
    assert "not-a-key" not in caplog.text


def test_sign_in_attempts_are_limited_per_address(app: webtest.TestApp, key: str) -> None:
    for _ in range(5):
        assert sign_in(app, "pingd_wrong").status_int == 403
    refused = sign_in(app, key)  # even the right key, until the limit refills
    assert refused.status_int == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Set-Cookie" not in refused.headers
    other = app.post(  # another address has its own allowance
        "/login", {KEY_FIELD: key}, extra_environ={"REMOTE_ADDR": "192.0.2.9"}, status=303
    )
    assert "pingd_session=" in other.headers["Set-Cookie"]


def test_one_address_cannot_use_up_everyone_elses_attempts(app: webtest.TestApp, key: str) -> None:
    for _ in range(40):  # twice the overall allowance, all from one address
        sign_in(app, "pingd_wrong")
    assert sign_in(app, key).status_int == 429
    other = app.post(
        "/login", {KEY_FIELD: key}, extra_environ={"REMOTE_ADDR": "192.0.2.10"}, status="*"
    )
    assert other.status_int == 303


@pytest.mark.parametrize(
    ("asked", "landed"),
    [
        ("/?status=down&tag=db", "/?status=down&tag=db"),
        ("/checks/abc", "/checks/abc"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_after_signing_in_it_goes_only_to_a_local_page(
    app: webtest.TestApp, key: str, asked: str, landed: str
) -> None:
    assert sign_in(app, key, next=asked).headers["Location"] == landed


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["foreign origin", "cross-site fetch"],
)
def test_a_sign_in_from_another_site_is_refused(
    app: webtest.TestApp, key: str, headers: dict[str, str]
) -> None:
    answer = app.post("/login", {KEY_FIELD: key}, headers=headers, status=403)
    assert "Set-Cookie" not in answer.headers


def test_a_sign_in_from_the_same_origin_is_taken(app: webtest.TestApp, key: str) -> None:
    for origin in ("http://localhost", "http://localhost:8000"):  # the request's own; base_url
        app.reset()
        answer = app.post(
            "/login", {KEY_FIELD: key}, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"}
        )
        assert answer.status_int == 303, origin


def test_signing_out_needs_the_form_token_and_ends_the_session(
    app: webtest.TestApp, key: str
) -> None:
    sign_in(app, key)
    token = form_token(app.get("/"))
    app.post("/logout", {}, status=403)
    app.post("/logout", {"csrf": "0" * 64}, status=403)
    app.post("/logout", {"csrf": token}, headers={"Origin": "https://evil.example"}, status=403)
    app.get("/", status=200)  # still signed in
    answer = app.post("/logout", {"csrf": token}, status=303)
    assert answer.headers["Location"] == "/login"
    assert answer.headers["Set-Cookie"].startswith('pingd_session="";')
    app.get("/", status=303)


def test_a_session_cookie_outlives_nothing_once_signed_out(app: webtest.TestApp, key: str) -> None:
    cookie = sign_in(app, key).headers["Set-Cookie"].split(";")[0]
    app.post("/logout", {"csrf": form_token(app.get("/"))}, status=303)
    app.reset()
    app.get("/", headers={"Cookie": cookie}, status=303)  # a copy kept elsewhere is dead too


def test_revoking_the_key_ends_its_sessions(
    app: webtest.TestApp, key: str, service: Service
) -> None:
    sign_in(app, key)
    app.get("/", status=200)
    service.revoke_api_key(key[:12])
    app.get("/", status=303)


def test_a_login_link_signs_in_once_and_only_by_its_button(
    app: webtest.TestApp, service: Service
) -> None:
    token = service.create_login_link()
    page = app.get(f"/login/link?token={token}", status=200)  # a preview fetch uses nothing
    app.get(f"/login/link?token={token}", status=200)
    answer = page.forms[0].submit(status=303)
    assert answer.headers["Location"] == "/"
    app.get("/", status=200)
    app.reset()
    again = app.post("/login/link", {"token": token}, status=403)
    assert "used already or has expired" in again.text
    app.get("/", status=303)


def test_the_cookie_is_secure_over_https(make_app: Any, key: str) -> None:
    https_base = make_app(server__base_url="https://hc.example.org")
    assert "Secure" in sign_in(https_base, key).headers["Set-Cookie"]
    proxied = make_app(server__trusted_proxy="127.0.0.1")
    # The app sees the scheme waitress derived from the trusted proxy's header.
    answer = proxied.post(
        "/login", {KEY_FIELD: key}, extra_environ={"wsgi.url_scheme": "https"}, status=303
    )
    assert "Secure" in answer.headers["Set-Cookie"]


def test_outside_text_is_escaped_on_the_checks_page(
    app: webtest.TestApp, key: str, make_check: Any
) -> None:
    make_check("<script>alert(1)</script>", tags='"><img src=x onerror=alert(2)>')
    sign_in(app, key)
    text = app.get("/").text
    assert "<script>alert" not in text and "<img src=x" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in text


def test_the_title_counts_the_checks_that_are_down(
    app: webtest.TestApp, key: str, make_check: Any, service: Service
) -> None:
    check = make_check("Backup")
    service.record_ping(
        PingRequest(action="fail", method="GET", scheme="http", remote_addr="127.0.0.1",
                    ua="t", body=b"", body_size=0, uuid=check.uuid)
    )  # fmt: skip
    sign_in(app, key)
    assert "<title>(1 down) Checks · pingd</title>" in app.get("/").text


def test_login_link_prints_a_link_that_signs_in(
    config: Config, app: webtest.TestApp, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--db", config.storage.path, "login-link"]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith("http://localhost:8000/login/link?token=")
    token = link.split("token=", 1)[1]
    app.post("/login/link", {"token": token}, status=303)
    app.get("/", status=200)


def test_a_server_that_shows_no_page_never_loads_jinja2(config: Config) -> None:
    script = (
        "import sys\n"
        "import webtest\n"
        "from pingd.app import create_app, open_store\n"
        "from pingd.config import default_config\n"
        f"config = default_config(storage__path={config.storage.path!r})\n"
        "store = open_store(config)\n"
        "app = webtest.TestApp(create_app(config, store=store))\n"
        "app.get('/v1/status')\n"
        "app.get('/ping/3f2504e0-4f89-41d3-9a0c-0305e82c3301', status=404)\n"
        "assert 'jinja2' not in sys.modules, 'loaded before any page'\n"
        "app.get('/login')\n"
        "assert 'jinja2' in sys.modules\n"
        "store.close()\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


@pytest.mark.parametrize("path", ["/nothing", "/login/nope", "/static/none.css"])
def test_an_error_outside_the_ping_api_allows_no_other_origin(
    app: webtest.TestApp, path: str
) -> None:
    # Only the Pinging API answers every origin (browser-based pingers).
    answer = app.get(path, status=404)
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Access-Control-Allow-Origin" in app.get("/ping/nope", status=404).headers


def test_the_stylesheet_answers_get_and_head(app: webtest.TestApp) -> None:
    css = app.get("/static/pingd.css", status=200)
    assert css.content_type == "text/css" and b"prefers-color-scheme: dark" in css.body
    assert app.head("/static/pingd.css", status=200).body == b""
