"""Hostile clients against the real ``pingd serve`` process, over loopback (issue 5).

- Malformed HTTP on raw sockets (bad chunk sizes, truncated bodies, lying
  Content-Length, garbage request lines, 100 KB header lines, a NUL in the path)
  gets a 4xx or a closed connection, never a 500, and the server goes on
  answering pings.
- Slowloris: 200 connections that trickle a partial request do not starve a
  normal client (waitress reads requests in its event loop; ``connection_limit``
  1000, ``channel_timeout`` 30 s; see ``pingd.cli.serve.waitress_options``).
- A burst of 1,000 concurrent connections is served or refused cleanly, and every
  ping answered ``200 OK`` is in the database (SPEC §1.4).
- ``server.max_request_body`` is enforced for pings (SPEC §1.2: 413) and for the
  API, whose bodies are also capped at 64 KiB (413 in the SPEC §3.1 envelope).

Every server is started on 127.0.0.1 port 0 with a database in tmp_path and
stopped by its PID (tests/serverutil.py).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from serverutil import Server
from serverutil import add_check
from serverutil import api_key_from_banner
from serverutil import open_db_readonly
from serverutil import pings_of
from serverutil import start_server
from serverutil import stop_quietly

CLIENT_TIMEOUT_SECONDS = 10.0
FAST_ENOUGH_SECONDS = 5.0  # a generous bound: a normal ping beside hostile clients
CLOSED = 0  # stands for "the server closed the connection without an answer"
SERVER_LOG_PROBLEMS = ("Traceback", "database is locked", "unexpected error")

StartServer = Callable[..., Server]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[StartServer]:
    """Start ``pingd serve`` on tmp_path/pingd.db (ready when returned); stop all by PID."""
    started: list[Server] = []

    def start(env: Mapping[str, str] | None = None) -> Server:
        server = start_server(tmp_path, env=env, name=f"hostile{len(started)}")
        started.append(server)
        server.wait_ready(1)
        return server

    yield start
    for server in started:
        stop_quietly(server)


def address(server: Server) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def exchange(server: Server, payload: bytes, *, timeout: float = CLIENT_TIMEOUT_SECONDS) -> bytes:
    """Send raw bytes, close our sending side, and read until the server closes.

    A reset counts as a close. Raises TimeoutError if the server neither answers
    nor closes within ``timeout``: a hung connection is a failure.
    """
    deadline = time.monotonic() + timeout
    received = b""
    with socket.create_connection(address(server), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # The server gave up on us early; read what it said, if anything.
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk
    raise TimeoutError(f"no answer and no close within {timeout} s; got {received[:200]!r}")


def status_of(raw: bytes) -> int:
    """The status code of a raw response, or CLOSED for no response at all."""
    if not raw:
        return CLOSED
    assert raw.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), raw[:200]
    return int(raw.split(b" ", 2)[1])


def ping(server: Server, uuid: str, body: bytes = b"") -> tuple[int, bytes]:
    """One normal ping on a fresh connection; returns (status, body)."""
    conn = http.client.HTTPConnection(*address(server), timeout=CLIENT_TIMEOUT_SECONDS)
    try:
        conn.request("POST", f"/ping/{uuid}", body=body, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def ping_count(server: Server, uuid: str) -> int:
    with closing(open_db_readonly(server.db)) as conn:
        row = conn.execute("SELECT n_pings FROM checks WHERE uuid = ?", (uuid,)).fetchone()
    return int(row[0])


def assert_clean_log(server: Server) -> None:
    log = server.stderr()
    for problem in SERVER_LOG_PROBLEMS:
        assert problem not in log, f"{problem!r} in the server log:\n{log[-3000:]}"


# -- malformed HTTP -----------------------------------------------------------------

UUID = "{uuid}"  # replaced by a real check's uuid


def _post(headers: bytes, body: bytes = b"") -> bytes:
    return b"POST /ping/" + UUID.encode() + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body


_CHUNKED = b"Transfer-Encoding: chunked\r\n"
_CLIENT_ERROR = frozenset(range(400, 500))
_ERROR_OR_CLOSED = _CLIENT_ERROR | {CLOSED}

# (payload, the statuses it may get). CLOSED: the server drops the connection.
MALFORMED: dict[str, tuple[bytes, frozenset[int]]] = {
    "chunk size zz": (_post(_CHUNKED, b"zz\r\nhello\r\n0\r\n\r\n"), frozenset({400})),
    "negative chunk size": (_post(_CHUNKED, b"-5\r\nhello\r\n0\r\n\r\n"), frozenset({400})),
    "chunk size beyond any limit": (
        _post(_CHUNKED, b"ffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
        _ERROR_OR_CLOSED,
    ),
    "chunk longer than its size": (_post(_CHUNKED, b"2\r\nhello\r\n0\r\n\r\n"), frozenset({400})),
    "chunk size with a NUL extension": (
        _post(_CHUNKED, b"5;\x00\r\nhello\r\n0\r\n\r\n"),
        _ERROR_OR_CLOSED,
    ),
    "truncated chunked body": (_post(_CHUNKED, b"5\r\nhel"), _ERROR_OR_CLOSED),
    "chunked body without its last chunk": (_post(_CHUNKED, b"5\r\nhello\r\n"), _ERROR_OR_CLOSED),
    "Content-Length larger than the body": (
        _post(b"Content-Length: 100\r\n", b"hello"),
        _ERROR_OR_CLOSED,
    ),
    "negative Content-Length": (_post(b"Content-Length: -1\r\n", b"hello"), frozenset({400})),
    "Content-Length not a number": (_post(b"Content-Length: abc\r\n", b"hello"), frozenset({400})),
    "two different Content-Lengths": (
        _post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),
        frozenset({400}),
    ),
    "garbage request line": (b"\x00\x01\x02garbage\r\n\r\n", _ERROR_OR_CLOSED),
    "method alone": (b"GET\r\n\r\n", _ERROR_OR_CLOSED),
    "request line with four parts": (
        b"GET /ping/" + UUID.encode() + b" HTTP/1.1 extra\r\n\r\n",
        _ERROR_OR_CLOSED,
    ),
    "empty lines only": (b"\r\n\r\n\r\n", _ERROR_OR_CLOSED),
    "binary noise": (bytes(range(256)) * 16, _ERROR_OR_CLOSED),
    "request line of 100 KB": (
        b"GET /ping/" + b"a" * 100_000 + b" HTTP/1.1\r\n\r\n",
        frozenset({404, 414, 431, 400}),
    ),
    # A valid ping with one 100 KB header is under waitress's 256 KiB header limit.
    "header line of 100 KB": (
        b"GET /ping/" + UUID.encode() + b" HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
        frozenset({200, 431}),
    ),
    "header line of 300 KB": (
        b"GET /ping/" + UUID.encode() + b" HTTP/1.1\r\nX-Big: " + b"a" * 300_000 + b"\r\n\r\n",
        frozenset({431, 400}),
    ),
    "header without a colon": (_post(b"NoColonHere\r\n"), frozenset({400})),
    "header name with a space": (_post(b"Bad Name: x\r\n"), frozenset({400})),
    "NUL in the path": (b"GET /ping/ab\x00cd HTTP/1.1\r\nHost: x\r\n\r\n", _ERROR_OR_CLOSED),
    "NUL after the uuid": (
        b"GET /ping/" + UUID.encode() + b"\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        _ERROR_OR_CLOSED,
    ),
    "percent-encoded NUL": (
        b"GET /ping/" + UUID.encode() + b"%00 HTTP/1.1\r\nHost: x\r\n\r\n",
        frozenset({404}),
    ),
    "invalid percent escapes": (
        b"GET /ping/%zz%ff%c3 HTTP/1.1\r\nHost: x\r\n\r\n",
        frozenset({404}),
    ),
    "bare CR line ends": (
        b"GET /ping/" + UUID.encode() + b" HTTP/1.1\rHost: x\r\r",
        _ERROR_OR_CLOSED,
    ),
    # Framing a proxy and pingd could read two ways is refused (pingd/strict_http.py),
    # an unknown transfer coding too (RFC 9112 §6.1 would allow 501).
    "unknown transfer coding": (_post(b"Transfer-Encoding: gzip\r\n"), frozenset({400})),
    "Transfer-Encoding with Content-Length": (
        _post(b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n"),
        frozenset({400}),
    ),
    "Transfer-Encoding twice": (
        _post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
        frozenset({400}),
    ),
    "obfuscated Transfer-Encoding": (
        _post(b"Transfer-Encoding: xchunked\r\n", b"0\r\n\r\n"),
        frozenset({400}),
    ),
    "Transfer-Encoding with a space before its colon": (
        _post(b"Transfer-Encoding : chunked\r\n", b"0\r\n\r\n"),
        frozenset({400}),
    ),
    "a coding before chunked": (
        _post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"),
        frozenset({400}),
    ),
}


@pytest.fixture(scope="module")
def hostile_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """One server for all the malformed requests, with one check."""
    tmp = tmp_path_factory.mktemp("malformed")
    db = tmp / "pingd.db"
    uuid = add_check(tmp, db, "Target")
    server = start_server(tmp, db=db, name="malformed")
    try:
        server.wait_ready(1)
        yield server, uuid
    finally:
        stop_quietly(server)


@pytest.mark.parametrize("case", list(MALFORMED))
def test_it_answers_malformed_http_with_a_client_error_or_a_close(
    hostile_target: tuple[Server, str], case: str
) -> None:
    server, uuid = hostile_target
    payload, allowed = MALFORMED[case]

    before = ping_count(server, uuid)

    raw = exchange(server, payload.replace(UUID.encode(), uuid.encode()))

    status = status_of(raw)
    assert status in allowed, f"{case}: {raw[:300]!r}"
    assert b"Traceback" not in raw and b"Internal Server Error" not in raw
    # Only a request that was answered 200 OK was a ping; nothing half-read is stored.
    assert ping_count(server, uuid) == before + (status == 200)
    assert ping(server, uuid, b"after " + case.encode()) == (200, b"OK")
    assert server.proc.poll() is None
    assert_clean_log(server)


def test_it_survives_clients_that_abort_mid_request(hostile_target: tuple[Server, str]) -> None:
    server, uuid = hostile_target
    partials = [
        _post(_CHUNKED, b"5\r\nhel"),
        _post(b"Content-Length: 100000\r\n", b"x" * 5000),
        b"GET /ping/" + uuid.encode(),
        b"POST /v1/checks HTTP/1.1\r\nContent-Length: 50\r\n\r\n{",
    ]
    before = ping_count(server, uuid)
    for payload in partials:
        sock = socket.create_connection(address(server), timeout=CLIENT_TIMEOUT_SECONDS)
        sock.sendall(payload.replace(UUID.encode(), uuid.encode()))
        # SO_LINGER 0: close with a reset, the rudest way to leave.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

    assert ping(server, uuid, b"after the aborts") == (200, b"OK")
    assert ping_count(server, uuid) == before + 1
    assert_clean_log(server)


# -- slowloris ----------------------------------------------------------------------

SLOW_CLIENTS = 200
SLOW_SECONDS = 4.0
TRICKLE_EVERY_SECONDS = 0.25
NORMAL_PINGS = 20


def test_it_keeps_answering_pings_while_200_slow_clients_trickle(
    tmp_path: Path, serve: StartServer
) -> None:
    uuid = add_check(tmp_path, tmp_path / "pingd.db", "Beside slowloris")
    server = serve()
    slow: list[socket.socket] = []
    try:
        for index in range(SLOW_CLIENTS):
            sock = socket.create_connection(address(server), timeout=CLIENT_TIMEOUT_SECONDS)
            if index % 2:  # headers never finish
                sock.sendall(f"GET /ping/{uuid} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode())
            else:  # headers done, the body never does
                sock.sendall(
                    f"POST /ping/{uuid} HTTP/1.1\r\nContent-Length: 100000\r\n\r\n".encode()
                )
            slow.append(sock)

        stop = threading.Event()
        trickled = Counter[str]()

        def trickle() -> None:
            while not stop.wait(TRICKLE_EVERY_SECONDS):
                for sock in slow:
                    try:
                        sock.send(b"a")
                        trickled["sent"] += 1
                    except OSError:
                        trickled["dropped"] += 1

        trickler = threading.Thread(target=trickle, name="slowloris", daemon=True)
        trickler.start()
        latencies = []
        answers = []
        deadline = time.monotonic() + SLOW_SECONDS
        try:
            for index in range(NORMAL_PINGS):
                started = time.monotonic()
                answers.append(ping(server, uuid, f"normal {index}".encode()))
                latencies.append(time.monotonic() - started)
                time.sleep(max(0.0, min(0.2, deadline - time.monotonic())))
        finally:
            stop.set()
            trickler.join(timeout=CLIENT_TIMEOUT_SECONDS)
        print(
            f"slowloris: {SLOW_CLIENTS} slow clients, {trickled['sent']} bytes trickled"
            f" ({trickled['dropped']} refused);"
            f" normal pings max {max(latencies) * 1000:.1f} ms"
        )
        assert answers == [(200, b"OK")] * NORMAL_PINGS
        assert max(latencies) < FAST_ENOUGH_SECONDS, latencies
    finally:
        for sock in slow:
            sock.close()

    assert ping(server, uuid, b"after slowloris") == (200, b"OK")
    with closing(open_db_readonly(server.db)) as conn:
        bodies = {bytes(row[0]) for row in conn.execute("SELECT body FROM pings")}
    assert {f"normal {index}".encode() for index in range(NORMAL_PINGS)} <= bodies
    assert_clean_log(server)


# -- a burst of 1,000 connections -------------------------------------------------------

BURST = 1000
BURST_CHECKS = 4
BURST_TIMEOUT_SECONDS = 30.0


@dataclass
class BurstOutcome:
    ok: list[bytes]
    clean: Counter[str]  # refused, reset or closed without an answer
    bad: list[str]  # anything else: a wrong answer or a hung client


async def _one_burst_ping(host: str, port: int, path: str, body: bytes) -> tuple[str, bytes]:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except ConnectionRefusedError:
        return "refused", b""
    try:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        writer.write(request)
        await writer.drain()
        raw = await reader.read()  # until the server closes (Connection: close)
    except (ConnectionResetError, BrokenPipeError):
        return "reset", b""
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
    if not raw:
        return "closed", b""
    head, _, payload = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0].decode("latin-1"), payload


async def _burst(server: Server, uuids: list[str]) -> BurstOutcome:
    host, port = address(server)
    outcome = BurstOutcome([], Counter(), [])

    async def one(index: int) -> None:
        body = f"burst-{index}".encode()
        path = f"/ping/{uuids[index % len(uuids)]}"
        try:
            status, payload = await asyncio.wait_for(
                _one_burst_ping(host, port, path, body), BURST_TIMEOUT_SECONDS
            )
        except TimeoutError:
            outcome.bad.append(f"{index}: no answer within {BURST_TIMEOUT_SECONDS} s")
            return
        if status in ("refused", "reset", "closed"):
            outcome.clean[status] += 1
        elif status.endswith(" 200 OK") and payload == b"OK":
            outcome.ok.append(body)
        else:
            outcome.bad.append(f"{index}: {status} {payload[:100]!r}")

    await asyncio.gather(*(one(index) for index in range(BURST)))
    return outcome


def test_it_serves_or_cleanly_refuses_a_burst_of_1000_connections(
    tmp_path: Path, serve: StartServer
) -> None:
    db = tmp_path / "pingd.db"
    uuids = [add_check(tmp_path, db, f"Burst {index}") for index in range(BURST_CHECKS)]
    server = serve(env={"PINGD_STORAGE_PING_LOG_LIMIT": "100000"})

    started = time.monotonic()
    outcome = asyncio.run(_burst(server, uuids))
    elapsed = time.monotonic() - started

    print(
        f"burst: {BURST} connections in {elapsed:.2f} s: {len(outcome.ok)} OK,"
        f" {dict(outcome.clean)} refused/reset, {len(outcome.bad)} bad"
    )
    assert outcome.bad == []
    assert len(outcome.ok) + sum(outcome.clean.values()) == BURST
    assert outcome.ok, "not one ping of the burst was served"
    with closing(open_db_readonly(db)) as conn:
        stored = {bytes(row[0]) for row in conn.execute("SELECT body FROM pings")}
    missing = set(outcome.ok) - stored
    assert not missing, f"{len(missing)} pings answered OK are not stored: {sorted(missing)[:5]}"
    assert ping(server, uuids[0], b"after the burst") == (200, b"OK")
    assert_clean_log(server)


# -- server.max_request_body ----------------------------------------------------------

MAX_BODY = 2000
MAX_API_BODY = 65536


def _stored_sizes(db: Path, uuid: str) -> list[int]:
    return [int(ping["body_size"]) for ping in pings_of(db, uuid)]


def _chunked(body: bytes, size: int = 700) -> bytes:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"


def _response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ", 2)[1]), headers, body


def _json_body(size: int) -> bytes:
    """A valid new check as JSON, padded with insignificant whitespace to ``size`` bytes."""
    body = b'{"name": "Padded"}'
    return body[:-1] + b" " * (size - len(body)) + b"}"


def test_it_enforces_max_request_body_on_pings(tmp_path: Path, serve: StartServer) -> None:
    db = tmp_path / "pingd.db"
    uuid = add_check(tmp_path, db, "Body limit")
    server = serve(
        env={
            "PINGD_SERVER_MAX_REQUEST_BODY": str(MAX_BODY),
            "PINGD_STORAGE_PING_BODY_LIMIT": "1000",
        }
    )
    path = f"/ping/{uuid}".encode()

    def post(headers: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
        raw = exchange(
            server, b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body
        )
        assert raw, "the server closed the connection without an answer"
        return _response(raw)

    at_limit = b"a" * MAX_BODY
    over = b"a" * (MAX_BODY + 1)
    status, _, body = post(f"Content-Length: {MAX_BODY}\r\n".encode(), at_limit)
    assert (status, body) == (200, b"OK")
    status, headers, body = post(f"Content-Length: {MAX_BODY + 1}\r\n".encode(), over)
    assert (status, body) == (413, b"request body too large")
    assert headers["content-type"] == "text/plain; charset=utf-8"
    status, _, body = post(_CHUNKED, _chunked(at_limit))
    assert (status, body) == (200, b"OK")
    status, _, body = post(_CHUNKED, _chunked(over))
    assert (status, body) == (413, b"request body too large")
    # Far over the limit, waitress refuses before pingd sees it (SPEC §1.4: "413 (server's)"),
    # in pingd's words (pingd/strict_http.py), not waitress's.
    huge = b"a" * (MAX_BODY * 2 + 100_000)
    status, _, body = post(f"Content-Length: {len(huge)}\r\n".encode(), huge)
    assert (status, body) == (413, b"request body too large")
    status, _, body = post(_CHUNKED, _chunked(huge, 50_000))
    assert (status, body) == (413, b"request body too large")

    assert _stored_sizes(db, uuid) == [MAX_BODY, MAX_BODY]
    assert ping(server, uuid) == (200, b"OK")
    assert_clean_log(server)


SMALL_LIMITS = {
    "PINGD_SERVER_MAX_REQUEST_BODY": str(MAX_BODY),
    "PINGD_STORAGE_PING_BODY_LIMIT": "1000",
    "PINGD_API_BURST": "1000",
    "PINGD_API_RATE_PER_SECOND": "1000",
}


def post_check(
    server: Server, body: bytes, *, chunked: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """POST /v1/checks on a raw socket with the banner's API key; (status, headers, body)."""
    key = api_key_from_banner(server.stdout())
    framing = _CHUNKED if chunked else f"Content-Length: {len(body)}\r\n".encode()
    raw = exchange(
        server,
        b"POST /v1/checks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"X-Api-Key: {key}\r\n".encode()
        + framing
        + b"\r\n"
        + (_chunked(body) if chunked else body),
    )
    assert raw, "the server closed the connection without an answer"
    return _response(raw)


def assert_too_large(answer: tuple[int, dict[str, str], bytes]) -> None:
    """A 413 in the SPEC §3.1 envelope."""
    status, headers, body = answer
    assert status == 413, body[:300]
    assert headers["content-type"] == "application/json", headers
    data = json.loads(body)
    assert data["errorCode"] == "PAYLOAD_TOO_LARGE", data
    assert data["requestId"] == headers["x-request-id"]


def check_names(server: Server) -> list[str]:
    with closing(open_db_readonly(server.db)) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM checks")]


def test_it_caps_api_bodies_at_64_kib_whatever_max_request_body_says(
    serve: StartServer,
) -> None:
    server = serve(env=SMALL_LIMITS)

    assert_too_large(post_check(server, _json_body(MAX_API_BODY + 1)))
    assert_too_large(post_check(server, _json_body(MAX_API_BODY + 1), chunked=True))
    # Far over every limit waitress refuses before pingd sees the request.
    status, _, _ = post_check(server, _json_body(200_000))
    assert status == 413

    assert check_names(server) == []
    assert_clean_log(server)


def test_it_enforces_a_small_max_request_body_on_the_api_too(serve: StartServer) -> None:
    server = serve(env=SMALL_LIMITS)

    status, _, body = post_check(server, _json_body(MAX_BODY))
    assert status == 201, body[:300]
    # README "Configuration" and pingd.config: server.max_request_body is the
    # "largest request body in bytes; larger ones get 413" -- the server's, not
    # only the Pinging API's.
    assert_too_large(post_check(server, _json_body(MAX_BODY + 1)))
    assert_too_large(post_check(server, _json_body(MAX_BODY + 1), chunked=True))

    assert check_names(server) == ["Padded"]
    assert_clean_log(server)


def test_it_caps_api_bodies_at_64_kib_by_default(tmp_path: Path, serve: StartServer) -> None:
    server = serve(env={"PINGD_API_BURST": "1000", "PINGD_API_RATE_PER_SECOND": "1000"})
    key = api_key_from_banner(server.stdout())
    conn = http.client.HTTPConnection(*address(server), timeout=CLIENT_TIMEOUT_SECONDS)
    try:
        answers = []
        for size in (MAX_API_BODY, MAX_API_BODY + 1, 300_000):
            conn.request(
                "POST",
                "/v1/checks",
                body=_json_body(size),
                headers={"X-Api-Key": key, "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            payload = json.loads(response.read())
            answers.append((response.status, payload.get("errorCode")))
            assert payload["requestId"] == response.getheader("X-Request-Id")
    finally:
        conn.close()
    assert answers == [(201, None), (413, "PAYLOAD_TOO_LARGE"), (413, "PAYLOAD_TOO_LARGE")]
    assert_clean_log(server)
