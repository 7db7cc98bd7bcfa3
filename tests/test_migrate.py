"""Schema and migrations: both roads reach one database, steps are atomic, the wheel ships them."""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import pingd.migrate
from pingd.migrate import APPLICATION_ID
from pingd.migrate import MigrationError
from pingd.migrate import current_version
from pingd.migrate import load_migrations
from pingd.migrate import load_schema
from pingd.migrate import migrate
from pingd.migrate import schema_version

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = REPO / "pingd" / "migrations"
STEP_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def step_files() -> dict[int, Path]:
    return {
        int(m.group(1)): path
        for path in sorted(MIGRATIONS_DIR.iterdir())
        if (m := STEP_NAME.match(path.name))
    }


def normalise(sql: str | None) -> str | None:
    """Drop comments and collapse whitespace, so that only the meaning is compared."""
    if sql is None:
        return None
    without_comments = re.sub(r"--[^\n]*", "", sql)
    collapsed = re.sub(r"\s+", " ", without_comments).strip()
    # ALTER TABLE ADD COLUMN writes ", col" after the last column's own text.
    return re.sub(r" ?([,()]) ?", r"\1", collapsed)


def shape(conn: sqlite3.Connection) -> dict[str, tuple[str, str, str | None]]:
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return {name: (kind, table, normalise(sql)) for kind, name, table, sql in rows}


def dump(conn: sqlite3.Connection) -> list[str]:
    return list(conn.iterdump())


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(tmp_path / "test.db", isolation_level=None)
    yield conn
    conn.close()


def open_db(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# -- schema.sql and the steps agree --------------------------------------------


def test_it_builds_the_same_database_from_schema_sql_as_from_every_step_in_order(
    tmp_path: Path,
) -> None:
    fresh = open_db(tmp_path / "fresh.db")
    stepped = open_db(tmp_path / "stepped.db")
    try:
        fresh.executescript((REPO / "schema.sql").read_text(encoding="utf-8"))
        for _, path in sorted(step_files().items()):
            stepped.executescript(path.read_text(encoding="utf-8"))
        assert shape(stepped) == shape(fresh)
        assert current_version(stepped) == current_version(fresh)
        assert current_version(fresh) == schema_version(load_schema())
        assert len(shape(fresh)) > 0
    finally:
        fresh.close()
        stepped.close()


def test_it_numbers_the_steps_from_one_without_gaps_up_to_the_schema_version() -> None:
    versions = sorted(step_files())
    assert versions == list(range(1, schema_version(load_schema()) + 1))
    assert sorted(load_migrations()) == versions


@pytest.mark.parametrize("version", sorted(step_files()))
def test_it_makes_each_step_set_user_version_to_its_own_number(
    tmp_path: Path, version: int
) -> None:
    sql = step_files()[version].read_text(encoding="utf-8")
    assert schema_version(sql) == version
    conn = open_db(tmp_path / "steps.db")
    try:
        for earlier in range(1, version):
            conn.executescript(step_files()[earlier].read_text(encoding="utf-8"))
        assert current_version(conn) == version - 1
        conn.executescript(sql)
        assert current_version(conn) == version
    finally:
        conn.close()


def test_it_loads_the_schema_from_the_top_level_schema_sql() -> None:
    assert load_schema() == (REPO / "schema.sql").read_text(encoding="utf-8")


def test_it_makes_every_table_strict(db: sqlite3.Connection) -> None:
    db.executescript(load_schema())
    tables = db.execute(
        "SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND type = 'table'"
        " AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    assert tables, "schema.sql creates no tables"
    assert [name for name, strict in tables if not strict] == []


# -- migrate() -----------------------------------------------------------------


def test_it_creates_a_new_database_from_the_schema(tmp_path: Path, db: sqlite3.Connection) -> None:
    assert migrate(db) == 0
    reference = open_db(tmp_path / "reference.db")
    try:
        reference.executescript(load_schema())
        assert shape(db) == shape(reference)
    finally:
        reference.close()
    assert current_version(db) == schema_version(load_schema())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("version", sorted(step_files())[:-1])
def test_it_upgrades_an_older_database_to_the_schema_keeping_its_rows(
    tmp_path: Path, version: int
) -> None:
    old = open_db(tmp_path / "old.db")
    fresh = open_db(tmp_path / "fresh.db")
    try:
        for step in range(1, version + 1):
            old.executescript(step_files()[step].read_text(encoding="utf-8"))
        old.execute(
            "INSERT INTO projects (name, ping_key, created) VALUES ('p', ?, '2026-01-05')",
            ("c" * 22,),
        )
        assert migrate(old) == version
        fresh.executescript(load_schema())
        assert shape(old) == shape(fresh)
        assert current_version(old) == current_version(fresh)
        assert old.execute("SELECT name, ping_key FROM projects").fetchall() == [("p", "c" * 22)]
    finally:
        old.close()
        fresh.close()


def test_it_leaves_a_current_database_alone(db: sqlite3.Connection) -> None:
    target = schema_version(load_schema())
    migrate(db)
    db.execute("INSERT INTO projects (name, ping_key, created) VALUES ('p', ?, 'now')", ("a" * 22,))
    before_shape, before_dump = shape(db), dump(db)
    changes = db.total_changes
    assert migrate(db) == target
    assert db.total_changes == changes
    assert shape(db) == before_shape
    assert dump(db) == before_dump
    assert current_version(db) == target


def test_it_refuses_a_database_from_a_newer_pingd_and_says_to_upgrade(
    db: sqlite3.Connection,
) -> None:
    migrate(db)
    newer = schema_version(load_schema()) + 1
    db.execute(f"PRAGMA user_version = {newer}")
    before = shape(db)
    with pytest.raises(MigrationError) as info:
        migrate(db)
    assert "upgrade" in str(info.value).lower()
    assert str(newer) in str(info.value)
    assert current_version(db) == newer
    assert shape(db) == before


def test_it_rolls_back_a_failing_step_completely(
    db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real database at the current version, and a pretend next version whose
    # step changes several things and then fails part-way.
    migrate(db)
    db.execute("INSERT INTO projects (name, ping_key, created) VALUES ('p', ?, 'now')", ("b" * 22,))
    current = current_version(db)
    before_shape, before_dump = shape(db), dump(db)
    (index,) = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL LIMIT 1"
    ).fetchone()
    broken = (
        "CREATE TABLE zz_step_test (id INTEGER PRIMARY KEY, kind TEXT NOT NULL) STRICT;\n"
        "ALTER TABLE checks ADD COLUMN zz_extra TEXT NOT NULL DEFAULT '';\n"
        "UPDATE projects SET name = 'changed';\n"
        f"DROP INDEX {index};\n"
        f"PRAGMA user_version = {current + 1};\n"
        "INSERT INTO no_such_table VALUES (1);\n"
    )
    steps = {**load_migrations(), current + 1: broken}
    schema = load_schema() + f"\nPRAGMA user_version = {current + 1};\n"
    monkeypatch.setattr(pingd.migrate, "load_migrations", lambda: steps)
    monkeypatch.setattr(pingd.migrate, "load_schema", lambda: schema)

    with pytest.raises(MigrationError) as info:
        migrate(db)

    assert "no_such_table" in str(info.value)
    assert not db.in_transaction
    assert current_version(db) == current
    assert shape(db) == before_shape
    assert dump(db) == before_dump


def test_it_refuses_an_unversioned_database_that_has_tables_and_changes_nothing(
    db: sqlite3.Connection,
) -> None:
    # Every pingd schema sets user_version: tables without one are another
    # program's, and pingd must not add its own tables to them.
    db.execute("CREATE TABLE leftover (x INTEGER) STRICT")
    before, mode = dump(db), db.execute("PRAGMA journal_mode").fetchone()
    with pytest.raises(MigrationError, match="another program"):
        migrate(db)
    assert current_version(db) == 0
    assert dump(db) == before
    assert db.execute("PRAGMA journal_mode").fetchone() == mode


def test_it_refuses_a_database_another_program_marked_as_its_own(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA application_id = 1234")
    with pytest.raises(MigrationError, match="0x4d2"):
        migrate(db)
    assert current_version(db) == 0
    assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_it_marks_a_pingd_database_with_its_application_id(db: sqlite3.Connection) -> None:
    migrate(db)
    assert db.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)


# -- the installed wheel -------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out)]
    if importlib.util.find_spec("hatchling") is not None:
        command.append("--no-build-isolation")
    subprocess.run([*command, str(REPO)], check=True, capture_output=True, timeout=120)
    (built,) = out.glob("pingd-*.whl")
    return built


def test_it_ships_schema_sql_and_the_migrations_inside_the_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert archive.read("pingd/schema.sql") == (REPO / "schema.sql").read_bytes()
        for version, path in step_files().items():
            member = f"pingd/migrations/{path.name}"
            assert member in names, f"step {version} is missing from the wheel"
            assert archive.read(member) == path.read_bytes()
    assert "pingd/migrations/0001_initial.sql" in names


def test_it_finds_the_schema_and_steps_when_imported_from_the_wheel_alone(
    wheel: Path, tmp_path: Path
) -> None:
    # -S keeps site-packages (and the editable install's path to the source
    # tree) off sys.path, and the working directory is empty, so pingd can
    # only come from the wheel, through zipimport.
    program = (
        "import json, pingd.migrate as m\n"
        "print(json.dumps({'file': m.__file__, 'schema': m.load_schema(),\n"
        "                  'steps': {str(k): v for k, v in m.load_migrations().items()}}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", program],
        cwd=tmp_path,
        env={"PYTHONPATH": str(wheel), "PYTHONIOENCODING": "utf-8", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["file"].startswith(str(wheel))
    assert found["schema"] == (REPO / "schema.sql").read_text(encoding="utf-8")
    assert found["steps"] == {
        str(version): path.read_text(encoding="utf-8") for version, path in step_files().items()
    }
