"""End-to-end: the real ``pingd serve`` process, real clients, over loopback.

Each test starts its own server (port 0, a database in tmp_path) and talks to
it with the tools users ping from: curl, GNU wget, BusyBox wget, raw sockets
and urllib. What the server stored is read back from the SQLite file
(read-only) or with ``pingd check show``.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from serverutil import Server
from serverutil import add_check
from serverutil import api_key_from_banner
from serverutil import clean_env
from serverutil import open_db_readonly
from serverutil import ping_key_from_banner
from serverutil import pings_of
from serverutil import require_program
from serverutil import run_cli
from serverutil import start_server
from serverutil import stop_quietly

CLIENT_TIMEOUT_SECONDS = 20.0
PING_HEADERS = ("content-type", "access-control-allow-origin", "cache-control", "ping-body-limit")

StartServer = Callable[..., Server]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[StartServer]:
    """Start ``pingd serve`` in tmp_path (ready when returned); stop every one afterwards."""
    started: list[Server] = []

    def start(
        *,
        listen: Sequence[str] = ("127.0.0.1:0",),
        env: Mapping[str, str] | None = None,
        db: Path | None = None,
    ) -> Server:
        server = start_server(tmp_path, db=db, listen=listen, env=env)
        started.append(server)
        server.wait_ready(len(listen))
        return server

    yield start
    for server in started:
        stop_quietly(server)


# -- helpers -------------------------------------------------------------------


def run_client(*command: str) -> subprocess.CompletedProcess[bytes]:
    """Run a client tool (bounded), without proxy or PINGD_* variables.

    A tool that is not installed skips the test (fails it under CI=true).
    """
    return subprocess.run(
        [require_program(command[0]), *command[1:]],
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=CLIENT_TIMEOUT_SECONDS,
        check=False,
    )


def curl_status(*args: str) -> tuple[int, bytes]:
    """Run curl (no -f) and return the HTTP status and the response body."""
    result = run_client("curl", "-sS", "-m", "10", "-w", "\n%{http_code}", *args)
    assert result.returncode == 0, result.stderr
    body, _, code = result.stdout.rpartition(b"\n")
    return int(code), body


def checks_with_slug(db: Path, slug: str) -> list[sqlite3.Row]:
    with closing(open_db_readonly(db)) as conn:
        return conn.execute("SELECT * FROM checks WHERE slug = ?", (slug,)).fetchall()


def only_ping(db: Path, uuid: str) -> sqlite3.Row:
    pings = pings_of(db, uuid)
    assert len(pings) == 1, [dict(p) for p in pings]
    return pings[0]


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def parse_headers(raw: bytes) -> tuple[str, dict[str, str]]:
    """Split a response head into its status line and lower-cased headers."""
    lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def assert_one_line_error(stderr: str, *needles: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("pingd: error: "), stderr
    for needle in needles:
        assert needle in lines[0], stderr
    assert "Traceback" not in stderr


# -- clients ---------------------------------------------------------------------


def test_it_answers_curl_with_ok(serve: StartServer, tmp_path: Path) -> None:
    server = serve()
    uuid = add_check(tmp_path, server.db, "Backup")

    result = run_client("curl", "-fsS", "-m", "10", "--retry", "5", f"{server.url}/ping/{uuid}")

    assert result.returncode == 0, result.stderr
    assert result.stdout == b"OK"
    ping = only_ping(server.db, uuid)
    assert (ping["kind"], ping["method"], ping["remote_addr"]) == ("success", "GET", "127.0.0.1")
    assert ping["ua"].startswith("curl/")


def test_it_answers_gnu_wget_with_ok(serve: StartServer, tmp_path: Path) -> None:
    server = serve()
    uuid = add_check(tmp_path, server.db, "Backup")

    result = run_client("wget", "-q", "-O-", f"{server.url}/ping/{uuid}")

    assert result.returncode == 0, result.stderr
    assert result.stdout == b"OK"
    ping = only_ping(server.db, uuid)
    assert (ping["kind"], ping["method"]) == ("success", "GET")
    assert ping["ua"].startswith("Wget/")


def test_it_answers_busybox_wget_with_ok(serve: StartServer, tmp_path: Path) -> None:
    server = serve()
    uuid = add_check(tmp_path, server.db, "Backup")

    result = run_client("busybox", "wget", "-q", "-O", "-", f"{server.url}/ping/{uuid}")

    assert result.returncode == 0, result.stderr
    assert result.stdout == b"OK"
    ping = only_ping(server.db, uuid)
    assert (ping["kind"], ping["method"], ping["body"]) == ("success", "GET", b"")


def test_it_records_a_busybox_wget_fail_post_with_its_body(
    serve: StartServer, tmp_path: Path
) -> None:
    server = serve()
    uuid = add_check(tmp_path, server.db, "Backup")

    result = run_client(
        "busybox", "wget", "-q", "-O", "-", "--post-data", "x", f"{server.url}/ping/{uuid}/fail"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == b"OK"
    ping = only_ping(server.db, uuid)
    assert (ping["kind"], ping["method"]) == ("fail", "POST")
    assert (bytes(ping["body"]), ping["body_size"]) == (b"x", 1)
    shown = run_cli(tmp_path, "--db", str(server.db), "check", "show", uuid)
    assert shown.returncode == 0, shown.stderr
    assert "status:    down" in shown.stdout


def test_it_pings_by_slug_with_curl(serve: StartServer, tmp_path: Path) -> None:
    server = serve()
    ping_key = ping_key_from_banner(server.stdout())
    uuid = add_check(tmp_path, server.db, "Nightly Backup")

    ok = run_client("curl", "-fsS", "-m", "10", f"{server.url}/ping/{ping_key}/nightly-backup")
    started = run_client(
        "curl", "-fsS", "-m", "10", f"{server.url}/ping/{ping_key}/nightly-backup/start"
    )

    assert (ok.returncode, ok.stdout) == (0, b"OK"), ok.stderr
    assert (started.returncode, started.stdout) == (0, b"OK"), started.stderr
    assert [p["kind"] for p in pings_of(server.db, uuid)] == ["success", "start"]
    assert curl_status(f"{server.url}/ping/{ping_key}/no-such-check") == (404, b"not found")


def test_it_creates_a_check_by_slug_with_create_1(serve: StartServer, tmp_path: Path) -> None:
    server = serve()
    ping_key = ping_key_from_banner(server.stdout())
    url = f"{server.url}/ping/{ping_key}/new-job?create=1"

    assert curl_status(url) == (201, b"Created")
    assert curl_status(url) == (200, b"OK")

    checks = checks_with_slug(server.db, "new-job")
    assert [(c["name"], c["slug"]) for c in checks] == [("new-job", "new-job")]
    assert [p["kind"] for p in pings_of(server.db, checks[0]["uuid"])] == ["success", "success"]


# -- HTTP details ----------------------------------------------------------------


def test_it_answers_http_1_0_without_a_host_header(serve: StartServer, tmp_path: Path) -> None:
    server = serve()
    uuid = add_check(tmp_path, server.db, "Backup")

    data = b""
    with socket.create_connection(host_port(server.url), timeout=10) as sock:
        sock.sendall(f"GET /ping/{uuid} HTTP/1.0\r\n\r\n".encode("ascii"))
        for _ in range(100):  # HTTP/1.0 without keep-alive: the server closes when done.
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk

    head, _, body = data.partition(b"\r\n\r\n")
    status_line, headers = parse_headers(head)
    assert status_line == "HTTP/1.0 200 OK"
    assert body == b"OK"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert only_ping(server.db, uuid)["method"] == "GET"


def test_it_answers_head_with_the_headers_of_get_and_no_body(
    serve: StartServer, tmp_path: Path
) -> None:
    server = serve()
    uuid = add_check(tmp_path, server.db, "Backup")
    url = f"{server.url}/ping/{uuid}"

    head = run_client("curl", "-sS", "-m", "10", "-I", url)
    get = run_client("curl", "-sS", "-m", "10", "-D", "-", "-o", "/dev/null", url)

    assert head.returncode == 0 and get.returncode == 0, (head.stderr, get.stderr)
    head_status, head_headers = parse_headers(head.stdout.split(b"\r\n\r\n")[0])
    get_status, get_headers = parse_headers(get.stdout.split(b"\r\n\r\n")[0])
    assert head_status == get_status == "HTTP/1.1 200 OK"
    assert head_headers["content-type"] == "text/plain; charset=utf-8"
    assert head_headers["access-control-allow-origin"] == "*"
    assert head_headers["cache-control"] == "no-cache, no-store, must-revalidate, max-age=0"
    assert head_headers["ping-body-limit"] == "10000"
    assert {h: head_headers.get(h) for h in PING_HEADERS} == {
        h: get_headers.get(h) for h in PING_HEADERS
    }
    assert [p["method"] for p in pings_of(server.db, uuid)] == ["HEAD", "GET"]


def test_it_stores_a_chunked_post_body_whole(serve: StartServer, tmp_path: Path) -> None:
    server = serve()
    uuid = add_check(tmp_path, server.db, "Backup")
    body = bytes(range(256)) * 20  # 5120 bytes, not UTF-8
    path = tmp_path / "body.bin"
    path.write_bytes(body)

    result = run_client(
        "curl", "-fsS", "-m", "10", "-H", "Transfer-Encoding: chunked",
        "--data-binary", f"@{path}", f"{server.url}/ping/{uuid}/log",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout == b"OK"
    ping = only_ping(server.db, uuid)
    assert (ping["kind"], ping["method"]) == ("log", "POST")
    assert ping["body_size"] == len(body)
    assert bytes(ping["body"]) == body
    shown = run_cli(tmp_path, "--db", str(server.db), "check", "show", uuid)
    assert shown.returncode == 0, shown.stderr
    assert "5120" in shown.stdout.split("recent pings:")[1]


def test_it_keeps_the_first_ping_body_limit_bytes_of_a_long_chunked_body(
    serve: StartServer, tmp_path: Path
) -> None:
    server = serve()
    uuid = add_check(tmp_path, server.db, "Backup")
    body = b"0123456789abcdef" * 2000  # 32000 bytes, over the 10000 stored
    path = tmp_path / "long.bin"
    path.write_bytes(body)

    result = run_client(
        "curl", "-fsS", "-m", "10", "-H", "Transfer-Encoding: chunked",
        "--data-binary", f"@{path}", f"{server.url}/ping/{uuid}",
    )  # fmt: skip

    assert (result.returncode, result.stdout) == (0, b"OK"), result.stderr
    ping = only_ping(server.db, uuid)
    assert ping["body_size"] == 32000
    assert bytes(ping["body"]) == body[:10000]


MAX_BODY_ENV = {"PINGD_SERVER_MAX_REQUEST_BODY": "1000", "PINGD_STORAGE_PING_BODY_LIMIT": "100"}
TRANSFERS = pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])


def post_file(url: str, path: Path, body: bytes, *, chunked: bool) -> tuple[int, bytes]:
    path.write_bytes(body)
    extra = ["-H", "Transfer-Encoding: chunked"] if chunked else []
    return curl_status(*extra, "--data-binary", f"@{path}", url)


@TRANSFERS
def test_it_rejects_a_body_over_max_request_body_with_413(
    serve: StartServer, tmp_path: Path, chunked: bool
) -> None:
    server = serve(env=MAX_BODY_ENV)
    uuid = add_check(tmp_path, server.db, "Backup")
    url = f"{server.url}/ping/{uuid}"

    huge = post_file(url, tmp_path / "huge.bin", b"h" * 5000, chunked=chunked)
    over = post_file(url, tmp_path / "over.bin", b"o" * 1001, chunked=chunked)

    assert huge[0] == 413
    assert over[0] == 413
    assert pings_of(server.db, uuid) == []
    assert post_file(url, tmp_path / "small.bin", b"s" * 10, chunked=chunked) == (200, b"OK")
    assert bytes(only_ping(server.db, uuid)["body"]) == b"s" * 10


@TRANSFERS
def test_it_accepts_a_body_of_exactly_max_request_body(
    serve: StartServer, tmp_path: Path, chunked: bool
) -> None:
    server = serve(env=MAX_BODY_ENV)
    uuid = add_check(tmp_path, server.db, "Backup")
    url = f"{server.url}/ping/{uuid}"

    # SPEC 1.2: only bodies *over* server.max_request_body (here 1000) get 413.
    assert post_file(url, tmp_path / "exact.bin", b"e" * 1000, chunked=chunked) == (200, b"OK")
    ping = only_ping(server.db, uuid)
    assert (ping["body_size"], bytes(ping["body"])) == (1000, b"e" * 100)


# -- addresses -------------------------------------------------------------------


def test_it_serves_pings_over_ipv6_loopback(serve: StartServer, tmp_path: Path) -> None:
    if not has_ipv6_loopback():
        pytest.skip("this kernel has no IPv6 loopback (cannot bind ::1)")
    server = serve(listen=["[::1]:0"])
    uuid = add_check(tmp_path, server.db, "Backup")
    assert server.url.startswith("http://[::1]:")

    result = run_client("curl", "-g", "-fsS", "-m", "10", f"{server.url}/ping/{uuid}")

    assert (result.returncode, result.stdout) == (0, b"OK"), result.stderr
    assert only_ping(server.db, uuid)["remote_addr"] == "::1"


def test_it_listens_on_two_addresses_at_once(serve: StartServer, tmp_path: Path) -> None:
    server = serve(listen=["127.0.0.1:0", "127.0.0.1:0"])
    uuid = add_check(tmp_path, server.db, "Backup")
    assert len(server.urls) == 2
    assert server.urls[0] != server.urls[1]

    for url in server.urls:
        result = run_client("curl", "-fsS", "-m", "10", f"{url}/ping/{uuid}")
        assert (result.returncode, result.stdout) == (0, b"OK"), (url, result.stderr)

    assert len(pings_of(server.db, uuid)) == 2


# -- reverse proxy ---------------------------------------------------------------


def forwarded_ping(url: str) -> subprocess.CompletedProcess[bytes]:
    return run_client(
        "curl", "-fsS", "-m", "10", "-H", "X-Forwarded-For: 203.0.113.7",
        "-H", "X-Forwarded-Proto: https", url,
    )  # fmt: skip


def test_it_takes_the_client_address_and_scheme_from_the_trusted_proxy(
    serve: StartServer, tmp_path: Path
) -> None:
    server = serve(env={"PINGD_SERVER_TRUSTED_PROXY": "127.0.0.1"})
    uuid = add_check(tmp_path, server.db, "Backup")

    result = forwarded_ping(f"{server.url}/ping/{uuid}")

    assert (result.returncode, result.stdout) == (0, b"OK"), result.stderr
    ping = only_ping(server.db, uuid)
    assert (ping["remote_addr"], ping["scheme"]) == ("203.0.113.7", "https")


@pytest.mark.parametrize("trusted_proxy", [None, "192.0.2.1"], ids=["unset", "other-address"])
def test_it_ignores_forwarded_headers_from_an_untrusted_peer(
    serve: StartServer, tmp_path: Path, trusted_proxy: str | None
) -> None:
    env = {"PINGD_SERVER_TRUSTED_PROXY": trusted_proxy} if trusted_proxy else {}
    server = serve(env=env)
    uuid = add_check(tmp_path, server.db, "Backup")

    result = forwarded_ping(f"{server.url}/ping/{uuid}")

    assert (result.returncode, result.stdout) == (0, b"OK"), result.stderr
    ping = only_ping(server.db, uuid)
    assert (ping["remote_addr"], ping["scheme"]) == ("127.0.0.1", "http")


# -- process lifecycle -----------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_it_stops_cleanly_with_status_0_on_a_signal(
    serve: StartServer, tmp_path: Path, signum: signal.Signals
) -> None:
    server = serve()
    uuid = add_check(tmp_path, server.db, "Backup")
    assert curl_status(f"{server.url}/ping/{uuid}") == (200, b"OK")

    started = time.monotonic()
    server.proc.send_signal(signum)
    try:
        status = server.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"pingd did not stop within 5 s of {signum.name}")

    assert status == 0, server.stderr()
    assert time.monotonic() - started < 5
    assert "Traceback" not in server.stderr()


def test_it_stops_on_sigterm_with_an_idle_keep_alive_connection_open(
    serve: StartServer, tmp_path: Path
) -> None:
    server = serve()
    uuid = add_check(tmp_path, server.db, "Backup")
    with socket.create_connection(host_port(server.url), timeout=10) as sock:
        sock.sendall(f"GET /ping/{uuid} HTTP/1.1\r\nHost: x\r\n\r\n".encode("ascii"))
        reply = sock.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200 OK\r\n")

        server.proc.send_signal(signal.SIGTERM)
        try:
            status = server.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail("pingd did not stop within 5 s of SIGTERM with a client connected")

    assert status == 0, server.stderr()


def api_get(url: str, path: str, api_key: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{url}{path}", headers={"X-Api-Key": api_key})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_it_prints_the_ping_key_and_an_api_key_only_on_the_first_start(
    serve: StartServer, tmp_path: Path
) -> None:
    first = serve()
    banner = first.stdout()
    ping_key = ping_key_from_banner(banner)
    api_key = api_key_from_banner(banner)
    assert banner.count("ping key:") == 1 and banner.count("API key:") == 1
    assert len(ping_key) == 22
    status, body = api_get(first.url, "/v1/project", api_key)
    assert status == 200
    assert body["data"]["ping_key"] == ping_key
    assert first.terminate() == 0

    second = serve(db=first.db)

    assert "ping key" not in second.stdout()
    assert "API key" not in second.stdout()
    assert api_key not in second.stdout() + second.stderr()
    status, body = api_get(second.url, "/v1/project", api_key)
    assert (status, body["data"]["ping_key"]) == (200, ping_key)


# -- bad configuration -----------------------------------------------------------


def test_it_refuses_to_serve_with_a_bad_threads_setting(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path, "serve", "--listen", "127.0.0.1:0",
        env={"PINGD_SERVER_THREADS": "abc"}, timeout=10,
    )  # fmt: skip

    assert result.returncode == 1, result.stderr
    assert_one_line_error(result.stderr, "server.threads", "PINGD_SERVER_THREADS")
    assert not (tmp_path / "pingd.db").exists()


def test_it_refuses_to_serve_with_an_unknown_key_in_pingd_toml(tmp_path: Path) -> None:
    (tmp_path / "pingd.toml").write_text('[server]\nlisten_on = "127.0.0.1:0"\n')

    result = run_cli(tmp_path, "serve", "--listen", "127.0.0.1:0", timeout=10)

    assert result.returncode == 1, result.stderr
    assert_one_line_error(result.stderr, "server.listen_on", "pingd.toml")
    assert not (tmp_path / "pingd.db").exists()


def test_it_refuses_to_serve_with_an_unknown_environment_setting(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path, "serve", "--listen", "127.0.0.1:0",
        env={"PINGD_SERVER_THREAD": "4"}, timeout=10,
    )  # fmt: skip

    assert result.returncode == 1, result.stderr
    assert_one_line_error(result.stderr, "PINGD_SERVER_THREAD")
