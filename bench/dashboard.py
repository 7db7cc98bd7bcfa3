"""``make bench-dashboard``: the checks page with 1,000 checks: time, size, memory (issue 12).

One run, on a temporary database of 1,000 checks of every kind and status
(simple and cron schedules in several time zones, tags, start/success pairs,
failures, paused and new checks, a few pings each), filled in-process through
pingd's service layer:

1. in-process: the Falcon app of ``pingd.app.create_app`` on that database,
   called with a WSGI environ that carries a session cookie; only the call
   (and joining the body) is timed, the purest server-side figure;
2. over HTTP: ``pingd serve`` on the same database, signed in with
   ``POST /login``; on one keep-alive connection each round times ``GET /``,
   then two baselines through the same process: ``GET /static/pingd.css`` (the
   fixed cost of a request) and ``GET /v1/checks`` (the same 1,000 checks as
   JSON), rounds paced at 4 a second for the API's rate limit;
3. the page's size with every check, with ``?status=down`` and with none shown;
4. memory: VmRSS of two fresh servers on copies of the database, after pings
   only, and after the same pings plus each dashboard page served 20 times.

Traffic goes to 127.0.0.1 only; every server is started here and stopped by PID.

Usage: python bench/dashboard.py [--rounds 50] [--warmup 5] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from run import free_port  # noqa: E402
from run import pingd_command  # noqa: E402
from run import rss_mb  # noqa: E402
from run import running  # noqa: E402
from run import wait_answering  # noqa: E402

from pingd.app import create_app  # noqa: E402
from pingd.app import make_notifier  # noqa: E402
from pingd.app import make_service  # noqa: E402
from pingd.app import open_store  # noqa: E402
from pingd.config import default_config  # noqa: E402
from pingd.dashboard.checks import Filters  # noqa: E402
from pingd.dashboard.checks import checks_view  # noqa: E402
from pingd.domain.checks import Check  # noqa: E402
from pingd.service import Service  # noqa: E402
from pingd.service.pings import PingRequest  # noqa: E402

CHECKS = 1000
PAGE_TARGET_MS = 100.0
SIZE_TARGET_BYTES = 300_000
API_INTERVAL_SECONDS = 0.25  # The API allows 5 requests/s per key, burst 2.
PINGS_FOR_MEMORY = 1000
PAGE_VISITS_FOR_MEMORY = 20
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
TAGS = ("prod", "staging", "backup", "db", "web", "nightly", "cron", "homelab")


class SetClock:
    """A clock the filling code sets before each call, so pings land in the past."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True, slots=True)
class Fixture:
    api_key: str
    check_uuid: str  # one check with pings, for the check page
    ping_uuids: tuple[str, ...]  # up checks with no channel: pinging them flips nothing


def _ping(service: Service, clock: SetClock, when: datetime, uuid: str, action: str,
          body: bytes = b"") -> None:  # fmt: skip
    clock.now = when
    service.record_ping(
        PingRequest(action=action, method="POST", scheme="http", remote_addr="127.0.0.1",
                    ua="curl/8.5.0", body=body, body_size=len(body), uuid=uuid)
    )  # fmt: skip


def _fields(i: int) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": f"{('backup', 'sync', 'report', 'cleanup', 'renew')[i % 5]} job {i:04d}",
        "tags": " ".join(TAGS[(i + k) % len(TAGS)] for k in range(i % 3 + 1)),
    }
    if i % 4 == 3:  # cron: daily in one of several zones (up when pinged today)
        fields |= {"schedule": f"{i % 60} {i % 24} * * *", "tz": ZONES[i % len(ZONES)],
                   "grace": 3600}  # fmt: skip
    else:
        fields |= {"timeout": (3600, 86400, 7 * 86400)[i % 3], "grace": (300, 3600)[i % 2]}
    if i % 7 == 0:
        fields["desc"] = f"Runs on host-{i % 13}; pages the on-call person when down."
    return fields


def fill(path: Path) -> Fixture:
    """Create CHECKS checks of every kind and status, with pings, through the service layer."""
    config = default_config(storage__path=str(path))
    store = open_store(config)
    clock = SetClock()
    real_now = clock.now
    try:
        service = make_service(config, store, clock, notifier=make_notifier(config))
        api_key = service.bootstrap().new_api_key
        assert api_key is not None
        simple_up: list[Check] = []
        # By i % 10: 0-1 start/success pairs (a duration), 5 down or late, 6 failed,
        # 7 paused, 8 new, 9 started, the rest up; every fourth check is a cron one.
        for i in range(CHECKS):
            clock.now = real_now - timedelta(days=3)
            kind, late = i % 10, False
            fields = _fields(i)
            if kind == 5:  # down (a short period, pinged long ago), or late, in its grace
                fields = {k: v for k, v in fields.items() if k not in ("schedule", "tz")}
                late = i % 20 == 15
                fields |= (
                    {"timeout": 1800, "grace": 7200} if late else {"timeout": 600, "grace": 300}
                )
            check = service.create_check(**fields)
            if kind == 8:  # new: never pinged
                continue
            ago = timedelta(days=2) if kind == 5 and not late else timedelta(minutes=30)
            for n in range(3):
                at = real_now - ago - timedelta(minutes=10 * (3 - n))
                if kind in (0, 1):  # a start/success pair: last_duration is set
                    _ping(service, clock, at - timedelta(seconds=40 + i % 200), check.uuid, "start")
                _ping(service, clock, at, check.uuid, "success", b"done: 42 files, 0 errors\n")
            if kind == 6:  # failed: down
                _ping(service, clock, real_now - timedelta(minutes=5), check.uuid, "fail",
                      b"error: disk full\n")  # fmt: skip
            elif kind == 7:  # paused
                service.pause_check(check.id)
            elif kind == 9:  # started: a start with no success yet
                _ping(service, clock, real_now - timedelta(minutes=2), check.uuid, "start")
            elif kind in (0, 1, 2) and not check.is_cron:
                simple_up.append(check)
        clock.now = real_now
        # Channels serve only up checks that the benchmark does not ping, so no
        # flip queues a delivery (nothing listens on the webhook's port).
        with_channels = [check for check in simple_up[0::2] if check.timeout >= 86400]
        pinged = simple_up[1::2]
        for n in range(3):
            settings = {"url_down": f"http://127.0.0.1:9/down/{n}"}
            channel = service.create_channel("webhook", f"hook {n}", settings)
            for check in with_channels[n::3]:
                service.update_check(check.id, {"channels": [channel.id]})
        return Fixture(api_key, pinged[0].uuid, tuple(check.uuid for check in pinged))
    finally:
        store.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass(frozen=True, slots=True)
class Timing:
    median: float
    p95: float

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        ms = [s * 1000 for s in seconds]
        return cls(statistics.median(ms), percentile(ms, 0.95))


@dataclass(frozen=True, slots=True)
class InProcess:
    page: Timing  # the whole app call
    view: Timing  # checks_view alone: reading the checks and working out each row
    gzip_bytes: int  # the page gzipped (level 6), which pingd does not do today
    gzip: Timing


def in_process(path: Path, api_key: str, args: argparse.Namespace) -> InProcess:
    """Time the checks page through the Falcon app itself."""
    from falcon import testing

    config = default_config(storage__path=str(path))
    store = open_store(config)
    try:
        app = create_app(config, store=store)
        login = testing.simulate_post(app, "/login", body=urllib.parse.urlencode({"key": api_key}),
                                      content_type="application/x-www-form-urlencoded")  # fmt: skip
        cookie = f"pingd_session={login.cookies['pingd_session'].value}"

        def call() -> bytes:
            environ = testing.create_environ(path="/", headers={"Cookie": cookie})
            statuses: list[str] = []

            def start_response(
                status: str, headers: object, *_: object
            ) -> Callable[[bytes], object]:
                statuses.append(status)
                return lambda _: None

            body = b"".join(app(environ, start_response))
            assert statuses == ["200 OK"], statuses
            return body

        service = make_service(config, store)
        everything = Filters("", (), "")
        for _ in range(args.warmup):
            call()
            checks_view(service, everything)
        times, view_times, gzip_times = [], [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            body = call()
            times.append(time.perf_counter() - started)
            view_times.append(timed(lambda: checks_view(service, everything)))
        for _ in range(5):
            gzip_times.append(timed(lambda: gzip.compress(body, compresslevel=6)))
        figures = InProcess(Timing.of(times), Timing.of(view_times), len(gzip.compress(body, 6)),
                            Timing.of(gzip_times))  # fmt: skip
        return figures
    finally:
        store.close()


class Client:
    """One keep-alive connection to a pingd on 127.0.0.1, optionally signed in."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.cookie = ""

    def request(
        self, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, http.client.HTTPResponse]:  # fmt: skip
        sent = {"Cookie": self.cookie} if self.cookie else {}
        self.conn.request(method, path, body=body, headers={**sent, **(headers or {})})
        response = self.conn.getresponse()
        return response.status, response.read(), response

    def get(self, path: str, headers: dict[str, str] | None = None) -> bytes:
        status, body, _ = self.request("GET", path, headers=headers)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:200]!r}")
        return body

    def sign_in(self, api_key: str) -> None:
        form = urllib.parse.urlencode({"key": api_key}).encode()
        status, _, response = self.request(
            "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        cookie = response.getheader("Set-Cookie") or ""
        if status != 303 or not cookie.startswith("pingd_session="):
            raise RuntimeError(f"POST /login answered {status} without a session cookie")
        self.cookie = cookie.split(";", 1)[0]

    def close(self) -> None:
        self.conn.close()


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class OverHttp:
    page: Timing
    css: Timing
    api: Timing
    size_all: int
    size_down: int
    rows_down: int
    size_none: int


def over_http(client: Client, api_key: str, args: argparse.Namespace) -> OverHttp:
    api_headers = {"X-Api-Key": api_key}
    page: list[float] = []
    css: list[float] = []
    api: list[float] = []
    for n in range(args.warmup + args.rounds):
        started = time.perf_counter()
        times = (timed(lambda: client.get("/")), timed(lambda: client.get("/static/pingd.css")),
                 timed(lambda: client.get("/v1/checks", api_headers)))  # fmt: skip
        if n >= args.warmup:
            for into, seconds in zip((page, css, api), times, strict=True):
                into.append(seconds)
        time.sleep(max(0.0, API_INTERVAL_SECONDS - (time.perf_counter() - started)))
    body, down = client.get("/"), client.get("/?status=down")
    if rows_in(body) != CHECKS:
        raise RuntimeError(f"the checks page shows {rows_in(body)} rows, not {CHECKS}")
    return OverHttp(Timing.of(page), Timing.of(css), Timing.of(api), len(body), len(down),
                    rows_in(down), len(client.get("/?q=no-such-check-anywhere")))  # fmt: skip


def rows_in(page: bytes) -> int:
    return page.count(b'<tr class="status-')


def memory(db: Path, work: Path, env: dict[str, str], fixture: Fixture) -> tuple[float, float]:
    """RSS (MB) of a fresh server after pings only, and of one after pings and pages."""
    results = []
    for name, pages in (("pings-only", False), ("pages", True)):
        copy = work / f"{name}.db"
        for file in db.parent.glob(db.name + "*"):
            shutil.copyfile(file, copy.with_name(copy.name + file.name[len(db.name) :]))
        port = free_port()
        with running(pingd_command(copy), {**env, "PINGD_SERVER_LISTEN": f"127.0.0.1:{port}"},
                     work / f"{name}.log") as server:  # fmt: skip
            wait_answering(f"http://127.0.0.1:{port}/static/pingd.css")
            client = Client(port)
            try:
                for n in range(PINGS_FOR_MEMORY):
                    uuid = fixture.ping_uuids[n % len(fixture.ping_uuids)]
                    client.request("POST", f"/ping/{uuid}", b"ok")
                if pages:
                    for _ in range(PAGE_VISITS_FOR_MEMORY):
                        client.cookie = ""
                        client.get("/login")
                    client.sign_in(fixture.api_key)
                    for _ in range(PAGE_VISITS_FOR_MEMORY):
                        for path in ("/", f"/checks/{fixture.check_uuid}", "/channels", "/tv"):
                            client.get(path)
            finally:
                client.close()
            time.sleep(0.5)
            results.append(rss_mb(server.pid))
    return results[0], results[1]


@contextmanager
def serving(db: Path, work: Path, env: dict[str, str]) -> Iterator[int]:
    port = free_port()
    with running(pingd_command(db), {**env, "PINGD_SERVER_LISTEN": f"127.0.0.1:{port}"},
                 work / "pingd.log"):  # fmt: skip
        wait_answering(f"http://127.0.0.1:{port}/static/pingd.css")
        yield port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50, help="timed requests of each kind")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first")
    parser.add_argument("--markdown", type=Path, help="also write the results as Markdown here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pingd-bench-dashboard-"))
    db = work / "dashboard.db"
    started = time.perf_counter()
    fixture = fill(db)
    print(f"  filled {CHECKS:,} checks in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    pristine = work / "pristine"
    pristine.mkdir()
    for file in db.parent.glob(db.name + "*"):
        shutil.copyfile(file, pristine / file.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGD_")}

    inproc = in_process(db, fixture.api_key, args)
    print(f"  in-process: median {inproc.page.median:.1f} ms", file=sys.stderr)
    with serving(db, work, env) as port:
        client = Client(port)
        try:
            client.sign_in(fixture.api_key)
            http_figures = over_http(client, fixture.api_key, args)
        finally:
            client.close()
    print(f"  over HTTP: median {http_figures.page.median:.1f} ms", file=sys.stderr)
    rss_pings, rss_pages = memory(pristine / db.name, work, env, fixture)

    report = render(args, inproc, http_figures, rss_pings, rss_pages)
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def render(args: argparse.Namespace, inproc: InProcess, web: OverHttp, rss_pings: float,
           rss_pages: float) -> str:  # fmt: skip
    machine = f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    per_row = (web.size_all - web.size_none) / CHECKS
    met_time = inproc.page.median < PAGE_TARGET_MS and web.page.median < PAGE_TARGET_MS
    met_size = web.size_all < SIZE_TARGET_BYTES

    def row(name: str, t: Timing, note: str = "") -> str:
        return f"| {name} | {t.median:.1f} ms | {t.p95:.1f} ms | {note} |"

    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}; {CHECKS:,} checks, "
        f"{args.warmup} warm-up then {args.rounds} timed requests of each kind.",
        "",
        "| Request | Median | p95 | Note |",
        "|---|---|---|---|",
        row("`GET /` in-process (the Falcon app's call)", inproc.page),
        row(
            "… of which reading the checks and working out the rows",
            inproc.view,
            f"{inproc.view.median / inproc.page.median:.0%} of the call; the rest is "
            "the session check and Jinja2's render",
        ),
        row(
            "`GET /` over HTTP, keep-alive",
            web.page,
            f"{web.page.median / inproc.page.median:.2f} × in-process",
        ),
        row(
            "Baseline: `GET /static/pingd.css` over HTTP",
            web.css,
            f"fixed cost of a request; page ÷ this = {web.page.median / web.css.median:.0f}",
        ),
        row(
            "Baseline: `GET /v1/checks` over HTTP (same checks as JSON)",
            web.api,
            f"page ÷ this = {web.page.median / web.api.median:.2f}",
        ),
        "",
        f"- Size of `/` with {CHECKS:,} checks: {web.size_all:,} bytes "
        f"({per_row:,.0f} bytes a row over the page with no row, {web.size_none:,} bytes); "
        f"`/?status=down` ({web.rows_down} rows): "
        f"{web.size_down:,} bytes. Gzipped (level 6, not done by pingd today): "
        f"{inproc.gzip_bytes:,} bytes, {inproc.gzip.median:.1f} ms to compress.",
        f"- RSS of a fresh server after {PINGS_FOR_MEMORY:,} pings: {rss_pings:.1f} MB; after "
        f"the same pings and `/login`, `/`, a check page, `/channels` and `/tv` "
        f"{PAGE_VISITS_FOR_MEMORY} times each: {rss_pages:.1f} MB "
        f"(+{rss_pages - rss_pings:.1f} MB for the dashboard).",
        f"- Targets: under {PAGE_TARGET_MS:.0f} ms server-side (median, in-process and over "
        f"HTTP): {'met' if met_time else 'not met'}; under {SIZE_TARGET_BYTES // 1000} KB: "
        f"{'met' if met_size else 'not met'}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
