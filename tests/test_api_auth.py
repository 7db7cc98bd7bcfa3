"""Management API auth, keys, rate limiting and developer mode (SPEC §3.1, §3.2).

The limiter runs on an injected monotonic clock, so no test sleeps to refill a
bucket; only the writer's deferred housekeeping (``last used``) is polled for.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import webtest
from conftest import START
from conftest import FakeClock
from conftest import FakeMonotonic

from pingd.app import create_app
from pingd.config import Config
from pingd.config import default_config
from pingd.ratelimit import RateLimiter
from pingd.service import Service
from pingd.writer.store import Store

HIGH_LIMIT = {"api__burst": 10000, "api__rate_per_second": 10000.0}
UNKNOWN_UUID = "6f1c1c52-0a4e-4b53-8f0e-2b2f9f3c5d11"
SEEDED_STATUSES = {"new", "up", "grace", "down", "paused", "started"}


@pytest.fixture
def api(make_app: Any) -> webtest.TestApp:
    return make_app(**HIGH_LIMIT)


@pytest.fixture
def rw_key(service: Service) -> str:
    return service.create_api_key("read-write")


@pytest.fixture
def ro_key(service: Service) -> str:
    return service.create_api_key("read-only", read_only=True)


@pytest.fixture
def check_uuid(service: Service) -> str:
    """A real check with one ping that has a body."""
    return service.create_check(name="Existing", tags="prod").uuid


@pytest.fixture
def monotonic() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def limited_app(
    tmp_path: Path, store: Store, clock: FakeClock, service: Service, monotonic: FakeMonotonic
) -> Callable[..., webtest.TestApp]:
    """Build an app on the shared database whose limiter runs on the fake monotonic clock."""

    def make(**overrides: Any) -> webtest.TestApp:
        config: Config = default_config(storage__path=str(tmp_path / "pingd.db"), **overrides)
        return webtest.TestApp(create_app(config, store=store, clock=clock, monotonic=monotonic))

    return make


def key_header(key: str) -> dict[str, str]:
    return {"X-Api-Key": key}


def assert_forbidden(response: webtest.TestResponse) -> None:
    assert response.status_int == 403, response.text
    assert response.content_type == "application/json"
    body = response.json
    assert set(body) == {"error", "errorCode", "requestId"}
    assert body["errorCode"] == "FORBIDDEN"
    assert isinstance(body["error"], str) and body["error"]
    assert response.headers["X-Request-Id"] == body["requestId"]


def call(
    api: webtest.TestApp,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None = None,
    addr: str = "192.0.2.1",
) -> webtest.TestResponse:
    extra = {"Content-Type": "application/json"} if body is not None else {}
    return api.request(
        path,
        method=method,
        body=body or b"",
        headers={**headers, **extra},
        environ={"REMOTE_ADDR": addr},
        expect_errors=True,
    )


def endpoints(check: str) -> list[tuple[str, str, bytes | None]]:
    """Every keyed check endpoint, with a valid body where one is needed."""
    return [
        ("GET", "/v1/project", None),
        ("GET", "/v1/checks", None),
        ("POST", "/v1/checks", b'{"name": "new"}'),
        ("GET", f"/v1/checks/{check}", None),
        ("PATCH", f"/v1/checks/{check}", b'{"desc": "changed"}'),
        ("POST", f"/v1/checks/{check}/pause", None),
        ("POST", f"/v1/checks/{check}/resume", None),
        ("GET", f"/v1/checks/{check}/pings", None),
        ("GET", f"/v1/checks/{check}/pings/1/body", None),
        ("GET", f"/v1/checks/{check}/flips", None),
        ("GET", "/v1/channels", None),
        ("DELETE", f"/v1/checks/{check}", None),
    ]


WRITES = {"POST", "PATCH", "DELETE"}


def dump_without_key_use(path: Path) -> list[str]:
    """The database as SQL, leaving out when each API key was last used."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        lines = list(conn.iterdump())
        keys = conn.execute("SELECT id, name, prefix, key_hash, read_only FROM api_keys").fetchall()
    finally:
        conn.close()
    return [line for line in lines if "api_keys" not in line] + [repr(k) for k in keys]


# -- keys in headers -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["X-Api-Key", "x-api-key", "X-API-KEY", "x-aPi-KeY"])
def test_it_accepts_the_key_in_x_api_key_in_any_header_case(
    api: webtest.TestApp, rw_key: str, name: str
) -> None:
    response = api.get("/v1/checks", headers={name: rw_key})

    assert response.status_int == 200
    assert response.json["data"] == []


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_it_accepts_the_key_as_a_bearer_token(
    api: webtest.TestApp, rw_key: str, scheme: str
) -> None:
    response = api.get("/v1/checks", headers={"Authorization": f"{scheme} {rw_key}"})

    assert response.status_int == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Api-Key": ""},
        {"X-Api-Key": "pingd_wrong"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer pingd_wrong"},
        {"Authorization": "Basic cGluZ2Q6c2VjcmV0"},
        {"Api-Key": "{key}"},
        {"Authorization": "{key}"},
        {"X-Api-Key": "{key}x"},
        {"X-Api-Key": "{key_prefix}"},
    ],
)
def test_it_answers_403_forbidden_for_a_missing_or_wrong_key(
    api: webtest.TestApp, rw_key: str, check_uuid: str, headers: dict[str, str]
) -> None:
    headers = {
        name: value.format(key=rw_key, key_prefix=rw_key[:12]) for name, value in headers.items()
    }
    for method, path, body in endpoints(check_uuid):
        assert_forbidden(call(api, method, path, headers, body))


def test_it_answers_403_for_a_revoked_key(
    api: webtest.TestApp, service: Service, rw_key: str
) -> None:
    api.get("/v1/checks", headers=key_header(rw_key), status=200)
    service.revoke_api_key(rw_key[:12])

    assert_forbidden(api.get("/v1/checks", headers=key_header(rw_key), expect_errors=True))


def test_it_lets_a_read_only_key_read_checks_and_flips_but_not_pings(
    api: webtest.TestApp, ro_key: str, check_uuid: str
) -> None:
    api.get(f"/ping/{check_uuid}", status=200)

    for method, path, body in endpoints(check_uuid):
        response = call(api, method, path, key_header(ro_key), body)
        if method in WRITES or "/pings" in path or "/channels" in path:
            assert_forbidden(response)
        else:
            assert response.status_int == 200, (method, path, response.text)


def test_it_changes_nothing_on_a_read_only_write(
    api: webtest.TestApp, service: Service, ro_key: str, check_uuid: str
) -> None:
    before = service.list_checks()

    for method, path, body in endpoints(check_uuid):
        call(api, method, path, key_header(ro_key), body)

    assert service.list_checks() == before


def test_it_lets_a_read_write_key_use_every_endpoint(
    api: webtest.TestApp, rw_key: str, check_uuid: str
) -> None:
    api.post(f"/ping/{check_uuid}", b"body", status=200)
    expected = {"POST /v1/checks": 201}

    for method, path, body in endpoints(check_uuid):
        response = call(api, method, path, key_header(rw_key), body)
        if path.endswith("/resume"):
            assert response.status_int == 200, response.text  # paused just before
        else:
            assert response.status_int == expected.get(f"{method} {path}", 200), (method, path)


@pytest.mark.parametrize("path", ["/v1/status", "/v1/openapi.json"])
@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "pingd_wrong"}])
def test_it_serves_status_and_openapi_without_a_key(
    api: webtest.TestApp, path: str, headers: dict[str, str]
) -> None:
    response = api.get(path, headers=headers)

    assert response.status_int == 200
    assert response.content_type == "application/json"


# -- keys at rest ------------------------------------------------------------------------


def test_it_stores_keys_only_as_sha256_hashes(
    api: webtest.TestApp, service: Service, config: Config, tmp_path: Path
) -> None:
    keys = {
        "hashed-rw": service.create_api_key("hashed-rw"),
        "hashed-ro": service.create_api_key("hashed-ro", read_only=True),
    }
    for key in keys.values():
        api.get("/v1/checks", headers=key_header(key), status=200)

    files = sorted(tmp_path.glob("pingd.db*"))
    assert Path(config.storage.path) in files
    for key in keys.values():
        for file in files:
            data = file.read_bytes()
            assert key.encode() not in data, file
            assert key[6:].encode() not in data, file  # not even without the "pingd_" prefix
    conn = sqlite3.connect(f"file:{config.storage.path}?mode=ro", uri=True)
    try:
        rows = dict(conn.execute("SELECT name, key_hash FROM api_keys").fetchall())
    finally:
        conn.close()
    for name, key in keys.items():
        assert rows[name] == hashlib.sha256(key.encode()).hexdigest()


def test_it_records_when_a_key_was_last_used(
    api: webtest.TestApp, service: Service, rw_key: str, ro_key: str, clock: FakeClock
) -> None:
    def last_used() -> dict[str, Any]:
        return {key.name: key.last_used for key in service.list_api_keys()}

    assert last_used()["read-write"] is None
    api.get("/v1/checks", headers=key_header(rw_key), status=200)
    clock.advance(seconds=5)
    api.get("/v1/checks", headers={"Authorization": f"Bearer {ro_key}"}, status=200)
    expected = {"read-write": START, "read-only": START.replace(second=5)}

    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        seen = last_used()
        if all(seen[name] == when for name, when in expected.items()):
            break
        time.sleep(0.05)

    assert {name: last_used()[name] for name in expected} == expected


def test_it_logs_each_request_with_its_request_id_and_never_the_key(
    api: webtest.TestApp, rw_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="pingd.api"):
        ok = api.get("/v1/checks", headers=key_header(rw_key))
        denied = api.get("/v1/checks", headers=key_header(rw_key + "x"), expect_errors=True)

    lines = [record.getMessage() for record in caplog.records if record.name == "pingd.api"]
    text = "\n".join(lines)
    assert rw_key not in text and rw_key[6:] not in text
    for response, status in ((ok, 200), (denied, 403)):
        [line] = [line for line in lines if response.json["requestId"] in line]
        assert "GET" in line and "/v1/checks" in line and str(status) in line
    [ok_line] = [line for line in lines if ok.json["requestId"] in line]
    assert rw_key[:12] in ok_line


# -- rate limiting ------------------------------------------------------------------------


def test_it_limits_a_key_to_its_burst_then_answers_429_with_retry_after(
    limited_app: Callable[..., webtest.TestApp], rw_key: str
) -> None:
    api = limited_app()  # the defaults: burst 2, 5 per second

    statuses = [
        api.get("/v1/checks", headers=key_header(rw_key), expect_errors=True) for _ in range(3)
    ]

    assert [r.status_int for r in statuses] == [200, 200, 429]
    limited = statuses[2]
    assert limited.json["errorCode"] == "RATE_LIMITED"
    assert set(limited.json) == {"error", "errorCode", "requestId"}
    assert limited.headers["X-Request-Id"] == limited.json["requestId"]
    assert limited.headers["Retry-After"] == "1"


def test_it_tells_how_many_whole_seconds_to_wait(
    limited_app: Callable[..., webtest.TestApp], rw_key: str, monotonic: FakeMonotonic
) -> None:
    api = limited_app(api__burst=1, api__rate_per_second=0.25)
    api.get("/v1/checks", headers=key_header(rw_key), status=200)

    first = api.get("/v1/checks", headers=key_header(rw_key), status=429)
    monotonic.advance(2.0)
    second = api.get("/v1/checks", headers=key_header(rw_key), status=429)
    monotonic.advance(2.0)
    third = api.get("/v1/checks", headers=key_header(rw_key), expect_errors=True)

    assert first.headers["Retry-After"] == "4"
    assert second.headers["Retry-After"] == "2"
    assert third.status_int == 200


def test_it_refills_the_bucket_at_the_configured_rate_up_to_the_burst(
    limited_app: Callable[..., webtest.TestApp], rw_key: str, monotonic: FakeMonotonic
) -> None:
    api = limited_app(api__burst=2, api__rate_per_second=4.0)

    def burst() -> list[int]:
        return [
            api.get("/v1/checks", headers=key_header(rw_key), expect_errors=True).status_int
            for _ in range(4)
        ]

    assert burst() == [200, 200, 429, 429]
    monotonic.advance(0.25)
    assert burst() == [200, 429, 429, 429]
    monotonic.advance(0.5)
    assert burst() == [200, 200, 429, 429]
    monotonic.advance(3600)
    assert burst() == [200, 200, 429, 429]


def test_it_limits_each_key_in_its_own_bucket(
    limited_app: Callable[..., webtest.TestApp], rw_key: str, ro_key: str
) -> None:
    api = limited_app()
    for _ in range(2):
        api.get("/v1/checks", headers=key_header(rw_key), status=200)
    api.get("/v1/checks", headers=key_header(rw_key), status=429)

    other = [
        api.get("/v1/checks", headers=key_header(ro_key), expect_errors=True).status_int
        for _ in range(3)
    ]

    assert other == [200, 200, 429]
    api.get("/v1/checks", headers=key_header(rw_key), status=429)


def test_it_limits_a_key_the_same_whichever_header_carries_it(
    limited_app: Callable[..., webtest.TestApp], rw_key: str
) -> None:
    api = limited_app()
    api.get("/v1/checks", headers=key_header(rw_key), status=200)
    api.get("/v1/checks", headers={"Authorization": f"Bearer {rw_key}"}, status=200)

    api.get("/v1/checks", headers=key_header(rw_key), status=429)


def test_it_limits_requests_without_a_valid_key_per_client_address(
    limited_app: Callable[..., webtest.TestApp], rw_key: str
) -> None:
    api = limited_app()

    def status(path: str, addr: str, headers: dict[str, str] | None = None) -> int:
        response = api.get(
            path, headers=headers or {}, extra_environ={"REMOTE_ADDR": addr}, expect_errors=True
        )
        return response.status_int

    assert status("/v1/checks", "10.0.0.1") == 403
    assert status("/v1/checks", "10.0.0.1", {"X-Api-Key": "pingd_wrong"}) == 403
    assert status("/v1/status", "10.0.0.1") == 429
    assert status("/v1/openapi.json", "10.0.0.1") == 429
    assert status("/v1/checks", "10.0.0.1", {"X-Api-Key": "pingd_other"}) == 429
    # Another address has its own bucket, and a valid key is limited by key, not address.
    assert [status("/v1/status", "10.0.0.2") for _ in range(3)] == [200, 200, 429]
    assert status("/v1/checks", "10.0.0.1", key_header(rw_key)) == 200


def test_it_sends_retry_after_to_clients_without_a_key(
    limited_app: Callable[..., webtest.TestApp],
) -> None:
    api = limited_app()
    for _ in range(2):
        api.get("/v1/status", status=200)

    response = api.get("/v1/status", status=429)

    assert response.json["errorCode"] == "RATE_LIMITED"
    assert int(response.headers["Retry-After"]) >= 1


def test_it_never_rate_limits_pings(
    limited_app: Callable[..., webtest.TestApp], check_uuid: str, service: Service
) -> None:
    api = limited_app()
    for _ in range(3):
        api.get("/v1/status", expect_errors=True)  # this address's API bucket is now empty

    responses = [api.get(f"/ping/{check_uuid}", expect_errors=True) for _ in range(300)]

    assert {(r.status_int, r.text) for r in responses} == {(200, "OK")}
    assert service.get_check(check_uuid).n_pings == 300


def test_it_bounds_the_limiters_memory(monotonic: FakeMonotonic) -> None:
    limiter = RateLimiter(5.0, 2, clock=monotonic, max_buckets=10)

    for n in range(1000):
        limiter.acquire(f"addr:10.0.{n // 256}.{n % 256}")
        assert len(limiter) <= 10

    # Buckets still in use keep limiting however many identities came and went.
    limiter.acquire("key:1")
    limiter.acquire("key:1")
    for n in range(5):
        limiter.acquire(f"addr:192.0.2.{n}")
    assert limiter.acquire("key:1") >= 1
    assert len(limiter) == 10


def test_it_never_over_grants_from_one_bucket_under_many_threads() -> None:
    limiter = RateLimiter(1.0, 50, clock=lambda: 0.0)
    start = threading.Barrier(16)
    grants: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        mine = sum(1 for _ in range(200) if limiter.acquire("key:1") == 0)
        with lock:
            grants.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(grants) == 50


def test_it_never_over_grants_through_the_app_under_many_threads(
    limited_app: Callable[..., webtest.TestApp], rw_key: str
) -> None:
    api = limited_app(api__burst=20, api__rate_per_second=1.0)
    start = threading.Barrier(8)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        mine = [
            api.get("/v1/status", headers=key_header(rw_key), expect_errors=True).status_int
            for _ in range(10)
        ]
        with lock:
            statuses.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * 20 + [429] * 60


# -- developer mode ----------------------------------------------------------------------

DEV = {"X-Developer-Mode": "true"}


def test_it_authenticates_developer_mode_like_production(
    api: webtest.TestApp, ro_key: str, check_uuid: str
) -> None:
    for headers in ({}, {"X-Api-Key": "pingd_wrong"}):
        response = api.get("/v1/checks", headers={**DEV, **headers}, expect_errors=True)
        assert_forbidden(response)
    seeded = api.get("/v1/checks", headers={**DEV, **key_header(ro_key)}).json["data"][0]
    for method, path, body in endpoints(seeded["uuid"]):
        response = call(api, method, path, {**DEV, **key_header(ro_key)}, body)
        if method in WRITES or "/pings" in path or "/channels" in path:
            assert_forbidden(response)
        else:
            assert response.status_int == 200, (method, path, response.text)
        assert response.headers["X-Developer-Mode"] == "true"


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_it_marks_developer_mode_responses(api: webtest.TestApp, rw_key: str, value: str) -> None:
    response = api.get("/v1/checks", headers={"x-developer-mode": value, **key_header(rw_key)})

    assert response.headers["X-Developer-Mode"] == "true"


@pytest.mark.parametrize("headers", [{}, {"X-Developer-Mode": "false"}, {"X-Developer-Mode": ""}])
def test_it_does_not_mark_production_responses(
    api: webtest.TestApp, rw_key: str, headers: dict[str, str]
) -> None:
    response = api.get("/v1/checks", headers={**headers, **key_header(rw_key)})

    assert "X-Developer-Mode" not in response.headers


def test_it_seeds_the_sandbox_with_a_fake_check_in_every_status(
    api: webtest.TestApp, rw_key: str, check_uuid: str
) -> None:
    headers = {**DEV, **key_header(rw_key)}

    checks = api.get("/v1/checks", headers=headers).json["data"]

    assert {check["status"] for check in checks} >= SEEDED_STATUSES
    assert check_uuid not in {check["uuid"] for check in checks}
    for status in SEEDED_STATUSES:
        filtered = api.get("/v1/checks", {"status": status}, headers=headers).json["data"]
        assert filtered and {check["status"] for check in filtered} == {status}


def test_it_keeps_developer_mode_checks_out_of_the_real_database(
    api: webtest.TestApp, service: Service, rw_key: str, check_uuid: str
) -> None:
    headers = {**DEV, **key_header(rw_key)}

    created = api.post_json("/v1/checks", {"name": "Sandboxed"}, headers=headers, status=201)
    sandboxed = created.json["data"]["uuid"]

    assert created.headers["X-Developer-Mode"] == "true"
    assert [check.uuid for check in service.list_checks()] == [check_uuid]
    assert api.get(f"/v1/checks/{sandboxed}", headers=headers).json["data"]["name"] == "Sandboxed"
    real = api.get(f"/v1/checks/{sandboxed}", headers=key_header(rw_key), expect_errors=True)
    assert (real.status_int, real.json["errorCode"]) == (404, "CHECK_NOT_FOUND")
    hidden = api.get(f"/v1/checks/{check_uuid}", headers=headers, expect_errors=True)
    assert (hidden.status_int, hidden.json["errorCode"]) == (404, "CHECK_NOT_FOUND")
    listed = api.get("/v1/checks", headers=key_header(rw_key)).json["data"]
    assert [check["uuid"] for check in listed] == [check_uuid]


def test_it_gives_each_key_its_own_sandbox_for_the_life_of_the_app(
    api: webtest.TestApp, service: Service, rw_key: str
) -> None:
    other = service.create_api_key("other")
    mine = api.post_json(
        "/v1/checks", {"name": "Mine"}, headers={**DEV, **key_header(rw_key)}, status=201
    ).json["data"]["uuid"]

    theirs = api.get("/v1/checks", headers={**DEV, **key_header(other)}).json["data"]
    again = api.get("/v1/checks", headers={**DEV, **key_header(rw_key)}).json["data"]

    assert mine not in {check["uuid"] for check in theirs}
    assert mine in {check["uuid"] for check in again}
    missing = api.get(
        f"/v1/checks/{mine}", headers={**DEV, **key_header(other)}, expect_errors=True
    )
    assert missing.status_int == 404


def test_it_validates_developer_mode_writes_like_production(
    api: webtest.TestApp, rw_key: str
) -> None:
    headers = {**DEV, **key_header(rw_key)}

    response = api.post_json("/v1/checks", {"timeout": 59}, headers=headers, expect_errors=True)

    assert response.status_int == 422
    assert "timeout" in response.json["fields"]
    assert response.headers["X-Developer-Mode"] == "true"


def test_it_leaves_the_real_database_untouched_in_developer_mode(
    api: webtest.TestApp, service: Service, rw_key: str, check_uuid: str, config: Config
) -> None:
    api.get(f"/ping/{check_uuid}", status=200)
    api.get("/v1/checks", headers=key_header(rw_key), status=200)
    before = dump_without_key_use(Path(config.storage.path))
    headers = {**DEV, **key_header(rw_key)}

    seeded = api.get("/v1/checks", headers=headers).json["data"]
    new = api.post_json("/v1/checks", {"name": "Sandboxed"}, headers=headers).json["data"]
    api.patch_json(f"/v1/checks/{new['uuid']}", {"tags": "x"}, headers=headers, status=200)
    api.post(f"/v1/checks/{new['uuid']}/pause", headers=headers, status=200)
    api.post(f"/v1/checks/{new['uuid']}/resume", headers=headers, status=200)
    for check in seeded:
        api.delete(f"/v1/checks/{check['uuid']}", headers=headers, status=200)
    api.post_json("/v1/checks", {"name": "Existing", "unique": ["name"]}, headers=headers)
    time.sleep(1.2)  # long enough for the writer's deferred housekeeping to have run

    assert dump_without_key_use(Path(config.storage.path)) == before
    assert [check.uuid for check in service.list_checks()] == [check_uuid]
