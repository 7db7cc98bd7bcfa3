"""``api.require_https``: an API key that crossed a network in clear is refused (issue 16).

WebTest against the real app with a real SQLite file: the client address and
scheme are set in the WSGI environ as waitress (or the trusted proxy's
headers) would set them. The addresses are only strings here; no traffic
leaves the box. 8.8.8.8 stands for any public address (the documentation
ranges, 192.0.2.0/24 and friends, count as private to Python's ipaddress).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import webtest
from conftest import FakeClock

from pingd.app import create_app
from pingd.config import default_config
from pingd.domain.transport import key_sent_in_clear
from pingd.service import Service
from pingd.writer.store import Store


def app_with(mode: str, tmp_path: Path, store: Store, clock: FakeClock) -> webtest.TestApp:
    config = default_config(storage__path=store.path, api__require_https=mode, api__burst=100)
    return webtest.TestApp(create_app(config, store=store, clock=clock))


@pytest.mark.parametrize(
    ("mode", "scheme", "client", "refused"),
    [
        ("auto", "http", "8.8.8.8", True),
        ("auto", "http", "2606:4700::1111", True),
        ("auto", "http", "::ffff:8.8.8.8", True),
        ("auto", "https", "8.8.8.8", False),
        ("auto", "http", "127.0.0.1", False),
        ("auto", "http", "::1", False),
        ("auto", "http", "192.168.1.20", False),
        ("auto", "http", "10.0.0.7", False),
        ("auto", "http", "fd00::5", False),
        ("auto", "http", "fe80::1%eth0", False),
        ("auto", "http", "not an address", True),
        ("always", "http", "127.0.0.1", True),
        ("always", "https", "8.8.8.8", False),
        ("never", "http", "8.8.8.8", False),
    ],
)
def test_the_rule(mode: str, scheme: str, client: str, refused: bool) -> None:
    assert key_sent_in_clear(mode, scheme, client) is refused


def test_v1_refuses_a_key_sent_in_clear_from_afar_and_says_to_revoke_it(
    tmp_path: Path, store: Store, clock: FakeClock, service: Service
) -> None:
    key = service.create_api_key("laptop")
    app = app_with("auto", tmp_path, store, clock)
    far = {"REMOTE_ADDR": "8.8.8.8"}
    answer = app.get("/v1/checks", headers={"X-Api-Key": key}, extra_environ=far, status=403)
    assert answer.json["errorCode"] == "HTTPS_REQUIRED"
    assert f"revoke it (pingd key revoke {key[:12]})" in answer.json["error"]
    assert "8.8.8.8" in answer.json["error"]
    assert {k.last_used for k in service.list_api_keys()} == {None}  # not even recorded as used
    https = {**far, "wsgi.url_scheme": "https"}
    app.get("/v1/checks", headers={"X-Api-Key": key}, extra_environ=https, status=200)
    lan = {"REMOTE_ADDR": "192.168.1.20"}
    app.get("/v1/checks", headers={"X-Api-Key": key}, extra_environ=lan, status=200)
    # Without a key there is nothing to protect: the usual answer.
    app.get("/v1/checks", extra_environ=far, status=403)


def test_the_healthchecks_api_and_the_metrics_refuse_it_too_but_pings_never(
    tmp_path: Path, store: Store, clock: FakeClock, service: Service
) -> None:
    key = service.create_api_key("prometheus", read_only=True)
    check = service.create_check(name="Backup")
    app = app_with("auto", tmp_path, store, clock)
    far = {"REMOTE_ADDR": "8.8.8.8"}
    answer = app.get("/api/v3/checks/", headers={"X-Api-Key": key}, extra_environ=far, status=401)
    assert "revoke it" in answer.json["error"]
    project = service.project().uuid
    metrics = app.get(f"/projects/{project}/metrics/{key}", extra_environ=far, status=401)
    assert "revoke it" in metrics.text
    assert app.get(f"/ping/{check.uuid}", extra_environ=far).text == "OK"


def test_always_refuses_plain_http_even_from_loopback_and_never_allows_it_from_afar(
    tmp_path: Path, store: Store, clock: FakeClock, service: Service
) -> None:
    key = service.create_api_key("tests")
    always = app_with("always", tmp_path, store, clock)
    always.get("/v1/checks", headers={"X-Api-Key": key}, status=403)
    never = app_with("never", tmp_path, store, clock)
    never.get("/v1/checks", headers={"X-Api-Key": key}, extra_environ={"REMOTE_ADDR": "8.8.8.8"})


def test_the_setting_takes_only_its_three_values(tmp_path: Path) -> None:
    from pingd.config import ConfigError  # noqa: PLC0415

    with pytest.raises(
        ConfigError, match=r"api.require_https .*must be one of auto, always, never"
    ):
        default_config(api__require_https="sometimes")


def test_the_dashboard_refuses_to_sign_in_with_a_key_sent_in_clear_from_afar(
    tmp_path: Path, store: Store, clock: FakeClock, service: Service
) -> None:
    key = service.create_api_key("browser")
    app = app_with("auto", tmp_path, store, clock)
    far = {"REMOTE_ADDR": "8.8.8.8"}
    page = app.post("/login", {"key": key}, extra_environ=far, status=403)
    assert "revoke it" in page.text and "pingd_session" not in page.headers.get("Set-Cookie", "")
    assert service.list_api_keys() and {k.last_used for k in service.list_api_keys()} == {None}
    https = {**far, "wsgi.url_scheme": "https", "HTTP_HOST": "localhost:8000"}
    app.post("/login", {"key": key}, extra_environ=https, status=303)
