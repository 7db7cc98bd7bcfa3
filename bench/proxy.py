"""``make bench``'s "through nginx" scenario: pings direct to pingd and through deploy/'s nginx.

Starts ``pingd serve`` (``trusted_proxy = 127.0.0.1``) and nginx with
deploy/nginx/pingd.conf (ports and a self-signed certificate swapped in, as
tests/test_deploy.py does), then drives keep-alive GET pings with wrk: direct
over HTTP, through nginx over HTTPS, and through nginx over plain HTTP,
alternated twice, and prints pings/s and p99 with each ratio to direct in the
same run. Needs wrk, nginx and openssl (Debian packages).

Usage: python bench/proxy.py [--duration 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from run import ROOT
from run import free_port
from run import prepare_database
from run import running
from run import wait_answering
from run import wrk

DEPLOY = ROOT / "deploy" / "nginx" / "pingd.conf"


def nginx_config(folder: Path, upstream: int) -> tuple[Path, int, int]:
    """Write nginx.conf around deploy's server block; return it and its HTTPS and HTTP ports."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    https, http = free_port(), free_port()
    site = DEPLOY.read_text(encoding="utf-8")
    for old, new in (("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
                     ("listen [::]:443 ssl http2;", ""),
                     ("listen 80;", f"listen 127.0.0.1:{http};"), ("listen [::]:80;", ""),
                     ("/etc/ssl/pingd/fullchain.pem", str(cert)),
                     ("/etc/ssl/pingd/privkey.pem", str(key)),
                     ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")):  # fmt: skip
        site = site.replace(old, new)
    (folder / "site.conf").write_text(site, encoding="utf-8")
    temp = " ".join(f"{kind}_temp_path {folder / kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))  # fmt: skip
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = folder / "nginx.conf"
    conf.write_text(f"{user}worker_processes 1;\npid {folder / 'nginx.pid'};\n"
                    f"error_log {folder / 'error.log'};\nevents {{ worker_connections 1024; }}\n"
                    f"http {{ access_log off; {temp} include {folder / 'site.conf'}; }}\n",
                    encoding="utf-8")  # fmt: skip
    return conf, https, http


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "openssl"):
        if shutil.which(tool) is None:
            print(f"bench/proxy.py needs {tool}: apt-get install {tool}", file=sys.stderr)
            return 1
    with tempfile.TemporaryDirectory(prefix="pingd-bench-proxy-") as name:
        folder = Path(name)
        db = folder / "pingd.db"
        _, uuid = prepare_database(db)
        port = free_port()
        env = {**os.environ, "PINGD_SERVER_TRUSTED_PROXY": "127.0.0.1"}
        pingd = [sys.executable, "-m", "pingd", "--db", str(db), "serve", "--listen",
                 f"127.0.0.1:{port}"]  # fmt: skip
        conf, https, http = nginx_config(folder, port)
        nginx = ["nginx", "-c", str(conf), "-p", str(folder), "-g", "daemon off;"]
        with running(pingd, env, folder / "pingd.log"), running(nginx, env, folder / "nginx.log"):
            wait_answering(f"http://127.0.0.1:{port}/ping/{uuid}")
            wait_answering(f"http://127.0.0.1:{http}/ping/{uuid}")
            targets = {"direct, HTTP": f"http://127.0.0.1:{port}/ping/{uuid}",
                       "through nginx, HTTPS": f"https://127.0.0.1:{https}/ping/{uuid}",
                       "through nginx, HTTP": f"http://127.0.0.1:{http}/ping/{uuid}"}  # fmt: skip
            results: dict[str, list[dict[str, float]]] = {label: [] for label in targets}
            for _ in range(2):  # alternated, so that drift in the machine hits each alike
                for label, url in targets.items():
                    results[label].append(wrk(url, args))
    direct = results["direct, HTTP"]
    print("| Keep-alive GET pings | pings/s | p99 | pings/s ÷ direct | p99 ÷ direct |")
    print("|---|---|---|---|---|")
    for label, runs in results.items():
        rps = [run["rps"] for run in runs]
        p99 = [run["p99"] for run in runs]
        ratio = sum(r / d["rps"] for r, d in zip(rps, direct, strict=True)) / len(rps)
        p99_ratio = sum(p / d["p99"] for p, d in zip(p99, direct, strict=True)) / len(p99)
        shown_rps = " / ".join(f"{r:,.0f}" for r in rps)
        shown_p99 = " / ".join(f"{p:.1f} ms" for p in p99)
        print(f"| {label} | {shown_rps} | {shown_p99} | {ratio:.2f} | {p99_ratio:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
