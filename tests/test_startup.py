"""Starting on a database pingd cannot or must not use: one line naming it, exit 1, no traceback.

Each case runs the real ``pingd`` command (and ``pingd serve``) as a
subprocess: a second server on a database one already serves, a database from
a newer pingd (refused, and left byte for byte as it was), a corrupt file, a
read-only file or folder, a folder that does not exist, and a port already
taken. A read-only file means nothing to root, so as root the read-only cases
use a small tmpfs remounted read-only (CI runs as root); without the right to
mount they are skipped, or fail under CI=true.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from contextlib import contextmanager
from pathlib import Path

from diskutil import mounted_tmpfs
from serverutil import Server
from serverutil import clean_env
from serverutil import pingd_command
from serverutil import run_cli
from serverutil import start_server

from pingd import __version__
from pingd.migrate import load_schema
from pingd.migrate import schema_version

START_TIMEOUT = 10.0


def cli(tmp: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(tmp, "--db", str(db), *args)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("pingd: error: "), result.stderr
    for needle in needles:
        assert needle in last, (needle, last)
    return last


def serve_once(tmp: Path, db: Path, *listen: str) -> subprocess.CompletedProcess[str]:
    """Run ``pingd serve`` that is expected to refuse, to completion (bounded)."""
    args = ["serve"]
    for address in listen or ("127.0.0.1:0",):
        args += ["--listen", address]
    return cli(tmp, db, *args)


def add_checks(tmp: Path, db: Path, count: int) -> None:
    """Create a database with one check made by the CLI, then ``count`` copies of it."""
    assert cli(tmp, db, "check", "add", "Seed").returncode == 0
    with closing(sqlite3.connect(db)) as conn:
        columns = [d[0] for d in conn.execute("SELECT * FROM checks").description]
        seed = conn.execute("SELECT * FROM checks").fetchone()
        rows = []
        for n in range(count):
            row = dict(zip(columns, seed, strict=True))
            row.update(id=None, uuid=f"00000000-0000-4000-8000-{n:012d}", name=f"Check {n}")
            rows.append(tuple(row.values()))
        conn.executemany(f"INSERT INTO checks VALUES ({', '.join('?' * len(columns))})", rows)
        conn.commit()


def digest(*paths: Path) -> list[str | None]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None for p in paths]


# -- two servers on one database ----------------------------------------------------


def test_a_second_server_on_the_same_database_refuses_naming_the_first(
    tmp_path: Path, servers: list[Server]
) -> None:
    first = start_server(tmp_path)
    servers.append(first)
    first.wait_ready(1)

    second = serve_once(tmp_path, tmp_path / "pingd.db")
    last = assert_one_line_error(second, f"PID {first.pid}", first.url, str(tmp_path / "pingd.db"))
    assert "twice" in last  # says why

    # CLI commands go on working beside the running server.
    added = cli(tmp_path, tmp_path / "pingd.db", "check", "add", "Backup")
    assert added.returncode == 0, added.stderr
    listed = cli(tmp_path, tmp_path / "pingd.db", "check", "list")
    assert listed.returncode == 0 and "Backup" in listed.stdout

    # The lock dies with its process, however it dies: a new server starts.
    assert first.kill() != 0
    third = start_server(tmp_path)
    servers.append(third)
    third.wait_ready(1)
    assert third.proc.poll() is None


def test_a_second_server_through_another_path_to_the_same_file_refuses(
    tmp_path: Path, servers: list[Server]
) -> None:
    first = start_server(tmp_path)
    servers.append(first)
    first.wait_ready(1)
    os.symlink(tmp_path / "pingd.db", tmp_path / "alias.db")
    assert_one_line_error(serve_once(tmp_path, tmp_path / "alias.db"), f"PID {first.pid}")


# -- a database from a newer pingd -------------------------------------------------


def test_it_refuses_a_database_from_a_newer_pingd_to_serve_and_to_write_and_changes_nothing(
    tmp_path: Path,
) -> None:
    db = tmp_path / "pingd.db"
    assert cli(tmp_path, db, "check", "add", "Backup").returncode == 0
    newer = schema_version(load_schema()) + 4
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE meta SET value = 'pingd 9.1.0' WHERE key = 'written_by'")
        conn.execute(f"PRAGMA user_version = {newer}")
        conn.commit()
    files = [db, db.with_name("pingd.db-wal"), db.with_name("pingd.db-shm")]
    before = digest(*files)

    for args in (["serve", "--listen", "127.0.0.1:0"], ["check", "add", "Other"],
                 ["check", "list"], ["key", "create"]):  # fmt: skip
        result = cli(tmp_path, db, *args)
        assert_one_line_error(
            result, str(db), "pingd 9.1.0", f"schema version {newer}", __version__, "upgrade"
        )
        assert digest(*files) == before, args
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (newer,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


# -- files pingd cannot use ----------------------------------------------------------


def test_it_names_a_corrupt_database_file(tmp_path: Path) -> None:
    db = tmp_path / "pingd.db"
    db.write_bytes(os.urandom(8192))
    for args in (["check", "list"], ["serve", "--listen", "127.0.0.1:0"]):
        last = assert_one_line_error(cli(tmp_path, db, *args), str(db), "corrupt")
        assert "backup" in last


def test_it_names_a_database_whose_pages_are_damaged(tmp_path: Path) -> None:
    db = tmp_path / "pingd.db"
    add_checks(tmp_path, db, 40)
    with closing(sqlite3.connect(db)) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    assert pages > 4
    with db.open("r+b") as f:  # scribble over every page but the header's
        for page in range(1, pages):
            f.seek(page * page_size)
            f.write(b"\xa5" * page_size)
    assert_one_line_error(cli(tmp_path, db, "check", "list"), str(db))


def test_it_names_a_database_in_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    db = tmp_path / "missing" / "pingd.db"
    for args in (["check", "list"], ["serve", "--listen", "127.0.0.1:0"]):
        assert_one_line_error(cli(tmp_path, db, *args), str(db), "does not exist")
    assert not db.parent.exists()


@contextmanager
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder holding a pingd database that this user cannot write to.

    Root writes through file modes, so as root the folder is a small tmpfs
    remounted read-only; otherwise its modes are cleared.
    """
    folder = tmp_path / "ro"
    if os.geteuid() != 0:
        folder.mkdir()
        assert cli(tmp_path, folder / "pingd.db", "check", "add", "Backup").returncode == 0
        (folder / "pingd.db").chmod(0o444)
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    with mounted_tmpfs(folder):  # makes the folder; skips, or fails under CI, if it cannot
        assert cli(tmp_path, folder / "pingd.db", "check", "add", "Backup").returncode == 0
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, timeout=30)
        yield folder


def test_it_names_a_read_only_database_and_folder(tmp_path: Path) -> None:
    with read_only_folder(tmp_path) as folder:
        db = folder / "pingd.db"
        for args in (["check", "list"], ["check", "add", "Other"], ["serve"]):
            assert_one_line_error(cli(tmp_path, db, *args), str(db), "read-only")
        # A new database in that folder: the folder is named.
        fresh = folder / "new.db"
        assert_one_line_error(cli(tmp_path, fresh, "check", "list"), str(folder), "read-only")


def test_it_names_the_address_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve_once(tmp_path, tmp_path / "pingd.db", f"127.0.0.1:{port}")
    assert_one_line_error(result, f"127.0.0.1:{port}", "in use")


def test_it_ends_quietly_when_the_reader_of_its_output_goes_away(tmp_path: Path) -> None:
    db = tmp_path / "pingd.db"
    add_checks(tmp_path, db, 3000)  # enough to overflow a pipe's buffer
    proc = subprocess.Popen(
        [*pingd_command(), "--db", str(db), "check", "list"],
        cwd=tmp_path, env=clean_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"NAME")
    proc.stdout.close()  # as `| head -1` does
    assert proc.wait(timeout=START_TIMEOUT) == 141  # 128 + SIGPIPE, like any Unix tool
    assert proc.stderr.read() == b""
    proc.stderr.close()


def test_backup_refuses_to_overwrite_the_live_database_or_a_folder(
    tmp_path: Path, servers: list[Server]
) -> None:
    db = tmp_path / "pingd.db"
    server = start_server(tmp_path)
    servers.append(server)
    server.wait_ready(1)
    inode = db.stat().st_ino
    os.symlink(db, tmp_path / "alias.db")
    for target in (db, tmp_path / "alias.db", tmp_path / "pingd.db-wal"):
        assert_one_line_error(cli(tmp_path, db, "backup", str(target)), str(target), "live")
    assert_one_line_error(cli(tmp_path, db, "backup", str(tmp_path)), "folder")
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.stat().st_ino == inode  # still the file the server writes to
    ok = cli(tmp_path, db, "backup", str(tmp_path / "copy.db"))
    assert ok.returncode == 0, ok.stderr


def test_it_refuses_another_programs_sqlite_database_and_leaves_it_alone(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
        conn.commit()
    before = digest(db)
    for args in (["check", "list"], ["serve", "--listen", "127.0.0.1:0"]):
        assert_one_line_error(cli(tmp_path, db, *args), str(db), "another program")
        assert digest(db) == before
    assert not db.with_name("app.db-wal").exists()
