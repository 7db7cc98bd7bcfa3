"""The ping lane (pingd/server.py) over the real ``pingd serve``, on loopback.

Pings skip waitress's worker pool: the writer parses them before its group
commit and the event loop answers them after. These tests pin what that must
not change: the bytes of every answer (compared with the same request served
by the worker pool, which waitress uses for a path written ``//ping/…``), the
order of pipelined answers on one connection, the trusted proxy's headers,
and the rule that an answered ping is a stored one, also when clients vanish
or the server stops under load. Each test runs with the lane off too
(``server.ping_lane = false``), where every request takes the worker pool.
"""

from __future__ import annotations

import email.utils
import json
import re
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC
from datetime import datetime
from pathlib import Path

import falcon.testing
import pytest
from serverutil import Server
from serverutil import add_check
from serverutil import api_key_from_banner
from serverutil import open_db_readonly
from serverutil import ping_key_from_banner
from serverutil import pings_of
from serverutil import running_server

from pingd.app import create_app
from pingd.app import make_ping_router
from pingd.config import Config
from pingd.errors import NotFound
from pingd.ping_routes import COMMITTED
from pingd.ping_routes import Committed
from pingd.server import SuccessAnswers
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.writer.store import Store

SOCKET_TIMEOUT_SECONDS = 10.0
LOAD_SECONDS = 1.5


@pytest.fixture(params=["lane", "no-lane"])
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    # Every test runs twice: with the lane, and with ``server.ping_lane``
    # off, where waitress's worker threads serve pings as documented
    # (pingd.server.create_plain_server). Both must keep the same promises.
    env = {"PINGD_SERVER_TRUSTED_PROXY": "127.0.0.1"}
    if request.param == "no-lane":
        env["PINGD_SERVER_PING_LANE"] = "false"
    with running_server(tmp_path, env=env) as running:
        yield running


def address(server: Server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def test_the_lane_setting_reaches_the_server(
    server: Server, request: pytest.FixtureRequest
) -> None:
    lane_off = "server.ping_lane is off" in server.stderr()
    assert lane_off == (request.node.callspec.params["server"] == "no-lane")


def exchange(server: Server, raw: bytes, methods: tuple[str, ...] = ("GET",)) -> list[bytes]:
    """Send raw bytes on one connection and read one whole response per method."""
    with socket.create_connection(address(server), timeout=SOCKET_TIMEOUT_SECONDS) as sock:
        sock.sendall(raw)
        return read_responses(sock, methods)


def read_responses(sock: socket.socket, methods: tuple[str, ...] = ("GET",)) -> list[bytes]:
    """Read one response per request method (a HEAD answer has no body)."""
    buffer = b""
    responses: list[bytes] = []
    while len(responses) < len(methods):
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buffer[:head_end].decode("latin-1")
            match = re.search(r"(?im)^content-length:\s*(\d+)", head)
            has_body = methods[len(responses)] != "HEAD" and " 204 " not in head.split("\r\n")[0]
            length = int(match.group(1)) if match and has_body else 0
            end = head_end + 4 + length
            if len(buffer) >= end:
                responses.append(buffer[:end])
                buffer = buffer[end:]
                continue
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {len(responses)} responses")
        buffer += chunk
    return responses


def without_date(response: bytes) -> bytes:
    return re.sub(rb"(?im)^date: [^\r]*\r\n", b"", response)


def assert_one_current_date(response: bytes) -> None:
    dates = re.findall(rb"(?im)^date: ([^\r]*)\r\n", response.partition(b"\r\n\r\n")[0])
    assert len(dates) == 1, response
    sent = email.utils.parsedate_to_datetime(dates[0].decode())
    assert abs((sent - datetime.now(UTC)).total_seconds()) < 5


def status_and_body(response: bytes) -> tuple[str, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0].decode(), body


def stored_pings(db: Path, uuid: str) -> list[tuple[int, str, str, bytes]]:
    return [(p["n"], p["kind"], p["remote_addr"], bytes(p["body"])) for p in pings_of(db, uuid)]


def n_pings(db: Path, uuid: str) -> int:
    with closing(open_db_readonly(db)) as conn:
        row = conn.execute("SELECT n_pings FROM checks WHERE uuid = ?", (uuid,)).fetchone()
    return int(row[0])


# Requests whose answers must not depend on the path they took. Each is sent
# as /ping/… (the lane) and as //ping/… (the worker pool; waitress gives the
# app the same PATH_INFO for both).
SAME_ANSWER_CASES = {
    "success": ("GET", "{uuid}", b""),
    "fail with body": ("POST", "{uuid}/fail", b"disk full"),
    "exit status": ("GET", "{uuid}/3", b""),
    "exit status out of range": ("GET", "{uuid}/256", b""),
    "bad rid": ("GET", "{uuid}/start?rid=nonsense", b""),
    "unknown uuid": ("GET", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", b""),
    "bad path": ("GET", "not/a/ping/at/all", b""),
    "slug": ("GET", "{key}/backup", b""),
    "unknown slug": ("PUT", "{key}/nope", b""),
    "uppercase slug": ("GET", "{key}/Backup", b""),
    "created by slug": ("HEAD", "{key}/new-{which}?create=1", b""),
}


@pytest.mark.parametrize("case", SAME_ANSWER_CASES, ids=list(SAME_ANSWER_CASES))
def test_it_answers_a_ping_with_the_same_bytes_as_the_worker_pool(
    server: Server, tmp_path: Path, case: str
) -> None:
    uuid = add_check(tmp_path, server.db, "backup")
    key = ping_key_from_banner(server.stdout() + server.stderr())
    method, target, body = SAME_ANSWER_CASES[case]
    answers = []
    # The lane twice: the app renders its first success answer of a kind and
    # the lane replays it after that (SuccessAnswers); both must match.
    for which, prefix in (("lane", "/ping/"), ("lane-again", "/ping/"), ("pool", "//ping/")):
        path = prefix + target.format(uuid=uuid, key=key, which=which)
        answer = send_one(server, method, path, body)
        assert_one_current_date(answer)
        answers.append(without_date(answer))

    lane, lane_again, pool = answers
    assert lane == lane_again == pool
    assert lane.startswith(b"HTTP/1.1 ")


def send_one(server: Server, method: str, path: str, body: bytes, version: str = "1.1") -> bytes:
    raw = (
        f"{method} {path} HTTP/{version}\r\nHost: pingd.test\r\nUser-Agent: lane-test\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    return exchange(server, raw, (method,))[0]


def test_replayed_answers_stay_those_of_the_app_whatever_the_order_of_kinds(
    server: Server, tmp_path: Path
) -> None:
    uuid = add_check(tmp_path, server.db, "backup")
    key = ping_key_from_banner(server.stdout() + server.stderr())
    kinds = [
        ("GET", "{uuid}", b"", "1.1"),
        ("HEAD", "{uuid}/log", b"", "1.1"),
        ("HEAD", "{key}/made-{n}?create=1", b"", "1.1"),
        ("POST", "{key}/made-{n}?create=1", b"body", "1.0"),
        ("POST", "{uuid}/fail", b"body", "1.0"),
        ("PUT", "{uuid}/0", b"", "1.1"),
        ("GET", "{uuid}/start?rid=nonsense", b"", "1.1"),
    ]
    n = 0
    for order in (kinds, kinds[::-1], kinds[1::2] + kinds[::2]):
        for method, target, body, version in order:
            answers = []
            for prefix in ("/ping/", "//ping/"):
                n += 1
                path = prefix + target.format(uuid=uuid, key=key, n=n)
                answers.append(without_date(send_one(server, method, path, body, version)))
            lane, pool = answers
            assert lane == pool, (method, target, version)
    # 4 kinds stored by UUID (the bad rid is refused), 3 orders, lane and pool.
    assert n_pings(server.db, uuid) == 24


def test_it_records_a_ping_the_same_way_on_either_path(server: Server, tmp_path: Path) -> None:
    uuid = add_check(tmp_path, server.db, "backup")
    for prefix in ("/ping/", "//ping/"):
        raw = (
            f"POST {prefix}{uuid}/fail HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n"
            "Content-Length: 4\r\n\r\nboom"
        ).encode()
        assert status_and_body(exchange(server, raw)[0]) == ("HTTP/1.1 200 OK", b"OK")

    assert stored_pings(server.db, uuid) == [
        (1, "fail", "203.0.113.9", b"boom"),
        (2, "fail", "203.0.113.9", b"boom"),
    ]


def test_it_answers_pipelined_pings_and_api_calls_in_order(server: Server, tmp_path: Path) -> None:
    uuid = add_check(tmp_path, server.db, "backup")
    api_key = api_key_from_banner(server.stdout() + server.stderr())
    requests = [
        f"GET /ping/{uuid}/start HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET /v1/checks/{uuid} HTTP/1.1\r\nHost: x\r\nx-api-key: {api_key}\r\n\r\n",
        f"POST /ping/{uuid} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok",
        "GET /ping/3f2504e0-4f89-41d3-9a0c-0305e82c3301 HTTP/1.1\r\nHost: x\r\n\r\n",
        f"GET /v1/checks/{uuid} HTTP/1.1\r\nHost: x\r\nx-api-key: {api_key}\r\n\r\n",
        f"HEAD /ping/{uuid}/log HTTP/1.1\r\nHost: x\r\n\r\n",
    ]

    methods = tuple(request.split(" ", 1)[0] for request in requests)
    responses = exchange(server, "".join(requests).encode(), methods)

    answers = [status_and_body(response) for response in responses]
    assert answers[0] == ("HTTP/1.1 200 OK", b"OK")
    assert answers[2] == ("HTTP/1.1 200 OK", b"OK")
    assert answers[3] == ("HTTP/1.1 404 Not Found", b"not found")
    assert answers[5] == ("HTTP/1.1 200 OK", b"")
    # Each API answer sees exactly the pings answered before it.
    first, second = (json.loads(answers[i][1])["data"] for i in (1, 4))
    assert (first["status"], first["n_pings"]) == ("started", 1)
    assert (second["status"], second["n_pings"]) == ("up", 2)
    assert [kind for _, kind, _, _ in stored_pings(server.db, uuid)] == ["start", "success", "log"]


def test_it_answers_400_to_a_malformed_forwarded_header_from_the_proxy(
    server: Server, tmp_path: Path
) -> None:
    uuid = add_check(tmp_path, server.db, "backup")
    raw = f"GET /ping/{uuid} HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: gopher:\r\n\r\n".encode()

    status, _ = status_and_body(exchange(server, raw)[0])

    assert status == "HTTP/1.1 400 Bad Request"
    assert stored_pings(server.db, uuid) == []


def test_it_stores_every_ping_it_answers_while_clients_vanish(
    server: Server, tmp_path: Path
) -> None:
    uuid = add_check(tmp_path, server.db, "backup")
    raw = f"GET /ping/{uuid} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    answered = 0
    for i in range(300):
        with socket.create_connection(address(server), timeout=SOCKET_TIMEOUT_SECONDS) as sock:
            sock.sendall(raw)
            if i % 3:
                # Gone before the answer: with SO_LINGER 0 the close is a reset.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                continue
            assert status_and_body(read_responses(sock)[0]) == ("HTTP/1.1 200 OK", b"OK")
            answered += 1

    # The server still answers, and stored at least every ping it answered.
    assert status_and_body(exchange(server, raw)[0]) == ("HTTP/1.1 200 OK", b"OK")
    assert answered + 1 <= n_pings(server.db, uuid) <= 301
    assert "Traceback" not in server.stderr()


def ping_until(server: Server, uuid: str, stop: threading.Event, answered: list[int]) -> None:
    """Ping over one keep-alive connection until told to stop or the server goes."""
    raw = f"GET /ping/{uuid} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    count = 0
    try:
        with socket.create_connection(address(server), timeout=SOCKET_TIMEOUT_SECONDS) as sock:
            while not stop.is_set():
                sock.sendall(raw)
                if status_and_body(read_responses(sock)[0]) != ("HTTP/1.1 200 OK", b"OK"):
                    break
                count += 1
    except (OSError, AssertionError):
        pass  # The server stopped mid-request: that ping was not answered.
    answered.append(count)


def test_it_stops_under_load_without_losing_an_answered_ping(
    server: Server, tmp_path: Path
) -> None:
    uuid = add_check(tmp_path, server.db, "backup")
    stop = threading.Event()
    answered: list[int] = []
    clients = [
        threading.Thread(target=ping_until, args=(server, uuid, stop, answered)) for _ in range(8)
    ]
    for client in clients:
        client.start()
    time.sleep(LOAD_SECONDS)

    server.proc.send_signal(signal.SIGTERM)
    status = server.proc.wait(timeout=SOCKET_TIMEOUT_SECONDS)
    stop.set()
    for client in clients:
        client.join(timeout=SOCKET_TIMEOUT_SECONDS)

    assert status == 0
    assert sum(answered) > 0
    assert n_pings(server.db, uuid) >= sum(answered)
    assert "Traceback" not in server.stderr()


def test_it_numbers_concurrent_pings_to_many_checks_without_a_gap(
    server: Server, tmp_path: Path
) -> None:
    uuids = [add_check(tmp_path, server.db, f"job {i}") for i in range(4)]
    stop = threading.Event()
    answered: dict[str, list[int]] = {uuid: [] for uuid in uuids}
    clients = [
        threading.Thread(target=ping_until, args=(server, uuid, stop, answered[uuid]))
        for uuid in uuids
        for _ in range(3)
    ]
    for client in clients:
        client.start()
    time.sleep(LOAD_SECONDS)
    stop.set()
    for client in clients:
        client.join(timeout=SOCKET_TIMEOUT_SECONDS)

    for uuid in uuids:
        total = sum(answered[uuid])
        numbers = [n for n, _, _, _ in stored_pings(server.db, uuid)]
        assert n_pings(server.db, uuid) == total > 0
        # The log keeps the newest 100, numbered without a gap.
        assert numbers == list(range(max(1, total - 99), total + 1))


def test_only_the_request_that_carries_an_outcome_is_answered_with_it(
    config: Config, store: Store, service: Service
) -> None:
    # In process, with the real app: the lane hands the app a committed
    # outcome in one request's environ. A replayed answer and a learned one
    # both answer that request alone; the next request on the same thread
    # (a pipelined one, say) is recorded anew.
    router = make_ping_router(config, service)
    answers = SuccessAnswers(create_app(config, store=store, service=service, ping_router=router))
    check = service.create_check(name="backup")

    def serve(method: str = "GET", committed: Committed | None = None) -> str:
        started: list[str] = []
        environ = falcon.testing.create_environ(path=f"/ping/{check.uuid}", method=method)
        if committed is not None:
            environ[COMMITTED] = committed
        b"".join(answers(environ, lambda status, headers, exc_info=None: started.append(status)))
        return started[0]

    result = service.record_ping(
        PingRequest(action="success", method="GET", scheme="http", remote_addr="127.0.0.1",
                    ua="t", body=b"", body_size=0, uuid=check.uuid)
    )  # fmt: skip
    for _ in range(2):  # learned, then replayed
        assert serve(committed=Committed(result, None)) == "200 OK"
        assert serve("HEAD") == "200 OK"  # a fresh request: recorded anew
    assert service.find_check(check.uuid).n_pings == 3
    # An error outcome is the app's to render, and records nothing.
    assert serve(committed=Committed(None, NotFound())) == "404 Not Found"
    assert service.find_check(check.uuid).n_pings == 3
