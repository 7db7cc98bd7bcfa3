"""The database file moved or replaced under a running server: no ping answered OK is lost.

SQLite keeps writing to the file it opened, whatever now has its name. Moved
away (or replaced by a restored backup), the server would answer OK for pings
that the next start never sees. The real ``pingd serve`` must refuse instead,
with a 503 that clients retry, and take up writing again once the file is back.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
from contextlib import closing
from pathlib import Path

from serverutil import Server
from serverutil import add_check
from serverutil import open_db_readonly
from serverutil import run_cli
from serverutil import start_server


def request(server: Server, method: str, path: str, **kw: str) -> tuple[int, bytes, str | None]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=kw.get("body"), headers=json.loads(kw.get("h", "{}")))
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("Retry-After")
    finally:
        conn.close()


def stored_pings(db: Path, uuid: str) -> int:
    with closing(open_db_readonly(db)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pings JOIN checks ON checks.id = pings.check_id"
            " WHERE checks.uuid = ?",
            (uuid,),
        ).fetchone()
        return int(row[0])


def test_pings_are_refused_while_the_database_file_is_moved_away_and_taken_after(
    tmp_path: Path, servers: list[Server]
) -> None:
    db = tmp_path / "pingd.db"
    uuid = add_check(tmp_path, db, "Backup")
    key = run_cli(tmp_path, "--db", str(db), "key", "create").stdout.strip()
    server = start_server(tmp_path)
    servers.append(server)
    server.wait_ready(1)
    assert request(server, "GET", f"/ping/{uuid}")[:2] == (200, b"OK")

    aside = tmp_path / "moved.db"
    os.rename(db, aside)  # e.g. a clean-up script, or a restore gone wrong
    try:
        assert request(server, "GET", f"/ping/{uuid}") == (503, b"storage unavailable", "5")
        assert request(server, "POST", f"/ping/{uuid}/fail", body="x")[0] == 503
        status, body, _ = request(
            server, "POST", f"/v1/checks/{uuid}/pause", h=json.dumps({"X-Api-Key": key})
        )
        assert (status, json.loads(body)["errorCode"]) == (503, "STORAGE_UNAVAILABLE")
    finally:
        os.rename(aside, db)
    assert request(server, "GET", f"/ping/{uuid}")[:2] == (200, b"OK")
    assert server.terminate() == 0

    assert stored_pings(db, uuid) == 2  # both OKs, nothing of the refused ones
    log = server.stderr()
    assert "Traceback" not in log, log
    assert log.count(f"the database file {db} was removed or replaced") == 1, log


def test_a_database_replaced_by_a_copy_under_the_server_is_refused_until_a_restart(
    tmp_path: Path, servers: list[Server]
) -> None:
    db = tmp_path / "pingd.db"
    uuid = add_check(tmp_path, db, "Backup")
    server = start_server(tmp_path)
    servers.append(server)
    server.wait_ready(1)
    assert request(server, "GET", f"/ping/{uuid}")[:2] == (200, b"OK")
    assert server.terminate() == 0  # a clean copy to restore from
    shutil.copy(db, tmp_path / "restore.db")
    server = start_server(tmp_path)
    servers.append(server)
    server.wait_ready(1)

    os.replace(tmp_path / "restore.db", db)  # "restoring a backup" while pingd runs
    assert request(server, "GET", f"/ping/{uuid}") == (503, b"storage unavailable", "5")
    assert server.terminate() == 0

    server = start_server(tmp_path)  # a restart takes up the file now at the path
    servers.append(server)
    server.wait_ready(1)
    assert request(server, "GET", f"/ping/{uuid}")[:2] == (200, b"OK")
    assert server.terminate() == 0
    assert stored_pings(db, uuid) == 2
