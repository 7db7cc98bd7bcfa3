"""The files in deploy/, run for real: pingd behind nginx and Caddy over HTTPS; its systemd unit.

Each proxy test starts ``pingd serve`` on loopback (``server.trusted_proxy =
127.0.0.1``) and the real nginx or Caddy with the very file from deploy/
(only its ports, certificate paths and site address swapped for the
test's), as a plain process: ``nginx -c … -p … -g 'daemon off;'`` and
``caddy run`` with ``admin off`` and an internal CA. Real clients (curl over
HTTP/2, 1.1 and 1.0, GNU wget, BusyBox wget) ping through it over IPv4 and
IPv6; every ping must be stored with the client's address and ``https``.
The client reaches the proxy over ``[::1]`` while the proxy reaches pingd
over 127.0.0.1, so a stored ``::1`` can only have come from the proxy's
``X-Forwarded-For``. Everything stays on loopback and stops by itself.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from serverutil import Server
from serverutil import clean_env
from serverutil import open_db_readonly
from serverutil import require_program
from serverutil import run_cli
from serverutil import start_server
from serverutil import stop_quietly

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
CLIENT_TIMEOUT_SECONDS = 20
START_TIMEOUT_SECONDS = 20
MAX_BODY = 1048576  # pingd's server.max_request_body by default


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the proxy exited: {log.read_text(errors='replace')}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"the proxy did not listen on {port}: {log.read_text(errors='replace')}")


@dataclass
class Proxy:
    name: str
    https: int
    http: int
    proc: subprocess.Popen[bytes]


@pytest.fixture
def pingd(tmp_path: Path) -> Iterator[Server]:
    env = {"PINGD_SERVER_TRUSTED_PROXY": "127.0.0.1",
           "PINGD_SERVER_BASE_URL": "https://pingd.example.org"}  # fmt: skip
    server = start_server(tmp_path, env=env)
    try:
        server.wait_ready(1)
        yield server
    finally:
        stop_quietly(server)


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, 127.0.0.1 and ::1, made by openssl."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [require_program("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def start_nginx(folder: Path, upstream: str) -> Proxy:
    nginx = require_program("nginx")
    cert, key = certificate(folder)
    https, http = free_port(), free_port()
    site = (DEPLOY / "nginx" / "pingd.conf").read_text(encoding="utf-8")
    for old, new in (
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        ("listen [::]:443 ssl http2;", f"listen [::1]:{https} ssl http2;"),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("listen [::]:80;", f"listen [::1]:{http};"),
        ("/etc/ssl/pingd/fullchain.pem", str(cert)),
        ("/etc/ssl/pingd/privkey.pem", str(key)),
        ("server 127.0.0.1:8000;", f"server {upstream};"),
    ):
        assert old in site, f"deploy/nginx/pingd.conf no longer has {old!r}"
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site, encoding="utf-8")
    temp = " ".join(f"{kind}_temp_path {folder / kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = (f"{user}pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\n"
            "events { worker_connections 256; }\n"
            f"http {{ access_log off; {temp} include {folder / 'site.conf'}; }}\n")  # fmt: skip
    (folder / "nginx.conf").write_text(main, encoding="utf-8")
    log = folder / "nginx.out"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [nginx, "-c", str(folder / "nginx.conf"), "-p", str(folder), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=clean_env(),
        )  # fmt: skip
    wait_for_port(https, proc, folder / "error.log" if (folder / "error.log").exists() else log)
    return Proxy("nginx", https, http, proc)


def start_caddy(folder: Path, upstream: str) -> Proxy:
    caddy = require_program("caddy")
    https, http = free_port(), free_port()
    site = (DEPLOY / "caddy" / "Caddyfile").read_text(encoding="utf-8")
    for old, new in (
        # The test's clients name the site by address, so the internal CA makes a
        # certificate for each; plain HTTP answers any host, as port 80 would.
        (
            "\npingd.example.org {",
            f"\nhttps://localhost:{https}, https://127.0.0.1:{https}, "
            f"https://[::1]:{https} {{\n\ttls internal",
        ),
        ("http://pingd.example.org {", f"http://:{http} {{"),
        ("reverse_proxy 127.0.0.1:8000", f"reverse_proxy {upstream}"),
    ):
        assert old in site, f"deploy/caddy/Caddyfile no longer has {old!r}"
        site = site.replace(old, new)
    options = ("{\n\tadmin off\n\tauto_https disable_redirects\n\tskip_install_trust\n"
               f"\tstorage file_system {folder / 'data'}\n"
               "\tdefault_bind 127.0.0.1 [::1]\n}\n")  # fmt: skip
    (folder / "Caddyfile").write_text(options + site, encoding="utf-8")
    log = folder / "caddy.out"
    env = clean_env({"HOME": str(folder), "XDG_DATA_HOME": str(folder / "xdg"),
                     "XDG_CONFIG_HOME": str(folder / "xdg")})  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [caddy, "run", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    wait_for_port(https, proc, log)
    return Proxy("caddy", https, http, proc)


@pytest.fixture(params=["nginx", "caddy"])
def proxy(request: pytest.FixtureRequest, pingd: Server, tmp_path: Path) -> Iterator[Proxy]:
    folder = tmp_path / request.param
    folder.mkdir()
    upstream = pingd.url.removeprefix("http://")
    started = (start_nginx if request.param == "nginx" else start_caddy)(folder, upstream)
    try:
        yield started
    finally:
        started.proc.terminate()
        try:
            started.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            started.proc.kill()
            started.proc.wait(timeout=10)


def client(*command: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [require_program(command[0]), *command[1:]], input=data, env=clean_env(),
        capture_output=True, timeout=CLIENT_TIMEOUT_SECONDS, check=False,
    )  # fmt: skip


def curl(*args: str, data: bytes | None = None) -> tuple[str, str]:
    """Run curl (certificate not checked: it is the test's own); return (status, body)."""
    written = "\n%{http_code} %{http_version}"
    result = client("curl", "-sS", "-k", "-m", "15", "-o", "-", "-w", written, *args, data=data)
    assert result.returncode == 0, result.stderr
    body, _, status = result.stdout.decode().rpartition("\n")
    return status, body


def stored(db: Path, uuid: str) -> list[tuple[str, str, str, int]]:
    conn = open_db_readonly(db)
    try:
        rows = conn.execute(
            "SELECT kind, remote_addr, scheme, body_size FROM pings JOIN checks"
            " ON checks.id = pings.check_id WHERE checks.uuid = ? ORDER BY n",
            (uuid,),
        ).fetchall()
    finally:
        conn.close()
    return [tuple(row) for row in rows]


def new_check(server: Server, name: str) -> str:
    result = run_cli(server.cwd, "--db", str(server.db), "check", "add", name)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().rsplit("/", 1)[-1]


def test_every_client_pings_through_the_proxy_over_https_and_is_stored_as_itself(
    pingd: Server, proxy: Proxy
) -> None:
    uuid = new_check(pingd, f"through {proxy.name}")
    v4, v6 = f"https://127.0.0.1:{proxy.https}", f"https://[::1]:{proxy.https}"
    for version, shown in (("--http2", "2"), ("--http1.1", "1.1")):
        assert curl(version, f"{v4}/ping/{uuid}") == (f"200 {shown}", "OK")
    # A server answers an HTTP/1.0 request with the highest version it speaks. Caddy
    # (Go) refuses TLS that offers only ALPN "http/1.0", as curl --http1.0 does;
    # HTTP/1.0 clients that offer none (BusyBox wget) are served, as here.
    old = ("--http1.0",) if proxy.name == "nginx" else ("--http1.0", "--no-alpn")
    assert curl(*old, f"{v4}/ping/{uuid}") in (
        ("200 1", "OK"),
        ("200 1.0", "OK"),
        ("200 1.1", "OK"),
    )
    assert curl("--http2", f"{v6}/ping/{uuid}/start") == ("200 2", "OK")
    wget = client("wget", "-q", "--no-check-certificate", "-O", "-", f"{v4}/ping/{uuid}/log")
    assert (wget.returncode, wget.stdout) == (0, b"OK"), wget.stderr
    busybox = client("busybox", "wget", "-q", "--no-check-certificate", "-O", "-",
                     f"{v4}/ping/{uuid}")  # fmt: skip
    assert (busybox.returncode, busybox.stdout) == (0, b"OK"), busybox.stderr
    assert stored(pingd.db, uuid) == [
        ("success", "127.0.0.1", "https", 0), ("success", "127.0.0.1", "https", 0),
        ("success", "127.0.0.1", "https", 0), ("start", "::1", "https", 0),
        ("log", "127.0.0.1", "https", 0), ("success", "127.0.0.1", "https", 0),
    ]  # fmt: skip


def test_bodies_head_and_chunked_uploads_pass_and_a_body_over_the_limit_gets_pingds_413(
    pingd: Server, proxy: Proxy, tmp_path: Path
) -> None:
    uuid = new_check(pingd, f"bodies via {proxy.name}")
    url = f"https://[::1]:{proxy.https}/ping/{uuid}"
    ten_kb = b"x" * 10240
    assert curl("--http2", "-X", "POST", "--data-binary", "", f"{url}/fail") == ("200 2", "OK")
    assert curl("--http2", "--data-binary", "@-", f"{url}/log", data=ten_kb) == ("200 2", "OK")
    chunked = ("--http1.1", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-", url)
    assert curl(*chunked, data=b"chunked body") == ("200 1.1", "OK")
    head = client("curl", "-sS", "-k", "-m", "15", "-I", "--http2", url)
    assert head.returncode == 0 and head.stdout.startswith(b"HTTP/2 200"), head.stdout
    status, body = curl("--http2", "--data-binary", "@-", url, data=b"y" * (MAX_BODY + 1))
    assert status == "413 2", (status, body)
    assert body == "request body too large"  # pingd's own answer, not the proxy's page
    rows = stored(pingd.db, uuid)
    assert [(kind, addr, scheme) for kind, addr, scheme, _ in rows] == [
        ("fail", "::1", "https"), ("log", "::1", "https"), ("success", "::1", "https"),
        ("success", "::1", "https"),
    ]  # fmt: skip
    assert [size for *_, size in rows] == [0, 10240, len(b"chunked body"), 0]


def test_plain_http_pings_are_served_and_stored_as_http(pingd: Server, proxy: Proxy) -> None:
    uuid = new_check(pingd, f"plain via {proxy.name}")
    result = client("busybox", "wget", "-q", "-O", "-",
                    f"http://127.0.0.1:{proxy.http}/ping/{uuid}")  # fmt: skip
    assert (result.returncode, result.stdout) == (0, b"OK"), result.stderr
    assert stored(pingd.db, uuid) == [("success", "127.0.0.1", "http", 0)]


def test_the_api_answers_through_the_proxy_with_the_public_base_url(
    pingd: Server, proxy: Proxy
) -> None:
    key = run_cli(pingd.cwd, "--db", str(pingd.db), "key", "create").stdout.strip()
    uuid = new_check(pingd, "api")
    status, body = curl("--http2", "-H", f"X-Api-Key: {key}",
                        f"https://127.0.0.1:{proxy.https}/v1/checks/{uuid}")  # fmt: skip
    assert status == "200 2"
    assert f'"ping_url": "https://pingd.example.org/ping/{uuid}"' in body


def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = require_program("systemd-analyze")
    unit = (DEPLOY / "systemd" / "pingd.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/pingd/bin/pingd " in unit
    # verify checks that ExecStart's program exists: point it at this checkout's pingd.
    pingd = Path(os.environ.get("VIRTUAL_ENV", "")) / "bin" / "pingd"
    if not pingd.exists():
        pingd = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "pingd"
    copy = tmp_path / "pingd.service"
    copy.write_text(unit.replace("/opt/pingd/bin/pingd", str(pingd)), encoding="utf-8")
    result = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    for hardening in (
        "DynamicUser=yes",
        "StateDirectory=pingd",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
    ):
        assert hardening in unit


def test_a_key_in_clear_from_afar_is_refused_and_over_https_it_is_accepted(
    pingd: Server, proxy: Proxy
) -> None:
    key = run_cli(pingd.cwd, "--db", str(pingd.db), "key", "create").stdout.strip()
    # As the proxy would say it: a client at a public address, over plain HTTP.
    forwarded = ("-H", "X-Forwarded-For: 8.8.8.8", "-H", f"X-Api-Key: {key}")
    status, body = curl(*forwarded, "-H", "X-Forwarded-Proto: http", f"{pingd.url}/v1/checks")
    assert status.startswith("403") and "revoke it" in body and "8.8.8.8" in body
    status, _ = curl(*forwarded, "-H", "X-Forwarded-Proto: https", f"{pingd.url}/v1/checks")
    assert status.startswith("200")
    status, _ = curl("--http2", "-H", f"X-Api-Key: {key}",
                     f"https://127.0.0.1:{proxy.https}/v1/checks")  # fmt: skip
    assert status == "200 2"


def tls_exchange(port: int, payload: bytes) -> bytes:
    """Send raw bytes to the proxy over TLS (HTTP/1.1), read until it closes or goes quiet."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's own certificate
    context.set_alpn_protocols(["http/1.1"])
    raw = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as plain:
        with context.wrap_socket(plain, server_hostname="localhost") as sock:
            sock.sendall(payload)
            try:
                while chunk := sock.recv(65536):
                    raw += chunk
            except (TimeoutError, ssl.SSLError, ConnectionResetError):
                pass  # a proxy that keeps the connection open after answering
    return raw


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
        b"Transfer-Encoding: xchunked\r\nContent-Length: 4\r\n",
    ],
    ids=["CL.TE", "TE twice", "TE obfuscated"],
)
def test_no_request_is_smuggled_through_the_proxy(
    pingd: Server, proxy: Proxy, framing: bytes
) -> None:
    uuid = new_check(pingd, f"smuggling via {proxy.name}")
    # If anyone framed this by Content-Length and the next hop by chunks (or the
    # reverse), the GET .../fail after the body would run as a second request.
    smuggled = f"GET /ping/{uuid}/fail HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    payload = (f"POST /ping/{uuid} HTTP/1.1\r\nHost: localhost\r\n".encode() + framing
               + b"Connection: close\r\n\r\n0\r\n\r\n" + smuggled)  # fmt: skip
    answer = tls_exchange(proxy.https, payload)
    status = answer.split(b"\r\n", 1)[0].split(b" ")[1:2]
    time.sleep(0.3)
    kinds = [kind for kind, *_ in stored(pingd.db, uuid)]
    # Refused (nginx; pingd itself when it gets such a request), or, as Caddy does
    # with CL.TE, made one unambiguous request first (Go drops the Content-Length,
    # RFC 9112 §6.3): either way the smuggled request never runs.
    assert (status, kinds) in (([b"400"], []), ([b"501"], []), ([b"200"], ["success"])), (
        proxy.name, answer[:200], kinds)  # fmt: skip
    if proxy.name == "nginx":  # nginx refuses each itself: 400, or 501 for a coding it lacks
        assert status in ([b"400"], [b"501"])


def test_signing_in_through_the_proxy_sets_a_secure_cookie(pingd: Server, proxy: Proxy) -> None:
    key = run_cli(pingd.cwd, "--db", str(pingd.db), "key", "create").stdout.strip()
    result = client("curl", "-sS", "-k", "-m", "15", "-o", "/dev/null", "-D", "-", "--http2",
                    "--data-urlencode", f"key={key}",
                    f"https://127.0.0.1:{proxy.https}/login")  # fmt: skip
    headers = result.stdout.decode()
    assert headers.startswith("HTTP/2 303"), headers
    [cookie] = [line for line in headers.splitlines() if line.lower().startswith("set-cookie:")]
    assert "pingd_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
