"""``make bench``: pingd against a bare Falcon app on the same waitress settings, in one run.

For each scenario wrk drives 16 connections on loopback, first at the
baseline (bench/baseline.py), then at the same baseline with its responses
sent by the event loop (as pingd's ping lane does), then at ``pingd serve``,
then at ``pingd serve`` with ``server.ping_lane = false`` (pings served by
waitress's worker threads, responses buffered the same way); the table gives
requests/s, p50 and p99 latency, errors and the ratios between them.
Then: pingd's memory after at least 100,000 pings, the database size as the
ping log fills and stays full, start-up time to the first answered ping, and
whether "database is locked" ever appeared. Needs wrk (Debian package).

Usage: python bench/run.py [--duration 10] [--connections 16] [--threads 8] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PINGS_FOR_MEMORY = 100_000
SLUG_CHECKS = 1000
HEALTHCHECKS_PINGS_PER_SECOND = 210  # The best figure measured for Healthchecks (issue #5).


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_answering(url: str, deadline_seconds: float = 10.0) -> float:
    """Poll a URL until it answers 200; return the seconds it took."""
    started = time.perf_counter()
    while time.perf_counter() - started < deadline_seconds:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"{url} did not answer within {deadline_seconds} s")


@contextmanager
def running(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def wrk(
    url: str,
    args: argparse.Namespace,
    *,
    script: str | None = None,
    headers: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency", "--timeout",
           "5s"]  # fmt: skip
    for header in headers:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", str(BENCH / script)]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}
    ).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for percentile in ("50", "99"):
        match = re.search(rf"^\s+{percentile}%\s+(\S+)", out, re.MULTILINE)
        result[f"p{percentile}"] = _ms(match.group(1)) if match else float("nan")
    requests = re.search(r"(\d+) requests in", out)
    result["requests"] = float(requests.group(1)) if requests else 0.0
    errors = 0.0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        errors += float(non_2xx.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if sockets:
        errors += sum(float(n) for n in sockets.groups())
    result["errors"] = errors
    return result


def prepare_database(path: Path) -> tuple[str, str]:
    """Create the database with SLUG_CHECKS checks; return the ping key and one UUID."""
    sys.path.insert(0, str(ROOT))
    from pingd.app import make_service
    from pingd.app import open_store
    from pingd.config import default_config

    store = open_store(default_config(storage__path=str(path)))
    try:
        service = make_service(default_config(storage__path=str(path)), store)
        ping_key = service.bootstrap().project.ping_key
        first = None
        for i in range(1, SLUG_CHECKS + 1):
            check = service.create_check(name=f"check-{i}")
            first = first or check.uuid
        assert first is not None
        return ping_key, first
    finally:
        store.close()


def database_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())
    return total / 1e6


def scenarios(ping_key: str, uuid: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("GET /ping/<uuid>, keep-alive", f"/ping/{uuid}", {}),
        ("GET /ping/<uuid>, Connection: close", f"/ping/{uuid}",
         {"headers": ("Connection: close",)}),
        ("POST /ping/<uuid>, 10 KB body", f"/ping/{uuid}", {"script": "post10k.lua"}),
        (f"GET slug URLs over {SLUG_CHECKS:,} checks", "/", {"script": "slugs.lua",
         "env": {"PINGD_BENCH_PREFIX": f"/ping/{ping_key}/", "PINGD_BENCH_CHECKS":
                 str(SLUG_CHECKS)}}),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads, both servers")
    parser.add_argument("--markdown", type=Path, help="also write the results as Markdown here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pingd-bench-"))
    db, plain_db = work / "bench.db", work / "no-lane.db"
    ping_key, uuid = prepare_database(db)
    plain_key, plain_uuid = prepare_database(plain_db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGD_")}
    env["PINGD_SERVER_THREADS"] = str(args.threads)
    base_cmd = [sys.executable, str(BENCH / "baseline.py")]

    rows = []
    base_port, buffered_port, pingd_port, plain_port = (free_port() for _ in range(4))
    pingd_env = {**env, "PINGD_SERVER_LISTEN": f"127.0.0.1:{pingd_port}"}
    plain_env = {**env, "PINGD_SERVER_LISTEN": f"127.0.0.1:{plain_port}",
                 "PINGD_SERVER_PING_LANE": "false"}  # fmt: skip
    sizes = []
    with (
        running([*base_cmd, str(base_port), str(args.threads)], env, work / "baseline.log"),
        running([*base_cmd, str(buffered_port), str(args.threads), "buffered"], env,
                work / "buffered.log"),
        running(pingd_command(db), pingd_env, work / "pingd.log") as pingd,
        running(pingd_command(plain_db), plain_env, work / "no-lane.log"),
    ):  # fmt: skip
        wait_answering(f"http://127.0.0.1:{base_port}/ping/{uuid}")
        wait_answering(f"http://127.0.0.1:{buffered_port}/ping/{uuid}")
        wait_answering(f"http://127.0.0.1:{pingd_port}/ping/{uuid}")
        wait_answering(f"http://127.0.0.1:{plain_port}/ping/{plain_uuid}")
        pings = 0.0
        lane_cases = scenarios(ping_key, uuid)
        for (name, path, options), (_, plain_path, plain_options) in zip(
            lane_cases, scenarios(plain_key, plain_uuid), strict=True
        ):
            base = wrk(f"http://127.0.0.1:{base_port}{path}", args, **options)
            buffered = wrk(f"http://127.0.0.1:{buffered_port}{path}", args, **options)
            mine = wrk(f"http://127.0.0.1:{pingd_port}{path}", args, **options)
            plain = wrk(f"http://127.0.0.1:{plain_port}{plain_path}", args, **plain_options)
            pings += mine["requests"]
            sizes.append(database_mb(db))
            rows.append((name, base, buffered, mine, plain))
            print(f"  {name}: pingd {mine['rps']:.0f}/s, no lane {plain['rps']:.0f}/s vs "
                  f"baseline {base['rps']:.0f}/s (buffered {buffered['rps']:.0f}/s)",
                  file=sys.stderr)  # fmt: skip
        while pings < PINGS_FOR_MEMORY:
            more = wrk(f"http://127.0.0.1:{pingd_port}/ping/{uuid}", args)
            pings += more["requests"]
        sizes.append(database_mb(db))
        memory = rss_mb(pingd.pid)
    log = (work / "pingd.log").read_text(errors="replace")
    log += (work / "no-lane.log").read_text(errors="replace")
    locked = log.count("database is locked")

    startups = []
    for _ in range(5):
        port = free_port()
        with running(pingd_command(db), {**env, "PINGD_SERVER_LISTEN": f"127.0.0.1:{port}"},
                     work / "startup.log"):  # fmt: skip
            startups.append(wait_answering(f"http://127.0.0.1:{port}/ping/{uuid}"))
    startup = sorted(startups)[len(startups) // 2]

    report = render(rows, args, memory=memory, pings=pings, sizes=sizes, startup=startup,
                    locked=locked)  # fmt: skip
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n")
    return 0


def pingd_command(db: Path) -> list[str]:
    return [sys.executable, "-m", "pingd", "--db", str(db), "serve"]


Result = dict[str, float]


def render(rows: list[tuple[str, Result, Result, Result, Result]],
           args: argparse.Namespace,
           *, memory: float, pings: float, sizes: list[float], startup: float,
           locked: int) -> str:  # fmt: skip
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine}; wrk, {args.connections} "
        f"connections, {args.duration} s per run, waitress with {args.threads} threads for all.",
        "",
        "| Scenario | Baseline req/s | Buffered baseline req/s | pingd req/s | Ratio | "
        "Ratio to buffered | pingd p50 | pingd p99 | No lane req/s | No lane ÷ lane | "
        "No lane ratio | No lane p99 | Errors | × Healthchecks |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, base, buffered, mine, plain in rows:
        lines.append(
            f"| {name} | {base['rps']:,.0f} | {buffered['rps']:,.0f} | {mine['rps']:,.0f} | "
            f"{mine['rps'] / base['rps']:.2f} | {mine['rps'] / buffered['rps']:.2f} | "
            f"{mine['p50']:.1f} ms | {mine['p99']:.1f} ms | {plain['rps']:,.0f} | "
            f"{plain['rps'] / mine['rps']:.2f} | {plain['rps'] / base['rps']:.2f} | "
            f"{plain['p99']:.1f} ms | {mine['errors'] + plain['errors']:.0f} | "
            f"{mine['rps'] / HEALTHCHECKS_PINGS_PER_SECOND:.0f}× |"
        )
    lines += [
        "",
        f"- Memory: {memory:.1f} MB RSS after {pings:,.0f} pings.",
        "- Database size (MB, file + WAL) after each scenario and at the end: "
        + ", ".join(f"{size:.1f}" for size in sizes)
        + ".",
        f"- Start-up to the first answered ping: {startup * 1000:.0f} ms (median of 5).",
        f'- "database is locked" in pingd\'s logs: {locked} times.',
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
