"""``make bench-hcapi``: the Healthchecks-compatible face with 1,000 checks, against /v1 (issue 13).

One run, on the temporary database of 1,000 checks that ``bench/dashboard.py``
fills (every kind and status, tags, pings, channels). The Falcon app of
``pingd.app.create_app`` is called in-process (no socket, so only pingd's own
work is timed) for each request below, 5 warm-up and then ``--rounds`` timed
calls each, and every figure is compared with the baseline of the same run,
``GET /v1/checks`` (the same checks in pingd's own JSON). The API's rate limit
is raised for the run, as the baseline would otherwise be refused.

Usage: python bench/hcapi.py [--rounds 30] [--warmup 5]
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import CHECKS  # noqa: E402
from dashboard import Timing  # noqa: E402
from dashboard import fill  # noqa: E402
from falcon import testing  # noqa: E402

from pingd.app import create_app  # noqa: E402
from pingd.app import make_service  # noqa: E402
from pingd.app import open_store  # noqa: E402
from pingd.config import default_config  # noqa: E402
from pingd.domain.badges import check_badge_url  # noqa: E402
from pingd.domain.badges import tag_badge_urls  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pingd-bench-hcapi-") as work:
        db = Path(work) / "pingd.db"
        fixture = fill(db)
        config = default_config(storage__path=str(db), api__rate_per_second=1e6, api__burst=10**6)
        store = open_store(config)
        try:
            service = make_service(config, store)
            ro = service.create_api_key("bench", read_only=True)
            project = service.project()
            uuid = fixture.check_uuid
            requests = {
                "GET /v1/checks (baseline)": ("/v1/checks", fixture.api_key),
                "GET /api/v3/checks/ (read-write key)": ("/api/v3/checks/", fixture.api_key),
                "GET /api/v3/checks/ (read-only key)": ("/api/v3/checks/", ro),
                "GET /api/v3/checks/<uuid>": (f"/api/v3/checks/{uuid}", fixture.api_key),
                "GET /api/v3/badges/": ("/api/v3/badges/", ro),
                "GET /projects/…/metrics/<key>": (f"/projects/{project.uuid}/metrics/{ro}", ""),
                "GET a tag badge (svg3)": (
                    tag_badge_urls("", project.badge_key, "prod")["svg3"], ""),
                "GET a check badge (/b/3/….svg)": (
                    check_badge_url("", project.badge_key, uuid, 3, "svg"), ""),
            }  # fmt: skip
            app = create_app(config, store=store)
            timings = {name: _time(app, path, key, args) for name, (path, key) in requests.items()}
        finally:
            store.close()
    baseline = timings["GET /v1/checks (baseline)"].median
    print(f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.system()} "
          f"{platform.machine()}, Python {platform.python_version()}; {CHECKS} checks, "
          f"{args.warmup} warm-up then {args.rounds} timed calls each, in-process:\n")  # fmt: skip
    print("| Request | Median | p95 | ÷ baseline |\n|---|---|---|---|")
    for name, t in timings.items():
        print(f"| `{name}` | {t.median:.1f} ms | {t.p95:.1f} ms | {t.median / baseline:.2f} |")
    return 0


def _time(app: object, path: str, key: str, args: argparse.Namespace) -> Timing:
    headers = {"X-Api-Key": key} if key else {}
    client = testing.TestClient(app)  # type: ignore[arg-type]

    def call() -> None:
        answer = client.simulate_get(path, headers=headers)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])

    for _ in range(args.warmup):
        call()
    seconds = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return Timing.of(seconds)


if __name__ == "__main__":
    sys.exit(main())
