"""Delivery through the real notify code to real receivers on 127.0.0.1 (SPEC §2.3).

Every channel kind is pointed at a local HTTP receiver through its configurable
base URL (email at a local aiosmtpd server), alerts are queued by real pings on
a real SQLite file and sent by ``Service.deliver`` or ``AlertLoop.run_once``.
The clock is fake, so retry times are exact; the send timeout is shrunk from
10 s to ``SEND_TIMEOUT`` so that a hanging receiver costs about a second.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import re
import sqlite3
import sys
import time
import urllib.parse
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import webtest
from conftest import START
from conftest import FakeClock
from receivers import HttpReceiver
from receivers import Request
from receivers import SmtpReceiver
from receivers import http_receiver

from pingd.app import create_app
from pingd.cli.main import main
from pingd.config import Config
from pingd.config import default_config
from pingd.domain.alerts import DELIVERY_MAX_ATTEMPTS
from pingd.domain.alerts import retry_delay
from pingd.domain.checks import Check
from pingd.errors import InvalidInput
from pingd.notify import base
from pingd.notify import email as email_kind
from pingd.scheduler import AlertLoop
from pingd.service import Service
from pingd.service.core import DeliveryOutcome
from pingd.service.pings import PingRequest
from pingd.store import channels as channels_queries
from pingd.writer.store import Store

BASE_URL = "https://pingd.example.org"
MAIL_FROM = "pingd-alerts@example.org"
SEND_TIMEOUT = 1.0
BACKLOG = 110  # due deliveries of one channel, more than one batch of due_deliveries()
WAIT_SECONDS = 5.0
NAME = "Nightly backup"
FAIL_BODY = b'pg_dump: error: "disk full"\nexit 3\n'
UP_BODY = b"all 42 tables dumped"


# -- fixtures --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def short_send_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink every send timeout: http_request binds its default at definition time."""
    monkeypatch.setattr(base, "HTTP_TIMEOUT_SECONDS", SEND_TIMEOUT)
    defaults = {**(base.http_request.__kwdefaults__ or {}), "timeout": SEND_TIMEOUT}
    monkeypatch.setattr(base.http_request, "__kwdefaults__", defaults)
    monkeypatch.setattr(email_kind, "HTTP_TIMEOUT_SECONDS", SEND_TIMEOUT)


@pytest.fixture
def other_receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as started:
        yield started


@pytest.fixture
def config(tmp_path: Path, smtp: SmtpReceiver) -> Config:
    return default_config(
        storage__path=str(tmp_path / "pingd.db"),
        server__base_url=BASE_URL,
        api__burst=1000,
        smtp__host=smtp.host,
        smtp__port=smtp.port,
        smtp__security="none",
        smtp__from=MAIL_FROM,
    )


@pytest.fixture
def api(config: Config, store: Store, clock: FakeClock, svc: Service) -> webtest.TestApp:
    key = svc.create_api_key("tests")
    app = webtest.TestApp(create_app(config, store=store, clock=clock, service=svc))
    app.extra_environ = {"HTTP_X_API_KEY": key}
    return app


@pytest.fixture
def cli(
    config: Config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Callable[..., tuple[int, str, str]]:
    """Run ``pingd --db <the test's database> ARGS`` in-process; return (code, out, err)."""
    for name in list(os.environ):
        if name.startswith("PINGD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--db", config.storage.path, *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


# -- helpers ---------------------------------------------------------------------


def ping(
    svc: Service, check: Check, action: str = "success", *, exit_status: int | None = None,
    body: bytes = b"",
) -> None:  # fmt: skip
    svc.record_ping(
        PingRequest(
            action=action, method="POST", scheme="http", remote_addr="127.0.0.1", ua="tests",
            body=body, body_size=len(body), uuid=check.uuid, exit_status=exit_status,
        )
    )  # fmt: skip


def deliver_due(svc: Service) -> list[DeliveryOutcome]:
    """Attempt every due delivery once, in order, in this thread, until none is due."""
    outcomes: list[DeliveryOutcome] = []
    for _ in range(100):  # bounded: a failed attempt is never due again at once
        due = svc.due_deliveries()
        if not due:
            break
        outcomes += [svc.deliver(delivery) for delivery in due]
    return outcomes


def query(config: Config, sql: str, *params: object) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{config.storage.path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def delivery_row(config: Config, channel_id: int) -> sqlite3.Row:
    [row] = query(config, "SELECT * FROM deliveries WHERE channel_id = ?", channel_id)
    return row


def attempts(config: Config, delivery_id: int) -> list[tuple[datetime, bool, str, int]]:
    rows = query(
        config,
        "SELECT created, ok, error, duration_ms FROM delivery_attempts"
        " WHERE delivery_id = ? ORDER BY id",
        delivery_id,
    )
    return [(datetime.fromisoformat(r[0]), bool(r[1]), r[2], r[3]) for r in rows]


def db_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).replace(microsecond=0).isoformat()


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"condition not met within {timeout} s"
        time.sleep(0.01)


def fail_then_recover(svc: Service, clock: FakeClock, check: Check) -> tuple[datetime, datetime]:
    """new -> up (silent), up -> down by a fail ping, down -> up: return both alert times."""
    ping(svc, check)
    failed_at = clock.advance(minutes=5)
    ping(svc, check, "fail", exit_status=3, body=FAIL_BODY)
    assert [o.ok for o in deliver_due(svc)] == [True]
    up_at = clock.advance(minutes=5)
    ping(svc, check, body=UP_BODY)
    assert [o.ok for o in deliver_due(svc)] == [True]
    return failed_at, up_at


def expected_text(check: Check, status: str, when: datetime, body: bytes) -> str:
    """The alert text as the README's "What an alert says" documents it."""
    why = (
        "the job reported failure (exit status 3)" if status == "DOWN" else "a success ping arrived"
    )
    return "\n".join(
        [
            f'"{NAME}" is {status}',
            f"Why: {why}",
            f"When: {iso(when)}",
            f"Last ping: {iso(when)}",
            "Tags: db prod",
            "Last output:",
            body.decode(),
            f"Details: {BASE_URL}/checks/{check.uuid}",
        ]
    )


# -- every HTTP kind -------------------------------------------------------------

TOKEN = "tk_0123456789abcdef"


def _json(request: Request) -> dict[str, Any]:
    assert request.headers["content-type"] == "application/json"
    payload: dict[str, Any] = json.loads(request.body)
    return payload


def _form(request: Request) -> dict[str, str]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return dict(urllib.parse.parse_qsl(request.text(), strict_parsing=True))


@dataclass(frozen=True)
class Kind:
    kind: str
    settings: Callable[[str], dict[str, Any]]
    method: str
    path: str  # a regex for the whole raw path
    headers: dict[str, str]
    text: Callable[[Request], str]
    extra: Callable[[Request, Request, Check], None] = lambda down, up, check: None


def _ntfy_extra(down: Request, up: Request, check: Check) -> None:
    link = f"{BASE_URL}/checks/{check.uuid}"
    assert {k: v for k, v in _json(down).items() if k != "message"} == {
        "topic": "backups", "title": f'"{NAME}" is DOWN', "priority": 4,
        "tags": ["rotating_light"], "click": link,
    }  # fmt: skip
    assert {k: v for k, v in _json(up).items() if k != "message"} == {
        "topic": "backups", "title": f'"{NAME}" is UP', "priority": 3,
        "tags": ["white_check_mark"], "click": link,
    }  # fmt: skip


def _gotify_extra(down: Request, up: Request, check: Check) -> None:
    assert (_json(down)["title"], _json(down)["priority"]) == (f'"{NAME}" is DOWN', 8)
    assert _json(up)["title"] == f'"{NAME}" is UP'


def _telegram_extra(down: Request, up: Request, check: Check) -> None:
    assert _json(down)["chat_id"] == "-1001234"


def _pushover_extra(down: Request, up: Request, check: Check) -> None:
    form = _form(down)
    assert {k: v for k, v in form.items() if k != "message"} == {
        "token": "app0123456789", "user": "usr0123456789", "title": f'"{NAME}" is DOWN',
        "priority": "0", "url": f"{BASE_URL}/checks/{check.uuid}",
    }  # fmt: skip


def _matrix_extra(down: Request, up: Request, check: Check) -> None:
    assert _json(down)["msgtype"] == "m.text"
    assert down.path != up.path  # a fresh transaction id per event


KINDS = [
    Kind(
        "ntfy",
        lambda url: {"server": url, "topic": "backups", "token": TOKEN},
        "POST", re.escape("/"), {"authorization": f"Bearer {TOKEN}"},
        lambda r: str(_json(r)["message"]), _ntfy_extra,
    ),
    Kind(
        "gotify",
        lambda url: {"server": url + "/gotify/", "token": TOKEN},
        "POST", re.escape("/gotify/message"), {"x-gotify-key": TOKEN},
        lambda r: str(_json(r)["message"]), _gotify_extra,
    ),
    Kind(
        "discord",
        lambda url: {"webhook_url": f"{url}/api/webhooks/42/{TOKEN}"},
        "POST", re.escape(f"/api/webhooks/42/{TOKEN}"), {},
        lambda r: str(_json(r)["content"]),
    ),
    Kind(
        "slack",
        lambda url: {"webhook_url": f"{url}/services/T000/B000/{TOKEN}"},
        "POST", re.escape(f"/services/T000/B000/{TOKEN}"), {},
        lambda r: str(_json(r)["text"]),
    ),
    Kind(
        "telegram",
        lambda url: {"bot_token": f"123456:{TOKEN}", "chat_id": "-1001234", "api_base": url},
        "POST", re.escape(f"/bot123456:{TOKEN}/sendMessage"), {},
        lambda r: str(_json(r)["text"]), _telegram_extra,
    ),
    Kind(
        "pushover",
        lambda url: {"user_key": "usr0123456789", "app_token": "app0123456789", "api_base": url},
        "POST", re.escape("/1/messages.json"), {},
        lambda r: _form(r)["message"], _pushover_extra,
    ),
    Kind(
        "matrix",
        lambda url: {"homeserver": url, "room_id": "!room:example.org", "access_token": TOKEN},
        "PUT",
        r"/_matrix/client/v3/rooms/%21room%3Aexample\.org/send/m\.room\.message/pingd-[0-9a-f-]{36}",
        {"authorization": f"Bearer {TOKEN}"},
        lambda r: str(_json(r)["body"]), _matrix_extra,
    ),
]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS, ids=[k.kind for k in KINDS])
def test_it_delivers_down_and_up_alerts_to_each_http_kind_at_its_base_url(
    kind: Kind, svc: Service, clock: FakeClock, receiver: HttpReceiver
) -> None:
    svc.create_channel(kind.kind, "", kind.settings(receiver.url))
    check = svc.create_check(name=NAME, tags="db prod", channels="*")
    failed_at, up_at = fail_then_recover(svc, clock, check)

    down, up = receiver.requests
    for request in (down, up):
        assert request.method == kind.method
        assert re.fullmatch(kind.path, request.path), request.path
        assert request.headers["user-agent"] == "pingd-notify"
        for header, value in kind.headers.items():
            assert request.headers[header] == value
    assert kind.text(down) == expected_text(check, "DOWN", failed_at, FAIL_BODY)
    assert kind.text(up) == expected_text(check, "UP", up_at, UP_BODY)
    kind.extra(down, up, check)


def test_it_sends_email_naming_the_check_and_status_from_the_configured_sender(
    svc: Service, clock: FakeClock, smtp: SmtpReceiver
) -> None:
    svc.create_channel("email", "ops", {"to": "ops@example.org, oncall@example.org"})
    check = svc.create_check(name=NAME, tags="db prod", channels="*")
    failed_at, up_at = fail_then_recover(svc, clock, check)

    down, up = smtp.wait_for(2)
    assert len(smtp.mails) == 2
    for mail in (down, up):
        assert mail.mail_from == MAIL_FROM
        assert mail.message["From"] == MAIL_FROM
        assert mail.rcpt_tos == ["ops@example.org", "oncall@example.org"]
        assert mail.message["To"] == "ops@example.org, oncall@example.org"
    assert down.message["Subject"] == f'"{NAME}" is DOWN'
    assert up.message["Subject"] == f'"{NAME}" is UP'
    assert down.text().rstrip("\n") == expected_text(check, "DOWN", failed_at, FAIL_BODY)
    assert up.text().rstrip("\n") == expected_text(check, "UP", up_at, UP_BODY)


def test_it_sends_only_the_last_1000_characters_of_the_ping_body_and_says_why_on_timeout(
    svc: Service, clock: FakeClock, smtp: SmtpReceiver
) -> None:
    svc.create_channel("email", "ops", {"to": "ops@example.org"})
    check = svc.create_check(name=NAME, timeout=3600, grace=600, channels="*")
    output = "".join(f"line {n:04d}\n" for n in range(200))  # 2,000 characters
    ping(svc, check, body=b"HEAD-MARKER\n" + output.encode())
    clock.advance(hours=2)
    assert svc.sweep_overdue() == 1
    assert [o.ok for o in deliver_due(svc)] == [True]
    [mail] = smtp.wait_for(1)
    text = mail.text()
    assert "Why: no ping arrived in time\n" in text
    assert f"When: {iso(START + timedelta(seconds=4200))}\n" in text
    assert f"Last ping: {iso(START)}\n" in text
    assert f"Last output:\n{output[-1000:]}" in text
    assert "HEAD-MARKER" not in text


# -- webhook ---------------------------------------------------------------------

ALL_JSON = (
    '{"name": $NAME_JSON, "slug": $SLUG_JSON, "uuid": $UUID_JSON, "code": $CODE_JSON,'
    ' "status": $STATUS_JSON, "now": $NOW_JSON, "tags": $TAGS_JSON, "body": $BODY_JSON,'
    ' "exit": $EXITSTATUS_JSON, "event": $JSON}'
)
WEBHOOK_NAME = 'Sync "a & b"/ü'
WEBHOOK_NAME_IN_URL = "Sync%20%22a%20%26%20b%22%2F%C3%BC"


def test_it_sends_a_webhooks_down_and_up_requests_with_every_placeholder(
    svc: Service, clock: FakeClock, receiver: HttpReceiver, config: Config
) -> None:
    svc.create_channel(
        "webhook",
        "hook",
        {
            "url_down": receiver.url + "/down/$NAME?status=$STATUS&code=$CODE&out=$BODY",
            "method_down": "POST",
            "body_down": ALL_JSON,
            "headers_down": {"Content-Type": "application/json", "X-Check": "$SLUG is $STATUS"},
            "url_up": receiver.url + "/up/$UUID?tags=$TAGS&exit=$EXITSTATUS",
            "method_up": "PUT",
            "body_up": "$NAME|$SLUG|$UUID|$CODE|$STATUS|$NOW|$TAGS|$EXITSTATUS|$BODY",
            "headers_up": {"Authorization": "Bearer up-secret-0123"},
        },
    )
    check = svc.create_check(name=WEBHOOK_NAME, tags="db prod", channels="*")
    ping(svc, check)
    failed_at = clock.advance(minutes=5)
    ping(svc, check, "fail", exit_status=3, body=FAIL_BODY)
    assert [o.ok for o in deliver_due(svc)] == [True]
    up_at = clock.advance(minutes=5)
    ping(svc, check, body=UP_BODY)
    assert [o.ok for o in deliver_due(svc)] == [True]
    [down_event, _] = [json.loads(r[0]) for r in query(config, "SELECT event FROM deliveries")]

    down, up = receiver.requests
    slug, uuid = check.slug, check.uuid
    assert down.method == "POST"
    assert down.path == (
        f"/down/{WEBHOOK_NAME_IN_URL}?status=down&code={uuid}"
        "&out=pg_dump%3A%20error%3A%20%22disk%20full%22%0Aexit%203%0A"
    )
    assert down.headers["content-type"] == "application/json"
    assert down.headers["x-check"] == f"{slug} is down"
    assert "authorization" not in down.headers
    assert json.loads(down.body) == {
        "name": WEBHOOK_NAME, "slug": slug, "uuid": uuid, "code": uuid, "status": "down",
        "now": iso(failed_at), "tags": "db prod", "body": FAIL_BODY.decode(), "exit": "3",
        "event": down_event,
    }  # fmt: skip
    assert down_event["name"] == WEBHOOK_NAME and down_event["exit_status"] == 3

    assert up.method == "PUT"
    assert up.path == f"/up/{uuid}?tags=db%20prod&exit="
    assert up.headers["authorization"] == "Bearer up-secret-0123"
    assert "x-check" not in up.headers
    assert up.text() == (
        f"{WEBHOOK_NAME}|{slug}|{uuid}|{uuid}|up|{iso(up_at)}|db prod||{UP_BODY.decode()}"
    )


def test_it_expands_placeholders_once_so_a_name_holding_a_placeholder_stays_literal(
    svc: Service, receiver: HttpReceiver
) -> None:
    svc.create_channel(
        "webhook", "hook", {"url_down": receiver.url + "/d", "body_down": "[$NAME] [$STATUS]"}
    )
    check = svc.create_check(name="Costs $STATUS $BODY_JSON", channels="*")
    ping(svc, check, "fail", body=b"oops")
    assert [o.ok for o in deliver_due(svc)] == [True]
    [request] = receiver.requests
    assert request.text() == "[Costs $STATUS $BODY_JSON] [down]"


def test_it_sends_a_get_webhook_without_a_body_and_skips_a_status_without_url(
    svc: Service, clock: FakeClock, receiver: HttpReceiver, config: Config
) -> None:
    svc.create_channel(
        "webhook",
        "hook",
        {"url_down": receiver.url + "/ping/$SLUG", "method_down": "GET", "body_down": "ignored"},
    )
    check = svc.create_check(name="Web job", channels="*")
    ping(svc, check, "fail")
    clock.advance(minutes=1)
    ping(svc, check)  # down -> up: this webhook has no url_up
    assert [o.ok for o in deliver_due(svc)] == [True, True]
    [request] = receiver.requests
    assert (request.method, request.path, request.body) == ("GET", "/ping/web-job", b"")
    states = [r[0] for r in query(config, "SELECT state FROM deliveries ORDER BY id")]
    assert states == ["sent", "sent"]


# -- retries, timeouts, giving up --------------------------------------------------


def test_it_retries_with_exponential_back_off_the_first_retry_within_10_seconds() -> None:
    delays = [retry_delay(n) for n in range(1, DELIVERY_MAX_ATTEMPTS)]
    assert DELIVERY_MAX_ATTEMPTS >= 5
    assert timedelta(0) < delays[0] <= timedelta(seconds=10)
    assert all(later == 2 * earlier for earlier, later in zip(delays, delays[1:], strict=False))


def test_it_delivers_on_the_third_attempt_after_two_failures_and_records_each(
    svc: Service,
    clock: FakeClock,
    receiver: HttpReceiver,
    config: Config,
    api: webtest.TestApp,
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    receiver.fail_next(2)
    channel = svc.create_channel("webhook", "hook", {"url_down": receiver.url + "/hook"})
    check = svc.create_check(name=NAME, channels="*")
    queued_at = clock.advance(minutes=1)
    ping(svc, check, "fail", exit_status=1)
    row = delivery_row(config, channel.id)
    assert (row["state"], row["attempts"], db_time(row["next_attempt"])) == (
        "pending", 0, queued_at
    )  # fmt: skip

    first = svc.deliver(svc.due_deliveries()[0])
    assert (first.ok, first.error) == (False, "127.0.0.1 answered HTTP 500")
    retry_at = queued_at + retry_delay(1)
    row = delivery_row(config, channel.id)
    assert (row["state"], row["attempts"], db_time(row["next_attempt"])) == (
        "pending", 1, retry_at
    )  # fmt: skip
    assert retry_at - queued_at <= timedelta(seconds=10)
    code, out, _ = cli("channel", "list")
    assert code == 0 and "pending" in out and "127.0.0.1 answered HTTP 500" in out

    clock.now = retry_at - timedelta(microseconds=1)
    assert svc.due_deliveries() == []
    clock.now = retry_at
    assert [o.ok for o in deliver_due(svc)] == [False]
    second_retry_at = retry_at + retry_delay(2)
    assert db_time(delivery_row(config, channel.id)["next_attempt"]) == second_retry_at

    clock.now = second_retry_at
    assert [o.ok for o in deliver_due(svc)] == [True]
    row = delivery_row(config, channel.id)
    assert (row["state"], row["attempts"], row["next_attempt"], row["last_error"]) == (
        "sent", 3, None, ""
    )  # fmt: skip
    assert [(when, ok, error) for when, ok, error, _ in attempts(config, row["id"])] == [
        (queued_at, False, "127.0.0.1 answered HTTP 500"),
        (retry_at, False, "127.0.0.1 answered HTTP 500"),
        (second_retry_at, True, ""),
    ]
    assert [r.answered for r in receiver.requests] == [500, 500, 200]
    assert len({r.body for r in receiver.requests}) == 1
    clock.advance(days=1)
    assert svc.due_deliveries() == []

    [shown] = api.get(f"/v1/channels/{channel.id}").json["data"]["deliveries"]
    assert (shown["state"], shown["check"], shown["status"], shown["next_attempt"]) == (
        "sent", check.uuid, "down", None
    )  # fmt: skip
    assert [(a["ok"], a["error"]) for a in shown["attempts"]] == [
        (False, "127.0.0.1 answered HTTP 500"),
        (False, "127.0.0.1 answered HTTP 500"),
        (True, ""),
    ]
    assert [a["time"] for a in shown["attempts"]] == [
        iso(queued_at), iso(retry_at), iso(second_retry_at)
    ]  # fmt: skip
    code, out, _ = cli("channel", "list")
    assert code == 0 and re.search(rf"^{channel.id}\s+webhook\s+hook\s.*\ssent\s", out, re.M)


def test_it_times_out_a_hanging_channel_without_delaying_another(
    svc: Service,
    clock: FakeClock,
    receiver: HttpReceiver,
    other_receiver: HttpReceiver,
    config: Config,
) -> None:
    hanging = other_receiver
    hanging.hang()
    slow = svc.create_channel("webhook", "slow", {"url_down": hanging.url + "/slow"})
    fast = svc.create_channel("webhook", "fast", {"url_down": receiver.url + "/fast"})
    check = svc.create_check(name=NAME, channels="*")
    ping(svc, check, "fail")
    loop = AlertLoop(svc, tick_seconds=60)
    try:
        started = time.monotonic()
        loop.run_once()
        hanging.wait_for(1)
        [request] = receiver.wait_for(1)
        assert request.path == "/fast"
        wait_until(lambda: delivery_row(config, fast.id)["state"] == "sent")
        # The healthy channel is done while the other one is still hanging.
        assert hanging.in_flight == 1
        assert time.monotonic() - started < SEND_TIMEOUT
        assert delivery_row(config, slow.id)["attempts"] == 0
        loop.run_once()  # one delivery in flight per channel: no second request
        assert len(hanging.requests) == 1

        wait_until(lambda: delivery_row(config, slow.id)["attempts"] == 1)
        row = delivery_row(config, slow.id)
        assert (row["state"], row["last_error"]) == (
            "pending", f"127.0.0.1 did not answer within {SEND_TIMEOUT:g} s"
        )  # fmt: skip
        assert db_time(row["next_attempt"]) == clock.now + retry_delay(1)
        [(_, ok, _, duration_ms)] = attempts(config, row["id"])
        assert not ok
        assert SEND_TIMEOUT * 1000 - 50 <= duration_ms < SEND_TIMEOUT * 1000 + 2000
        assert len(hanging.requests) == 1
    finally:
        loop.stop()


def test_it_gives_up_on_an_always_failing_channel_after_the_last_attempt(
    svc: Service,
    clock: FakeClock,
    receiver: HttpReceiver,
    other_receiver: HttpReceiver,
    config: Config,
) -> None:
    failing = other_receiver
    failing.always_fail(503)
    bad = svc.create_channel("webhook", "bad", {"url_down": failing.url + "/bad"})
    good = svc.create_channel("webhook", "good", {"url_down": receiver.url + "/good"})
    check = svc.create_check(name=NAME, channels="*")
    ping(svc, check, "fail")

    times = []
    for attempt in range(1, DELIVERY_MAX_ATTEMPTS + 1):
        due = svc.due_deliveries()
        assert [d.channel_id for d in due] == ([bad.id, good.id] if attempt == 1 else [bad.id])
        times.append(clock.now)
        deliver_due(svc)
        clock.advance(seconds=retry_delay(attempt).total_seconds())

    row = delivery_row(config, bad.id)
    assert (row["state"], row["attempts"], row["next_attempt"], row["last_error"]) == (
        "failed", DELIVERY_MAX_ATTEMPTS, None, "127.0.0.1 answered HTTP 503"
    )  # fmt: skip
    recorded = attempts(config, row["id"])
    assert [when for when, _, _, _ in recorded] == times
    assert all(not ok for _, ok, _, _ in recorded)
    assert len(failing.requests) == DELIVERY_MAX_ATTEMPTS
    clock.advance(days=30)
    assert svc.due_deliveries() == []
    assert len(failing.requests) == DELIVERY_MAX_ATTEMPTS

    good_row = delivery_row(config, good.id)
    assert (good_row["state"], good_row["attempts"]) == ("sent", 1)
    assert [r.path for r in receiver.requests] == ["/good"]


def test_it_delivers_to_a_healthy_channel_while_a_hanging_one_has_a_backlog(
    svc: Service,
    clock: FakeClock,
    receiver: HttpReceiver,
    other_receiver: HttpReceiver,
    config: Config,
) -> None:
    """An outage took many checks down at once; their only channel hangs (SPEC §2.3)."""
    hanging = other_receiver
    hanging.hang()
    slow = svc.create_channel("webhook", "slow", {"url_down": hanging.url + "/slow"})
    fast = svc.create_channel("webhook", "fast", {"url_down": receiver.url + "/fast"})
    for n in range(BACKLOG):
        ping(svc, svc.create_check(name=f"Job {n}", channels=[slow.id]), "fail")
    clock.advance(minutes=1)
    important = svc.create_check(name="Important", channels=[fast.id])
    ping(svc, important, "fail")
    assert query(config, "SELECT count(*) FROM deliveries")[0][0] == BACKLOG + 1

    loop = AlertLoop(svc, tick_seconds=60)
    try:
        started = time.monotonic()
        loop.run_once()
        hanging.wait_for(1)
        # Tick as the loop would, for twice the send timeout: the healthy channel
        # must not wait behind the hanging channel's queue.
        while not receiver.requests and time.monotonic() - started < 2 * SEND_TIMEOUT:
            loop.run_once()
            time.sleep(0.05)
        assert [r.path for r in receiver.requests] == ["/fast"]
        wait_until(lambda: delivery_row(config, fast.id)["state"] == "sent")
    finally:
        loop.stop()


def test_it_emails_an_alert_for_a_check_whose_name_has_a_line_break(
    svc: Service, smtp: SmtpReceiver, config: Config
) -> None:
    channel = svc.create_channel("email", "ops", {"to": "ops@example.org"})
    check = svc.create_check(name="Backup\nnightly", channels="*")  # the API accepts it
    ping(svc, check, "fail")
    outcomes = deliver_due(svc)
    assert [(o.ok, o.error) for o in outcomes] == [(True, "")]
    [mail] = smtp.wait_for(1)
    assert "Backup" in mail.message["Subject"] and "nightly" in mail.message["Subject"]
    assert delivery_row(config, channel.id)["state"] == "sent"


# -- secrets ---------------------------------------------------------------------

SECRETS = {
    "webhook_query": "whq-7c1e9f55b0a24e0d",
    "webhook_header": "whh-3b8d2a61c4f04e7a",
    "webhook_path": "whp-90ac4d2e1f6b4c33",
    "ntfy": "nty-5d2f7e18a9c34b61",
    "gotify": "gty-c3a14b9e7d2f4058",
    "discord": "dsc-18e6b2f0c9d74a3e",
    "slack": "slk-6f0d3c9a2b184e7d",
    "telegram": "tlg-a9e2c71b5d0f4386",
    "pushover_user": "pou-4e7b1d9c3a6f4025",
    "pushover_app": "poa-2c9f6e0a8b1d4d7c",
    "matrix": "mtx-e1b5a8c2f7d34960",
}


def secret_settings(url: str) -> list[tuple[str, dict[str, Any]]]:
    s = SECRETS
    return [
        ("webhook", {"url_down": f"{url}/hook?token={s['webhook_query']}",
                     "headers_down": {"Authorization": f"Bearer {s['webhook_header']}"},
                     "url_up": f"{url}/{s['webhook_path']}/up"}),
        ("ntfy", {"server": url, "topic": "t", "token": s["ntfy"]}),
        ("gotify", {"server": url, "token": s["gotify"]}),
        ("discord", {"webhook_url": f"{url}/api/webhooks/1/{s['discord']}"}),
        ("slack", {"webhook_url": f"{url}/services/T/B/{s['slack']}"}),
        ("telegram", {"bot_token": f"1:{s['telegram']}", "chat_id": "7", "api_base": url}),
        ("pushover", {"user_key": s["pushover_user"], "app_token": s["pushover_app"],
                      "api_base": url}),
        ("matrix", {"homeserver": url, "room_id": "!r:x", "access_token": s["matrix"]}),
    ]  # fmt: skip


def assert_no_secret(text: str) -> None:
    leaked = [name for name, secret in SECRETS.items() if secret in text]
    assert leaked == [], f"secrets {leaked} appear in: {text}"


def test_it_masks_secrets_in_api_answers_and_the_cli_listing(
    api: webtest.TestApp, receiver: HttpReceiver, cli: Callable[..., tuple[int, str, str]]
) -> None:
    ids = []
    for kind, settings in secret_settings(receiver.url):
        created = api.post_json("/v1/channels", {"kind": kind, "settings": settings}, status=201)
        assert_no_secret(created.text)
        ids.append(created.json["data"]["id"])
    listed = api.get("/v1/channels")
    assert_no_secret(listed.text)
    for channel_id in ids:
        assert_no_secret(api.get(f"/v1/channels/{channel_id}").text)
    patched = api.patch_json(f"/v1/channels/{ids[1]}", {"settings": {"token": SECRETS["ntfy"]}})
    assert_no_secret(patched.text)

    by_kind = {c["kind"]: c["settings"] for c in listed.json["data"]}
    host = f"http://127.0.0.1:{receiver.port}/…"
    assert by_kind["webhook"]["url_down"] == host
    assert by_kind["webhook"]["url_up"] == host
    assert by_kind["webhook"]["headers_down"] == {"Authorization": "Bear…"}
    assert by_kind["ntfy"]["token"] == "nty-…"
    assert by_kind["ntfy"]["topic"] == "t"  # not a secret: shown in full
    assert by_kind["discord"]["webhook_url"] == host
    assert by_kind["telegram"]["bot_token"] == "1:tl…"
    assert by_kind["telegram"]["chat_id"] == "7"

    code, out, err = cli("channel", "list")
    assert code == 0
    assert_no_secret(out + err)
    assert len([line for line in out.splitlines() if re.match(r"^\d+\s", line)]) == len(ids)


def test_it_never_logs_or_stores_a_secret_while_delivering_failing_or_testing(
    svc: Service,
    receiver: HttpReceiver,
    other_receiver: HttpReceiver,
    config: Config,
    api: webtest.TestApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    other_receiver.always_fail(500)
    channels = [
        svc.create_channel(kind, f"{kind} {n}", settings)
        for n, url in enumerate((receiver.url, other_receiver.url, "http://127.0.0.1:9"))
        for kind, settings in secret_settings(url)  # nothing listens on port 9
    ]
    check = svc.create_check(name=NAME, channels="*")
    ping(svc, check, "fail", body=b"boom")
    loop = AlertLoop(svc, tick_seconds=60)
    try:
        loop.run_once()  # one delivery per channel: all dispatched at once
        count = "SELECT count(*) FROM delivery_attempts"
        wait_until(lambda: query(config, count)[0][0] == len(channels))
    finally:
        loop.stop()
    errors = [r[0] for r in query(config, "SELECT error FROM delivery_attempts ORDER BY id")]
    assert sorted(set(errors)) == [
        "", "127.0.0.1 answered HTTP 500", "could not reach 127.0.0.1: ConnectionRefusedError"
    ]  # fmt: skip
    assert len(receiver.requests) == len(other_receiver.requests) == len(channels) // 3
    for channel in channels:
        assert_no_secret(json.dumps(api.post(f"/v1/channels/{channel.id}/test").json))
        assert_no_secret(api.get(f"/v1/channels/{channel.id}").text)
    assert caplog.text.count("alert check=") == len(channels)  # the loop logged each attempt
    assert_no_secret(caplog.text)
    assert_no_secret(" ".join(str(record.args) for record in caplog.records))


def test_it_keeps_secrets_out_of_errors_and_logs_when_a_url_is_malformed(
    svc: Service,
    receiver: HttpReceiver,
    config: Config,
    api: webtest.TestApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = SECRETS["webhook_query"]
    # A stray space (or a pasted token ending in a newline) puts a control
    # character in the request line; the error must still not repeat the URL.
    malformed = {
        "webhook": {"url_down": f"{receiver.url}/hook?msg=job down&token={secret}"},
        "telegram": {"bot_token": f"1:{SECRETS['telegram']}\n", "chat_id": "7",
                     "api_base": receiver.url},
    }  # fmt: skip
    # Saving such settings is refused, naming the setting but not its value...
    for kind, settings in malformed.items():
        with pytest.raises(InvalidInput) as refused:
            svc.create_channel(kind, "x", settings)
        assert_no_secret(str(refused.value.fields))
    # ...and a channel stored with them anyway (say, by an older pingd) still
    # fails without repeating them.
    hook = svc.create_channel("webhook", "hook", {"url_down": f"{receiver.url}/hook"})
    bot = svc.create_channel(
        "telegram", "bot", {"bot_token": "1:valid", "chat_id": "7", "api_base": receiver.url}
    )
    for channel, kind in ((hook, "webhook"), (bot, "telegram")):
        planted = dataclasses.replace(channel, settings={**channel.settings, **malformed[kind]})
        svc._store.write(functools.partial(channels_queries.update_channel, channel=planted))
    check = svc.create_check(name=NAME, channels="*")
    ping(svc, check, "fail")
    loop = AlertLoop(svc, tick_seconds=60)
    try:
        loop.run_once()
        wait_until(lambda: query(config, "SELECT count(*) FROM delivery_attempts")[0][0] == 2)
    finally:
        loop.stop()
    assert receiver.requests == []
    for channel in (hook, bot):
        row = delivery_row(config, channel.id)
        assert (row["state"], row["attempts"]) == ("pending", 1)
        assert_no_secret(row["last_error"])
        assert_no_secret(api.get(f"/v1/channels/{channel.id}").text)
        assert_no_secret(json.dumps(api.post(f"/v1/channels/{channel.id}/test").json))
    assert_no_secret(caplog.text)


# -- test notifications and the apprise extra ----------------------------------------


def test_it_returns_the_outcome_of_a_test_notification(
    api: webtest.TestApp,
    svc: Service,
    receiver: HttpReceiver,
    smtp: SmtpReceiver,
    config: Config,
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    hook = svc.create_channel("webhook", "hook", {"url_down": receiver.url + "/t/$STATUS"})
    mail = svc.create_channel("email", "mail", {"to": "ops@example.org"})

    response = api.post(f"/v1/channels/{hook.id}/test")
    assert response.status_int == 200
    data = response.json["data"]
    assert (data["ok"], data["error"]) == (True, "")
    assert isinstance(data["duration_ms"], int) and data["duration_ms"] >= 0
    [request] = receiver.requests
    assert request.path == "/t/test"

    assert api.post(f"/v1/channels/{mail.id}/test").json["data"]["ok"] is True
    [sent] = smtp.wait_for(1)
    assert sent.message["Subject"] == '"Test notification" is TEST'
    assert "This is a test notification sent by pingd." in sent.text()

    receiver.always_fail(502)
    data = api.post(f"/v1/channels/{hook.id}/test").json["data"]
    assert (data["ok"], data["error"]) == (False, "127.0.0.1 answered HTTP 502")
    assert query(config, "SELECT count(*) FROM deliveries")[0][0] == 0

    api.post("/v1/channels/999/test", status=404)
    code, _, err = cli("channel", "test", str(hook.id))
    assert (code, err.strip()) == (1, "pingd: error: test notification failed: "
                                      "127.0.0.1 answered HTTP 502")  # fmt: skip
    receiver.recover()
    code, out, _ = cli("channel", "test", str(hook.id))
    assert code == 0 and out.startswith("sent a test notification")


def test_it_refuses_an_apprise_channel_without_the_extra_naming_it(
    api: webtest.TestApp,
    svc: Service,
    monkeypatch: pytest.MonkeyPatch,
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # import apprise -> ImportError
    response = api.post_json(
        "/v1/channels", {"kind": "apprise", "settings": {"url": "mailto://u:p@example.org"}},
        status=422,
    )  # fmt: skip
    assert response.json["errorCode"] == "INVALID_INPUT"
    message = json.dumps(response.json)
    assert "apprise" in message and "pip install 'pingd[apprise]'" in message
    code, _, err = cli("channel", "add", "apprise", "--set", "url=mailto://u:p@example.org")
    assert code == 1 and "pingd[apprise]" in err
    assert svc.list_channels() == []
