"""The ``pingd`` command, run in-process through ``main`` and once as the real console script.

Every run asserts that nothing printed a traceback. The database is a real
SQLite file in tmp_path; results are read back with plain sqlite3.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pingd import __version__
from pingd.cli.main import main

REPO = Path(__file__).resolve().parent.parent
CONSOLE_SCRIPT = REPO / ".venv" / "bin" / "pingd"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
PING_URL = re.compile(rf"^http://localhost:8000/ping/({UUID})$")
API_KEY = re.compile(r"^\S{20,}$")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


Run = Callable[..., Result]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "pingd.db"


@pytest.fixture
def pingd(
    tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Run:
    """Run ``pingd --db <tmp db> ARGS...`` in-process; ``db=None`` leaves --db out."""
    for name in list(os.environ):
        if name.startswith("PINGD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    def run(*args: str, db_path: Path | None = db) -> Result:
        argv = (["--db", str(db_path)] if db_path is not None else []) + list(args)
        try:
            code = main(argv)
        except SystemExit as ex:  # argparse: usage errors, --help, --version
            code = ex.code if isinstance(ex.code, int) else 1
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, out + err
        return Result(code, out, err)

    return run


def query(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def add_check(pingd: Run, name: str = "Database Backup", *args: str) -> str:
    """Add a check and return its UUID, taken from the printed ping URL."""
    result = pingd("check", "add", name, *args)
    assert result.code == 0, result.err
    match = PING_URL.match(result.out.strip())
    assert match, result.out
    return match.group(1)


def show_fields(out: str) -> dict[str, str]:
    fields = {}
    for line in out.splitlines():
        if not line.strip():
            break
        label, _, value = line.partition(":")
        fields[label] = value.strip()
    return fields


def key_list_rows(out: str) -> dict[str, list[str]]:
    """Map each key's name (first column) to the cells of its `key list` row."""
    rows = {}
    for line in out.splitlines()[1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 4:  # an unnamed key has an empty first cell
            cells = ["", *cells]
        rows[cells[0]] = cells
    return rows


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- check add -----------------------------------------------------------------


def test_it_prints_exactly_the_ping_url_when_adding_a_check(pingd: Run, db: Path) -> None:
    result = pingd(
        "check", "add", "Database Backup", "--period", "1h", "--grace", "15m",
        "--tag", "a", "--tag", "b",
    )  # fmt: skip
    assert result.code == 0
    assert len(result.lines) == 1
    match = PING_URL.match(result.lines[0])
    assert match, result.out
    rows = query(
        db, "SELECT name, slug, timeout, grace, tags, schedule FROM checks WHERE uuid = ?",
        match.group(1),
    )  # fmt: skip
    assert rows == [("Database Backup", "database-backup", 3600, 900, "a b", "")]


def test_it_adds_a_check_with_the_default_period_and_grace(pingd: Run, db: Path) -> None:
    uuid = add_check(pingd, "nightly")
    assert query(db, "SELECT timeout, grace, tags FROM checks WHERE uuid = ?", uuid) == [
        (86400, 3600, "")
    ]


def test_it_adds_a_cron_check_in_a_time_zone(pingd: Run, db: Path) -> None:
    uuid = add_check(pingd, "Nightly", "--cron", "30 2 * * *", "--tz", "Europe/Berlin")
    assert query(db, "SELECT schedule, tz FROM checks WHERE uuid = ?", uuid) == [
        ("30 2 * * *", "Europe/Berlin")
    ]
    shown = show_fields(pingd("check", "show", uuid).out)
    assert shown["schedule"] == "cron '30 2 * * *' in Europe/Berlin, grace 1h"


def test_it_builds_the_ping_url_from_the_configured_base_url(
    pingd: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINGD_SERVER_BASE_URL", "https://hc.example.org/")
    result = pingd("check", "add", "x")
    assert result.code == 0
    assert re.fullmatch(r"https://hc\.example\.org/ping/[0-9a-f-]{36}\n", result.out)


def test_it_refuses_cron_together_with_period(pingd: Run, db: Path) -> None:
    result = pingd("check", "add", "x", "--cron", "0 9 * * *", "--period", "1h")
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("pingd: error:")
    assert "--period" in result.err and "--cron" in result.err
    assert not db.exists() or query(db, "SELECT count(*) FROM checks") == [(0,)]


def test_it_refuses_a_time_zone_without_cron(pingd: Run) -> None:
    result = pingd("check", "add", "x", "--tz", "Europe/Berlin")
    assert result.code == 1
    assert "--tz" in result.err


@pytest.mark.parametrize("option", ["--period", "--grace"])
@pytest.mark.parametrize("value", ["5x", "1.5h", "1h30m", "soon"])
def test_it_exits_2_on_a_bad_duration(pingd: Run, option: str, value: str) -> None:
    result = pingd("check", "add", "x", option, value)
    assert result.code == 2
    assert option in result.err
    assert value in result.err
    assert result.out == ""


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--cron", "bad"], "schedule"),
        (["--cron", "61 * * * *"], "schedule"),
        (["--cron", "0 9 * * *", "--tz", "Mars/Olympus_Mons"], "tz"),
        (["--grace", "30s"], "grace"),
        (["--period", "400d"], "timeout"),
    ],
)
def test_it_exits_1_with_a_message_on_an_invalid_schedule_zone_or_period(
    pingd: Run, db: Path, args: list[str], field: str
) -> None:
    result = pingd("check", "add", "x", *args)
    assert result.code == 1
    # On a new database the first-run banner comes first; the error is the last line.
    assert result.err.splitlines()[-1].startswith("pingd: error:")
    assert field in result.err.splitlines()[-1]
    assert result.out == ""
    assert query(db, "SELECT count(*) FROM checks") == [(0,)]


def test_it_refuses_a_name_over_100_characters(pingd: Run) -> None:
    result = pingd("check", "add", "n" * 101)
    assert result.code == 1
    assert "name" in result.err


# -- check list / show ---------------------------------------------------------


def test_it_lists_checks_with_name_slug_and_status(pingd: Run) -> None:
    backup = add_check(pingd, "Database Backup")
    sync = add_check(pingd, "Hourly Sync!", "--period", "1h")
    result = pingd("check", "list")
    assert result.code == 0
    header, *rows = result.lines
    assert re.match(r"NAME\s+SLUG\s+STATUS\s+", header)
    assert len(rows) == 2
    by_uuid = {row.split()[-1]: row for row in rows}
    assert re.match(r"Database Backup\s+database-backup\s+new\s", by_uuid[backup])
    assert re.match(r"Hourly Sync!\s+hourly-sync\s+new\s", by_uuid[sync])


def test_it_shows_a_check_by_uuid_and_by_slug(pingd: Run) -> None:
    uuid = add_check(pingd, "Database Backup", "--period", "1h", "--grace", "15m", "--tag", "a",
                     "--tag", "b")  # fmt: skip
    by_uuid = pingd("check", "show", uuid)
    by_slug = pingd("check", "show", "database-backup")
    by_upper_uuid = pingd("check", "show", uuid.upper())
    assert by_uuid.code == by_slug.code == by_upper_uuid.code == 0
    assert by_uuid.out == by_slug.out == by_upper_uuid.out
    fields = show_fields(by_uuid.out)
    assert fields["name"] == "Database Backup"
    assert fields["slug"] == "database-backup"
    assert fields["uuid"] == uuid
    assert fields["status"] == "new"
    assert fields["schedule"] == "every 1h, grace 15m"
    assert fields["tags"] == "a b"
    assert fields["pings"] == "0"
    assert fields["ping url"] == f"http://localhost:8000/ping/{uuid}"
    assert re.fullmatch(
        r"http://localhost:8000/ping/[a-z0-9]{22}/database-backup", fields["slug url"]
    )


def test_it_refuses_an_ambiguous_slug_and_an_unknown_id(pingd: Run) -> None:
    add_check(pingd, "Database Backup")
    add_check(pingd, "database   backup")
    ambiguous = pingd("check", "show", "database-backup")
    assert ambiguous.code == 1
    assert ambiguous.out == ""
    assert ambiguous.err.startswith("pingd: error:")
    assert "database-backup" in ambiguous.err
    unknown = pingd("check", "show", "no-such-check")
    assert unknown.code == 1
    assert unknown.out == ""
    assert "no-such-check" in unknown.err


# -- pause / resume / rm -------------------------------------------------------


def test_it_pauses_and_resumes_a_check(pingd: Run, db: Path) -> None:
    uuid = add_check(pingd, "Database Backup")
    paused = pingd("check", "pause", "database-backup")
    assert paused.code == 0
    assert paused.out == f"paused Database Backup ({uuid})\n"
    assert show_fields(pingd("check", "show", uuid).out)["status"] == "paused"
    assert re.search(r"database-backup\s+paused\s", pingd("check", "list").out)
    assert pingd("check", "pause", uuid).code == 0  # pausing again is fine

    resumed = pingd("check", "resume", uuid)
    assert resumed.code == 0
    assert resumed.out == f"resumed Database Backup ({uuid})\n"
    assert show_fields(pingd("check", "show", uuid).out)["status"] == "new"
    flips = query(db, "SELECT old_status, new_status FROM flips ORDER BY id")
    assert flips == [("new", "paused"), ("paused", "new")]


def test_it_refuses_to_resume_a_check_that_is_not_paused(pingd: Run) -> None:
    uuid = add_check(pingd)
    result = pingd("check", "resume", uuid)
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("pingd: error:")
    assert "not paused" in result.err


def test_it_removes_a_check(pingd: Run, db: Path) -> None:
    uuid = add_check(pingd, "Database Backup")
    keep = add_check(pingd, "Other")
    result = pingd("check", "rm", uuid)
    assert result.code == 0
    assert result.out == f"deleted Database Backup ({uuid})\n"
    assert uuid not in pingd("check", "list").out
    assert pingd("check", "show", uuid).code == 1
    assert query(db, "SELECT uuid FROM checks") == [(keep,)]
    assert pingd("check", "rm", uuid).code == 1


# -- keys ----------------------------------------------------------------------


def test_it_prints_a_new_key_alone_on_one_line_and_keeps_only_its_hash(
    pingd: Run, db: Path
) -> None:
    result = pingd("key", "create")
    assert result.code == 0
    assert len(result.lines) == 1
    key = result.lines[0]
    assert API_KEY.match(key)
    rows = query(db, "SELECT name, read_only FROM api_keys WHERE key_hash = ?", sha256(key))
    assert rows == [("", 0)]
    stored = query(db, "SELECT * FROM api_keys")
    assert all(key not in str(cell) for row in stored for cell in row)


def test_it_creates_a_named_read_only_key(pingd: Run, db: Path) -> None:
    result = pingd("key", "create", "--read-only", "--name", "ci")
    assert result.code == 0
    (key,) = result.lines
    rows = query(db, "SELECT name, read_only FROM api_keys WHERE key_hash = ?", sha256(key))
    assert rows == [("ci", 1)]


def test_it_lists_key_names_prefixes_and_kinds_but_never_a_whole_key(pingd: Run) -> None:
    deploy = pingd("key", "create", "--name", "deploy").lines[0]  # also makes "first key"
    ci = pingd("key", "create", "--read-only", "--name", "ci").lines[0]

    result = pingd("key", "list")
    assert result.code == 0
    rows = key_list_rows(result.out)
    assert set(rows) == {"first key", "deploy", "ci"}
    assert rows["deploy"][2] == "read-write"
    assert rows["ci"][2] == "read-only"
    assert rows["first key"][2] == "read-write"
    for name, key in (("deploy", deploy), ("ci", ci)):
        prefix = rows[name][1].rstrip("…")
        assert len(prefix) >= 6
        assert key.startswith(prefix) and prefix != key
        assert key not in result.out
    first_prefix = rows["first key"][1].rstrip("…")
    assert len(first_prefix) < len(deploy)


def test_it_revokes_a_key_by_its_prefix(pingd: Run, db: Path) -> None:
    ci = pingd("key", "create", "--read-only", "--name", "ci").lines[0]
    prefix = key_list_rows(pingd("key", "list").out)["ci"][1].rstrip("…")
    result = pingd("key", "revoke", prefix)
    assert result.code == 0
    assert "ci" in result.out
    assert ci not in result.out
    assert query(db, "SELECT count(*) FROM api_keys WHERE key_hash = ?", sha256(ci)) == [(0,)]
    assert "ci" not in key_list_rows(pingd("key", "list").out)
    assert query(db, "SELECT name FROM api_keys") == [("first key",)]


def test_it_refuses_to_revoke_an_unknown_prefix(pingd: Run, db: Path) -> None:
    pingd("key", "create")
    result = pingd("key", "revoke", "nope_nope")
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("pingd: error:")
    assert query(db, "SELECT count(*) FROM api_keys") == [(2,)]


# -- backup --------------------------------------------------------------------


def test_it_backs_up_to_a_file_that_opens_on_its_own(pingd: Run, db: Path, tmp_path: Path) -> None:
    first = add_check(pingd, "Database Backup")
    second = add_check(pingd, "Nightly", "--cron", "0 3 * * *")
    target = tmp_path / "copy.db"
    result = pingd("backup", str(target))
    assert result.code == 0
    assert str(target) in result.out
    # Move the copy away from any -wal/-shm files: it must stand alone.
    alone = tmp_path / "elsewhere" / "alone.db"
    alone.parent.mkdir()
    shutil.copy(target, alone)
    assert query(alone, "PRAGMA integrity_check") == [("ok",)]
    assert sorted(query(alone, "SELECT uuid, name FROM checks")) == sorted(
        [(first, "Database Backup"), (second, "Nightly")]
    )
    assert query(alone, "PRAGMA user_version") == query(db, "PRAGMA user_version")
    assert query(alone, "SELECT count(*) FROM api_keys") == [(1,)]


def test_it_reports_a_backup_it_cannot_write(pingd: Run, tmp_path: Path) -> None:
    add_check(pingd)
    result = pingd("backup", str(tmp_path / "no" / "such" / "dir" / "copy.db"))
    assert result.code == 1
    assert result.err.startswith("pingd: error:")


# -- usage, configuration and environment --------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["check"],
        ["check", "add"],
        ["check", "show"],
        ["check", "add", "x", "--period"],
        ["check", "add", "x", "--colour", "red"],
        ["key"],
        ["key", "revoke"],
        ["key", "create", "--read-only=yes"],
        ["backup"],
        ["--no-such-flag", "check", "list"],
    ],
)
def test_it_exits_2_on_usage_errors(pingd: Run, args: list[str]) -> None:
    result = pingd(*args)
    assert result.code == 2
    assert "usage:" in result.err
    assert result.out == ""


def test_it_prints_its_version(pingd: Run) -> None:
    result = pingd("--version", db_path=None)
    assert result.code == 0
    assert result.out.strip() == f"pingd {__version__}"


def test_it_reports_a_bad_setting_naming_the_key_and_variable(
    pingd: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINGD_SERVER_THREADS", "0")
    result = pingd("check", "list")
    assert result.code == 1
    assert result.err.startswith("pingd: error:")
    assert "server.threads" in result.err
    assert "PINGD_SERVER_THREADS" in result.err


def test_it_reports_a_missing_config_file(pingd: Run, tmp_path: Path) -> None:
    result = pingd("--config", str(tmp_path / "missing.toml"), "check", "list")
    assert result.code == 1
    assert "missing.toml" in result.err


def test_it_reports_a_database_it_cannot_open(pingd: Run, tmp_path: Path) -> None:
    result = pingd("check", "list", db_path=tmp_path / "no" / "such" / "dir" / "x.db")
    assert result.code == 1
    assert result.err.startswith("pingd: error:")


def test_it_reports_a_file_that_is_not_a_database(pingd: Run, db: Path) -> None:
    db.write_bytes(b"this is not an SQLite database, just some text" * 100)
    result = pingd("check", "list")
    assert result.code == 1
    assert result.err.startswith("pingd: error:")


def test_it_refuses_a_database_from_a_newer_pingd(pingd: Run, db: Path) -> None:
    add_check(pingd)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 9999")
    conn.close()
    result = pingd("check", "list")
    assert result.code == 1
    assert "upgrade" in result.err


def test_it_reads_the_database_path_from_pingd_db_and_lets_db_win(
    pingd: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINGD_DB", str(tmp_path / "from-env.db"))
    assert pingd("check", "add", "env", db_path=None).code == 0
    assert query(tmp_path / "from-env.db", "SELECT name FROM checks") == [("env",)]
    assert pingd("check", "add", "flag", db_path=tmp_path / "from-flag.db").code == 0
    assert query(tmp_path / "from-flag.db", "SELECT name FROM checks") == [("flag",)]
    assert query(tmp_path / "from-env.db", "SELECT name FROM checks") == [("env",)]


def test_it_reads_pingd_toml_from_the_working_directory_and_pingd_config(
    pingd: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pingd.toml").write_text('[storage]\npath = "local.db"\n', encoding="utf-8")
    other = tmp_path / "other.toml"
    other.write_text('[storage]\npath = "other.db"\n', encoding="utf-8")
    assert pingd("check", "add", "local", db_path=None).code == 0
    assert query(tmp_path / "local.db", "SELECT name FROM checks") == [("local",)]
    monkeypatch.setenv("PINGD_CONFIG", str(other))
    assert pingd("check", "add", "other", db_path=None).code == 0
    assert query(tmp_path / "other.db", "SELECT name FROM checks") == [("other",)]


# -- the real console script ---------------------------------------------------


def run_script(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PINGD_")}
    completed = subprocess.run(
        [str(CONSOLE_SCRIPT), *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in completed.stdout + completed.stderr, completed.stderr
    return Result(completed.returncode, completed.stdout, completed.stderr)


def test_it_works_as_the_installed_console_script(tmp_path: Path) -> None:
    db = str(tmp_path / "script.db")
    added = run_script("--db", db, "check", "add", "Nightly Backup", "--period", "1h",
                       "--grace", "15m", "--tag", "a", "--tag", "b", cwd=tmp_path)  # fmt: skip
    assert added.code == 0, added.err
    assert len(added.lines) == 1
    match = PING_URL.match(added.lines[0])
    assert match, added.out
    assert "API key:" in added.err  # the first run's banner goes to stderr

    banner_key = re.search(r"API key:\s+(\S+)", added.err)
    assert banner_key, added.err
    keys = run_script("--db", db, "key", "list", cwd=tmp_path)
    assert keys.code == 0
    assert "first key" in keys.out
    assert banner_key.group(1) not in keys.out

    listed = run_script("--db", db, "check", "list", cwd=tmp_path)
    assert listed.code == 0
    assert re.search(r"Nightly Backup\s+nightly-backup\s+new\s", listed.out)
    assert match.group(1) in listed.out

    key = run_script("--db", db, "key", "create", cwd=tmp_path)
    assert key.code == 0
    assert len(key.lines) == 1 and API_KEY.match(key.lines[0])
    assert key.err == ""

    usage = run_script(cwd=tmp_path)
    assert usage.code == 2
    assert "usage:" in usage.err

    bad = run_script("check", "list", cwd=tmp_path, env={"PINGD_SERVER_THREADS": "zero"})
    assert bad.code == 1
    assert "server.threads" in bad.err


def test_it_runs_as_python_dash_m_pingd(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pingd", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0
    assert completed.stdout.strip() == f"pingd {__version__}"
