"""One shape for every answer under /v1 (SPEC §3.1), and plain text under /ping/.

``test_it_answers_every_error_under_v1_in_the_one_envelope`` walks every error path of
the management API and asserts the exact envelope of each; the others cover the
success envelope and the Pinging API's plain-text errors.
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import webtest
from conftest import FakeClock

from pingd.app import create_app
from pingd.config import default_config
from pingd.service import Service
from pingd.writer.store import Store

UNKNOWN_UUID = "6f1c1c52-0a4e-4b53-8f0e-2b2f9f3c5d11"
SCREAMING_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
SECRET = "secret-detail-8c1f"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Client:
    """Sends requests to one app; the limiter's clock jumps ahead before each one
    unless told not to, so that only the requests meant to be limited are."""

    def __init__(self, app: Any, monotonic: FakeMonotonic) -> None:
        self.test_app = webtest.TestApp(app)
        self.raw_app = webtest.TestApp(app, lint=False)
        self.monotonic = monotonic
        self.request_ids: list[str] = []

    def send(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        addr: str = "192.0.2.1",
        refill: bool = True,
    ) -> webtest.TestResponse:
        if refill:
            self.monotonic.now += 3600
        all_headers = dict(headers or {})
        if key is not None:
            all_headers["X-Api-Key"] = key
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        return self.test_app.request(
            path,
            method=method,
            body=body or b"",
            headers=all_headers,
            environ={"REMOTE_ADDR": addr},
            expect_errors=True,
        )


@pytest.fixture
def client(
    tmp_path: Path, store: Store, clock: FakeClock, service: Service
) -> tuple[Client, Service]:
    config = default_config(
        storage__path=str(tmp_path / "pingd.db"), api__burst=2, api__rate_per_second=1.0
    )
    monotonic = FakeMonotonic()
    app = create_app(config, store=store, clock=clock, monotonic=monotonic)
    return Client(app, monotonic), service


def assert_error(
    client: Client, response: webtest.TestResponse, status: int, code: str, what: str
) -> None:
    """Assert the exact error envelope of SPEC §3.1."""
    assert response.status_int == status, (what, response.status, response.text)
    assert response.content_type == "application/json", what
    body = response.json
    expected_keys = {"error", "errorCode", "requestId"} | ({"fields"} if status == 422 else set())
    assert set(body) == expected_keys, (what, body)
    assert isinstance(body["error"], str) and body["error"].strip(), what
    assert body["errorCode"] == code, (what, body)
    assert SCREAMING_SNAKE.match(body["errorCode"]), what
    assert str(uuid.UUID(body["requestId"])) == body["requestId"], what
    assert response.headers["X-Request-Id"] == body["requestId"], what
    if status == 422:
        fields = body["fields"]
        assert isinstance(fields, dict) and fields, what
        assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in fields.items())
    text = response.text
    assert "Traceback" not in text and 'File "' not in text, what
    client.request_ids.append(body["requestId"])


def test_it_answers_every_error_under_v1_in_the_one_envelope(
    client: tuple[Client, Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, service = client
    rw = service.create_api_key("rw")
    ro = service.create_api_key("ro", read_only=True)
    check = service.create_check(name="Existing").uuid
    for _ in range(2):
        service.create_check(name="Twin")

    cases: list[tuple[str, dict[str, Any], int, str]] = [
        # 403
        ("GET /v1/checks", {}, 403, "FORBIDDEN"),
        ("GET /v1/checks", {"key": "pingd_wrong"}, 403, "FORBIDDEN"),
        ("GET /v1/project", {"headers": {"Authorization": "Bearer pingd_wrong"}}, 403,
         "FORBIDDEN"),
        ("POST /v1/checks", {"key": ro, "body": b'{"name": "x"}'}, 403, "FORBIDDEN"),
        (f"DELETE /v1/checks/{check}", {"key": ro}, 403, "FORBIDDEN"),
        (f"GET /v1/checks/{check}/pings", {"key": ro}, 403, "FORBIDDEN"),
        ("GET /v1/checks", {"headers": {"X-Developer-Mode": "true"}}, 403, "FORBIDDEN"),
        # 404, unknown routes
        ("GET /v1/nope", {"key": rw}, 404, "NOT_FOUND"),
        ("GET /v1/nope", {}, 404, "NOT_FOUND"),
        ("GET /v1", {"key": rw}, 404, "NOT_FOUND"),
        ("GET /v1/", {"key": rw}, 404, "NOT_FOUND"),
        (f"GET /v1/checks/{check}/nope", {"key": rw}, 404, "NOT_FOUND"),
        ("GET /v1/checks/a/b/c/d/e", {"key": rw}, 404, "NOT_FOUND"),
        # 404, unknown checks and pings
        (f"GET /v1/checks/{UNKNOWN_UUID}", {"key": rw}, 404, "CHECK_NOT_FOUND"),
        ("GET /v1/checks/not-a-uuid", {"key": rw}, 404, "CHECK_NOT_FOUND"),
        (f"GET /v1/checks/{{{UNKNOWN_UUID}}}", {"key": rw}, 404, "CHECK_NOT_FOUND"),
        (f"POST /v1/checks/{UNKNOWN_UUID}/pause", {"key": rw}, 404, "CHECK_NOT_FOUND"),
        ("GET /v1/checks/xyz/flips", {"key": rw}, 404, "CHECK_NOT_FOUND"),
        (f"GET /v1/checks/{check}/pings/1/body", {"key": rw}, 404, "NOT_FOUND"),
        # 405
        ("PUT /v1/checks", {"key": rw, "body": b"{}"}, 405, "METHOD_NOT_ALLOWED"),
        ("DELETE /v1/status", {"key": rw}, 405, "METHOD_NOT_ALLOWED"),
        (f"GET /v1/checks/{check}/pause", {"key": rw}, 405, "METHOD_NOT_ALLOWED"),
        (f"POST /v1/checks/{check}", {"key": rw, "body": b"{}"}, 405, "METHOD_NOT_ALLOWED"),
        ("POST /v1/openapi.json", {"key": rw}, 405, "METHOD_NOT_ALLOWED"),
        # 400
        ("POST /v1/checks", {"key": rw, "body": b'{"name": '}, 400, "INVALID_JSON"),
        (f"PATCH /v1/checks/{check}", {"key": rw, "body": b"{,}"}, 400, "INVALID_JSON"),
        ("POST /v1/checks", {"key": rw, "body": b""}, 400, "MISSING_BODY"),
        (f"PATCH /v1/checks/{check}", {"key": rw, "body": b" "}, 400, "MISSING_BODY"),
        # 409
        (f"POST /v1/checks/{check}/resume", {"key": rw}, 409, "CHECK_NOT_PAUSED"),
        ("POST /v1/checks", {"key": rw, "body": b'{"name": "Twin", "unique": ["name"]}'}, 409,
         "DUPLICATE"),
        # 413
        ("POST /v1/checks", {"key": rw, "body": b"{" + b" " * 70000 + b"}"}, 413,
         "PAYLOAD_TOO_LARGE"),
        # 422
        ("POST /v1/checks", {"key": rw, "body": b'{"timeout": 1}'}, 422, "INVALID_INPUT"),
        (f"PATCH /v1/checks/{check}", {"key": rw, "body": b'{"nope": 1}'}, 422,
         "INVALID_INPUT"),
        ("POST /v1/checks", {"key": rw, "body": b"[]"}, 422, "INVALID_INPUT"),
        ("GET /v1/checks?status=sideways", {"key": rw}, 422, "INVALID_INPUT"),
    ]  # fmt: skip
    for request, options, status, code in cases:
        method, path = request.split(" ", 1)
        assert_error(c, c.send(method, path, **options), status, code, request)

    # 429, for a key and for an address without one
    for options in ({"key": rw}, {"addr": "203.0.113.9"}):
        c.send("GET", "/v1/status", **options)
        c.send("GET", "/v1/status", refill=False, **options)
        limited = c.send("GET", "/v1/status", refill=False, **options)
        assert_error(c, limited, 429, "RATE_LIMITED", f"429 {options}")
        assert int(limited.headers["Retry-After"]) >= 1

    # 400 from Falcon itself (a Content-Length that is not a number)
    c.monotonic.now += 3600
    raw = webtest.TestRequest.blank(
        "/v1/checks", method="POST", headers={"X-Api-Key": rw, "Content-Type": "application/json"}
    )
    raw.environ["CONTENT_LENGTH"] = "many"
    raw.environ["wsgi.input"] = io.BytesIO(b"{}")
    falcon_error = c.raw_app.do_request(raw, status=None, expect_errors=True)
    assert_error(c, falcon_error, 400, "BAD_REQUEST", "bad Content-Length")

    # 500 from an unexpected exception, with no detail in the body
    def explode(self: Service, check_id: int) -> list[Any]:
        raise RuntimeError(f"boom: {SECRET}")

    monkeypatch.setattr(Service, "list_flips", explode)
    crashed = c.send("GET", f"/v1/checks/{check}/flips", key=rw)
    assert_error(c, crashed, 500, "INTERNAL_SERVER_ERROR", "500")
    assert SECRET not in crashed.text and "RuntimeError" not in crashed.text

    assert len(set(c.request_ids)) == len(c.request_ids) == len(cases) + 4


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("PUT", "/v1/checks", {"GET", "POST"}), ("DELETE", "/v1/status", {"GET"}),
     ("GET", "/v1/checks/{check}/pause", {"POST"}),
     ("POST", "/v1/checks/{check}", {"GET", "PATCH", "DELETE"})],
)  # fmt: skip
def test_it_lists_the_allowed_methods_with_a_405_under_v1(
    client: tuple[Client, Service], method: str, path: str, allowed: set[str]
) -> None:
    c, service = client
    rw = service.create_api_key("rw")
    check = service.create_check(name="Existing").uuid

    response = c.send(method, path.format(check=check), key=rw, body=b"{}")

    assert response.status_int == 405
    assert response.json["errorCode"] == "METHOD_NOT_ALLOWED"
    listed = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
    assert listed - {"OPTIONS", "HEAD"} == allowed


def assert_success(response: webtest.TestResponse, status: int, what: str) -> None:
    assert response.status_int == status, (what, response.status, response.text)
    assert response.content_type == "application/json", what
    body = response.json
    assert set(body) == {"data", "requestId"}, (what, body)
    assert str(uuid.UUID(body["requestId"])) == body["requestId"], what
    assert response.headers["X-Request-Id"] == body["requestId"], what


def test_it_answers_every_success_under_v1_with_data_and_a_request_id(
    client: tuple[Client, Service],
) -> None:
    c, service = client
    rw = service.create_api_key("rw")
    check = service.create_check(name="Existing").uuid
    c.send("POST", f"/ping/{check}", body=b"a body")

    steps = [
        ("GET", "/v1/status", None, 200),
        ("GET", "/v1/project", None, 200),
        ("GET", "/v1/checks", None, 200),
        ("GET", "/v1/checks?tag=x&slug=y&status=up", None, 200),
        ("POST", "/v1/checks", b'{"name": "New"}', 201),
        ("POST", "/v1/checks", b'{"name": "New", "unique": ["name"]}', 200),
        ("GET", f"/v1/checks/{check}", None, 200),
        ("PATCH", f"/v1/checks/{check}", b'{"tags": "t"}', 200),
        ("POST", f"/v1/checks/{check}/pause", None, 200),
        ("POST", f"/v1/checks/{check}/resume", None, 200),
        ("GET", f"/v1/checks/{check}/pings", None, 200),
        ("GET", f"/v1/checks/{check}/flips", None, 200),
        ("GET", "/v1/channels", None, 200),
        ("DELETE", f"/v1/checks/{check}", None, 200),
    ]
    for method, path, body, status in steps:
        assert_success(c.send(method, path, key=rw, body=body), status, f"{method} {path}")
        dev = c.send(method, path, key=rw, body=body, headers={"X-Developer-Mode": "true"})
        if "/checks/" not in path:  # the real check is not in the sandbox
            assert_success(dev, status, f"developer mode {method} {path}")


def test_it_sends_a_request_id_header_with_the_raw_documents(
    client: tuple[Client, Service],
) -> None:
    c, service = client
    rw = service.create_api_key("rw")
    check = service.create_check(name="Existing").uuid
    c.send("POST", f"/ping/{check}", body=b"raw bytes")

    body = c.send("GET", f"/v1/checks/{check}/pings/1/body", key=rw)
    document = c.send("GET", "/v1/openapi.json")

    assert (body.status_int, body.body) == (200, b"raw bytes")
    assert (document.status_int, document.json["openapi"]) == (200, "3.1.0")
    for response in (body, document):
        request_id = response.headers["X-Request-Id"]
        assert str(uuid.UUID(request_id)) == request_id


@pytest.mark.parametrize("path", ["/v1/checks", "/v1/status", "/v1/checks/{check}"])
def test_it_answers_options_under_v1_with_a_request_id_in_the_body(
    client: tuple[Client, Service], path: str
) -> None:
    c, service = client
    rw = service.create_api_key("rw")
    check = service.create_check(name="Existing").uuid

    response = c.send("OPTIONS", path.format(check=check), key=rw)

    assert response.content_type == "application/json"
    body = json.loads(response.body or b"null")
    assert isinstance(body, dict), f"{response.status} with body {response.body!r}"
    assert body.get("requestId") == response.headers["X-Request-Id"]
    assert set(body) in ({"data", "requestId"}, {"error", "errorCode", "requestId"})


def test_it_keeps_ping_route_errors_in_plain_text(
    client: tuple[Client, Service], ping_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    c, service = client
    check = service.create_check(name="Backup").uuid
    rw = service.create_api_key("rw")

    def explode(self: Service, request: Any) -> Any:
        raise RuntimeError(f"boom: {SECRET}")

    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("GET", "/ping/not-a-check", {}, 404, "not found"),
        ("GET", f"/ping/{UNKNOWN_UUID}", {"key": rw}, 404, "not found"),
        ("GET", f"/ping/{ping_key}/Backup", {}, 400, "invalid url format"),
        ("GET", f"/ping/{check}/256", {}, 400, "invalid url format"),
        ("GET", f"/ping/{check}?rid=nope", {}, 400, "invalid uuid format"),
        ("DELETE", f"/ping/{check}", {"key": rw}, 405, "method not allowed"),
        ("POST", f"/ping/{check}", {"body": b"x" * (1048576 + 1)}, 413, ""),
    ]
    for method, path, options, status, text in cases:
        response = c.send(method, path, **options)
        assert response.status_int == status, (path, response.status)
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8", path
        if text:
            assert response.text == text, path
        assert "requestId" not in response.text, path

    monkeypatch.setattr(Service, "record_ping", explode)
    crashed = c.send("GET", f"/ping/{check}")
    assert (crashed.status_int, crashed.text) == (500, "internal error")
    assert crashed.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_it_logs_an_unexpected_ping_error_once_without_a_second_crash(
    client: tuple[Client, Service],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    c, service = client
    check = service.create_check(name="Backup").uuid

    def explode(self: Service, request: Any) -> Any:
        raise RuntimeError(f"boom: {SECRET}")

    monkeypatch.setattr(Service, "record_ping", explode)
    with caplog.at_level(logging.ERROR):
        crashed = c.send("GET", f"/ping/{check}")

    assert (crashed.status_int, crashed.text) == (500, "internal error")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert errors[0].exc_info is not None and errors[0].exc_info[0] is RuntimeError
