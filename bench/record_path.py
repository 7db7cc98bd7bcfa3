"""The cost of recording one ping, in CPU instructions, for this tree and another (a ratio).

Runs the writer's hot path (``PingsService._record_ping`` in staged groups of
256 pings, committed) on a real SQLite file under ``valgrind --tool=callgrind``,
which counts instructions: repeatable on a shared, noisy machine where wall
time is not. Each tree runs twice, with and without the measured groups, so
start-up and imports cancel out. Compare with another checkout, e.g. the
previous release in a worktree:

    git worktree add /tmp/before <commit>
    python bench/record_path.py --other /tmp/before

Needs valgrind (Debian package).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GROUP = 256
GROUPS = 10

_WORKLOAD = """
import datetime, sys, tempfile
from pathlib import Path
from pingd.app import make_service, open_store
from pingd.config import default_config
from pingd.service.pings import PingRequest
from pingd.writer.connection import connect
folder = tempfile.mkdtemp()
config = default_config(storage__path=str(Path(folder) / "bench.db"))
store = open_store(config)
now = [datetime.datetime(2026, 1, 5, tzinfo=datetime.timezone.utc)]
def clock():
    now[0] += datetime.timedelta(milliseconds=1)
    return now[0]
service = make_service(config, store, clock)
service.bootstrap()
check = service.create_check(name="bench", timeout=3600, grace=600)
store.close()
conn = connect(config.storage.path, writer=True)
requests = [PingRequest(action="success", method="GET", scheme="http",
                        remote_addr=f"10.0.0.{i % 250}", ua="curl/8.5.0", body=b"",
                        body_size=0, uuid=check.uuid) for i in range(GROUP_SIZE)]
def groups(n):
    for _ in range(n):
        conn.begin_immediate()
        conn.staging = True
        for request in requests:
            service._record_ping(conn, request)
        conn.staging = False
        conn.flush()
        conn.execute("COMMIT")
groups(2)
groups(int(sys.argv[1]))
"""


def instructions(tree: Path, groups: int) -> int:
    """Return the instructions callgrind counts for the workload on ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    result = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c",
         _WORKLOAD.replace("GROUP_SIZE", str(GROUP)), str(groups)],
        env=env, capture_output=True, text=True, check=True, cwd=tree,
    )  # fmt: skip
    match = re.search(r"Collected : ([\d,]+)", result.stderr)
    assert match, result.stderr
    return int(match.group(1).replace(",", ""))


def per_ping(tree: Path) -> float:
    return (instructions(tree, GROUPS) - instructions(tree, 0)) / (GROUP * GROUPS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("bench/record_path.py needs valgrind: apt-get install valgrind", file=sys.stderr)
        return 1
    this = per_ping(ROOT)
    print(f"this tree: {this:,.0f} instructions per recorded ping")
    if args.other is not None:
        other = per_ping(args.other.resolve())
        print(f"{args.other}: {other:,.0f} instructions per recorded ping")
        print(f"ratio this / other: {this / other:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
